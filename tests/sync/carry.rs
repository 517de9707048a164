//! `fleetform sync` carries writes over (#36 point 3): with a small hour's
//! write budget and `--write-log`, what does not fit is listed as
//! deferred (not failed, exit 0), new work (repos without a sync branch)
//! goes before updates, the next hour's run resumes, and nothing is
//! written twice; `--etag-cache` makes an unchanged repo's reads 304s.

use crate::common;
use crate::support;
use crate::world;

use common::stderr;
use serde_json::Value;
use support::fake_github::Limits;
use world::{World, ACME, MANAGER};

const HOOLI: &str = "hooli/hooli-infra";
const GLOBEX: &str = "globex/globex-app";

/// acme, globex and hooli, in that order, none in sync yet.
fn three_repos() -> World {
    let w = World::new();
    w.gh.add_repo(HOOLI);
    w.gh.commit(HOOLI, "main", &[("README.md", "hooli\n")]);
    w.fx.append(
        "manager/customers.yml",
        "\n  - slug: hooli\n    repo: hooli/hooli-infra\n    contact: ops@hooli.example\n    environments: [staging]\n    added: 2026-01-01\n",
    );
    w
}

fn limits(per_hour: usize) -> Limits {
    Limits {
        writes_per_minute: 80,
        writes_per_hour: per_hour,
        points_per_minute: 900,
    }
}

/// One sync run with the hour's budget `per_hour` and `extra` flags; its
/// exit code, rows by customer (`ok`, `deferred`) and writes sent.
fn sync(w: &mut World, per_hour: &str, extra: &[&str]) -> (Option<i32>, Value, usize) {
    w.gh.reset_counters();
    let out = common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .env("FLEETFORM_RETRY_MAX_WAIT_SECS", "5")
        .env("FLEETFORM_GITHUB_WRITES_PER_HOUR", per_hour)
        .args(["sync", "--manager-repo", MANAGER, "--action-ref", "v9.9.9"])
        .args(["--json"])
        .args(extra)
        .output();
    let rows: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap_or(Value::Null);
    assert!(rows.is_array(), "{}", stderr(&out));
    let by: serde_json::Map<String, Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["customer"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    (out.status.code(), Value::Object(by), w.gh.write_count())
}

fn state(rows: &Value, customer: &str) -> &'static str {
    match (
        rows[customer]["ok"].as_bool(),
        rows[customer]["deferred"].as_bool(),
    ) {
        (Some(true), _) => "ok",
        (_, Some(true)) => "deferred",
        _ => "failed",
    }
}

/// The hour passes: the fake's counts start over and the log's times are
/// an hour older.
fn an_hour_later(w: &World, log: &std::path::Path, per_hour: usize) {
    w.gh.enforce_limits(limits(per_hour));
    let times: Vec<u64> = serde_json::from_slice(&std::fs::read(log).unwrap()).unwrap();
    let older: Vec<u64> = times.iter().map(|t| t - 3_600_000).collect();
    std::fs::write(log, serde_json::to_vec(&older).unwrap()).unwrap();
}

#[test]
fn writes_over_the_hours_budget_are_deferred_and_resumed_new_work_first() {
    let mut w = three_repos();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("writes.json");
    let flags = ["--write-log", log.to_str().unwrap()];
    // 4 writes a repo (branch, 2 files, PR); 6 fit: acme's, half of globex's.
    w.gh.enforce_limits(limits(6));
    let (code, rows, writes) = sync(&mut w, "6", &flags);
    assert_eq!(code, Some(0), "deferred is not failed: {rows}");
    assert_eq!(writes, 6);
    let states: Vec<_> = ["acme", "globex", "hooli"]
        .iter()
        .map(|c| state(&rows, c))
        .collect();
    assert_eq!(states, ["ok", "deferred", "deferred"], "{rows}");
    assert_eq!(w.gh.pulls(ACME).len(), 1);
    assert!(w.gh.pulls(GLOBEX).is_empty() && w.gh.pulls(HOOLI).is_empty());

    // The same hour: the log says its 6 writes are spent; nothing is sent.
    let (code, rows, writes) = sync(&mut w, "6", &flags);
    assert_eq!((code, writes), (Some(0), 0), "{rows}");
    assert_eq!(state(&rows, "acme"), "ok", "acme's PR needs no write");
    assert_eq!(state(&rows, "hooli"), "deferred");

    // An hour later, 4 writes: hooli (no sync branch yet) goes before
    // globex's started branch, whatever the registry's order.
    an_hour_later(&w, &log, 4);
    let (code, rows, writes) = sync(&mut w, "4", &flags);
    assert_eq!((code, writes), (Some(0), 4), "{rows}");
    assert_eq!(state(&rows, "hooli"), "ok", "{rows}");
    assert_eq!(state(&rows, "globex"), "deferred", "{rows}");

    // And the next hour finishes globex: its second file and its PR only.
    an_hour_later(&w, &log, 4);
    let (code, rows, writes) = sync(&mut w, "4", &flags);
    assert_eq!((code, writes), (Some(0), 2), "{rows}");
    for c in ["acme", "globex", "hooli"] {
        assert_eq!(state(&rows, c), "ok", "{rows}");
    }
    for repo in [ACME, GLOBEX, HOOLI] {
        assert_eq!(w.gh.pulls(repo).len(), 1, "one PR on {repo}");
        let f = w.gh.file_at(repo, "fleetform/sync", "infra/README.md");
        assert!(f.is_some(), "{repo}");
    }
    assert_eq!(w.gh.limit_answers(), 0, "the scheduler never met a limit");
    w.gh.assert_clean();
}

/// With `--etag-cache`, a run reads repos unchanged since the last run
/// with `If-None-Match`: every read GitHub answered 200 before is a 304
/// (no primary rate limit spent); the two template files still missing
/// on each default branch are 404s, which carry no ETag. (The run after
/// the one opening the PRs reads the new branch and PR with 200s.)
#[test]
fn the_etag_cache_makes_an_unchanged_repos_reads_not_modified() {
    let mut w = three_repos();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("etags.json");
    let flags = ["--etag-cache", cache.to_str().unwrap()];
    for _ in 0..2 {
        let (code, _, _) = sync(&mut w, "500", &flags);
        assert_eq!(code, Some(0));
    }
    let before = w.gh.not_modified_count();
    let (code, rows, writes) = sync(&mut w, "500", &flags);
    assert_eq!((code, writes), (Some(0), 0), "{rows}");
    let not_modified = w.gh.not_modified_count() - before;
    assert_eq!(not_modified, w.gh.request_count() - 3 * 2, "{rows}");
    w.gh.assert_clean();
}
