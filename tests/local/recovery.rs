//! Issue #87: states that can be recovered, on moto's S3 with versioning
//! on. A pair's state damaged (resources removed, a hand edit) is
//! restored through the preview, a second person and `state apply`, and
//! plans clean; a drill over three pairs passes, and fails loudly for the
//! pair whose newest version was tampered with; its scratch copies go.

use serde_json::Value;

use crate::common;
use crate::local::four_eyes::{in_run, MANAGER};
use crate::local::ops::{counts, plan, ENV};
use crate::moto::{self, Moto};
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

pub(crate) const BUCKET: &str = "fleetform-state";

/// A signed request with a body; its body on success.
pub(crate) fn curl_with(url: &str, method: &str, body: &str) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "-f", "-X", method, "--max-time", "60"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .args(["-H", "Content-Type: application/xml", "--data-binary", body])
        .arg(url)
        .output()
        .expect("curl is installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The state bucket on moto, versioning `on` or never turned on.
pub(crate) fn state_bucket(moto: &Moto, on: bool) {
    assert!(moto::curl_signed_put(&moto.url(&format!("/{BUCKET}"))));
    if on {
        versioning_on(moto, BUCKET);
    }
}

/// Turns versioning on for `bucket`.
pub(crate) fn versioning_on(moto: &Moto, bucket: &str) {
    let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
    assert!(curl_with(&moto.url(&format!("/{bucket}?versioning")), "PUT", body).is_some());
}

/// `n` customers in staging with their state in the moto bucket, each
/// planned and applied.
pub(crate) fn on_s3(moto: &Moto, n: usize) -> World {
    let mut w = World::with(n, ENV);
    let cfg = w.fx.read("manager/fleetform.yml").replace(
        "  backend:\n    kind: local\n    state_dir: .fleetform/state\n",
        &format!(
            "  backend:\n    kind: s3\n    bucket: {BUCKET}\n    region: us-east-1\n    endpoint: {}\n    use_path_style: true\n    use_lockfile: true\n",
            moto.url("")
        ),
    );
    assert!(cfg.contains("kind: s3"), "{cfg}");
    w.fx.write("manager/fleetform.yml", &cfg);
    w.set_env("AWS_ACCESS_KEY_ID", "test");
    w.set_env("AWS_SECRET_ACCESS_KEY", "test");
    w.set_env("AWS_EC2_METADATA_DISABLED", "true");
    for i in 1..=n {
        let c = crate::support::rollout_world::slug(i);
        w.expect(0, &["plan", "--customer", &c, "--env", ENV]);
        w.expect(0, &["apply", "--customer", &c, "--env", ENV]);
    }
    w
}

/// `state versions` of `customer`, newest first.
pub(crate) fn versions(w: &World, customer: &str) -> Vec<Value> {
    let out = w.expect(
        0,
        &[
            "state",
            "versions",
            "--customer",
            customer,
            "--env",
            ENV,
            "--json",
        ],
    );
    serde_json::from_str(&out.stdout).unwrap()
}

pub(crate) fn state_key(customer: &str) -> String {
    format!("{customer}/{ENV}/terraform.tfstate")
}

#[test]
fn a_damaged_state_is_restored_after_a_second_person_and_plans_clean() {
    let moto = Moto::start();
    state_bucket(&moto, true);
    let w = on_s3(&moto, 1);
    let applied = versions(&w, "c01");
    assert!(
        applied[0]["applied_by"] == "ops-dana" && applied[0]["matched_by"] == "serial",
        "the apply that wrote it, by the serial its record keeps: {applied:#?}"
    );
    // The record keeps the state's serial and lineage after the apply.
    let records =
        w.fx.path("manager/.fleetform/records/deployments/c01/_/staging");
    let record_path = std::fs::read_dir(&records)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(record["state"]["serial"], applied[0]["serial"], "{record}");
    assert_eq!(
        record["state"]["lineage"], applied[0]["lineage"],
        "{record}"
    );
    // A record kept before records had a serial: matched by time, and
    // the listing says so.
    let kept = std::fs::read(&record_path).unwrap();
    record.as_object_mut().unwrap().remove("state");
    std::fs::write(&record_path, record.to_string()).unwrap();
    let old = versions(&w, "c01");
    assert_eq!(old[0]["applied_by"], "ops-dana", "{old:#?}");
    assert_eq!(old[0]["matched_by"], "time", "{old:#?}");
    let table = w.expect(0, &["state", "versions", "--customer", "c01", "--env", ENV]);
    table.stdout_has("matched by time: its record keeps no serial");
    std::fs::write(&record_path, kept).unwrap();
    // Damage: resources removed from the state, then a hand edit.
    w.expect(
        0,
        &[
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "a slip",
            "--unreviewed",
        ],
    );
    assert_eq!(
        counts(&plan(&w, &[])),
        (1, 0, 0),
        "the bucket is to be made anew"
    );
    let listed = versions(&w, "c01");
    let good = listed
        .iter()
        .find(|v| v["serial"] == applied[0]["serial"])
        .unwrap_or_else(|| panic!("{listed:#?}"));
    let good_id = good["version_id"].as_str().unwrap().to_string();
    let gh: FakeGitHub = w.operators_on_github();
    let preview = |run: u64, extra: &[&str]| {
        let args = [
            &[
                "state",
                "restore",
                "--customer",
                "c01",
                "--env",
                ENV,
                "--version",
                &good_id,
                "--reason",
                "undo the slip",
                "--preview",
            ][..],
            extra,
        ]
        .concat();
        in_run(&w, &gh, run, "ops-dana", &args)
    };
    // Going back past a serial needs saying so.
    let refused = preview(300, &[]);
    common::assert_code(&refused, 3);
    refused.stderr_has("--allow-older-serial");
    let shown = preview(300, &["--allow-older-serial"]);
    common::assert_code(&shown, 0);
    assert!(
        shown
            .stdout
            .contains("`fakecloud_bucket.logs`: **appears**"),
        "{}",
        shown.stdout
    );
    // What the approver reads, before the digest: state only, which
    // versions, what appears, disappears and changes.
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{64}", "[digest]"),
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[id]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
        (r"serial \d+", "serial [n]"),
    ]}, {
        insta::assert_snapshot!("restore_preview", shown.stdout);
    });
    let html = common::cmark_gfm(&shown.stdout, &["-e", "table"]);
    assert!(
        html.contains(
            "<li><strong>State</strong>: <code>c01/staging/terraform.tfstate</code></li>"
        ),
        "{html}"
    );
    let digest = common::digest_of(&shown.stdout);
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
    // No one else approved: nothing is written.
    let before = versions(&w, "c01").len();
    common::assert_code(&in_run(&w, &gh, 300, "ops-dana", &apply), 3);
    assert_eq!(versions(&w, "c01").len(), before, "nothing written");
    gh.review_run(MANAGER, 300, "staging-apply", "ops-erin", "approved");
    let done = in_run(&w, &gh, 300, "ops-dana", &apply);
    common::assert_code(&done, 0);
    done.stdout_has("what the cloud would do to match the restored state");
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    assert!(
        comment.contains(&format!(
            "**After a restore**: version `{good_id}` of the state of `c01` / `staging` was restored"
        )) && comment.contains("because: undo the slip"),
        "{comment}"
    );
    assert_eq!(counts(&plan(&w, &[])), (0, 0, 0), "{}", done.stdout);
    // A new version; the replaced one and every earlier one stay.
    let after = versions(&w, "c01");
    assert_eq!(after.len(), before + 1, "{after:#?}");
    for v in &listed {
        assert!(
            after.iter().any(|a| a["version_id"] == v["version_id"]),
            "{v}"
        );
    }
    let restore = w
        .audit()
        .into_iter()
        .filter(|e| e["action"] == "state" && e["detail"].as_str().unwrap().starts_with("restore "))
        .collect::<Vec<_>>();
    assert_eq!(restore.len(), 1, "{restore:#?}");
    assert_eq!(restore[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert_eq!(restore[0]["reason"], "undo the slip");
    assert!(
        restore[0]["detail"].as_str().unwrap().contains(&good_id),
        "{}",
        restore[0]
    );
    // A hand edit that breaks what Terraform reads (a wrong attribute):
    // restored the same way, by the newest good version.
    let newest = &after[0];
    let text = moto.object(&state_key("c01")).unwrap();
    let mut edited: Value = serde_json::from_str(&text).unwrap();
    edited["serial"] = Value::from(edited["serial"].as_u64().unwrap() + 1);
    edited["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["type"] != "fakecloud_network");
    assert!(curl_with(
        &moto.url(&format!("/{BUCKET}/{}", state_key("c01"))),
        "PUT",
        &edited.to_string()
    )
    .is_some());
    assert_ne!(counts(&plan(&w, &[])), (0, 0, 0));
    let id = newest["version_id"].as_str().unwrap();
    let shown = in_run(
        &w,
        &gh,
        301,
        "ops-dana",
        &[
            "state",
            "restore",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--version",
            id,
            "--reason",
            "hand edit",
            "--preview",
            "--allow-older-serial",
        ],
    );
    common::assert_code(&shown, 0);
    gh.review_run(MANAGER, 301, "staging-apply", "ops-erin", "approved");
    let apply = [
        "state",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--sha256",
        &common::digest_of(&shown.stdout),
    ];
    common::assert_code(&in_run(&w, &gh, 301, "ops-dana", &apply), 0);
    assert_eq!(counts(&plan(&w, &[])), (0, 0, 0));
    // Another state over the key (another lineage): none of this one's
    // versions is restored over it.
    let mut other: Value = serde_json::from_str(&moto.object(&state_key("c01")).unwrap()).unwrap();
    other["lineage"] = Value::from("00000000-0000-4000-8000-000000000000");
    other["serial"] = Value::from(other["serial"].as_u64().unwrap() + 1);
    assert!(curl_with(
        &moto.url(&format!("/{BUCKET}/{}", state_key("c01"))),
        "PUT",
        &other.to_string()
    )
    .is_some());
    let refused = in_run(
        &w,
        &gh,
        302,
        "ops-dana",
        &[
            "state",
            "restore",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--version",
            id,
            "--reason",
            "another state",
            "--preview",
            "--allow-older-serial",
        ],
    );
    common::assert_code(&refused, 3);
    refused.stderr_has("it is another state, never this one's");
}

#[test]
fn a_drill_proves_three_pairs_and_fails_loudly_for_a_tampered_one() {
    let moto = Moto::start();
    state_bucket(&moto, true);
    let w = on_s3(&moto, 3);
    let drill = w.expect(0, &["state", "drill"]);
    for c in ["c01", "c02", "c03"] {
        assert!(
            drill
                .stdout
                .lines()
                .any(|l| l.contains(&format!("{c}/{ENV}")) && l.contains("proven")),
            "{}",
            drill.stdout
        );
    }
    // c02's newest version tampered with: its bucket gone from it (a
    // changed attribute alone the plan's refresh would read back).
    let text = moto.object(&state_key("c02")).unwrap();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    json["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["type"] != "fakecloud_bucket");
    let tampered = json.to_string();
    assert_ne!(tampered.len(), text.len());
    assert!(curl_with(
        &moto.url(&format!("/{BUCKET}/{}", state_key("c02"))),
        "PUT",
        &tampered
    )
    .is_some());
    // c03's is not a state at all.
    assert!(curl_with(
        &moto.url(&format!("/{BUCKET}/{}", state_key("c03"))),
        "PUT",
        "{\"version\": 4"
    )
    .is_some());
    // Whoever fleetform.yml says is told of each failure.
    w.fx.append(
        "manager/fleetform.yml",
        "\nnotify:\n  - name: pager\n    kind: webhook\n    url_env: FLEETFORM_PAGER_WEBHOOK\n    events: [drill_failed]\n",
    );
    let pager = crate::notify::Receiver::start(vec![], 200);
    let out = w
        .fleetform()
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .args(["state", "drill"])
        .output();
    common::assert_code(&out, 1);
    let mut told: Vec<(String, String)> = pager
        .bodies()
        .iter()
        .map(|v| {
            assert_eq!(v["event"], "drill_failed", "{v}");
            (
                v["customer"].as_str().unwrap().to_string(),
                v["summary"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    told.sort();
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0].0, "c02");
    assert!(
        told[0]
            .1
            .starts_with("recovery drill failed: its plan would change the cloud"),
        "{told:?}"
    );
    assert_eq!(told[1].0, "c03");
    out.stderr_has("2 of 3 pairs not proven restorable");
    let line = |c: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(&format!("{c}/{ENV}")))
            .unwrap_or_else(|| panic!("{}", out.stdout))
            .to_string()
    };
    assert!(line("c01").contains("proven restorable"), "{}", line("c01"));
    assert!(
        line("c02").contains("FAILED") && line("c02").contains("would change the cloud"),
        "{}",
        line("c02")
    );
    assert!(
        line("c03").contains("FAILED") && line("c03").contains("cannot be read"),
        "{}",
        line("c03")
    );
    let failed: Vec<Value> = w
        .audit()
        .into_iter()
        .filter(|e| e["action"] == "drill" && e["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    // The dashboard: when each pair was last proven restorable.
    w.expect(0, &["report", "--html", "dash.html"]);
    let html = w.fx.read("manager/dash.html");
    assert_eq!(
        html.matches("restore drill FAILED today").count(),
        2,
        "{html}"
    );
    assert_eq!(html.matches("proven restorable today").count(), 1, "{html}");
    // Nothing of the scratch copies is left, and the states are untouched.
    let all = curl_with(&moto.url(&format!("/{BUCKET}?versions")), "GET", "").unwrap();
    assert!(!all.contains("fleetform-drill/"), "{all}");
    assert_eq!(moto.object(&state_key("c02")).unwrap(), tampered);
}

#[test]
fn doctor_fails_a_state_bucket_with_versioning_off() {
    let moto = Moto::start();
    state_bucket(&moto, false);
    let w = on_s3(&moto, 1);
    let gh = w.operators_on_github();
    let out = w
        .fleetform()
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_TOKEN", gh.token())
        .args(["doctor", "--repo", MANAGER, "--json"])
        .output();
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let row = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "state bucket versioning")
        .unwrap_or_else(|| panic!("{report:#}"))
        .clone();
    assert_eq!(
        (row["level"].as_str(), row["result"].as_str()),
        (Some("must"), Some("fail")),
        "{row}"
    );
    assert!(
        row["found"].as_str().unwrap().contains("never turned on"),
        "{row}"
    );
    assert_ne!(out.code, Some(0)); // Versioning on, and a lifecycle rule that expires earlier versions
                                   // after 7 days, sooner than the stated recovery window of 30.
    versioning_on(&moto, BUCKET);
    let rule = "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ID>old-states</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration></Rule></LifecycleConfiguration>";
    assert!(curl_with(&moto.url(&format!("/{BUCKET}?lifecycle")), "PUT", rule).is_some());
    w.fx.append("manager/fleetform.yml", "\nstate:\n  recovery_days: 30\n");
    let out = w
        .fleetform()
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_TOKEN", gh.token())
        .args(["doctor", "--repo", MANAGER, "--json"])
        .output();
    let report: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let row = |what: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .unwrap_or_else(|| panic!("{what}: {report:#}"))
            .clone()
    };
    assert_eq!(row("state bucket versioning")["result"], "pass");
    let kept = row("state bucket non-current versions");
    assert_eq!(
        (kept["level"].as_str(), kept["result"].as_str()),
        (Some("should"), Some("warn")),
        "{kept}"
    );
    assert!(
        kept["found"].as_str().unwrap().contains(
            "`old-states` expires them after 7 days, sooner than the recovery window of 30 days"
        ),
        "{kept}"
    );
    for fact in ["state bucket Object Lock", "state bucket encryption"] {
        assert_eq!(row(fact)["result"], "pass", "{fact}");
    }
}

/// Issue #87 point 5: the local backend keeps one earlier state, the
/// backup Terraform writes beside the state file; it is listed and
/// restored the same way (here on a workstation, unreviewed).
#[test]
fn on_the_local_backend_the_backup_is_listed_and_restored() {
    let w = crate::local::ops::applied();
    // A second apply: Terraform keeps the state it replaces as the backup.
    w.change("tier: staging-2", "tier: staging-3");
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    w.expect(0, &["apply", "--customer", "c01", "--env", ENV]);
    let applied = versions(&w, "c01");
    assert_eq!(applied.len(), 2, "{applied:#?}");
    w.expect(
        0,
        &[
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "a slip",
            "--unreviewed",
        ],
    );
    assert_eq!(counts(&plan(&w, &[])), (1, 0, 0));
    let listed = versions(&w, "c01");
    assert_eq!(listed[0]["version_id"], "current", "{listed:#?}");
    // The backup holds the state before the second apply, with the
    // bucket (a `state rm` keeps no backup of its own).
    let backup = &listed[1];
    assert_eq!(backup["serial"], applied[1]["serial"], "{listed:#?}");
    let id = backup["version_id"].as_str().unwrap();
    assert!(id.starts_with("backup"), "{id}");
    let restore = |extra: &[&str]| {
        let args = [
            &[
                "state",
                "restore",
                "--customer",
                "c01",
                "--env",
                ENV,
                "--version",
                id,
                "--reason",
                "undo the slip",
                "--unreviewed",
            ][..],
            extra,
        ]
        .concat();
        w.run(&args)
    };
    common::assert_code(&restore(&[]), 3);
    let done = restore(&["--allow-older-serial"]);
    common::assert_code(&done, 0);
    done.stdout_has("what the cloud would do to match the restored state");
    // The bucket is back in the state: nothing to create, destroy or
    // replace (the second apply's setting is an update again).
    assert_eq!(counts(&plan(&w, &[])), (0, 0, 0), "{}", done.stdout);
    // The damaged state is the backup now: nothing was lost.
    let after = versions(&w, "c01");
    assert!(
        after[1..]
            .iter()
            .any(|v| v["serial"] == listed[0]["serial"]),
        "{after:#?}"
    );
    // The drill proves the state file the local backend keeps, from a
    // scratch copy in the state folder it removes after.
    let drilled = w.expect(0, &["state", "drill", "--customer", "c01"]);
    assert!(
        drilled
            .stdout
            .lines()
            .any(|l| l.contains("c01/staging") && l.contains("proven restorable")),
        "{}",
        drilled.stdout
    );
    let scratch = w.fx.path("manager/.fleetform/state/fleetform-drill");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "scratch copies left: {left:?}");
}

/// `doctor --fix` turns on the state bucket's versioning (#83 point 1):
/// planned with its doctor row, applied with `--yes`, recorded; doctor's
/// row then passes and a second `--fix` plans nothing for the bucket.
#[test]
fn doctor_fix_turns_on_the_state_buckets_versioning() {
    let moto = Moto::start();
    state_bucket(&moto, false);
    let w = on_s3(&moto, 1);
    let gh = w.operators_on_github();
    let doctor = |args: &[&str]| {
        w.fleetform()
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("FLEETFORM_MANAGER_TOKEN", gh.token())
            .args(["doctor", "--repo", MANAGER])
            .args(args)
            .output()
    };
    let line = "turn on versioning of the state bucket s3://";
    let out = doctor(&["--fix"]);
    assert!(
        out.stdout.contains(line)
            && out.stdout.contains("(it was never on)")
            && out.stdout.contains("[doctor: state bucket versioning]"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let out = doctor(&["--fix", "--yes"]);
    assert!(
        out.stdout.contains(&format!("done: {line}")),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let report = doctor(&["--json"]);
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    let row = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "state bucket versioning")
        .unwrap()
        .clone();
    assert_eq!(row["result"], "pass", "{row}");
    let out = doctor(&["--fix"]);
    assert!(!out.stdout.contains(line), "{}", out.stdout);
    // The doctor workflow's role for the bucket's settings, named in
    // fleetform.yml: --fix sets its variables (the role, the region).
    let role = "arn:aws:iam::123456789012:role/fleetform-doctor";
    w.fx.append(
        "manager/fleetform.yml",
        &format!("\nstate:\n  doctor_role: {role}\n"),
    );
    let without = doctor(&["--fix"]);
    assert!(
        !without.stdout.contains("FLEETFORM_DOCTOR_ROLE"),
        "no doctor workflow, no variable: {}",
        without.stdout
    );
    w.fx.write(
        "manager/.github/workflows/manager-doctor.yml",
        include_str!("../../workflows/manager-doctor.yml"),
    );
    let out = doctor(&["--fix"]);
    for want in [
        format!("set the repository variable FLEETFORM_DOCTOR_ROLE to `{role}` (fleetform.yml's state.doctor_role"),
        "set the repository variable FLEETFORM_DOCTOR_REGION to `us-east-1` (fleetform.yml's terraform.backend.region".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "{want}:\n{}\n{}", out.stdout, out.stderr);
    }
}
