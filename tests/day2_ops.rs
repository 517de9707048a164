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

const ENV: &str = "staging";
const MODULE: &str = "manager/terraform/main.tf";

/// One customer (c01) in staging, planned and applied.
fn applied() -> World {
    let w = World::with(1, ENV);
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    w.expect(0, &["apply", "--customer", "c01", "--env", ENV]);
    w
}

/// Plans c01 and returns its summary.
fn plan(w: &World, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--customer", "c01", "--env", ENV, "--json"];
    args.extend(extra);
    let out = w.expect(0, &args);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    rows[0]["summary"].clone()
}

fn counts(summary: &Value) -> (u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{summary:#}"));
    (n("create"), n("delete"), n("replace"))
}

/// The audit lines of `action`.
fn audit_of(w: &World, action: &str) -> Vec<Value> {
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
    let out = w.expect(
        2,
        &[
            "state",
            "import",
            "fakecloud_bucket.extra",
            "bucket-c01-extra",
            "--customer",
            "c01",
            "--env",
            ENV,
        ],
    );
    assert!(
        common::stderr(&out).contains("--reason"),
        "{}",
        common::stderr(&out)
    );
    let import = [
        "state",
        "import",
        "fakecloud_bucket.extra",
        "bucket-c01-extra",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--reason",
        "made by hand in INC-7",
    ];
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
            "state",
            "mv",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "r",
            "--",
            "-lock=false",
            "fakecloud_bucket.archive",
        ],
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
        fx.fleetform()
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("USER", "ops-dana")
            .args(args)
            .output()
            .unwrap()
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
    let repo = "cust/c01-infra";
    gh.add_repo(repo);
    let head = gh.commit(repo, "main", &[("README.md", "c01\n")]);
    gh.create_branch(repo, "change", "main");
    gh.commit(repo, "change", &[("infra/x.yml", "a: 1\n")]);
    let pr = gh.open_pr(repo, "change", "main", "a change");
    let reg = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &reg.replace(
            "  - slug: c01\n",
            &format!("  - slug: c01\n    repo: {repo}\n"),
        ),
    );
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
        .output()
        .unwrap();
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

/// A world whose operators team is prov/ops (ops-dana, ops-erin), and
/// a fake GitHub answering for the manager repo.
fn operators() -> (World, FakeGitHub) {
    let w = applied();
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER);
    gh.commit(MANAGER, "main", &[("README.md", "manager\n")]);
    for who in ["ops-dana", "ops-erin"] {
        gh.add_team_member("prov", "ops", who, "active");
    }
    let cfg = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &cfg.replace("rollout:\n", "rollout:\n  operators: prov/ops\n"),
    );
    (w, gh)
}

const MANAGER: &str = "provider/manager";
const OPS_WORKFLOW: &str = ".github/workflows/manager-ops.yml";

/// fleetform in run `run` of the ops workflow, started by `actor`.
fn in_run(
    w: &World,
    gh: &FakeGitHub,
    run: u64,
    actor: &str,
    args: &[&str],
) -> std::process::Output {
    w.fleetform()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", actor)
        .env("GITHUB_TRIGGERING_ACTOR", actor)
        .env("GITHUB_REPOSITORY", MANAGER)
        .env("GITHUB_RUN_ID", run.to_string())
        .env(
            "GITHUB_WORKFLOW_REF",
            format!("{MANAGER}/{OPS_WORKFLOW}@refs/heads/main"),
        )
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_TOKEN", gh.token())
        .env("FLEETFORM_TEAMS_TOKEN", gh.token())
        .args(args)
        .output()
        .unwrap()
}

const RM: [&str; 8] = [
    "state",
    "rm",
    "fakecloud_bucket.logs",
    "--customer",
    "c01",
    "--env",
    ENV,
    "--reason",
];

/// `state rm fakecloud_bucket.logs --preview` in run `run`: its digest.
fn preview_rm(w: &World, gh: &FakeGitHub, run: u64, actor: &str) -> String {
    let out = in_run(
        w,
        gh,
        run,
        actor,
        &[&RM[..], &["handover", "--preview"]].concat(),
    );
    common::assert_code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("State only: nothing in the cloud changes"),
        "{text}"
    );
    assert!(
        text.contains("`fakecloud_bucket.logs`: in the state"),
        "{text}"
    );
    let digest = text
        .split("Digest `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert_eq!(digest.len(), 64, "{text}");
    digest
}

fn state_apply(digest: &str) -> Vec<&str> {
    vec![
        "state",
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--sha256",
        digest,
    ]
}

