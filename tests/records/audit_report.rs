//! `fleetform audit report` as compliance evidence: `--format md|json|html`
//! (`--json` its alias), `--since`/`--until` inclusive dates, a header with
//! the period, the source, the count and the digest of the set, each event
//! with its record's SHA-256, per customer and environment; the HTML is one
//! self-contained, escaped file.
//!
//! The fixture log (`tests/fixtures/audit/compliance.jsonl`) has plans, a
//! waiver, a refusal, applies with approvers and a failed apply across acme
//! and globex in November 2026, and one event on each side of November.

use crate::common;

use std::path::Path;

use common::{stderr, stdout};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const FIXTURE: &str = "tests/fixtures/audit/compliance.jsonl";

/// Runs `audit report --log audit.jsonl ARGS` in a folder holding a copy of
/// the fixture (the source shows as `local log audit.jsonl`).
fn report(args: &[&str]) -> crate::common::Ran {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::copy(fixture, dir.path().join("audit.jsonl")).unwrap();
    common::Run::from(common::fleetform_bin())
        .current_dir(dir.path())
        .args(["audit", "report", "--log", "audit.jsonl"])
        .args(args)
        .output()
}

const NOVEMBER: &[&str] = &["--since", "2026-11-01", "--until", "2026-11-30"];

/// The fixture's lines in November, and the digest of their set as the
/// report documents it (SHA-256 of each line's SHA-256 and a newline).
fn november() -> (Vec<String>, String) {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"2026-11-"))
        .map(|l| hex::encode(Sha256::digest(l.as_bytes())))
        .collect();
    let mut set = Sha256::new();
    for l in &lines {
        set.update(format!("{l}\n"));
    }
    (lines, hex::encode(set.finalize()))
}

#[test]
fn markdown_evidence_for_a_period() {
    let out = report(NOVEMBER);
    common::assert_ok(&out);
    let md = stdout(&out);
    let (lines, digest) = november();
    assert_eq!(lines.len(), 7);
    assert!(
        md.contains(&format!("Digest of the set: `{digest}`")),
        "{md}"
    );
    for l in &lines {
        assert!(md.contains(l.as_str()), "{l} missing: {md}");
    }
    // The events on each side of November are excluded.
    assert!(!md.contains("ops-dave") && !md.contains("ops-zed"), "{md}");
    insta::assert_snapshot!("audit_report_november_md", md);
}

#[test]
fn json_evidence_and_the_alias() {
    let (lines, digest) = november();
    for args in [["--format", "json"].as_slice(), ["--json"].as_slice()] {
        let out = report(&[NOVEMBER, args].concat());
        common::assert_ok(&out);
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let ev = &v["evidence"];
        assert_eq!(ev["since"], "2026-11-01T00:00:00Z");
        assert_eq!(ev["until"], "2026-11-30T23:59:60Z");
        assert_eq!(ev["source"], "local log audit.jsonl");
        assert_eq!(ev["events"], 7);
        assert_eq!(ev["digest"], digest.as_str());
        let rows = v["rows"].as_array().unwrap();
        let got: Vec<&str> = rows
            .iter()
            .map(|r| r["record_sha256"].as_str().unwrap())
            .collect();
        assert_eq!(got, lines);
        let approved = rows
            .iter()
            .find(|r| r["action"] == "apply" && r["customer"] == "acme")
            .unwrap();
        assert_eq!(approved["approvers"], serde_json::json!(["alice", "bob"]));
        assert_eq!(approved["actor"], "ops-carol");
        assert_eq!(approved["triggering_actor"], "ops-bot");
        assert_eq!(
            approved["identity"],
            "arn:aws:iam::111111111111:role/acme-deploy"
        );
        let units = ev["units"].as_array().unwrap();
        assert_eq!(units.len(), 2, "{units:?}");
        assert_eq!(units[0]["customer"], "acme");
        assert_eq!(units[0]["approvers"], serde_json::json!(["alice", "bob"]));
        assert_eq!(units[0]["waivers"], 1);
        assert_eq!(units[1]["customer"], "globex");
        assert_eq!(
            (
                units[1]["applies"].as_u64(),
                units[1]["failed_applies"].as_u64()
            ),
            (Some(1), Some(1))
        );
        // The summary of before is still there.
        assert_eq!(v["records"], 7);
        assert_eq!(v["applies_per_customer"]["acme"], 1);
    }
}

/// One self-contained file: inline CSS, no script, no fetch; the hostile
/// actor and detail are text.
#[test]
fn html_is_self_contained_and_escaped() {
    let out = report(&[NOVEMBER, &["--format", "html"]].concat());
    common::assert_ok(&out);
    let html = stdout(&out);
    let (lines, digest) = november();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    assert!(html.contains("<style>"), "{html}");
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "{html}");
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!lower.contains(external), "{external}: {html}");
    }
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    assert!(
        html.contains("&lt;&#x2f;td&gt;") || html.contains("&lt;/td&gt;"),
        "{html}"
    );
    assert!(html.contains(&digest), "{html}");
    assert_eq!(
        html.matches("<tr><td>2026-11-").count(),
        lines.len(),
        "{html}"
    );
    assert!(
        !html.contains("ops-dave") && !html.contains("ops-zed"),
        "{html}"
    );
}

#[test]
fn until_before_since_is_a_usage_error() {
    let out = report(&["--since", "2026-11-02", "--until", "2026-11-01"]);
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("is before --since"),
        "{}",
        stderr(&out)
    );
    for bad in ["2026-11-31", "tomorrow"] {
        let out = report(&["--until", bad]);
        common::assert_code(&out, 2);
        assert!(stderr(&out).contains("--until"), "{}", stderr(&out));
    }
    let out = report(&["--format", "pdf"]);
    common::assert_code(&out, 2);
}

/// A single day: `--since D --until D` is the whole of that day.
#[test]
fn one_day_is_inclusive() {
    let out = report(&["--since", "2026-11-30", "--until", "2026-11-30", "--json"]);
    common::assert_ok(&out);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["evidence"]["events"], 1);
    assert_eq!(v["rows"][0]["time"], "2026-11-30T23:59:59Z");
}

/// From the records store (a folder here): the same events, each with its
/// object's key and the SHA-256 of the object; days outside the period are
/// not read.
#[test]
fn records_store_rows_carry_their_keys_and_digests() {
    let fx = common::Fixture::new();
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap();
    let mut want = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let t = v["time"].as_str().unwrap();
        let stamp = format!("{}{}{}T000000.000Z-{i:012}", &t[0..4], &t[5..7], &t[8..10]);
        let key = format!("audit/{}/{}/{}/{stamp}.json", &t[0..4], &t[5..7], &t[8..10]);
        fx.write(&format!("manager/.fleetform/records/{key}"), line);
        if t.starts_with("2026-11-") {
            want.push((key, hex::encode(Sha256::digest(line.as_bytes()))));
        }
    }
    let out = common::Run::from(fx.fleetform())
        .args(["audit", "report", "--records", "--format", "json"])
        .args(NOVEMBER)
        .output();
    common::assert_ok(&out);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        v["evidence"]["source"]
            .as_str()
            .unwrap()
            .starts_with("records store "),
        "{v:#}"
    );
    let got: Vec<(String, String)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["record_key"].as_str().unwrap().to_string(),
                r["record_sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // The same lines, so the same digest of the set as from the log.
    assert_eq!(v["evidence"]["digest"], november().1.as_str());
}
