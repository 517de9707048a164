//! Issue #56 point 2: repairs by policy. A drift run says what each
//! drifted pair's policy calls for; `repair --from` seals a plan that puts
//! each pair back and judges it again; `repair --apply` applies only the
//! in-place repairs within the cap, after a second person (`--unreviewed`
//! on a workstation, recorded), with an audit line and a deployment
//! record; a proposed pair is applied like any sealed plan. On the test
//! cloud (fakecloud, real Terraform), drift made by editing the cloud file.

use serde_json::Value;

use crate::common;
use crate::fakecloud;
use crate::support::four_eyes::InRuns;
use crate::support::rollout_world::World;

const POLICY: &str = "
drift:
  repair:
    staging: repair
  max_repairs:
    customers: 1
    resources: 50
";

/// c01..c03 applied in staging; then, outside Terraform, c01's and c02's
/// buckets lose their versioning (an in-place change) and c03's network
/// is deleted (its repair creates it again).
fn drifted() -> World {
    let w = World::applied(3, "staging");
    w.fx.append("manager/fleetform.yml", POLICY);
    fakecloud::versioning_off(&w.cloud_file, "c01");
    fakecloud::versioning_off(&w.cloud_file, "c02");
    fakecloud::edit_objects(&w.cloud_file, |o| {
        o.retain(|k, v| !(k.starts_with("fakecloud_network/") && v["name"] == "c03-staging"));
    });
    w
}

fn json(out: &impl common::Streams) -> Value {
    serde_json::from_slice(out.out_bytes()).unwrap_or_else(|_| panic!("{}", common::stderr(out)))
}

/// Step 1 on a workstation: the repairs of `drift-out` planned into
/// `repairs`, the report as JSON.
const PLAN_REPAIRS: [&str; 6] = [
    "repair",
    "--from",
    "drift-out",
    "--out",
    "repairs",
    "--json",
];

/// The entry of `list` (a report's `repairs` or repairs.json) for `c`.
fn entry<'a>(list: &'a Value, c: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["customer"] == c)
        .unwrap_or_else(|| panic!("no {c} in {list:#}"))
}

fn versioning(w: &World, customer: &str) -> Option<bool> {
    fakecloud::objects(&w.cloud_file)
        .iter()
        .find(|(k, v)| {
            k.starts_with("fakecloud_bucket/")
                && v["name"].as_str().is_some_and(|n| n.starts_with(customer))
        })
        .and_then(|(_, v)| v["versioning"].as_bool())
}

fn has_network(w: &World, customer: &str) -> bool {
    let name = format!("{customer}-staging");
    fakecloud::objects(&w.cloud_file)
        .iter()
        .any(|(k, v)| k.starts_with("fakecloud_network/") && v["name"] == name.as_str())
}

/// What the repairs' approver reads: the run's summary, a table with
/// each pair's changes and full plan digest; and each repair plan's own
/// comment says it is a drift repair (not a targeted plan with no
/// targets) and which workflow applies it.
fn read_as_the_approver_does(w: &World, summary: &str) {
    insta::with_settings!({filters => vec![(r"[0-9a-f]{64}", "[digest]")]}, {
        insta::assert_snapshot!("repair_summary", summary);
    });
    let comment = w.fx.read("manager/repairs/c01/staging/comment.md");
    assert!(comment.contains("**Drift repair**"), "{comment}");
    assert!(
        comment.contains("the *fleetform drift* run's repairs job for `staging`"),
        "{comment}"
    );
    for wrong in [
        "Targeted plan",
        "Outside the targets",
        "only ,",
        "fleetform ops",
    ] {
        assert!(!comment.contains(wrong), "{wrong}: {comment}");
    }
}