#[test]
fn on_github_actions_only_operators_operate() {
    let (w, gh) = operators();
    let out = in_run(
        &w,
        &gh,
        70,
        "mallory",
        &[&RM[..], &["handover", "--preview"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("not an active member of `prov/ops`"),
        "{}",
        common::stderr(&out)
    );
    // A targeted plan is refused the same way.
    let plan = [
        "plan",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--replace",
        "fakecloud_bucket.logs",
        "--reason",
        "r",
    ];
    common::assert_code(&in_run(&w, &gh, 70, "mallory", &plan), 3);
    // An operator runs nothing in one step on Actions: preview first.
    let out = in_run(&w, &gh, 71, "ops-dana", &[&RM[..], &["handover"]].concat());
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("previewed first"),
        "{}",
        common::stderr(&out)
    );
    // Nor with --unreviewed, which is for a workstation.
    let digest = preview_rm(&w, &gh, 72, "ops-dana");
    let out = in_run(
        &w,
        &gh,
        72,
        "ops-dana",
        &[&state_apply(&digest)[..], &["--unreviewed"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(common::stderr(&out).contains("--unreviewed is for a workstation"));
    assert!(audit_of(&w, "state").is_empty(), "refused before running");
}

#[test]
fn a_state_operation_runs_only_after_someone_else_approved_the_run() {
    let (w, gh) = operators();
    let digest = preview_rm(&w, &gh, 80, "ops-dana");
    let apply = state_apply(&digest);
    let refused = |why: &str| {
        let out = in_run(&w, &gh, 80, "ops-dana", &apply);
        common::assert_code(&out, 3);
        assert!(
            common::stderr(&out).contains(why),
            "{why}: {}",
            common::stderr(&out)
        );
        assert!(audit_of(&w, "state").is_empty(), "nothing ran");
    };
    // No one approved (an environment without required reviewers).
    refused("no one approved the deployment to `staging-apply` in run 80");
    // GitHub does not answer: closed.
    gh.inject_matching(
        "GET",
        "/approvals",
        crate::support::fake_github::Fault::status(403),
    );
    refused("cannot read who approved run 80");
    // The requester approved it themself.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-dana", "approved");
    refused("self-review");
    // A digest other than the preview's.
    let other = in_run(&w, &gh, 80, "ops-dana", &state_apply(&"a".repeat(64)));
    common::assert_code(&other, 3);
    assert!(
        common::stderr(&other).contains("not the approved"),
        "{}",
        common::stderr(&other)
    );
    // Someone else approved: it runs, and the record names both.
    gh.review_run(MANAGER, 80, "staging-apply", "ops-erin", "approved");
    let out = in_run(&w, &gh, 80, "ops-dana", &apply);
    common::assert_code(&out, 0);
    let audit = audit_of(&w, "state");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["approval"], "approved");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert_eq!(audit[0]["plan_sha256"], digest.as_str());
    assert_eq!(audit[0]["reason"], "handover");
    assert!(
        audit[0]["detail"]
            .as_str()
            .unwrap()
            .contains("approved by ops-erin (asked by ops-dana)"),
        "{}",
        audit[0]
    );
    // Forgotten, not destroyed.
    assert!(
        fakecloud::objects(&w.cloud_file).contains_key("fakecloud_bucket/bucket-c01-staging-logs")
    );
}

#[test]
fn on_team_and_pro_another_operator_confirms_the_preview_run() {
    let (w, gh) = operators();
    let digest = preview_rm(&w, &gh, 90, "ops-dana");
    gh.workflow_run(MANAGER, 90, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let confirm = [&state_apply(&digest)[..], &["--confirms", "90"]].concat();
    // The requester cannot confirm their own preview.
    let out = in_run(&w, &gh, 91, "ops-dana", &confirm);
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("`ops-dana` started the preview (run 90)"),
        "{}",
        common::stderr(&out)
    );
    // Nor a run that is not the preview's workflow.
    gh.workflow_run(
        MANAGER,
        92,
        ".github/workflows/other.yml",
        "ops-dana",
        "ops-dana",
    );
    let out = in_run(
        &w,
        &gh,
        93,
        "ops-erin",
        &[&state_apply(&digest)[..], &["--confirms", "92"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("not of `.github/workflows/manager-ops.yml`"),
        "{}",
        common::stderr(&out)
    );
    // A run GitHub does not know.
    let out = in_run(
        &w,
        &gh,
        93,
        "ops-erin",
        &[&state_apply(&digest)[..], &["--confirms", "12345"]].concat(),
    );
    common::assert_code(&out, 3);
    assert!(audit_of(&w, "state").is_empty());
    // The state moved since the preview: preview again.
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    let module = w.fx.read(MODULE);
    w.fx.write(MODULE, &format!("{module}\nresource \"fakecloud_bucket\" \"more\" {{\n  name = \"${{var.customer}}-more\"\n}}\n"));
    w.expect(0, &["plan", "--customer", "c01", "--env", ENV]);
    w.expect(0, &["apply", "--customer", "c01", "--env", ENV]);
    let out = in_run(&w, &gh, 94, "ops-erin", &confirm);
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("the state changed since the preview"),
        "{}",
        common::stderr(&out)
    );
    // Previewed again, confirmed by another operator: it runs.
    let digest = preview_rm(&w, &gh, 95, "ops-dana");
    gh.workflow_run(MANAGER, 95, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let out = in_run(
        &w,
        &gh,
        96,
        "ops-erin",
        &[&state_apply(&digest)[..], &["--confirms", "95"]].concat(),
    );
    common::assert_code(&out, 0);
    let audit = audit_of(&w, "state");
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["actor"], "ops-erin");
    assert_eq!(audit[0]["approvers"], serde_json::json!(["ops-erin"]));
    assert!(audit[0]["detail"]
        .as_str()
        .unwrap()
        .contains("approved by ops-erin (asked by ops-dana)"));
}

#[test]
fn state_operations_act_only_where_the_customer_is_registered() {
    let w = applied();
    let out = w.expect(
        2,
        &[
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            "production",
            "--reason",
            "r",
            "--unreviewed",
        ],
    );
    assert!(
        common::stderr(&out).contains("environment `production` is not enabled for `c01`"),
        "{}",
        common::stderr(&out)
    );
    assert!(audit_of(&w, "state").is_empty());
}

/// Markdown as GitHub renders it, and its text outside code spans.
fn rendered(md: &str) -> (String, String) {
    let html = common::cmark_gfm(md, &["-e", "table", "-e", "autolink", "-e", "tagfilter"]);
    let mut prose = String::new();
    let mut in_code = false;
    for part in html.split('<') {
        let (tag, text) = part.split_once('>').unwrap_or(("", part));
        in_code = (in_code || tag.starts_with("code")) && !tag.starts_with("/code");
        if !in_code {
            prose.push_str(text);
        }
    }
    (html, prose)
}

/// Point 8: what the approver of a state operation reads: state only
/// first, the operation in Terraform's words, the state it was previewed
/// against, the digest and how to let it through; no pull request words.
#[test]
fn the_state_operation_preview_reads_as_state_only() {
    let (w, gh) = operators();
    let out = in_run(
        &w,
        &gh,
        60,
        "ops-dana",
        &[
            &RM[..],
            &["handed over to the <b>data</b> team", "--preview"],
        ]
        .concat(),
    );
    common::assert_code(&out, 0);
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]"), (r"serial \d+", "serial [n]")]}, {
        insta::assert_snapshot!("state_operation_preview", md);
    });
    let (html, prose) = rendered(&md);
    assert!(!prose.contains('`'), "no literal backtick: {html}");
    assert!(
        !prose.contains("<b>") && !html.contains("<b>data"),
        "the reason is text: {html}"
    );
    assert!(html.contains("<table>"), "{html}");
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("State only") < at("| Operation"), "{md}");
    assert!(at("Digest `") < at("To let it through"), "{md}");
    for word in ["pull request", "merge", "gate"] {
        assert!(!md.to_lowercase().contains(word), "{word}: {md}");
    }
}

