//! Day-2 operations (issue #37 point 1) on the test cloud: `state import`
//! of an object made outside Terraform, `state mv` after a refactor,
//! `plan --replace` that `max_replace` blocks, `force-unlock` of a lock
//! left in moto's S3, and the report on the customer's repo (fake GitHub).

use serde_json::Value;

use crate::common;
use crate::fakecloud;
use crate::moto::{self, Moto};
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

/// The book's "Request budgets" row for a day-2 operation's report.
const DAY2: &str = "day-2 operations with `--github`";

pub(crate) const ENV: &str = "staging";
/// c01 in [`ENV`], for reason `r`: where and why the operations here run.
pub(crate) const C01_R: [&str; 6] = ["--customer", "c01", "--env", ENV, "--reason", "r"];
pub(crate) const MODULE: &str = "manager/terraform/main.tf";

/// One customer (c01) in staging, planned and applied.
pub(crate) fn applied() -> World {
    World::applied(1, ENV)
}

/// Plans c01 and returns its summary.
pub(crate) fn plan(w: &World, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--customer", "c01", "--env", ENV, "--json"];
    args.extend(extra);
    let out = w.expect(0, &args);
    let rows: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    rows[0]["summary"].clone()
}

pub(crate) fn counts(summary: &Value) -> (u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{summary:#}"));
    (n("create"), n("delete"), n("replace"))
}

/// The audit lines of `action`.
pub(crate) fn audit_of(w: &World, action: &str) -> Vec<Value> {
    w.audit()
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

/// The `state` audit events kept in the records store (create-only, one
/// object each), oldest first.
fn op_records(w: &World) -> Vec<Value> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&w.fx.path("manager/.fleetform/records/audit"), &mut files);
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_slice::<Value>(&std::fs::read(f).unwrap()).unwrap())
        .filter(|e| e["action"] == "state" && e["customer"] == "c01")
        .collect()
}

#[test]
fn import_adopts_a_bucket_created_outside_terraform() {
    let w = applied();
    let module = w.fx.read(MODULE);
    w.fx.write(
        MODULE,
        &format!("{module}\nresource \"fakecloud_bucket\" \"extra\" {{\n  name       = \"${{var.customer}}-extra\"\n  versioning = true\n}}\n"),
    );
    // Someone made it by hand, outside Terraform.
    fakecloud::edit_objects(&w.cloud_file, |o| {
        o.insert(
            "fakecloud_bucket/bucket-c01-extra".into(),
            serde_json::json!({"id": "bucket-c01-extra", "name": "c01-extra", "versioning": true,
                               "arn": "arn:fakecloud:bucket:::c01-extra"}),
        );
    });
    assert_eq!(counts(&plan(&w, &[])), (1, 0, 0), "before: a create");
    // No reason: refused before anything runs.
    let no_reason = [
        "state",
        "import",
        "fakecloud_bucket.extra",
        "bucket-c01-extra",
        "--customer",
        "c01",
        "--env",
        ENV,
    ];
    let out = w.expect(2, &no_reason);
    assert!(
        common::stderr(&out).contains("--reason"),
        "{}",
        common::stderr(&out)
    );
    let import = [&no_reason[..], &["--reason", "made by hand in INC-7"]].concat();
    // On a workstation no one else reviews: only with --unreviewed.
    let out = w.expect(3, &import);
    assert!(
        common::stderr(&out).contains("add --unreviewed"),
        "{}",
        common::stderr(&out)
    );
    assert!(audit_of(&w, "state").is_empty(), "refused before running");
    w.expect(0, &[&import[..], &["--unreviewed"]].concat());
    let after = plan(&w, &[]);
    assert_eq!(after["has_changes"], false, "{after:#}");
    let audit = audit_of(&w, "state");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(audit[0]["actor"], "ops-dana");
    assert_eq!(audit[0]["reason"], "made by hand in INC-7");
    assert_eq!(
        audit[0]["detail"],
        "import fakecloud_bucket.extra bucket-c01-extra (unreviewed: run by ops-dana with --unreviewed)"
    );
    assert_eq!(audit[0]["approval"], "unreviewed");
    let records = op_records(&w);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["detail"], audit[0]["detail"]);
    assert_eq!(records[0]["approval"], "unreviewed");
    assert_eq!(records[0]["reason"], "made by hand in INC-7");
    assert_eq!(records[0]["result"], "ok");
}

