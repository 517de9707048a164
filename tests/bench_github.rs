//! The GitHub-traffic bench (bench/github.py, `bash bench/run.sh
//! --github-only`), ignored by default: a fleet drift with `--issues`
//! over `FLEETFORM_BENCH_CUSTOMERS` drifted customers (default 20; the
//! rollout world's customers, applied in staging by a rollout, then the
//! staging defaults changed), run again until every issue is written (at most 8 runs),
//! against the fake GitHub enforcing scaled-down secondary limits: a
//! write budget of `FLEETFORM_BENCH_WRITES_PER_HOUR` (default 8) per run,
//! each run standing for the next hour. Once with the scheduler (its
//! budget set to the same number), once with `FLEETFORM_GITHUB_SCHEDULER=off`.
//! Prints one JSON line per mode (`BENCH {...}`) for the bench to read.

use crate::support::fake_github::{FakeGitHub, Limits};
use crate::support::rollout_world::{World, MANAGER_REPO};

use serde_json::{json, Value};
use std::time::Instant;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` customers applied in staging by a rollout, then the staging
/// defaults changed: `n` drifted customers.
fn drifted(n: usize) -> World {
    let w = World::with(n, "staging");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    for _ in 0..10 {
        if w.rolled().len() == n {
            break;
        }
        w.run(&["rollout", "tick"]);
    }
    assert_eq!(w.rolled().len(), n, "the rollout applied every customer");
    w.change("tier: staging-2", "tier: staging-3");
    w
}

/// One mode's runs until every drifted customer has its issue.
fn drift_until_done(n: usize, per_hour: usize, scheduled: bool) -> Value {
    let w = drifted(n);
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER_REPO);
    let cache = w.fx.path("etags.json");
    let per_hour_text = per_hour.to_string();
    let started = Instant::now();
    let (mut runs, mut limit_answers, mut not_modified) = (0, 0, 0);
    let mut most_writes_in_a_run = 0;
    while runs < 8 && gh.issues(MANAGER_REPO).len() < n {
        runs += 1;
        // Each run stands for the next hour: the fake's counts start over.
        gh.enforce_limits(Limits {
            writes_per_minute: 80,
            writes_per_hour: per_hour,
            points_per_minute: 900,
        });
        let writes_before = gh.write_count();
        let mut cmd = w.fleetform();
        cmd.env("FLEETFORM_TOKEN", gh.token())
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_REPOSITORY", MANAGER_REPO)
            .env("FLEETFORM_RETRY_MAX_WAIT_SECS", "5");
        if scheduled {
            cmd.env("FLEETFORM_GITHUB_WRITES_PER_HOUR", &per_hour_text);
        } else {
            cmd.env("FLEETFORM_GITHUB_SCHEDULER", "off");
        }
        let out = cmd
            .args(["drift", "--env", "staging", "--issues", "--json"])
            .args(["--manager-repo", MANAGER_REPO, "--etag-cache"])
            .arg(&cache)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if std::env::var_os("FLEETFORM_BENCH_DEBUG").is_some() {
            eprintln!("{report}\n{}", crate::common::stderr(&out));
        }
        not_modified += report["not_modified"].as_u64().unwrap_or(0);
        limit_answers += gh.limit_answers();
        most_writes_in_a_run = most_writes_in_a_run.max(gh.write_count() - writes_before);
    }
    let wall = started.elapsed().as_secs_f64();
    let issues = gh.issues(MANAGER_REPO);
    let mut titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    titles.sort();
    let unique = {
        let mut t = titles.clone();
        t.dedup();
        t.len()
    };
    let requests = gh.requests();
    let writes = requests.iter().filter(|r| r.method != "GET").count();
    gh.take_violations();
    json!({
        "scheduler": scheduled,
        "customers": n,
        "writes_per_hour": per_hour,
        "runs": runs,
        "done": unique == n,
        "issues": unique,
        "duplicated": titles.len() - unique,
        "requests": requests.len(),
        "writes_sent": writes,
        "most_writes_in_a_run": most_writes_in_a_run,
        "not_modified": not_modified,
        "limit_answers": limit_answers,
        "wall_secs": wall,
    })
}

#[test]
#[ignore = "a bench: bash bench/run.sh --github-only"]
fn drift_over_a_drifted_fleet_across_runs() {
    let n = setting("FLEETFORM_BENCH_CUSTOMERS", 20);
    let per_hour = setting("FLEETFORM_BENCH_WRITES_PER_HOUR", 8);
    for scheduled in [true, false] {
        let row = drift_until_done(n, per_hour, scheduled);
        println!("BENCH {row}");
    }
}
