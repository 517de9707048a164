//! Tenant isolation on the manager repo: everyone with read access to the
//! manager repo can read every run's logs, step summaries, outputs and
//! artifacts. Nothing the manager's jobs write there may carry a customer's
//! values: they go to the customer's own pull request, and the plan files
//! travel in an artifact sealed with a key only the manager's jobs hold.
//!
//! Each test gives acme a value no other place holds, runs the manager's
//! steps as the workflow does, and scans everything they wrote that
//! another customer could read: stdout and stderr (the log), the step
//! summary, the step outputs and the uploaded artifact (`bundle.sealed`).

use crate::common;
use crate::world;

use serde_json::json;

use common::stderr;
use world::{acme_vars_with, ok, StepFiles, World, ACME};

const MARKER: &str = "acme-private-7731";

/// Everything the manager's step left readable to the manager repo's
/// readers.
fn readable(
    out: &impl common::Streams,
    files: &StepFiles,
    bundle: Option<&std::path::Path>,
) -> String {
    let mut all = format!(
        "{}\n{}\n{}\n{}",
        common::stdout(out),
        stderr(out),
        files.summary(),
        std::fs::read_to_string(&files.output).unwrap_or_default()
    );
    if let Some(b) = bundle {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(b).unwrap()));
    }
    all
}

fn acme_pr(w: &World, vars: &str) -> serde_json::Value {
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", vars)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "tag the project");
    common::signed(&json!({
        "event_type": "fleetform-plan",
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/feature",
            "pr": pr, "event": "pull_request", "trigger_run_url": null,
            "dispatch_id": "d-iso", "files": ["infra/variables.yml"]
        }
    }))
}

#[test]
fn a_plan_leaves_no_value_where_other_customers_can_read() {
    let mut w = World::new();
    let vars = acme_vars_with(
        &w.fx,
        "project: shop",
        &format!("project: shop\n  team: {MARKER}"),
    );
    let dispatch = acme_pr(&w, &vars);
    let (out, files) = w.plan_event(&dispatch, "staging");
    ok(&out);
    let bundle =
        w.fx.manager()
            .join(".fleetform/out/acme/staging/bundle.sealed");
    assert!(bundle.is_file(), "the artifact to upload");
    let seen = readable(&out, &files, Some(&bundle));
    assert!(
        !seen.contains(MARKER),
        "a value reached the manager's readers:\n{seen}"
    );
    // The customer does see it, on its own pull request.
    let pr = dispatch["client_payload"]["pr"].as_u64().unwrap();
    assert!(
        w.gh.comments(ACME, pr)
            .iter()
            .any(|c| c.body.contains(MARKER)),
        "the plan is on the customer's PR"
    );
    // The sealed artifact opens only with the manager's key, for acme/staging.
    let sealed = std::fs::read(&bundle).unwrap();
    let key = fleetform::dispatch::seal::ArtifactKey::new(common::ARTIFACT_KEY.as_bytes()).unwrap();
    let files_in = fleetform::dispatch::seal::open(&key, "acme", "staging", &sealed, "b").unwrap();
    assert!(files_in
        .iter()
        .any(|(n, d)| n == "plan.txt" && String::from_utf8_lossy(d).contains(MARKER)));
    assert!(fleetform::dispatch::seal::open(&key, "globex", "staging", &sealed, "b").is_err());
}

#[test]
fn invalid_values_are_listed_on_the_pr_not_in_the_manager_log() {
    let mut w = World::new();
    let vars = acme_vars_with(
        &w.fx,
        "project_name: acme-shop",
        &format!("project_name: \"{MARKER} NOT A SLUG\""),
    );
    let dispatch = acme_pr(&w, &vars);
    let (out, files) = w.plan_event(&dispatch, "staging");
    common::assert_code(&out, 1);
    let seen = readable(&out, &files, None);
    assert!(
        !seen.contains(MARKER),
        "a value reached the manager's readers:\n{seen}"
    );
    assert!(seen.contains("1 problem"), "{seen}");
    let pr = dispatch["client_payload"]["pr"].as_u64().unwrap();
    assert!(w
        .gh
        .comments(ACME, pr)
        .iter()
        .any(|c| c.body.contains("project_name")));
}

#[test]
fn an_apply_leaves_no_value_where_other_customers_can_read() {
    let mut w = World::new();
    let vars = acme_vars_with(
        &w.fx,
        "project: shop",
        &format!("project: shop\n  team: {MARKER}"),
    );
    let sha = w.gh.commit(ACME, "main", &[("infra/variables.yml", &vars)]);
    let (out, _) = w.trigger_push(ACME, &sha, "tag the project");
    ok(&out);
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let mut seen = readable(&out, &files, None);
    let digest = files.outputs()["plan_sha256"].clone();
    // The apply job gets only the sealed artifact: the loose files of the
    // plan job are gone, as on a fresh runner.
    let dir = w.fx.manager().join(".fleetform/out/acme/staging");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if e.file_name() != "bundle.sealed" {
            let p = e.path();
            if p.is_dir() {
                std::fs::remove_dir_all(p).unwrap();
            } else {
                std::fs::remove_file(p).unwrap();
            }
        }
    }
    let (out, files) = w.apply_latest("staging", &digest);
    ok(&out);
    seen.push_str(&readable(&out, &files, Some(&dir.join("bundle.sealed"))));
    assert!(
        !seen.contains(MARKER),
        "a value reached the manager's readers:\n{seen}"
    );
    assert!(w
        .fx
        .manager()
        .join(".fleetform/state/acme/staging/terraform.tfstate")
        .is_file());
}

#[test]
fn without_the_artifact_key_nothing_is_planned() {
    let mut w = World::new();
    let dispatch = acme_pr(&w, &w.fx.read("customers/acme/infra/variables.yml"));
    let (cmd, _) = w.dispatch_step(&dispatch);
    let out = common::Run::from(cmd)
        .env_remove("FLEETFORM_ARTIFACT_KEY")
        .args(["plan", "--dispatch", "--env", "staging"])
        .output();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("FLEETFORM_ARTIFACT_KEY is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.gh.write_count(), 0, "nothing written");
}
