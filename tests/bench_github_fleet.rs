//! The GitHub-traffic bench, template propagation (see
//! tests/bench_github.rs for the scaled clock and the modes): `fleetform
//! sync` to `FLEETFORM_BENCH_REPOS` (default 1,000) customer repos on the
//! fake GitHub, none of them in sync yet (one pull request each: a branch,
//! the two template files, the pull request: 4 writes), run again until
//! every repo has its pull request with the template's files. Sync does not
//! carry writes over: a write the scheduler cannot fit fails that customer
//! (the write is deferred, the command goes on to the next customer and
//! exits 1); the next run picks up where the branch is.

use crate::bench_github::{fleet, report, setting, Scale, Tally, MANAGER_REPO};
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
    while tally.runs < most_runs && synced(&gh, n).0 < n {
        let before = tally.begin(&gh, scale);
        let mut cmd = fx.fleetform();
        cmd.env("FLEETFORM_TOKEN", gh.token())
            .env("GITHUB_API_URL", gh.api_url());
        scale.configure(&mut cmd, scheduled);
        let out = cmd
            .args(["sync", "--manager-repo", MANAGER_REPO, "--json"])
            .args(["--action-ref", "v9.9.9"])
            .output()
            .unwrap();
        let rows = report(&out);
        let failed = rows
            .as_array()
            .map_or(0, |r| r.iter().filter(|r| r["ok"] != json!(true)).count());
        failed_rows += failed;
        let failures = rows.as_array().into_iter().flatten();
        let mut failures = failures.filter(|r| r["ok"] != json!(true));
        a_failure = a_failure.or_else(|| failures.next().map(|r| r["result"].clone()));
        tally.end(&gh, before, &json!({}));
        // Not carried over: a customer whose write did not fit failed.
        tally.deferred += failed as u64;
    }
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

#[test]
#[ignore = "a bench: bash bench/run.sh --github-only"]
fn sync_to_a_fleet_across_runs() {
    let n = setting("FLEETFORM_BENCH_REPOS", 1000);
    let scale = Scale::from_env();
    for scheduled in crate::bench_github::modes() {
        let row = sync_until_done(n, &scale, scheduled);
        println!("BENCH {row}");
    }
}
