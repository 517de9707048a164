//! `fleetform records compact` (#88): the audit events of every closed
//! day (today: every closed hour) in one segment each, and a manifest
//! naming them; each customer's deployment records of every closed month
//! likewise (read back through `report cost`). Readers read the segments and the events after the bound,
//! each event once: after a compaction killed at any point, after two at
//! once, after events that arrive later; and in a bucket each closed day
//! costs one request.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, stderr, stdout, Fixture};
use crate::fake_s3::{FakeS3, Reply};
use crate::moto::{self, Moto};

/// 2026-11-23T12:00:00Z: days 20 to 22 are closed, and today's hours
/// before 11:00.
const NOW: &str = "1795435200";

fn entry(key: &str) -> String {
    let stamp = &key[17..32];
    let time = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    format!(
        r#"{{"time":"{time}","action":"plan","actor":"ops","customer":"acme","environment":"staging","result":"ok","detail":"{key}"}}"#
    )
}

/// The keys of `n` events an hour apart or so, from 2026-11-20T00:00Z
/// into today (2026-11-23) past noon.
fn keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let minutes = i * (84 * 60) / n; // 84 hours: to 12:00 on the 23rd
            let (day, hour, minute) = (20 + minutes / 1440, (minutes / 60) % 24, minutes % 60);
            format!("audit/2026/11/{day}/202611{day}T{hour:02}{minute:02}00.000Z-{i:012x}.json")
        })
        .collect()
}

/// A deployment record of `key` (`deployments/acme/_/<env>/<stamp>.json`):
/// its run names its key, so the cost report shows which record it read.
pub fn deployment_body(key: &str) -> String {
    let (dir, name) = key.rsplit_once('/').unwrap();
    let env = dir.rsplit('/').next().unwrap();
    let s = &name[..15];
    let time = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    format!(
        r#"{{"time":"{time}","customer":"acme","environment":"{env}","plan_sha256":"00","files":[],"actor":"ops","run_url":"https://ci.example/{}"}}"#,
        name.trim_end_matches(".json")
    )
}

/// The keys of `n` deployment records of acme's two pairs, from
/// 2026-10-01 into 2026-11-22 (October closes at NOW, November does not).
pub fn deployment_keys(n: usize) -> Vec<String> {
    let mut keys: Vec<String> = (0..n)
        .map(|i| {
            let minutes = i * (52 * 1440) / n;
            let (day, rest) = (minutes / 1440, minutes % 1440);
            let (month, day) = if day < 31 {
                (10, day + 1)
            } else {
                (11, day - 30)
            };
            let env = if i % 2 == 0 { "staging" } else { "production" };
            format!(
                "deployments/acme/_/{env}/2026{month}{day:02}T{:02}{:02}00.000Z-{i:012x}.json",
                rest / 60,
                rest % 60
            )
        })
        .collect();
    keys.sort();
    keys
}

pub fn write_deployments(fx: &Fixture, keys: &[String]) {
    for k in keys {
        let path = records_dir(fx).join(k);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, deployment_body(k)).unwrap();
    }
}

/// The deployment records `report cost` reads for October and November
/// 2026, as keys, sorted: each once, or a key twice.
pub fn deployments_read(fx: &Fixture) -> Vec<String> {
    let mut found = Vec::new();
    for month in ["2026-10", "2026-11"] {
        let out = run(
            fx,
            &[
                "report",
                "cost",
                "--customer",
                "acme",
                "--month",
                month,
                "--csv",
            ],
        );
        common::assert_ok(&out);
        for line in stdout(&out).lines().filter(|l| l.starts_with("change,")) {
            let env = line.split(',').nth(2).unwrap();
            let name = line.rsplit("https://ci.example/").next().unwrap();
            found.push(format!("deployments/acme/_/{env}/{name}.json"));
        }
    }
    found.sort();
    found
}

fn records_dir(fx: &Fixture) -> std::path::PathBuf {
    fx.path("manager/.fleetform/records")
}