#[test]
fn repairs_in_place_within_the_cap_and_proposes_the_rest() {
    let w = drifted();
    let drift = json(&w.expect(4, &["drift", "--json", "--out", "drift-out"]));
    let repairs = &drift["repairs"];
    assert_eq!(entry(repairs, "c01")["action"], "repair", "{repairs:#}");
    assert_eq!(entry(repairs, "c02")["action"], "propose", "{repairs:#}");
    assert_eq!(entry(repairs, "c03")["action"], "propose", "{repairs:#}");

    // Step 1: a sealed plan per pair, judged again on the plan itself.
    let summary_file = w.fx.path("step-summary.md");
    let out = w
        .fleetform()
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .args(PLAN_REPAIRS)
        .output();
    common::assert_code(&out, 0);
    let planned = json(&out);
    read_as_the_approver_does(&w, &std::fs::read_to_string(&summary_file).unwrap());
    let c01 = entry(&planned["repairs"], "c01");
    assert_eq!(c01["action"], "repair", "{planned:#}");
    let digest = c01["plan_sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    let c02 = entry(&planned["repairs"], "c02");
    assert_eq!(c02["action"], "propose");
    assert!(c02["why"].as_str().unwrap().contains("cap"), "{c02:#}");
    let c03 = entry(&planned["repairs"], "c03");
    assert_eq!(c03["action"], "propose");
    assert!(
        c03["plan_sha256"].is_string(),
        "a proposal is a sealed plan too: {c03:#}"
    );
    for c in ["c01", "c02", "c03"] {
        let dir = w.fx.path(&format!("manager/repairs/{c}/staging"));
        assert!(
            dir.join("bundle.sealed").is_file(),
            "{c}: not sealed in {}",
            dir.display()
        );
    }
    // Nothing changed in the cloud yet.
    assert_eq!(versioning(&w, "c01"), Some(false));

    // Step 2 needs a second person: on a workstation, --unreviewed.
    let refused = w.expect(3, &["repair", "--apply", "repairs"]);
    assert!(
        common::stderr(&refused).contains("second person"),
        "{}",
        common::stderr(&refused)
    );
    assert_eq!(versioning(&w, "c01"), Some(false), "refused, yet applied");

    let applied = json(&w.expect(
        0,
        &["repair", "--apply", "repairs", "--unreviewed", "--json"],
    ));
    assert_eq!(
        entry(&applied["repairs"], "c01")["applied"],
        "applied",
        "{applied:#}"
    );
    assert!(entry(&applied["repairs"], "c02")["applied"].is_null());
    assert!(entry(&applied["repairs"], "c03")["applied"].is_null());
    assert_eq!(versioning(&w, "c01"), Some(true), "c01 repaired");
    assert_eq!(
        versioning(&w, "c02"),
        Some(false),
        "c02 past the cap, left alone"
    );
    assert!(
        !has_network(&w, "c03"),
        "c03's repair creates: only proposed"
    );

    // The record: an audit line with the repair's reason, unreviewed.
    let audit = w.audit();
    let line = audit
        .iter()
        .rev()
        .find(|e| e["action"] == "apply" && e["customer"] == "c01")
        .unwrap_or_else(|| panic!("{audit:#?}"));
    assert_eq!(line["result"], "ok", "{line:#}");
    assert_eq!(line["approval"], "unreviewed", "{line:#}");
    assert!(
        line["reason"].as_str().unwrap().starts_with("drift repair"),
        "{line:#}"
    );
    assert!(
        line["detail"].as_str().unwrap().contains("drift repair"),
        "{line:#}"
    );
    assert_eq!(line["plan_sha256"], digest, "{line:#}");

    // The next drift run finds c01 clean.
    let again = json(&w.expect(4, &["drift", "--json", "--out", "drift-out-2"]));
    let drifted: Vec<&str> = again["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer"].as_str().unwrap())
        .collect();
    assert!(!drifted.contains(&"c01"), "{drifted:?}");
    assert!(drifted.contains(&"c02"), "{drifted:?}");

    // A proposal is applied by an operator like any sealed plan.
    let c03_digest = c03["plan_sha256"].as_str().unwrap();
    w.expect(
        0,
        &[
            "apply",
            "--customer",
            "c03",
            "--env",
            "staging",
            "--plan-dir",
            "repairs/c03/staging",
            "--plan-sha256",
            c03_digest,
            "--unreviewed",
        ],
    );
    assert!(
        has_network(&w, "c03"),
        "the proposal, applied, put c03's network back"
    );
}