/// Point 8: a targeted plan says first that it is targeted, by whom and
/// why, what it changes outside the targets, and asks for no approval on
/// a pull request that does not exist; a pinned customer's plan runs at
/// its pin and says so.
#[test]
fn a_targeted_plan_says_it_is_targeted_by_whom_and_why() {
    let w = applied();
    let s = plan(
        &w,
        &[
            "--replace",
            "fakecloud_bucket.logs",
            "--reason",
            "corrupt <i>bucket</i>",
        ],
    );
    assert_eq!(counts(&s), (0, 0, 1), "{s:#}");
    let md = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]"), (r"/tmp/[^ )]*", "[path]")]}, {
        insta::assert_snapshot!("targeted_plan_comment", md);
    });
    let (html, prose) = rendered(&md);
    assert!(!prose.contains('`'), "no literal backtick: {html}");
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("**Targeted plan**") < at("**Plan digest**"), "{md}");
    assert!(md.contains("asked by ops-dana"), "{md}");
    for word in ["pull request", "merge"] {
        assert!(!md.to_lowercase().contains(word), "{word}: {md}");
    }
}

/// Point 1 for targeted applies: on Actions the plan is sealed in the
/// preview job, and the apply job applies exactly its digest, only after
/// someone other than who asked approved (a run review, or a confirming
/// run on Team/Pro).
#[test]
fn a_targeted_apply_on_actions_needs_the_sealed_digest_and_a_second_person() {
    let (w, gh) = operators();
    let before = fakecloud::objects(&w.cloud_file);
    let plan = [
        "plan",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--replace",
        "fakecloud_bucket.logs",
        "--reason",
        "corrupt bucket",
        "--seal",
    ];
    let out = in_run(&w, &gh, 100, "ops-dana", &plan);
    common::assert_code(&out, 0);
    let dir = "manager/.fleetform/out/c01/staging";
    let summary: Value = serde_json::from_str(&w.fx.read(&format!("{dir}/summary.json"))).unwrap();
    let digest = summary["plan_sha256"].as_str().unwrap().to_string();
    assert!(w.fx.path(&format!("{dir}/bundle.sealed")).is_file());
    // The apply job finds only the downloaded bundle: what it applies is
    // what was sealed.
    for f in ["tfplan", "summary.json", "comment.md", "plan.txt"] {
        let _ = std::fs::remove_file(w.fx.path(&format!("{dir}/{f}")));
    }
    let apply = [
        "apply",
        "--customer",
        "c01",
        "--env",
        ENV,
        "--github",
        "--plan-sha256",
        &digest,
    ];
    let apply: Vec<&str> = apply.into_iter().filter(|a| *a != "--github").collect();
    // No digest: refused.
    let out = in_run(
        &w,
        &gh,
        100,
        "ops-dana",
        &["apply", "--customer", "c01", "--env", ENV],
    );
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("--plan-sha256"),
        "{}",
        common::stderr(&out)
    );
    // No review; a self-review: refused, nothing replaced.
    let out = in_run(&w, &gh, 100, "ops-dana", &apply);
    common::assert_code(&out, 3);
    assert!(
        common::stderr(&out).contains("no one approved"),
        "{}",
        common::stderr(&out)
    );
    gh.review_run(MANAGER, 100, "staging-apply", "ops-dana", "approved");
    common::assert_code(&in_run(&w, &gh, 100, "ops-dana", &apply), 3);
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        before,
        "nothing replaced"
    );
    // On Team/Pro another operator confirms run 100.
    gh.workflow_run(MANAGER, 100, OPS_WORKFLOW, "ops-dana", "ops-dana");
    let confirm = [&apply[..], &["--confirms", "100"]].concat();
    common::assert_code(&in_run(&w, &gh, 101, "ops-dana", &confirm), 3);
    let out = in_run(&w, &gh, 101, "ops-erin", &confirm);
    common::assert_code(&out, 0);
    let applies = audit_of(&w, "apply");
    let last = applies.last().unwrap();
    assert_eq!(last["result"], "ok", "{last}");
    assert_eq!(last["approval"], "approved", "{last}");
    assert_eq!(last["approvers"], serde_json::json!(["ops-erin"]), "{last}");
    assert_eq!(last["reason"], "corrupt bucket", "{last}");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("approved by ops-erin (asked by ops-dana)"),
        "{last}"
    );
}

