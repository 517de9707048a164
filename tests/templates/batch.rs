//! `workflows/manager-batch.yml`: a `fleetform-batch` dispatch fans out to
//! one call of `manager-deploy.yml` per entry; each called run's jobs get
//! the entry, and the names that must be unique within the run are.

use std::collections::BTreeMap;

use crate::support::workflow_sim::{done, eval, failed, simulate_workflow};
use crate::templates::jobs::{load, read, s, steps_using, ENVS};

const BATCH: &str = "workflows/manager-batch.yml";
const DEPLOY: &str = "workflows/manager-deploy.yml";

/// `text` with each `${{ ... }}` replaced by its value.
fn render(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let end = at + rest[at..].find("}}").expect("closed") + 2;
        out.push_str(&eval(&rest[at..end], values).text());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_batch_checks_its_entries_then_calls_the_deploy_workflow_once_per_entry() {
    let doc = load(BATCH);
    let types = doc["on"]["repository_dispatch"]["types"]
        .as_sequence()
        .unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].as_str(), Some("fleetform-batch"));
    assert_eq!(doc["permissions"].as_mapping().map(|m| m.len()), Some(0));
    let jobs = doc["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 2);

    let entries = &doc["jobs"]["entries"];
    assert!(entries.get("needs").is_none(), "runs first");
    let run = entries["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|st| st["id"].as_str() == Some("entries"))
        .expect("the entries step");
    assert_eq!(run["run"].as_str(), Some("fleetform batch-entries"));
    assert_eq!(
        entries["outputs"]["entries"].as_str(),
        Some("${{ steps.entries.outputs.entries }}")
    );
    let perms = entries["permissions"].as_mapping().unwrap();
    assert_eq!(perms.len(), 1, "reads fleetform.yml only");
    assert_eq!(entries["permissions"]["contents"].as_str(), Some("read"));

    let deploy = &doc["jobs"]["deploy"];
    assert_eq!(deploy["needs"].as_str(), Some("entries"));
    assert_eq!(
        deploy["strategy"]["matrix"]["entry"].as_str(),
        Some("${{ fromJSON(needs.entries.outputs.entries) }}")
    );
    assert_eq!(
        deploy["strategy"]["fail-fast"].as_bool(),
        Some(false),
        "one customer's failure stops no other"
    );
    // The file name `fleetform init` writes the deploy workflow under.
    assert_eq!(
        deploy["uses"].as_str(),
        Some("./.github/workflows/manager-deploy.yml")
    );
    let init = read("src/report/scaffold.rs");
    assert!(init.contains("\"manager-deploy.yml\",") && init.contains("\"manager-batch.yml\","));
    assert!(init.contains("format!(\".github/workflows/{name}\")"));
    assert_eq!(
        deploy["with"]["entry"].as_str(),
        Some("${{ matrix.entry }}")
    );
    assert_eq!(deploy["with"].as_mapping().unwrap().len(), 1);
    assert!(
        !read(BATCH).contains("secrets."),
        "the batch workflow holds no secret: each called job reads its environment's"
    );

    // A batch the first job refuses starts no deploy.
    let ran = simulate_workflow(BATCH, &[], &|job: &str| match job {
        "entries" => failed(),
        _ => done(&[]),
    });
    assert_eq!(ran["deploy"], "skipped");
    let ran = simulate_workflow(BATCH, &[], &|job: &str| match job {
        "entries" => done(&[("entries", "[0,1]")]),
        _ => done(&[]),
    });
    assert_eq!(ran["deploy"], "success");
}

/// A caller must grant at least what the called jobs ask for, or GitHub
/// fails the run before any job starts.
#[test]
fn the_call_grants_every_permission_the_deploy_jobs_ask_for() {
    let rank = |level: &str| match level {
        "none" => 0,
        "read" => 1,
        "write" => 2,
        other => panic!("permission level {other}"),
    };
    let batch = load(BATCH);
    let granted = &batch["jobs"]["deploy"]["permissions"];
    let deploy = load(DEPLOY);
    let mut asked = BTreeMap::new();
    for (name, job) in deploy["jobs"].as_mapping().unwrap() {
        let perms = job["permissions"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name:?} names its permissions"));
        for (scope, level) in perms {
            let scope = s(scope, "scope").to_string();
            let level = rank(s(level, "level"));
            let have = asked.entry(scope).or_insert(0);
            *have = level.max(*have);
        }
    }
    assert!(asked.contains_key("id-token") && asked.contains_key("actions"));
    for (scope, level) in &asked {
        let given = granted[scope.as_str()].as_str().map_or(0, rank);
        assert!(
            given >= *level,
            "the call grants {scope}: {given} < {level}"
        );
    }
    assert_eq!(
        granted.as_mapping().unwrap().len(),
        asked.len(),
        "nothing more than the called jobs ask"
    );
}

/// `manager-deploy.yml` is callable with an optional number `entry`, which
/// every job's fleetform steps read as FLEETFORM_BATCH_ENTRY; a direct
/// dispatch's run is unchanged (the input is then empty).
#[test]
fn every_deploy_job_gets_the_entry_and_a_direct_dispatch_runs_as_before() {
    let doc = load(DEPLOY);
    let types = doc["on"]["repository_dispatch"]["types"]
        .as_sequence()
        .unwrap();
    assert_eq!(types.len(), 2, "direct dispatches still run it");
    let input = &doc["on"]["workflow_call"]["inputs"]["entry"];
    assert_eq!(input["type"].as_str(), Some("number"));
    assert_eq!(input["required"].as_bool(), Some(false));
    assert_eq!(
        doc["env"]["FLEETFORM_BATCH_ENTRY"].as_str(),
        Some("${{ inputs.entry }}"),
        "workflow-level: every job and step, the composite actions' too"
    );
    let text = read(DEPLOY);
    assert_eq!(
        text.matches("FLEETFORM_BATCH_ENTRY:").count(),
        1,
        "no job or step sets it otherwise"
    );
    // What the variable is in each case.
    let direct = values(&[]);
    let second = values(&[("inputs.entry", "1")]);
    let first = values(&[("inputs.entry", "0")]);
    let var = s(&doc["env"]["FLEETFORM_BATCH_ENTRY"], "env");
    assert_eq!(render(var, &direct), "");
    assert_eq!(render(var, &first), "0");
    assert_eq!(render(var, &second), "1");
    // The composite actions pass it on untouched (they drop only empty
    // FLEETFORM_* variables, which fleetform reads as unset).
    for action in ["authorise", "plan", "apply", "conclude"] {
        let a = read(&format!("actions/{action}/action.yml"));
        assert!(!a.contains("FLEETFORM_BATCH_ENTRY"), "{action}");
    }

    // The job graph does not depend on the entry: the same jobs run.
    let outcome = |job: &str| match job {
        "authorise" => done(&[
            ("customer", "acme"),
            ("environments", "[\"staging\",\"production\"]"),
            ("event_type", "fleetform-apply"),
            ("key_environments", "{}"),
        ]),
        "conclude" => done(&[]),
        j if j.starts_with("plan-") => done(&[
            ("has_changes", "true"),
            ("gates_pass", "true"),
            ("plan_dir", "fleetform-out/acme/x"),
        ]),
        _ => done(&[]),
    };
    let given = |entry: Option<&'static str>| {
        let mut v = vec![
            ("github.event.action", "fleetform-apply"),
            ("github.run_attempt", "1"),
        ];
        v.extend(entry.map(|e| ("inputs.entry", e)));
        v
    };
    let direct_run = simulate_workflow(DEPLOY, &given(None), &outcome);
    // Every job runs but the key jobs: no secrets here.
    assert!(
        direct_run.iter().all(|(j, r)| *r
            == if j.starts_with("key-") {
                "skipped"
            } else {
                "success"
            }),
        "{direct_run:?}"
    );
    assert_eq!(
        simulate_workflow(DEPLOY, &given(Some("0")), &outcome),
        direct_run
    );
}

