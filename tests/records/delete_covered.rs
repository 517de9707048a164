//! `fleetform records compact --delete-covered` (#88): the raw audit
//! events and deployment records that segments hold are deleted only when
//! asked, only a week after their span ended, never while Object Lock
//! holds them (a retention, a legal hold) and never a pair's newest
//! deployment record; what is deleted is recorded first; readers read the
//! same records after.

use base64::Engine as _;
use md5::Digest as _;
use serde_json::Value;

use crate::common::{self, stdout, Fixture};
use crate::moto::{self, Moto};
use crate::records::compact::{deployments_read, read_back, run};

const BUCKET: &str = "kept";

/// A PUT of `body` at `key` with `headers` (and its Content-MD5, which
/// S3 asks of a put with Object Lock headers).
fn put(moto: &Moto, key: &str, body: &str, headers: &[&str]) {
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-f", "-o", "/dev/null", "--max-time", "60"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .args(["-H", &format!("Content-MD5: {md5}")]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg("-T")
        .arg(file.path())
        .arg(moto.url(&format!("/{BUCKET}/fleet/records/{key}")));
    assert!(cmd.status().unwrap().success(), "putting {key}");
}

/// Two audit events a day from 2026-11-10 to the 23rd, as fleetform
/// writes them.
fn audit_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for day in 10..=23 {
        for (i, hour) in [3, 9].iter().enumerate() {
            keys.push(format!(
                "audit/2026/11/{day}/202611{day}T{hour:02}0000.000Z-{day:04}{i:08}.json"
            ));
        }
    }
    keys
}

fn event(key: &str) -> String {
    let s = &key[17..32];
    format!(
        r#"{{"time":"{}-{}-{}T{}:00:00Z","action":"plan","actor":"ops","customer":"acme","environment":"staging","result":"ok"}}"#,
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11]
    )
}

#[test]
fn covered_records_are_deleted_when_asked_but_never_what_a_lock_holds() {
    let moto = Moto::start();
    // A bucket with Object Lock (and so versioning), no default retention.
    assert!(std::process::Command::new("curl")
        .args(["-s", "-f", "-X", "PUT", "--max-time", "60"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .args(["-H", "x-amz-bucket-object-lock-enabled: true"])
        .arg(moto.url(&format!("/{BUCKET}")))
        .status()
        .unwrap()
        .success());
    let fx = Fixture::new();
    fx.records_in_s3(BUCKET, &moto.url(""), "  prefix: fleet/records\n");
    let audit = audit_keys();
    let deployed = crate::records::compact::deployment_keys(40);
    let retained = audit[2].clone(); // the 11th, 03:00: retained until 2099
    let on_hold = deployed[3].clone(); // an October record under a legal hold
    for k in &audit {
        let lock: &[&str] = match *k == retained {
            true => &[
                "x-amz-object-lock-mode: COMPLIANCE",
                "x-amz-object-lock-retain-until-date: 2099-01-01T00:00:00Z",
            ],
            false => &[],
        };
        put(&moto, k, &event(k), lock);
    }
    for k in &deployed {
        let lock: &[&str] = match *k == on_hold {
            true => &["x-amz-object-lock-legal-hold: ON"],
            false => &[],
        };
        put(&moto, k, &crate::records::compact::deployment_body(k), lock);
    }
    // A pair whose newest record is in October (`qa`, which the cost
    // report does not show): its older record goes, its newest stays.
    let qa_old = "deployments/acme/_/qa/20261005T000000.000Z-0000000000aa.json".to_string();
    let qa_new = "deployments/acme/_/qa/20261006T000000.000Z-0000000000ab.json".to_string();
    for k in [&qa_old, &qa_new] {
        put(&moto, k, &crate::records::compact::deployment_body(k), &[]);
    }
    assert_eq!(read_back(&fx), audit);
    assert_eq!(deployments_read(&fx), deployed);

    // Without the flag nothing goes.
    let out = run(&fx, &["records", "compact", "--json"]);
    common::assert_ok(&out);
    let raw =
        |moto: &Moto| {
            let mut all = Vec::new();
            for prefix in ["audit/", "deployments/", "deletions/"] {
                let xml = moto::curl(
                    &moto.url(&format!(
                        "/{BUCKET}?list-type=2&prefix=fleet/records/{prefix}"
                    )),
                    "GET",
                )
                .unwrap();
                all.extend(xml.split("<Key>").skip(1).map(|s| {
                    s.split("</Key>").next().unwrap()["fleet/records/".len()..].to_string()
                }));
            }
            all
        };
    assert_eq!(raw(&moto).len(), audit.len() + deployed.len() + 2);

    let out = run(&fx, &["records", "compact", "--delete-covered", "--json"]);
    common::assert_ok(&out);
    let done: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let deleted: Vec<String> = done["deleted"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    // Audit days before the 16th (a week before the bound's day, the
    // 23rd), but the retained one; October's deployment records (the
    // bound a week ago is November's start), but the one on hold and the
    // newest of a pair (acme's staging and production have newer ones in
    // November).
    let mut expected: Vec<String> = audit
        .iter()
        .filter(|k| k.as_str() < "audit/2026/11/16" && **k != retained)
        .cloned()
        .collect();
    expected.extend(
        deployed
            .iter()
            .filter(|k| k.contains("/202610") && **k != on_hold)
            .cloned(),
    );
    expected.push(qa_old.clone());
    let mut sorted = deleted.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "{done}");
    let kept: Vec<&str> = done["deleted"]["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(kept.len(), 2, "{done}");
    assert!(kept.contains(&retained.as_str()) && kept.contains(&on_hold.as_str()));

    // Gone from the bucket (not behind a delete marker: the version is
    // deleted), but the locked two; the record of the deletion is there.
    let left = raw(&moto);
    for k in &deleted {
        assert!(!left.contains(k), "{k} is still there");
    }
    assert!(left.contains(&retained) && left.contains(&on_hold) && left.contains(&qa_new));
    let record_key = done["deleted"]["record"].as_str().unwrap();
    assert!(left.contains(&record_key.to_string()), "{left:?}");
    let record: Value = serde_json::from_str(
        &moto
            .object_in(BUCKET, &format!("fleet/records/{record_key}"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["deleting"].as_array().unwrap().len(), deleted.len());
    assert!(record["deleting"][0]["segment_sha256"].is_string());

    // Readers read every record still, from the segments and the cache
    // emptied; a compaction after keeps every segment's events.
    let _ = std::fs::remove_dir_all(fx.path("manager/.fleetform/cache"));
    assert_eq!(read_back(&fx), audit);
    assert_eq!(deployments_read(&fx), deployed);
    let again = run(&fx, &["records", "compact", "--delete-covered", "--json"]);
    common::assert_ok(&again);
    let again: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(again["written"], serde_json::json!([]), "{again}");
    assert_eq!(again["deployments"]["written"], serde_json::json!([]));
    assert_eq!(again["deleted"]["keys"], serde_json::json!([]));
    assert_eq!(read_back(&fx), audit);
    assert_eq!(deployments_read(&fx), deployed);
}
