//! Policy gates (at plan and again at apply) and template propagation
//! (`fleetform sync`), against real terraform and the fake GitHub.

use crate::common;
use crate::world;

use common::{stderr, stdout};
use serde_json::{json, Value};
use world::{ok, World, ACME, MANAGER};

use crate::support::readme_budgets::Budgets;

/// The book's "Request budgets" rows these tests count.
const PLAN: &str = "`plan --dispatch`, per environment";
const GATES: &str = "policy gates (plan or apply)";
const SYNC: &str = "`sync`, per customer";

/// Adds a `policies:` block to the example manager config.
fn with_policies(w: &World, yaml: &str) {
    w.fx.append("manager/fleetform.yml", &format!("\npolicies:\n{yaml}"));
}

/// The latest status of staging's own context (the combined one also
/// waits for production, which these tests do not plan).
fn last_status(w: &World, sha: &str) -> (String, String) {
    let s =
        w.gh.status_of(ACME, sha, "infra/terraform-deploy/staging")
            .unwrap();
    (s.state, s.description.unwrap_or_default())
}

#[test]
fn max_destroy_blocks_production_by_default() {
    let w = World::new();
    let fx = &w.fx;
    for _ in 0..1 {
        common::run(fx, &["plan", "--customer", "acme", "--env", "production"]).ok();
        common::run(fx, &["apply", "--customer", "acme", "--env", "production"]).ok();
    }
    // Fewer instances: a destroy in production.
    let v = fx
        .read("customers/acme/infra/variables.yml")
        .replace("min_instances: 2", "min_instances: 1");
    fx.write("customers/acme/infra/variables.yml", &v);
    let out = common::run(
        fx,
        &[
            "plan",
            "--customer",
            "acme",
            "--env",
            "production",
            "--json",
        ],
    )
    .ok();
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    let gates = &rows[0]["summary"]["gates"]["results"];
    assert_eq!(gates[0]["gate"], "max_destroy");
    assert_eq!(gates[0]["passed"], false);
    let comment = fx.read("manager/.fleetform/out/acme/production/comment.md");
    assert!(
        comment.contains("- ❌ `max_destroy`: 1 destroyed \\(replacements included\\), at most 0"),
        "{comment}"
    );
    let out = common::run(fx, &["apply", "--customer", "acme", "--env", "production"]).code(3);
    assert!(
        stderr(&out).contains("policy gates block the apply: max_destroy"),
        "{}",
        stderr(&out)
    );
    // Staging has no such default.
    common::run(fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();
}

#[test]
fn forbidden_types_and_max_replace() {
    let w = World::new();
    with_policies(&w, "  default:\n    forbidden_resource_types: [\"terraform_d*\"]\n  environments:\n    staging:\n      max_replace: 0\n");
    let out = common::Run::from(w.fx.fleetform())
        .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
        .output();
    ok(&out);
    let rows: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let results = rows[0]["summary"]["gates"]["results"]
        .as_array()
        .unwrap()
        .clone();
    let get = |g: &str| results.iter().find(|r| r["gate"] == g).unwrap().clone();
    assert_eq!(get("max_replace")["passed"], true);
    assert_eq!(get("forbidden_resource_types")["passed"], false);
    assert!(get("forbidden_resource_types")["detail"]
        .as_str()
        .unwrap()
        .contains("terraform_data.network"));
    // A policy naming an unknown environment is a config error with its line.
    let cfg = w.fx.read("manager/fleetform.yml").replace(
        "    staging:\n      max_replace: 0",
        "    qa:\n      max_replace: 0",
    );
    w.fx.write("manager/fleetform.yml", &cfg);
    let line = cfg.lines().position(|l| l == "    qa:").unwrap() + 1;
    let out = common::run(&w.fx, &["validate"]).code(2);
    assert!(
        stderr(&out).contains(&format!(
            "fleetform.yml:{line}:5: policies for unknown environment `qa`"
        )),
        "{}",
        stderr(&out)
    );
}

/// Labels and approvals come from the PR; a waiver label waives failing
/// gates and is audited with who and why.
#[test]
fn label_and_approval_gates_with_waiver() {
    let mut w = World::new();
    with_policies(
        &w,
        "  environments:\n    staging:\n      required_labels: [infra-approved]\n      required_approvals: 1\n      waiver_label: fleetform-override\n",
    );
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);

    w.gh.reset_counters();
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let b = Budgets::from_book();
    assert_eq!(
        w.gh.request_count(),
        b.lead(PLAN)
            + b.n(PLAN, " for a pull request's plan")
            + b.n(GATES, " when a label gate or waiver label applies")
            + b.n(GATES, " when an approvals gate applies"),
        "a plan, the head (fork check), the PR, its reviews"
    );
    assert_eq!(
        last_status(&w, &sha),
        (
            "failure".into(),
            "staging: +3 ~0 -0 · blocked by required_labels".into()
        )
    );
    let c = w.gh.comments(ACME, pr).pop().unwrap();
    assert!(
        c.body
            .contains("- ❌ `required_labels`: missing labels: infra-approved"),
        "{}",
        c.body
    );
    assert!(c
        .body
        .contains("- ❌ `required_approvals`: 0 of 1 approving review"));

    // Label + approval: passes.
    w.gh.add_label(ACME, pr, "infra-approved");
    w.gh.add_review(ACME, pr, "reviewer-bob", "APPROVED");
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(
        last_status(&w, &sha),
        ("success".into(), "staging: +3 ~0 -0 · gates 2/2".into())
    );

    // Waiver: the approval is withdrawn, the override label waives.
    w.gh.add_review(ACME, pr, "reviewer-bob", "CHANGES_REQUESTED");
    w.gh.add_label(ACME, pr, "fleetform-override");
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(
        last_status(&w, &sha),
        (
            "success".into(),
            "staging: +3 ~0 -0 · gates waived (fleetform-override)".into()
        )
    );
    let waivers: Vec<Value> = w
        .audit_lines()
        .into_iter()
        .filter(|l| l["action"] == "waiver")
        .collect();
    assert_eq!(waivers.len(), 1);
    let d = waivers[0]["detail"].as_str().unwrap();
    assert!(
        d.contains("gate `required_approvals` waived by label `fleetform-override`")
            && d.contains("author octocat"),
        "{d}"
    );
    w.gh.assert_clean();
}