/// One run of a batch holds every entry's artifacts: their names differ
/// per entry (one customer may appear twice), and a direct dispatch's name
/// is the one it always was.
#[test]
fn plan_artifacts_are_unique_per_entry_and_unchanged_for_a_direct_dispatch() {
    let doc = load(DEPLOY);
    for env in ENVS {
        let plan = &doc["jobs"][format!("plan-{env}").as_str()];
        let name = s(&plan["outputs"]["artifact"], "artifact");
        let upload = steps_using(
            plan["steps"].as_sequence().unwrap(),
            "actions/upload-artifact@",
        )
        .next()
        .unwrap();
        assert_eq!(upload["with"]["name"].as_str(), Some(name));
        let of = |entry: Option<&str>| {
            let mut v = values(&[
                ("needs.authorise.outputs.customer", "acme"),
                ("github.run_attempt", "2"),
            ]);
            if let Some(e) = entry {
                v.insert("inputs.entry".into(), e.into());
            }
            render(name, &v)
        };
        assert_eq!(of(None), format!("fleetform-plan-acme-{env}-2"));
        assert_eq!(
            of(Some("0")),
            format!("fleetform-plan-acme-{env}-2-entry-0")
        );
        assert_eq!(
            of(Some("1")),
            format!("fleetform-plan-acme-{env}-2-entry-1")
        );
        assert_eq!(
            of(Some("12")),
            format!("fleetform-plan-acme-{env}-2-entry-12")
        );
    }
    // The concurrency groups still key on the authorised customer.
    for (name, job) in doc["jobs"].as_mapping().unwrap() {
        if let Some(group) = job["concurrency"]["group"].as_str() {
            assert!(
                group.contains("${{ needs.authorise.outputs.customer }}"),
                "{name:?}: {group}"
            );
            assert!(!group.contains("inputs."), "{name:?}: {group}");
        }
    }
}
