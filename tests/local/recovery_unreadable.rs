//! Issue #87: a current state that is not JSON, restored on moto's S3.
//! Terraform will not take a new state over it, so fleetform writes the
//! version past it through the S3 API while holding the backend's lock,
//! on the same preview, second person and `state apply` as any restore.

use serde_json::Value;

use crate::common;
use crate::local::four_eyes::{in_run, MANAGER};
use crate::local::ops::{counts, plan, ENV};
use crate::local::recovery::{curl_with, on_s3, state_bucket, state_key, versions, BUCKET};
use crate::moto::{self, Moto};
use crate::support::fake_github::FakeGitHub;

/// A current version that is not JSON: Terraform will not lock over it,
/// so fleetform writes version V past it through the S3 API under the
/// backend's lock (refused while another holds it), on the same preview,
/// second person and `state apply`; the plan after changes nothing and
/// the unreadable version stays.
#[test]
fn a_corrupt_current_state_is_restored_under_the_lock_and_plans_clean() {
    let moto = Moto::start();
    state_bucket(&moto, true);
    let w = on_s3(&moto, 1);
    let good = versions(&w, "c01")[0]["version_id"]
        .as_str()
        .unwrap()
        .to_string();
    let key_url = moto.url(&format!("/{BUCKET}/{}", state_key("c01")));
    assert!(curl_with(&key_url, "PUT", "{truncated").is_some());
    let broken = w.run(&["plan", "--customer", "c01", "--env", ENV]);
    assert_ne!(
        broken.code,
        Some(0),
        "Terraform cannot read it: {}",
        broken.stdout
    );
    let gh: FakeGitHub = w.operators_on_github();
    let shown = in_run(
        &w,
        &gh,
        310,
        "ops-dana",
        &[
            "state",
            "restore",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--version",
            &good,
            "--reason",
            "a truncated write",
            "--preview",
        ],
    );
    common::assert_code(&shown, 0);
    shown.stdout_has("current state unreadable: 10 bytes, not JSON");
    shown.stdout_has(&format!("the same as version `{good}`"));
    let digest = common::digest_of(&shown.stdout);
    gh.review_run(MANAGER, 310, "staging-apply", "ops-erin", "approved");
    let apply = [
        "state",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--sha256",
        &digest,
    ];
    // A Terraform run holds the lock: refused, nothing written.
    let lock_key = format!("{}.tflock", state_key("c01"));
    let info = serde_json::json!({"ID": "3f0e1f7c-6a39-4c1e-9a0b-5d1c3d7f2e11",
        "Operation": "OperationTypeApply", "Info": "", "Who": "runner@busy",
        "Version": "1.11.4", "Created": "2026-01-01T00:00:00Z",
        "Path": format!("{BUCKET}/{}", state_key("c01"))});
    let lock_url = moto.url(&format!("/{BUCKET}/{lock_key}"));
    assert!(moto::curl_put_body(&lock_url, &info.to_string()));
    let before = versions(&w, "c01").len();
    let held = in_run(&w, &gh, 310, "ops-dana", &apply);
    common::assert_code(&held, 3);
    held.stderr_has("locked by runner@busy");
    assert_eq!(versions(&w, "c01").len(), before, "nothing written");
    assert_eq!(
        moto.object(&lock_key).unwrap(),
        info.to_string(),
        "their lock left"
    );
    assert!(moto::curl(&lock_url, "DELETE").is_some());
    // Released: restored as a new version, the lock taken and let go.
    let done = in_run(&w, &gh, 310, "ops-dana", &apply);
    common::assert_code(&done, 0);
    done.stdout_has("what the cloud would do to match the restored state");
    assert_eq!(counts(&plan(&w, &[])), (0, 0, 0), "{}", done.stdout);
    assert!(!moto.keys().contains(&lock_key), "{:?}", moto.keys());
    let after = versions(&w, "c01");
    assert_eq!(after.len(), before + 1, "{after:#?}");
    assert!(
        after[1]["unreadable"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "the unreadable version stays: {after:#?}"
    );
    let restored: Value = serde_json::from_str(&moto.object(&state_key("c01")).unwrap()).unwrap();
    assert_eq!(restored["lineage"], after[2]["lineage"]);
    let audit = w.audit();
    let restore = audit
        .iter()
        .find(|e| e["action"] == "state" && e["result"] == "ok")
        .unwrap_or_else(|| panic!("{audit:#?}"));
    assert_eq!(restore["reason"], "a truncated write");
    assert_eq!(restore["approvers"], serde_json::json!(["ops-erin"]));
    assert!(
        restore["detail"].as_str().unwrap().contains(&good),
        "{restore}"
    );
}