/// The gate is checked again at apply: a label removed after planning
/// refuses the apply; a closed window refuses it too.
#[test]
fn apply_rechecks_gates() {
    let mut w = World::new();
    with_policies(
        &w,
        "  environments:\n    staging:\n      required_labels: [infra-approved]\n",
    );
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    w.gh.add_label(ACME, pr, "infra-approved");
    let (sha, files) = w.merge_and_plan(pr);
    // The gates pass; nothing is applied yet.
    assert_eq!(last_status(&w, &sha).0, "pending");
    let digest = files.outputs()["plan_sha256"].clone();
    w.gh.remove_label(ACME, pr, "infra-approved");
    let (out, _) = w.apply_latest("staging", &digest);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains(
            "policy gates block the apply: required_labels (missing labels: infra-approved)"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(last_status(&w, &sha).0, "failure");
    assert!(!w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .exists());

    // Label back, but outside the apply window (a day that is not the
    // apply's). The apply's time is fixed (`FLEETFORM_NOW`, noon UTC of
    // this day), not read from the wall clock: a window of 00:00-23:59
    // read at 23:59 refused the apply that had to pass.
    w.gh.add_label(ACME, pr, "infra-approved");
    let noon = jiff::Timestamp::now().as_second().div_euclid(86_400) * 86_400 + 12 * 3600;
    let day = jiff::Timestamp::from_second(noon)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .weekday();
    let other = if day == jiff::civil::Weekday::Monday {
        "tue"
    } else {
        "mon"
    };
    let cfg = w.fx.read("manager/fleetform.yml").replace(
        "      required_labels: [infra-approved]\n",
        &format!("      required_labels: [infra-approved]\n      apply_windows:\n        - {{ days: [{other}], hours: \"00:00-23:59\", time_zone: UTC }}\n"),
    );
    w.fx.write("manager/fleetform.yml", &cfg);
    let apply_at_noon = |w: &mut World| {
        let d = w.last_dispatch();
        let (mut cmd, _) = w.apply_step(&d, "staging", &digest);
        cmd.env("FLEETFORM_NOW", noon.to_string());
        common::Run::from(cmd).output()
    };
    let out = apply_at_noon(&mut w);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("apply_windows (outside"),
        "{}",
        stderr(&out)
    );
    // Inside the window (every day, the apply at noon): applies.
    let cfg = cfg.replace(&format!("days: [{other}]"), "days: []");
    w.fx.write("manager/fleetform.yml", &cfg);
    let out = apply_at_noon(&mut w);
    ok(&out);
    w.gh.assert_clean();
}

