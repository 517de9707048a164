//! The GitHub-traffic bench, a rollout wave's deployments (see
//! tests/bench/github.rs for the scaled clock and the modes): `fleetform
//! rollout tick` over one wave of `FLEETFORM_BENCH_WAVE` (default 1,000)
//! customers, each pair's apply a GitHub deployment on the customer's repo
//! (the deployment and its two statuses: 3 writes), plans and applies by
//! the stand-in Terraform, ticked until the rollout is done; then the
//! deployments that did not fit are sent by `rollout deployments`, run
//! again (each run the next hour) until none is owed.

use crate::bench::github::{fleet, report, setting, slug, Scale, Tally, MANAGER_REPO};
use crate::common::{self, Fixture};
use crate::support::fake_github::{Deployment, FakeGitHub};

use serde_json::json;
use std::time::Instant;

const WAVE: &str = "
rollout:
  bake: 0s
  max_parallel: 4
  halt:
    max_failures: 0
    drift: false
  waves:
    - name: all
";

pub(crate) fn repo(i: usize) -> String {
    format!("fleet/c{i:04}")
}

/// `n` customers, each with its repo on `gh` and a last deployment record
/// naming the repo's commit (what a rollout's deployment is made on), the
/// one wave, committed; then a change of the staging defaults committed.
pub(crate) fn world(n: usize, gh: &FakeGitHub) -> Fixture {
    let fx = fleet(n, None);
    fx.append("manager/fleetform.yml", WAVE);
    for i in 1..=n {
        let c = slug(i);
        let vars = fx.read(&format!("customers/{c}/infra/variables.yml"));
        gh.add_repo(&repo(i));
        let sha = gh.commit(&repo(i), "main", &[("infra/variables.yml", &vars)]);
        let digest = common::sha256_hex(&fx.path(&format!("customers/{c}/infra/variables.yml")));
        let record = json!({
            "time": "2026-01-01T00:00:00Z",
            "customer": c,
            "environment": "staging",
            "customer_repo": repo(i),
            "customer_sha": sha,
            "plan_sha256": "0".repeat(64),
            "files": [{"path": "infra/variables.yml", "sha256": digest, "content": vars}],
            "actor": "ops-dana",
        });
        fx.write(
            &format!("manager/.fleetform/records/deployments/{c}/_/staging/20260101T000000.000Z-000000000000.json"),
            &record.to_string(),
        );
    }
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "base"]);
    let rel = "manager/values/staging.yml";
    let text = fx.read(rel);
    fx.write(rel, &text.replacen("tier: staging", "tier: staging-2", 1));
    fx.git(&["commit", "-q", "-am", "change"]);
    fx
}

/// (pairs with a deployment on their repo, deployments one too many,
/// deployments without a final status).
fn deployed(gh: &FakeGitHub, n: usize) -> (usize, usize, usize) {
    let (mut with, mut extra, mut unfinished) = (0, 0, 0);
    for i in 1..=n {
        let d = gh.deployments(&repo(i));
        with += usize::from(!d.is_empty());
        extra += d.len().saturating_sub(1);
        let ended = |d: &&Deployment| {
            let last = d.statuses.last().map(|s| s.0.as_str());
            matches!(last, Some("success" | "failure" | "inactive"))
        };
        unfinished += d.iter().filter(|d| !ended(d)).count();
    }
    (with, extra, unfinished)
}

/// `fleetform` as a rollout's job on GitHub runs it: the token, the API
/// and the manager repo of `gh`.
pub(crate) fn rollout_job(fx: &Fixture, gh: &FakeGitHub) -> common::Run {
    common::Run::from(fx.fleetform())
        .env("FLEETFORM_TOKEN", gh.token())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_REPOSITORY", MANAGER_REPO)
        .env("USER", "ops-dana")
}

/// [`rollout_job`] with the bench's limits (or none).
fn on_github(fx: &Fixture, gh: &FakeGitHub, scale: &Scale, scheduled: bool) -> common::Run {
    scale.configure(rollout_job(fx, gh), scheduled)
}

pub fn rollout_until_done(n: usize, scale: &Scale, scheduled: bool) -> serde_json::Value {
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER_REPO);
    let fx = world(n, &gh);
    let stand_in = crate::support::stand_in_terraform::install(&fx.path("stand-in"));
    let start = common::Run::from(fx.fleetform())
        .args(["rollout", "start", "--base", "HEAD~1"])
        .output();
    assert!(start.status.success(), "{}", common::stderr(&start));
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut done = false;
    while tally.runs < 5 && !done {
        let before = tally.begin(&gh, scale);
        let out = on_github(&fx, &gh, scale, scheduled)
            .args(["rollout", "tick", "--terraform"])
            .arg(&stand_in)
            .output();
        tally.end(&gh, before, &report(&out));
        let status = common::Run::from(fx.fleetform())
            .args(["rollout", "status", "--json"])
            .output();
        done = report(&status)["next"].is_null();
    }
    let ticks = tally.runs;
    // The deployments the ticks owe, sent by later runs (each standing for
    // the next hour) until none is owed.
    let (mut owed, mut sent_late) = (None, 0);
    while tally.runs < 15 && owed != Some(0) {
        let before = tally.begin(&gh, scale);
        let out = on_github(&fx, &gh, scale, scheduled)
            .args(["rollout", "deployments", "--json"])
            .output();
        let r = report(&out);
        tally.end(&gh, before, &r);
        owed = r["owed"].as_u64();
        sent_late += r["sent"].as_u64().unwrap_or(0);
    }
    let wall = started.elapsed().as_secs_f64();
    let (with, duplicated, unfinished) = deployed(&gh, n);
    let mut row = tally.row(&gh, scale, scheduled, wall);
    row["customers"] = json!(n);
    row["done"] = json!(done);
    row["ticks"] = json!(ticks);
    row["owed_left"] = json!(owed);
    row["sent_late"] = json!(sent_late);
    row["deployed"] = json!(with);
    row["unfinished"] = json!(unfinished);
    row["duplicated"] = json!(duplicated);
    row
}

#[test]
#[ignore = "a bench: bash bench/run.sh --github-only"]
fn rollout_wave_deployments() {
    let n = setting("FLEETFORM_BENCH_WAVE", 1000);
    let scale = Scale::from_env();
    for scheduled in crate::bench::github::modes() {
        let row = rollout_until_done(n, &scale, scheduled);
        println!("BENCH {row}");
    }
}