/// A repairs.json edited to repair what the policy only proposes is
/// refused at apply: the opened plan is judged again.
#[test]
fn an_edited_list_cannot_widen_the_repairs() {
    let w = drifted();
    w.expect(4, &["drift", "--json", "--out", "drift-out"]);
    w.expect(0, &PLAN_REPAIRS);
    let path = w.fx.path("manager/repairs/repairs.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut list: Value = serde_json::from_str(&original).unwrap();
    for r in list.as_array_mut().unwrap() {
        r["action"] = Value::from("repair");
    }
    // c01 alone fits the cap; with c03 first, c03 would be the one in it.
    list.as_array_mut()
        .unwrap()
        .sort_by_key(|r| r["customer"] != "c03");
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    // The list is sealed with the artifact key (#81 point 9): the sealed
    // copy is what runs, the edit is gone, and c03 is not created.
    let _ = w.run(&["repair", "--apply", "repairs", "--unreviewed", "--json"]);
    assert!(!has_network(&w, "c03"), "the edited list was applied");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    // Without its sealed copy, nothing runs at all.
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    std::fs::remove_file(w.fx.path("manager/repairs/repairs.json.sealed")).unwrap();
    let out = w.expect(
        3,
        &["repair", "--apply", "repairs", "--unreviewed", "--json"],
    );
    out.stderr_has("arrived without its sealed copy");
    assert!(!has_network(&w, "c03"), "refused, yet applied");
}

/// With `--github`, a repair is a deployment on the customer's repo and a
/// comment on its open pull request, worded for the customer.
#[test]
fn a_repair_is_reported_on_the_customers_repo() {
    let w = drifted();
    let gh = crate::support::fake_github::FakeGitHub::start();
    let (repo, head, pr) = w.c01_on_github(&gh);
    w.expect(4, &["drift", "--json", "--out", "drift-out"]);
    w.expect(0, &["repair", "--from", "drift-out", "--out", "repairs"]);
    let out = w
        .fleetform()
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_TOKEN", gh.token())
        .args(["repair", "--apply", "repairs", "--unreviewed", "--github"])
        .output();
    common::assert_code(&out, 0);
    assert_eq!(versioning(&w, "c01"), Some(true), "c01 repaired");
    let deployments = gh.deployments(repo);
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].sha, head);
    assert_eq!(deployments[0].environment, "staging");
    let comments = gh.comments(repo, pr);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(body.contains("a drift repair"), "{body}");
    assert!(
        body.contains("what changed in your cloud outside Terraform was put back"),
        "{body}"
    );
    assert!(gh.take_violations().is_empty());
}

const DRIFT_WORKFLOW: &str = ".github/workflows/manager-drift.yml";

/// `repair --apply repairs` with `extra`.
fn apply_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&["repair", "--apply", "repairs"][..], extra].concat()
}