/// Issue #50, state operations: one way to run Terraform (no colour codes
/// in any log or comment), operands that are blank or padded refused
/// before Terraform, the actor named without `USER`, and each secret
/// masked once.
#[test]
fn state_operations_run_terraform_one_way_and_name_who_ran_them() {
    let (w, gh) = operators();
    for bad in [
        " ",
        "\t",
        " fakecloud_bucket.logs",
        "fakecloud_bucket.logs\u{1b}[31m",
    ] {
        let out = w.expect(
            2,
            &[
                "state",
                "rm",
                bad,
                "--customer",
                "c01",
                "--env",
                ENV,
                "--reason",
                "r",
                "--unreviewed",
            ],
        );
        assert!(
            common::stderr(&out).contains("is not a resource address"),
            "{bad:?}: {}",
            common::stderr(&out)
        );
    }
    assert!(audit_of(&w, "state").is_empty(), "nothing ran");
    let out = w
        .fleetform()
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args([
            "state",
            "rm",
            "fakecloud_bucket.logs",
            "--customer",
            "c01",
            "--env",
            ENV,
            "--reason",
            "r",
            "--unreviewed",
        ])
        .output()
        .unwrap();
    common::assert_code(&out, 0);
    let actor = audit_of(&w, "state")[0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(actor.starts_with("uid "), "{actor}");
    let log = w.fx.read("manager/.fleetform/out/c01/staging/rm.log");
    assert!(log.contains("-no-color"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes: {log:?}");
    // One token, however many clients use it: masked once.
    let out = in_run(
        &w,
        &gh,
        61,
        "ops-dana",
        &[&RM[..], &["r", "--preview"]].concat(),
    );
    let masks = common::stderr(&out).matches("::add-mask::").count();
    assert_eq!(masks, 1, "{}", common::stderr(&out));
}