fn write_local(fx: &Fixture, keys: &[String]) {
    for k in keys {
        let path = records_dir(fx).join(k);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, entry(k)).unwrap();
    }
}

pub fn run(fx: &Fixture, args: &[&str]) -> common::Ran {
    common::Run::from(fx.fleetform())
        .env("FLEETFORM_NOW", NOW)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .output()
}

/// The keys `audit report --records` reads, in its order.
pub fn read_back(fx: &Fixture) -> Vec<String> {
    let out = run(fx, &["audit", "report", "--records", "--json"]);
    common::assert_ok(&out);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record_key"].as_str().unwrap().to_string())
        .collect()
}

fn segments_in(fx: &Fixture) -> Vec<String> {
    let root = records_dir(fx).join("segments");
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(&root).into_iter().flatten() {
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(records_dir(fx)).unwrap();
            found.push(rel.to_string_lossy().to_string());
        }
    }
    found.sort();
    found
}

fn compact_json(fx: &Fixture) -> Value {
    compact_at(fx, NOW, &[])
}

/// `records compact --json` at UNIX second `now`, with `more`.
fn compact_at(fx: &Fixture, now: &str, more: &[&str]) -> Value {
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_NOW", now)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["records", "compact", "--json"])
        .args(more)
        .output();
    common::assert_ok(&out);
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn every_event_is_read_once_from_segments_and_after_the_bound() {
    let fx = Fixture::new();
    let all = keys(300);
    write_local(&fx, &all);
    assert_eq!(read_back(&fx), all);

    let done = compact_json(&fx);
    assert_eq!(done["bound"], "audit/2026/11/23/20261123T11", "{done}");
    // Days 20, 21 and 22 whole, and the 23rd's hours 00 to 10.
    let written: Vec<&str> = done["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(written.len(), 3 + 11, "{written:?}");
    assert!(
        written[0].starts_with("segments/audit/2026/11/20/"),
        "{written:?}"
    );
    assert!(
        written[3].starts_with("segments/audit/2026/11/23/00/"),
        "{written:?}"
    );
    let before = all
        .iter()
        .filter(|k| k.as_str() < "audit/2026/11/23/20261123T11")
        .count();
    assert_eq!(done["events"], before);
    assert_eq!(
        read_back(&fx),
        all,
        "read from the segments and after the bound"
    );

    // Nothing new: nothing written. An event arriving late for a closed
    // hour (stamped before the bound) is taken in by the next compaction.
    let again = compact_json(&fx);
    assert_eq!(again["written"], serde_json::json!([]), "{again}");
    assert_eq!(again["manifest"], Value::Null);
    let late = "audit/2026/11/23/20261123T103000.000Z-late00000000.json".to_string();
    write_local(&fx, std::slice::from_ref(&late));
    let mut expected = all.clone();
    expected.push(late);
    expected.sort();
    let third = compact_json(&fx);
    assert_eq!(third["written"].as_array().unwrap().len(), 1, "{third}");
    assert_eq!(read_back(&fx), expected);
    // The events themselves are all still there.
    let raw = walkdir::WalkDir::new(records_dir(&fx).join("audit"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(raw, expected.len());
}

/// Deployment records: a customer's closed month in one segment, the
/// month still open read record by record, and a record arriving late
/// for a closed month taken in by the next compaction.
#[test]
fn deployment_records_are_read_once_and_a_late_one_is_taken_in() {
    let fx = Fixture::new();
    let mut all = deployment_keys(120);
    write_deployments(&fx, &all);
    let done = compact_json(&fx);
    let d = &done["deployments"];
    assert_eq!(d["bound"], "20261101T00", "{done}");
    let written = d["written"].as_array().unwrap();
    assert_eq!(written.len(), 1, "{done}");
    assert!(written[0]
        .as_str()
        .unwrap()
        .starts_with("segments/deployments/acme/2026/10/"));
    let october = all.iter().filter(|k| k.contains("/202610")).count();
    assert_eq!(d["records"], october);
    assert_eq!(deployments_read(&fx), all);

    let again = compact_json(&fx);
    assert_eq!(again["deployments"]["written"], serde_json::json!([]));
    assert_eq!(again["deployments"]["manifests"], serde_json::json!([]));
    let late = "deployments/acme/_/staging/20261031T235900.000Z-late00000000.json".to_string();
    write_deployments(&fx, std::slice::from_ref(&late));
    all.push(late);
    all.sort();
    // Before a compaction takes it in, the late record (stamped before
    // the bound, in no segment) is read on its own, not skipped.
    assert_eq!(
        deployments_read(&fx),
        all,
        "the late record before a compaction"
    );
    // `deployments/` was listed whole for this bound a moment ago: the
    // next compaction lists nothing of it and leaves October as it is.
    let quiet = compact_json(&fx);
    assert_eq!(quiet["deployments"]["listed"], false, "{quiet}");
    assert_eq!(quiet["deployments"]["written"], serde_json::json!([]));
    assert_eq!(deployments_read(&fx), all, "the late record, not listed");
    let third = compact_at(&fx, NOW, &["--relist"]);
    assert_eq!(
        third["deployments"]["written"].as_array().unwrap().len(),
        1,
        "{third}"
    );
    assert_eq!(third["deployments"]["records"], october + 1);
    assert_eq!(deployments_read(&fx), all);
}

/// A segment altered after it was written is refused, not read.
#[test]
fn an_altered_segment_is_refused() {
    let fx = Fixture::new();
    write_local(&fx, &keys(60));
    compact_json(&fx);
    let segment = segments_in(&fx)
        .into_iter()
        .find(|s| s.ends_with(".jsonl.gz"))
        .unwrap();
    let path = records_dir(&fx).join(&segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let _ = std::fs::remove_dir_all(fx.path("manager/.fleetform/cache"));
    let out = run(&fx, &["audit", "report", "--records", "--json"]);
    common::assert_code(&out, 1);
    assert!(stderr(&out).contains("sha256 differs"), "{}", stderr(&out));
}

/// Killed at points spread over its run, and from the states a death
/// leaves (segments without their manifest), and two at once: every event
/// is read once.
#[test]
fn a_compaction_killed_or_doubled_loses_and_doubles_nothing() {
    let fx = Fixture::new();
    let all = keys(1500);
    write_local(&fx, &all);
    let deployed = deployment_keys(600);
    write_deployments(&fx, &deployed);
    assert_eq!(deployments_read(&fx), deployed, "before any compaction");
    let segments_dir = records_dir(&fx).join("segments");
    let mut stopped_half_way = 0;
    for delay_ms in [0u64, 5, 15, 30, 60, 120, 250] {
        let _ = std::fs::remove_dir_all(&segments_dir);
        let mut child = fx
            .fleetform_std()
            .env("FLEETFORM_NOW", NOW)
            .args(["records", "compact"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let left = segments_in(&fx);
        if left.iter().any(|s| s.ends_with(".jsonl.gz"))
            && !left.iter().any(|s| s.contains("/manifests/"))
        {
            stopped_half_way += 1;
        }
        assert_eq!(read_back(&fx), all, "killed after {delay_ms} ms: {left:?}");
        assert_eq!(
            deployments_read(&fx),
            deployed,
            "killed after {delay_ms} ms: {left:?}"
        );
    }
    // The state a death between the segments and the manifest leaves, made
    // on purpose: a full compaction whose manifest is then taken away.
    let _ = std::fs::remove_dir_all(&segments_dir);
    compact_json(&fx);
    std::fs::remove_dir_all(segments_dir.join("audit/manifests")).unwrap();
    std::fs::remove_dir_all(segments_dir.join("deployments/acme/manifests")).unwrap();
    assert_eq!(read_back(&fx), all, "segments without a manifest");
    assert_eq!(
        deployments_read(&fx),
        deployed,
        "segments without a manifest"
    );
    eprintln!("{stopped_half_way} kills landed between segments and manifest");

    // Two at once.
    let _ = std::fs::remove_dir_all(&segments_dir);
    let spawn = || {
        fx.fleetform_std()
            .env("FLEETFORM_NOW", NOW)
            .args(["records", "compact"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let manifests: BTreeSet<String> = segments_in(&fx)
        .into_iter()
        .filter(|s| s.contains("/manifests/"))
        .collect();
    assert_eq!(
        manifests.len(),
        2,
        "the same manifests twice (audit, acme's deployments): {manifests:?}"
    );
    assert_eq!(read_back(&fx), all, "after two at once");
    assert_eq!(deployments_read(&fx), deployed, "after two at once");
    let october: Vec<String> = segments_in(&fx)
        .into_iter()
        .filter(|s| s.starts_with("segments/deployments/acme/2026/10/"))
        .collect();
    assert_eq!(
        october.len(),
        1,
        "one segment for acme's October: {october:?}"
    );
}

/// In a bucket: the events of a closed day cost one request to read, not
/// one each, and the dashboard reads the same events.
#[test]
fn in_a_bucket_a_closed_day_costs_one_read() {
    let (moto, proxy, fx) = in_a_bucket();
    let all = keys(200);
    put_all(&moto, "ledger", &all, entry);
    assert_eq!(moto.keys_in("ledger").len(), all.len());
    assert_eq!(read_back(&fx), all);
    let gets = |p: &FakeS3| {
        p.seen()
            .iter()
            .filter(|s| s.method == "GET" && !s.query.contains("list-type"))
            .count()
    };
    assert_eq!(gets(&proxy), 200, "one read per event before");
    compact_json(&fx);
    let _ = std::fs::remove_dir_all(fx.path("manager/.fleetform/cache"));
    let (before, after_bound) = (
        gets(&proxy),
        all.iter()
            .filter(|k| k.as_str() > "audit/2026/11/23/20261123T11")
            .count(),
    );
    assert_eq!(read_back(&fx), all);
    // The manifest, 3 day and 11 hour segments, and the events after the
    // bound one by one.
    assert_eq!(gets(&proxy) - before, 1 + 14 + after_bound);
    // Again with the cache: the segments are not read again.
    let before = gets(&proxy);
    assert_eq!(read_back(&fx), all);
    assert_eq!(gets(&proxy) - before, 1 + after_bound);
    let html = fx.path("dashboard.html");
    let out = run(
        &fx,
        &["report", "--html", html.to_str().unwrap(), "--records"],
    );
    common::assert_ok(&out);
    assert!(Path::new(&html).is_file());
}

/// In a bucket: a customer's closed month costs one read, its records
/// after the bound one each, and no record the segment holds is read
/// again on its own.
#[test]
fn in_a_bucket_a_customers_closed_month_costs_one_read() {
    let (moto, proxy, fx) = in_a_bucket();
    let all = deployment_keys(120);
    put_all(&moto, "ledger", &all, deployment_body);
    compact_json(&fx);
    let _ = std::fs::remove_dir_all(fx.path("manager/.fleetform/cache"));
    let reads = |p: &FakeS3| {
        p.seen()
            .iter()
            .filter(|s| s.method == "GET" && !s.query.contains("list-type"))
            .filter(|s| s.path.contains("/deployments/"))
            .map(|s| s.path.clone())
            .collect::<Vec<_>>()
    };
    let before = reads(&proxy).len();
    assert_eq!(deployments_read(&fx), all);
    let november = all.iter().filter(|k| k.contains("/202611")).count();
    let read = reads(&proxy)[before..].to_vec();
    // Two reports: each the manifest and November's records one by one;
    // October's segment once (then from the cache), none of its records.
    assert_eq!(read.len(), 2 * (1 + november) + 1, "{read:#?}");
    assert!(
        !read.iter().any(|p| p.contains("/202610")),
        "a record the segment holds read again: {read:#?}"
    );
}

/// In a bucket: a compaction lists `deployments/` whole only when a month
/// closed since the last full listing, when that is a week old, or when
/// asked (`--relist`); otherwise it costs one request of the marks, and a
/// late record waits for the next full listing (read on its own till
/// then).
#[test]
fn a_compaction_lists_every_deployment_record_only_when_due() {
    let (moto, proxy, fx) = in_a_bucket();
    let mut all = deployment_keys(60);
    put_all(&moto, "ledger", &all, deployment_body);
    let whole = |p: &FakeS3| {
        p.seen()
            .iter()
            .filter(|s| s.method == "GET" && s.query.contains("list-type"))
            .filter(|s| {
                s.query
                    .replace("%2F", "/")
                    .split('&')
                    .any(|q| q == "prefix=fleet/records/deployments/")
            })
            .count()
    };
    let lists = |now: &str, more: &[&str]| {
        let before = whole(&proxy);
        let done = compact_at(&fx, now, more);
        (whole(&proxy) - before, done["deployments"].clone())
    };
    let (n, d) = lists(NOW, &[]);
    assert_eq!((n, &d["listed"]), (1, &Value::Bool(true)), "the first: {d}");
    let (n, d) = lists(NOW, &[]);
    assert_eq!((n, &d["listed"]), (0, &Value::Bool(false)), "again: {d}");
    let late = "deployments/acme/_/production/20261030T120000.000Z-late00000000.json".to_string();
    put_all(
        &moto,
        "ledger",
        std::slice::from_ref(&late),
        deployment_body,
    );
    all.push(late);
    all.sort();
    const SIX_DAYS_ON: &str = "1795953600"; // 2026-11-29T12:00Z
    let (n, d) = lists(SIX_DAYS_ON, &[]);
    assert_eq!(
        (n, &d["written"]),
        (0, &serde_json::json!([])),
        "six days on: {d}"
    );
    assert_eq!(
        deployments_read(&fx),
        all,
        "the late record, read on its own"
    );
    let (n, d) = lists(SIX_DAYS_ON, &["--relist"]);
    assert_eq!(
        (n, d["written"].as_array().unwrap().len()),
        (1, 1),
        "--relist: {d}"
    );
    const EIGHT_DAYS_ON: &str = "1796126400"; // 2026-12-01T12:00Z, November closed
    let (n, d) = lists(EIGHT_DAYS_ON, &[]);
    assert_eq!(
        (n, &d["bound"]),
        (1, &Value::from("20261201T00")),
        "a month closed: {d}"
    );
    let (n, _) = lists(EIGHT_DAYS_ON, &[]);
    assert_eq!(n, 0, "the same month");
    const A_WEEK_LATER: &str = "1796734800"; // 2026-12-08T13:00Z, a week and an hour
    let (n, d) = lists(A_WEEK_LATER, &[]);
    assert_eq!((n, &d["listed"]), (1, &Value::Bool(true)), "a week on: {d}");
}

/// moto with the bucket `ledger`, a counting proxy in front of it, and a
/// fixture whose records are in that bucket (through the proxy) under
/// `fleet/records`.
pub fn in_a_bucket() -> (Moto, FakeS3, Fixture) {
    let moto = Moto::start();
    assert!(moto::curl_signed_put(&moto.url("/ledger")));
    let proxy = FakeS3::start(Some(moto.port()), |_, _| Reply::Forward);
    let fx = Fixture::new();
    fx.records_in_s3("ledger", &proxy.url(), "  prefix: fleet/records\n");
    (moto, proxy, fx)
}

/// Each record put into moto's bucket (its bytes `body(key)`), many at
/// once.
pub fn put_all(moto: &Moto, bucket: &str, keys: &[String], body: fn(&str) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["--parallel", "--parallel-max", "32"]);
    for (i, k) in keys.iter().enumerate() {
        let file = dir.path().join(format!("{i}"));
        std::fs::write(&file, body(k)).unwrap();
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-S", "-f", "-o", "/dev/null", "--max-time", "60"])
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
            .arg("-T")
            .arg(&file)
            .arg(moto.url(&format!("/{bucket}/fleet/records/{k}")));
    }
    assert!(cmd.status().unwrap().success());
}