/// The example manager's customer templates (`templates/customer/`).
const TEMPLATE_FILES: usize = 2;
/// The example's customers with a repo on the fake GitHub.
const CUSTOMERS_WITH_REPOS: usize = 2;

fn sync(w: &mut World, extra: &[&str]) -> (crate::common::Ran, usize, usize) {
    w.gh.reset_counters();
    let out = common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .env("FLEETFORM_RETRY_BASE_MS", "20")
        .args(["sync", "--manager-repo", MANAGER, "--action-ref", "v9.9.9"])
        .args(extra)
        .output();
    (out, w.gh.request_count(), w.gh.write_count())
}

#[test]
fn sync_opens_updates_and_leaves_in_sync_customers_alone() {
    let mut w = World::new();
    w.gh.commit(ACME, "main", &[("src/app.py", "print('mine')\n")]);
    let (out, requests, _) = sync(&mut w, &[]);
    ok(&out);
    insta::assert_snapshot!(
        "sync_first",
        stdout(&out).replace(&w.gh.api_url().replace("/api/v3", ""), "http://fake")
    );
    // The book's "Request budgets": F template files, W of them differ
    // (all, on a new branch), per customer.
    let b = Budgets::from_book();
    let (f, w_) = (TEMPLATE_FILES, TEMPLATE_FILES);
    let first_pr = f + w_ + b.n(SYNC, " (W = files that differ)");
    assert_eq!(
        requests,
        CUSTOMERS_WITH_REPOS * first_pr,
        "{}",
        stdout(&out)
    );
    let prs = w.gh.pulls(ACME);
    assert_eq!(prs.len(), 1);
    let wf =
        w.gh.file_at(
            ACME,
            "fleetform/sync",
            ".github/workflows/customer-trigger.yml",
        )
        .unwrap();
    assert!(
        wf.contains("fleetform/fleetform/actions/trigger@v9.9.9"),
        "{wf}"
    );
    assert!(
        wf.contains("relay-url: ${{ vars.FLEETFORM_RELAY_URL }}"),
        "GitHub expressions kept, the trigger goes through the relay: {wf}"
    );
    assert!(
        wf.contains("id-token: write") && !wf.contains("secrets."),
        "the customer holds no provider credential: {wf}"
    );
    assert!(w
        .gh
        .file_at(ACME, "fleetform/sync", "infra/README.md")
        .unwrap()
        .contains("Infrastructure requirements for `acme`"));
    assert_eq!(
        w.gh.file_at(ACME, "fleetform/sync", "src/app.py")
            .as_deref(),
        Some("print('mine')\n"),
        "own files untouched"
    );
    assert_eq!(
        w.gh.file_at(ACME, "fleetform/sync", "infra/variables.yml"),
        w.gh.file_at(ACME, "main", "infra/variables.yml")
    );

    // Again, nothing changed: no writes at all.
    let (out, _, writes) = sync(&mut w, &[]);
    ok(&out);
    assert_eq!(writes, 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("PR open, unchanged"));

    // Template change: the existing PR is updated, not duplicated.
    w.fx.append(
        "manager/templates/customer/infra/README.md.j2",
        "\nContact: {{ customer.contact }}\n",
    );
    let (out, _, _) = sync(&mut w, &[]);
    ok(&out);
    assert!(
        stdout(&out).contains("PR updated (1 file)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.gh.pulls(ACME).len(), 1);
    assert!(w
        .gh
        .file_at(ACME, "fleetform/sync", "infra/README.md")
        .unwrap()
        .contains("Contact: platform@acme.example"));

    // Once merged, the customer is in sync: reads only.
    let pr = w.gh.pulls(ACME)[0].number;
    w.gh.merge_pr(ACME, pr);
    let (out, requests, writes) = sync(&mut w, &["--customer", "acme"]);
    ok(&out);
    assert!(stdout(&out).contains("in sync"));
    let in_sync = Budgets::from_book().n(SYNC, " + F (F = template files)") + TEMPLATE_FILES;
    assert_eq!((requests, writes), (in_sync, 0), "1 repo + 2 files");
    let audit = std::fs::read_to_string(w.fx.manager().join(".fleetform/audit.jsonl")).unwrap();
    assert!(audit.contains("\"action\":\"sync\""));
    w.gh.assert_clean();
}

#[test]
fn sync_reports_archived_and_unreachable_customers_and_continues() {
    let mut w = World::new();
    w.gh.set_archived(ACME, true);
    w.fx.append(
        "manager/customers.yml",
        "\n  - slug: ghost\n    repo: ghost/nowhere\n    contact: a@ghost.example\n    environments: [staging]\n    added: 2026-01-01\n",
    );
    let (out, _, _) = sync(&mut w, &[]);
    common::assert_code(&out, 1);
    let table = stdout(&out);
    assert!(
        table.contains("acme") && table.contains("failed: the repository is archived"),
        "{table}"
    );
    assert!(
        table.contains("ghost")
            && table.contains("failed: GET /repos/ghost/nowhere: GitHub answered 404"),
        "{table}"
    );
    assert!(
        table.contains("globex") && table.contains("PR opened"),
        "{table}"
    );
    assert_eq!(w.gh.pulls("globex/globex-app").len(), 1);
    w.gh.assert_clean();
}

#[test]
fn sync_canary_stops_and_dry_run_writes_nothing() {
    let mut w = World::new();
    w.gh.set_archived(ACME, true);
    let (out, _, _) = sync(&mut w, &["--canary", "1"]);
    common::assert_code(&out, 1);
    assert!(
        stdout(&out).contains("not attempted (a canary failed)"),
        "{}",
        stdout(&out)
    );
    assert!(w.gh.pulls("globex/globex-app").is_empty());

    w.gh.set_archived(ACME, false);
    let (out, _, writes) = sync(&mut w, &["--dry-run"]);
    ok(&out);
    assert_eq!(writes, 0);
    let err = stderr(&out);
    assert!(
        err.contains("--- acme-corp/acme-infra") && err.contains("+++ b/infra/README.md"),
        "{err}"
    );
    assert!(stdout(&out).contains("would update 2 files"));
    let _ = json!({});
}

/// Parallel environment jobs each own their status context; the combined
/// `infra/terraform-deploy` is the worst of them, so a later staging
/// success can never turn a production gate failure green.
#[test]
fn one_environment_never_turns_another_green() {
    let mut w = World::new();
    with_policies(
        &w,
        "  environments:\n    production:\n      required_labels: [infra-approved]\n",
    );
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    ok(&w.trigger_pr(ACME, pr, "feature", &sha).0);
    let (out, _) = w.plan_latest("production");
    ok(&out);
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    let state = |context: &str| w.gh.status_of(ACME, &sha, context).unwrap();
    assert_eq!(state("infra/terraform-deploy/production").state, "failure");
    assert_eq!(state("infra/terraform-deploy/staging").state, "success");
    let combined = state("infra/terraform-deploy");
    assert_eq!(combined.state, "failure", "{combined:?}");
    assert!(
        combined
            .description
            .as_deref()
            .is_some_and(|d| d.starts_with("production:")),
        "{combined:?}"
    );
}