/// The drift workflow's repair jobs on GitHub Actions: step 1 plans one
/// environment and reads a customer's files from its repo's default branch
/// (the job holds no checkout of the customer repos); step 2 applies only
/// after someone other than who started the run approved, and a confirming
/// operator on Team/Pro names the digest of the list they read.
#[test]
fn on_actions_a_repair_needs_a_second_person_and_the_list_they_read() {
    let w = drifted();
    let gh = w.operators_on_github();
    let repo = "cust/c01-infra";
    gh.add_repo(repo);
    let vars = w.fx.read("customers/c01/infra/variables.yml");
    gh.commit(repo, "main", &[("infra/variables.yml", vars.as_str())]);
    let reg = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &reg.replace(
            "  - slug: c01\n    path: ../customers/c01\n",
            &format!("  - slug: c01\n    repo: {repo}\n"),
        ),
    );
    // No checkout of c01: its plans can only come from GitHub.
    std::fs::remove_dir_all(w.fx.path("customers/c01")).unwrap();
    let from_github = |args: &[&str]| {
        w.fleetform()
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .args(args)
            .output()
    };
    common::assert_code(&from_github(&["drift", "--json", "--out", "drift-out"]), 4);
    let runs = InRuns {
        w: &w,
        gh: &gh,
        workflow: DRIFT_WORKFLOW,
        env: &[],
    };
    let step1 = |run: u64, env: &str, out_dir: &str| {
        let out = runs.run(
            run,
            "ops-dana",
            &[
                "repair",
                "--from",
                "drift-out",
                "--env",
                env,
                "--out",
                out_dir,
                "--json",
            ],
        );
        common::assert_code(&out, 0);
        json(&out)
    };
    // Another environment's job plans nothing.
    let none = step1(200, "production", "repairs-production");
    assert_eq!(none["repairs"], serde_json::json!([]), "{none:#}");
    let planned = step1(200, "staging", "repairs");
    let c01 = entry(&planned["repairs"], "c01");
    assert_eq!(c01["action"], "repair", "{planned:#}");
    let list = planned["list_sha256"].as_str().unwrap().to_string();
    assert_eq!(
        list,
        sha256_hex(&std::fs::read(w.fx.path("manager/repairs/repairs.json")).unwrap())
    );

    let apply = |run: u64, actor: &str, extra: &[&str]| runs.run(run, actor, &apply_args(extra));
    // No review, then a self-review of the run's apply job: refused.
    runs.refused(200, "ops-dana", &apply_args(&[]), "no one approved");
    gh.review_run(MANAGER_REPO, 200, "staging-apply", "ops-dana", "approved");
    common::assert_code(&apply(200, "ops-dana", &[]), 3);
    assert_eq!(versioning(&w, "c01"), Some(false), "refused, yet applied");

    // Team/Pro: another operator confirms run 200, naming the list.
    gh.workflow_run(MANAGER_REPO, 200, DRIFT_WORKFLOW, "ops-dana", "ops-dana");
    let out = apply(201, "ops-erin", &["--confirms", "200"]);
    common::assert_code(&out, 2);
    assert!(
        common::stderr(&out).contains("--list-sha256"),
        "{}",
        common::stderr(&out)
    );
    let other = "0".repeat(64);
    runs.refused(
        201,
        "ops-erin",
        &apply_args(&["--confirms", "200", "--list-sha256", &other]),
        "not the list",
    );
    // Whoever started the confirmed run cannot confirm it.
    common::assert_code(
        &apply(
            201,
            "ops-dana",
            &["--confirms", "200", "--list-sha256", &list],
        ),
        3,
    );
    assert_eq!(versioning(&w, "c01"), Some(false), "refused, yet applied");
    let out = apply(
        201,
        "ops-erin",
        &["--confirms", "200", "--list-sha256", &list],
    );
    common::assert_code(&out, 0);
    assert_eq!(versioning(&w, "c01"), Some(true), "c01 repaired");
    let audit = w.audit();
    let last = audit
        .iter()
        .rev()
        .find(|e| e["action"] == "apply" && e["customer"] == "c01")
        .unwrap_or_else(|| panic!("{audit:#?}"));
    assert_eq!(last["approvers"], serde_json::json!(["ops-erin"]), "{last}");
    assert!(
        last["reason"].as_str().unwrap().starts_with("drift repair"),
        "{last}"
    );
    assert!(gh.take_violations().is_empty());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

use crate::support::rollout_world::MANAGER_REPO;