#[test]
fn state_mv_after_a_refactor_then_plans_clean() {
    let w = applied();
    let module = w.fx.read(MODULE);
    let renamed = module.replace(
        "resource \"fakecloud_bucket\" \"logs\"",
        "resource \"fakecloud_bucket\" \"archive\"",
    );
    assert_ne!(module, renamed);
    w.fx.write(MODULE, &renamed);
    assert_eq!(
        counts(&plan(&w, &[])),
        (1, 1, 0),
        "before: destroy and create"
    );
    // An operand that Terraform would read as a flag is refused (clap
    // takes it after `--`; fleetform does not).
    let out = w.expect(
        2,
        &[
            &["state", "mv"][..],
            &C01_R[..],
            &["--", "-lock=false", "fakecloud_bucket.archive"],
        ]
        .concat(),
    );
    assert!(
        common::stderr(&out).contains("`-lock=false` is not a resource address"),
        "{}",
        common::stderr(&out)
    );
    w.expect(
        0,
        &[
            "state",
            "mv",
            "fakecloud_bucket.logs",
            "fakecloud_bucket.archive",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "module refactor",
            "--unreviewed",
        ],
    );
    let after = plan(&w, &[]);
    assert_eq!(after["has_changes"], false, "{after:#}");
    // A move of what is no longer there fails, is recorded as failed and
    // exits non-zero.
    w.expect(
        1,
        &[
            "state",
            "mv",
            "fakecloud_bucket.logs",
            "fakecloud_bucket.other",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "again",
            "--unreviewed",
        ],
    );
    let results: Vec<Value> = audit_of(&w, "state")
        .iter()
        .map(|e| e["result"].clone())
        .collect();
    assert_eq!(results, ["ok", "failed"]);
    assert_eq!(op_records(&w)[1]["result"], "failed");
}

