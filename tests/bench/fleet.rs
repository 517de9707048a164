//! The GitHub-traffic bench, template propagation (see
//! tests/bench/github.rs for the scaled clock and the modes): `fleetform
//! sync` to `FLEETFORM_BENCH_REPOS` (default 1,000) customer repos on the
//! fake GitHub, none of them in sync yet (one pull request each: a branch,
//! the two template files, the pull request: 4 writes), run again until
//! every repo has its pull request with the template's files. Each run
//! keeps `--write-log` and `--etag-cache` for the next (as a scheduled
//! workflow would): a customer whose request the scheduler cannot fit is
//! listed as deferred (not failed), and the next run goes on, new work
//! first, an unchanged repo's reads answered 304.

use crate::bench::github::{fleet, report, setting, Scale, Tally, MANAGER_REPO};
use crate::common::Fixture;
use crate::support::fake_github::FakeGitHub;

use serde_json::json;
use std::time::Instant;

fn repo(i: usize) -> String {
    format!("fleet/c{i:04}")
}

/// `n` customers, each with its repo on `gh` (a README on `main`).
fn world(n: usize, gh: &FakeGitHub) -> Fixture {
    for i in 1..=n {
        gh.add_repo(&repo(i));
        gh.commit(&repo(i), "main", &[("README.md", "a customer\n")]);
    }
    fleet(n, Some(repo))
}

/// Whether every repo has exactly its pull request, with both files on
/// the sync branch; and how many pull requests are one too many.
fn synced(gh: &FakeGitHub, n: usize) -> (usize, usize) {
    let (mut done, mut duplicated) = (0, 0);
    for i in 1..=n {
        let prs = gh.pulls(&repo(i)).len();
        duplicated += prs.saturating_sub(1);
        let files = ["infra/README.md", ".github/workflows/customer-trigger.yml"];
        let on_branch = files
            .iter()
            .all(|f| gh.file_at(&repo(i), "fleetform/sync", f).is_some());
        if prs >= 1 && on_branch {
            done += 1;
        }
    }
    (done, duplicated)
}

pub fn sync_until_done(n: usize, scale: &Scale, scheduled: bool) -> serde_json::Value {
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER_REPO);
    let fx = world(n, &gh);
    let most_runs = (4 * n).div_ceil(scale.writes_per_hour.max(1)) + 3;
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failed_rows = 0;
    let mut a_failure = None;
    let kept = tempfile::tempdir().unwrap();
    let log = kept.path().join("writes.json");
    let etags = kept.path().join("etags.json");
    while tally.runs < most_runs && synced(&gh, n).0 < n {
        let before = tally.begin(&gh, scale);
        let cmd = crate::common::Run::from(fx.fleetform())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("GITHUB_API_URL", gh.api_url());
        let out = scale
            .configure(cmd, scheduled)
            .args(["sync", "--manager-repo", MANAGER_REPO, "--json"])
            .args(["--action-ref", "v9.9.9"])
            .arg("--write-log")
            .arg(&log)
            .arg("--etag-cache")
            .arg(&etags)
            .output();
        let rows = report(&out);
        let rows = rows.as_array().cloned().unwrap_or_default();
        let is = |r: &&serde_json::Value, k: &str| r[k] == json!(true);
        let failed = rows.iter().filter(|r| !is(r, "ok") && !is(r, "deferred"));
        failed_rows += failed.clone().count();
        a_failure = a_failure.or_else(|| failed.clone().next().map(|r| r["result"].clone()));
        tally.end(&gh, before, &json!({}));
        // Carried over: a customer whose requests did not fit is deferred.
        tally.deferred += rows.iter().filter(|r| is(r, "deferred")).count() as u64;
        // The log's writes were made an hour ago by the next run's clock:
        // each run stands for the next hour (tests/bench/github.rs).
        age_the_write_log(&log);
    }
    tally.not_modified = gh.not_modified_count() as u64;
    let wall = started.elapsed().as_secs_f64();
    let (done, duplicated) = synced(&gh, n);
    let mut row = tally.row(&gh, scale, scheduled, wall);
    row["repos"] = json!(n);
    row["done"] = json!(done == n);
    row["synced"] = json!(done);
    row["duplicated"] = json!(duplicated);
    row["failed_customer_runs"] = json!(failed_rows);
    row["a_failure"] = json!(a_failure);
    row
}

/// Moves the write log's times an hour back (the fake's counts start
/// over between runs the same way).
fn age_the_write_log(log: &std::path::Path) {
    let Ok(bytes) = std::fs::read(log) else {
        return;
    };
    let times: Vec<u64> = serde_json::from_slice(&bytes).unwrap_or_default();
    let older: Vec<u64> = times.iter().map(|t| t.saturating_sub(3_600_000)).collect();
    std::fs::write(log, serde_json::to_vec(&older).unwrap()).unwrap();
}

#[test]
#[ignore = "a bench: bash bench/run.sh --github-only"]
fn sync_to_a_fleet_across_runs() {
    let n = setting("FLEETFORM_BENCH_REPOS", 1000);
    let scale = Scale::from_env();
    for scheduled in crate::bench::github::modes() {
        let row = sync_until_done(n, &scale, scheduled);
        println!("BENCH {row}");
    }
}
