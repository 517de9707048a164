//! The workflow templates' apply jobs: recovery advice on failure, applies
//! that did not run concluded on the customer commit, approvals read, and
//! the manager's pull-request workflow holding nothing but its token.

use std::collections::BTreeMap;

use crate::support::workflow_sim::{done, failed, Outcome};

use crate::templates::jobs::{
    header, load, outcome_of, read, s, simulate, steps_using, Case, ENVS,
};

#[test]
fn a_failed_apply_says_how_to_recover() {
    let action = load("actions/apply/action.yml");
    let run = s(&action["runs"]["steps"][1]["run"], "run");
    assert!(
        run.contains("Re-run all jobs") && run.contains("stale"),
        "{run}"
    );
    assert!(
        !run.contains("exec "),
        "the step reads the exit code itself"
    );
}

fn cancelled() -> Outcome {
    Outcome {
        result: "cancelled",
        outputs: BTreeMap::new(),
    }
}

/// An apply that was due but never reported (cancelled in its concurrency
/// group, skipped after an earlier environment, rejected) cannot mark the
/// customer's commit itself: the conclude job runs after every authorised
/// apply dispatch, whatever the applies' results, and gets every plan and
/// apply job's result and outputs.
#[test]
fn an_apply_that_did_not_run_is_concluded_on_the_customer_commit() {
    let doc = load("workflows/manager-deploy.yml");
    let job = &doc["jobs"]["conclude"];
    let needs: Vec<&str> = job["needs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|n| s(n, "needs"))
        .collect();
    for env in ENVS {
        for kind in ["plan", "apply"] {
            let name = format!("{kind}-{env}");
            assert!(needs.contains(&name.as_str()), "conclude needs {name}");
        }
    }
    let step = steps_using(
        job["steps"].as_sequence().unwrap(),
        "fleetform/fleetform/actions/conclude@",
    )
    .next()
    .expect("a conclude step");
    assert_eq!(step["with"]["needs"].as_str(), Some("${{ toJSON(needs) }}"));
    assert!(step["with"]["token"].is_null());
    assert_eq!(
        step["with"]["app-private-key"].as_str(),
        Some("${{ secrets.FLEETFORM_CUSTOMER_APP_PRIVATE_KEY }}")
    );
    // Its environment holds the dispatch secret and the customer App's key.
    assert_eq!(job["environment"].as_str(), Some("fleetform-authorise"));

    let both = r#"["staging","production"]"#;
    let apply_with = |staging: Outcome, production: Outcome| {
        move |job: &str| match job {
            "apply-staging" => staging.clone(),
            "apply-production" => production.clone(),
            other => outcome_of(&Case {
                name: "",
                event: "fleetform-apply",
                envs: both,
                plan: [Some(("true", "true")), Some(("true", "true"))],
                staging_apply_fails: false,
                want_applies: &[],
            })(other),
        }
    };
    // A newer push's apply replaced the pending production apply.
    let results = simulate("fleetform-apply", &apply_with(done(&[]), cancelled()));
    assert_eq!(results["apply-production"], "cancelled");
    assert_eq!(results["conclude"], "success", "{results:?}");
    // The staging apply was cancelled: production is skipped, conclude runs.
    let results = simulate("fleetform-apply", &apply_with(cancelled(), done(&[])));
    assert_eq!(results["apply-production"], "skipped", "{results:?}");
    assert_eq!(results["conclude"], "success", "{results:?}");
    // The staging apply failed (or its approval was rejected).
    let results = simulate("fleetform-apply", &apply_with(failed(), done(&[])));
    assert_eq!(results["apply-production"], "skipped", "{results:?}");
    assert_eq!(results["conclude"], "success", "{results:?}");
    // A refused dispatch has nothing to conclude.
    let plan_only = Case {
        name: "plan",
        event: "fleetform-plan",
        envs: both,
        plan: [Some(("true", "true")), Some(("true", "true"))],
        staging_apply_fails: false,
        want_applies: &[],
    };
    let results = simulate("fleetform-plan", &outcome_of(&plan_only));
    assert_eq!(
        results["conclude"], "success",
        "a plan dispatch is concluded too (a replaced plan): {results:?}"
    );
    // A newer push to the same PR replaced this run's pending plan.
    let results = simulate("fleetform-plan", &|job| match job {
        "plan-production" => cancelled(),
        other => outcome_of(&plan_only)(other),
    });
    assert_eq!(results["conclude"], "success", "{results:?}");
    let results = simulate("fleetform-apply", &|job| match job {
        "authorise" => failed(),
        _ => done(&[("has_changes", "true"), ("gates_pass", "true")]),
    });
    assert_eq!(results["conclude"], "skipped", "{results:?}");
}

/// The apply reads this run's deployment reviews (`auto_apply: false`)
/// and the registry on the manager's default branch with the job's token:
/// its apply jobs grant `actions: read`, and the action passes the token.
#[test]
fn apply_jobs_may_read_their_runs_approvals() {
    let doc = load("workflows/manager-deploy.yml");
    for env in ENVS {
        let job = &doc["jobs"][format!("apply-{env}").as_str()];
        assert_eq!(
            job["permissions"]["actions"].as_str(),
            Some("read"),
            "apply-{env}"
        );
        assert_eq!(
            job["permissions"]["contents"].as_str(),
            Some("read"),
            "apply-{env}"
        );
    }
    let apply = load("actions/apply/action.yml");
    assert_eq!(
        apply["inputs"]["manager-token"]["default"].as_str(),
        Some("${{ github.token }}")
    );
    let run = apply["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|st| st["id"].as_str() == Some("run"))
        .unwrap();
    assert_eq!(
        run["env"]["FLEETFORM_MANAGER_TOKEN"].as_str(),
        Some("${{ inputs.manager-token }}")
    );
}

/// The manager pull request workflow answers with the job's token only:
/// no secrets, no cloud or state credentials (the pull request's own code
/// runs there), the least permissions for a comment and a status, both
/// commits in the checkout, every value through `env:`.
#[test]
fn the_manager_pull_request_workflow_answers_with_nothing_but_its_token() {
    let rel = "workflows/manager-pr.yml";
    let text = read(rel);
    assert!(!text.contains("secrets."), "{rel}: no secrets");
    let doc = load(rel);
    assert!(doc["on"].get("pull_request").is_some());
    let job = &doc["jobs"]["impact"];
    let perms = job["permissions"].as_mapping().unwrap();
    let mut granted: Vec<String> = perms
        .iter()
        .map(|(k, v)| format!("{}: {}", k.as_str().unwrap(), v.as_str().unwrap()))
        .collect();
    granted.sort();
    assert_eq!(
        granted,
        ["contents: read", "pull-requests: write", "statuses: write"],
        "values-only impact holds no cloud credential (#32)"
    );
    assert!(job.get("environment").is_none());
    assert!(
        job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|st| !st["uses"]
                .as_str()
                .unwrap_or_default()
                .starts_with("aws-actions/")),
        "no role is assumed where the pull request's code runs unreviewed"
    );
    let steps = job["steps"].as_sequence().unwrap();
    let checkout = &steps[0];
    assert_eq!(checkout["with"]["fetch-depth"].as_u64(), Some(0));
    assert_eq!(
        checkout["with"]["persist-credentials"].as_bool(),
        Some(false)
    );
    let run = steps.iter().find(|s| s.get("run").is_some()).unwrap();
    let script = run["run"].as_str().unwrap();
    assert!(!script.contains("${{"), "{script}");
    assert_eq!(
        script.trim(),
        "fleetform impact --base \"$BASE_SHA\" --comment --json > impact.json"
    );
    for k in [
        "FLEETFORM_MANAGER_REPO",
        "FLEETFORM_PR",
        "FLEETFORM_SHA",
        "BASE_SHA",
        "GITHUB_TOKEN",
    ] {
        assert!(run["env"].get(k).is_some(), "{k}");
    }
    // The plans: shards in the environment that holds the read-only
    // credentials, each reading only, its answer kept without values; one
    // merge job answers with them.
    let plan = &doc["jobs"]["plan"];
    assert_eq!(plan["environment"].as_str(), Some("impact-plan"));
    let perms: Vec<String> = plan["permissions"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{}: {}", k.as_str().unwrap(), v.as_str().unwrap()))
        .collect();
    assert_eq!(perms, ["contents: read", "id-token: write"]);
    let step = plan["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s.get("run").is_some())
        .unwrap();
    let script = step["run"].as_str().unwrap();
    assert!(!script.contains("${{"), "{script}");
    assert!(
        script.contains("--plan --shard \"$SHARD\" --json"),
        "{script}"
    );
    assert!(!script.contains("--show-values"), "{script}");
    // A failed pair fails its shard, never the answer (#32): the shard's
    // answer is uploaded and the merge job runs all the same.
    let upload = plan["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .unwrap();
    assert_eq!(upload["if"].as_str(), Some("${{ !cancelled() }}"));
    let merge = &doc["jobs"]["merge"];
    assert_eq!(
        yaml_serde::to_string(&merge["needs"]).unwrap().trim(),
        "- matrix\n- plan"
    );
    assert_eq!(
        merge["if"].as_str(),
        Some("${{ !cancelled() && needs.matrix.outputs.jobs != '0' }}")
    );
    // The plans read every customer's state: only once a provider
    // reviewer approves the environment, which the header says to set up
    // (a branch policy cannot limit a pull request's job).
    let h = header(rel);
    for needle in [
        "Required reviewers",
        "Prevent self-review",
        "repo:<manager>:environment:impact-plan",
        "holds no cloud credential",
    ] {
        assert!(h.contains(needle), "the header explains: {needle}");
    }
    assert!(
        merge.get("environment").is_none(),
        "the merge job holds no credentials"
    );
    let script = merge["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s.get("run").is_some())
        .unwrap()["run"]
        .as_str()
        .unwrap();
    assert!(
        script.contains("--plans-from") && script.contains("--comment"),
        "{script}"
    );
    assert!(
        read(rel).contains("name: fleetform-impact\n"),
        "the whole answer is an artifact"
    );
}