#[test]
fn a_replace_that_max_replace_blocks_is_never_applied() {
    let w = applied();
    w.fx.append(
        "manager/fleetform.yml",
        "\npolicies:\n  environments:\n    staging:\n      max_replace: 0\n",
    );
    let before = fakecloud::objects(&w.cloud_file);
    // One customer × environment only.
    w.expect(
        2,
        &[
            "plan",
            "--all",
            "--replace",
            "fakecloud_bucket.logs",
            "--reason",
            "r",
        ],
    );
    let s = plan(
        &w,
        &[
            "--replace",
            "fakecloud_bucket.logs",
            "--reason",
            "corrupt bucket",
        ],
    );
    assert_eq!(counts(&s), (0, 0, 1), "{s:#}");
    assert_eq!(s["targeting"]["replace"][0], "fakecloud_bucket.logs");
    assert_eq!(s["targeting"]["reason"], "corrupt bucket");
    let gate = s["gates"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_replace")
        .cloned()
        .unwrap_or_else(|| panic!("{s:#}"));
    assert_eq!(gate["passed"], false, "{gate:#}");
    // A targeted plan's apply needs a second person, or --unreviewed.
    let out = w.expect(3, &["apply", "--customer", "c01", "--env", ENV]);
    assert!(
        common::stderr(&out).contains("add --unreviewed"),
        "{}",
        common::stderr(&out)
    );
    let out = w.expect(
        3,
        &["apply", "--customer", "c01", "--env", ENV, "--unreviewed"],
    );
    assert!(
        common::stderr(&out).contains("max_replace"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        before,
        "nothing replaced"
    );
    let plans = audit_of(&w, "plan");
    let last = plans.last().unwrap();
    assert_eq!(last["reason"], "corrupt bucket", "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .starts_with("-replace=fakecloud_bucket.logs"),
        "{last}"
    );
    // Without the gate the same targeted plan applies: the bucket is
    // replaced and the apply's audit line names the replace and reason.
    let cfg = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace("max_replace: 0", "max_replace: 1"),
    );
    plan(
        &w,
        &[
            "--replace",
            "fakecloud_bucket.logs",
            "--reason",
            "corrupt bucket",
        ],
    );
    w.expect(
        0,
        &["apply", "--customer", "c01", "--env", ENV, "--unreviewed"],
    );
    let applies = audit_of(&w, "apply");
    let last = applies.last().unwrap();
    assert_eq!(last["result"], "ok");
    assert_eq!(last["approval"], "unreviewed", "{last}");
    assert_eq!(last["reason"], "corrupt bucket", "{last}");
}

#[test]
fn force_unlock_releases_a_stuck_lock() {
    common::require_terraform();
    let moto = Moto::start();
    assert!(moto::curl(&moto.url("/fleetform-test"), "PUT").is_some());
    let fx = common::Fixture::new();
    let cfg = fx.read("manager/fleetform.yml").replace(
        "  backend:\n    kind: local\n    state_dir: .fleetform/state\n",
        &format!(
            "  backend:\n    kind: s3\n    bucket: fleetform-test\n    region: us-east-1\n    endpoint: {}\n    use_path_style: true\n    use_lockfile: true\n",
            moto.url("")
        ),
    );
    assert!(cfg.contains("kind: s3"), "{cfg}");
    fx.write("manager/fleetform.yml", &cfg);
    let run = |args: &[&str]| {
        common::Run::from(fx.fleetform())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("USER", "ops-dana")
            .args(args)
            .output()
    };
    let expect = |code: i32, args: &[&str]| {
        let out = run(args);
        common::assert_code_for(format_args!("{args:?}"), &out, code);
        out
    };
    expect(0, &["plan", "--customer", "acme", "--env", ENV]);
    expect(0, &["apply", "--customer", "acme", "--env", ENV]);
    // A run killed mid-apply left its lock.
    let lock_key = "acme/staging/terraform.tfstate.tflock";
    let id = "3f0e1f7c-6a39-4c1e-9a0b-5d1c3d7f2e11";
    let info = serde_json::json!({"ID": id, "Operation": "OperationTypeApply", "Info": "",
        "Who": "runner@gone", "Version": "1.11.4", "Created": "2026-01-01T00:00:00Z",
        "Path": format!("fleetform-test/{}", lock_key.trim_end_matches(".tflock"))});
    let put = std::process::Command::new("curl")
        .args(["-s", "-f", "-X", "PUT", "--max-time", "10"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .args(["-H", "Content-Type: application/json"])
        .args(["--data-binary", &info.to_string()])
        .arg(moto.url(&format!("/fleetform-test/{lock_key}")))
        .status()
        .unwrap();
    assert!(put.success());
    assert!(moto.keys_in("fleetform-test").iter().any(|k| k == lock_key));
    let unlock = |lock: &str, code: i32| {
        expect(
            code,
            &[
                "state",
                "force-unlock",
                lock,
                "--customer",
                "acme",
                "--env",
                ENV,
                "--reason",
                "runner killed mid-apply",
                "--unreviewed",
            ],
        )
    };
    // Another lock's id releases nothing.
    unlock("00000000-0000-0000-0000-000000000000", 1);
    assert!(moto.keys_in("fleetform-test").iter().any(|k| k == lock_key));
    unlock(id, 0);
    assert!(
        !moto.keys_in("fleetform-test").iter().any(|k| k == lock_key),
        "{:?}",
        moto.keys_in("fleetform-test")
    );
    // The next plan runs.
    expect(0, &["plan", "--customer", "acme", "--env", ENV]);
    let audit: Vec<Value> = std::fs::read_to_string(fx.path("manager/.fleetform/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["action"] == "state")
        .collect();
    let results: Vec<&str> = audit
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["failed", "ok"]);
    assert_eq!(
        audit[1]["detail"],
        format!("force-unlock {id} (unreviewed: run by ops-dana with --unreviewed)")
    );
}

#[test]
fn an_operation_is_reported_on_the_customers_repo() {
    let w = applied();
    let gh = FakeGitHub::start();
    let (repo, head, pr) = w.c01_on_github(&gh);
    let out = w
        .fleetform()
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_TOKEN", gh.token())
        .env("GITHUB_ACTOR", "ops-dana")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "provider/manager")
        .env("GITHUB_RUN_ID", "4242")
        .args([
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "handed <b>over</b> to @team",
            "--github",
            "--unreviewed",
        ])
        .output();
    common::assert_code(&out, 0);
    let deployments = gh.deployments(repo);
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].sha, head);
    assert_eq!(deployments[0].environment, ENV);
    let states: Vec<&str> = deployments[0]
        .statuses
        .iter()
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(states, ["success"]);
    assert_eq!(
        gh.request_count(),
        crate::support::readme_budgets::Budgets::from_book().lead(DAY2),
        "the book's \"Request budgets\""
    );
    let comments = gh.comments(repo, pr);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(
        body.contains("`state rm` `fakecloud_bucket.logs`"),
        "{body}"
    );
    // Read by a customer: their bucket was not deleted.
    assert!(
        body.contains("**state only, nothing in your cloud changed**"),
        "{body}"
    );
    assert!(body.contains("ops-dana"), "{body}");
    assert!(
        body.contains("https://github.com/provider/manager/actions/runs/4242"),
        "{body}"
    );
    // The reason is shown, never as HTML or a mention.
    assert!(!body.contains("<b>") && !body.contains(" @team"), "{body}");
    // The bucket is forgotten, not destroyed.
    assert!(
        fakecloud::objects(&w.cloud_file).contains_key("fakecloud_bucket/bucket-c01-staging-logs")
    );
}
