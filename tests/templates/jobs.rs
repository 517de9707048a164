//! How the workflow templates in `workflows/` behave on github.com: which
//! jobs run for which dispatch, which concurrency group each joins, what
//! the plan artifact is called and holds, which events trigger the
//! customer's workflow and which token does what.
//!
//! The job conditions are evaluated, not just read: a small evaluator for
//! the part of GitHub's expression language the templates use (`&&`, `||`,
//! `!`, `==`, `!=`, parentheses, `contains`, `fromJSON`, the status
//! functions, with the implicit `success()` of an `if:` that names none)
//! runs each template's job graph for a table of outcomes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use yaml_serde::Value as Y;

use crate::support::workflow_sim::{done, failed, simulate_workflow, Outcome};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The steps in `steps` (a job's list) that use an action whose
/// reference starts with `prefix`.
pub(crate) fn steps_using<'a>(steps: &'a [Y], prefix: &'a str) -> impl Iterator<Item = &'a Y> {
    steps
        .iter()
        .filter(move |st| st["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
}

pub(crate) fn load(rel: &str) -> Y {
    yaml_serde::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub(crate) fn s<'a>(v: &'a Y, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v:?}"))
}

pub(crate) fn header(rel: &str) -> String {
    read(rel)
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) const ENVS: [&str; 2] = ["staging", "production"];

/// Runs the deploy template's job graph: each job's `if:` is evaluated
/// against the results and outputs of the jobs it needs; a job that runs
/// gets the outcome `outcome(job)`. Returns every job's result.
pub(crate) fn simulate(
    event_type: &str,
    outcome: &dyn Fn(&str) -> Outcome,
) -> BTreeMap<String, &'static str> {
    simulate_workflow(
        "workflows/manager-deploy.yml",
        &[
            ("github.event.action", event_type),
            ("github.run_attempt", "1"),
        ],
        outcome,
    )
}

/// Outcomes of one dispatch: the customer's environments and, per
/// environment, what its plan finds (`None`: the plan job fails).
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) event: &'static str,
    pub(crate) envs: &'static str,
    pub(crate) plan: [Option<(&'static str, &'static str)>; 2],
    pub(crate) staging_apply_fails: bool,
    pub(crate) want_applies: &'static [&'static str],
}

pub(crate) fn outcome_of(c: &Case) -> impl Fn(&str) -> Outcome + '_ {
    move |job: &str| match job {
        "conclude" => done(&[]),
        "authorise" => done(&[
            ("customer", "acme"),
            ("environments", c.envs),
            ("event_type", c.event),
            ("customer_repo", "acme-corp/acme-infra"),
            ("key_environments", "{}"),
        ]),
        _ => {
            let (kind, env) = job.split_once('-').unwrap();
            let i = ENVS.iter().position(|e| *e == env).unwrap();
            match kind {
                "plan" => match c.plan[i] {
                    None => failed(),
                    Some((changes, gates)) => done(&[
                        ("has_changes", changes),
                        ("gates_pass", gates),
                        ("plan_sha256", "ab"),
                        ("plan_dir", "fleetform-out/acme/x"),
                    ]),
                },
                "apply" if env == "staging" && c.staging_apply_fails => failed(),
                "apply" => done(&[]),
                "key" => done(&[("sealed_key", "ffkey1.sealed")]),
                other => panic!("unknown job {other}"),
            }
        }
    }
}

#[test]
fn deploy_jobs_run_for_what_the_dispatch_and_its_plans_found() {
    let both = r#"["staging","production"]"#;
    let yes = Some(("true", "true"));
    let none = Some(("false", "true"));
    let blocked = Some(("true", "false"));
    let cases = [
        Case {
            name: "a PR plan never applies",
            event: "fleetform-plan",
            envs: both,
            plan: [yes, yes],
            staging_apply_fails: false,
            want_applies: &[],
        },
        Case {
            name: "changes everywhere",
            event: "fleetform-apply",
            envs: both,
            plan: [yes, yes],
            staging_apply_fails: false,
            want_applies: &["apply-staging", "apply-production"],
        },
        Case {
            name: "staging-only customer",
            event: "fleetform-apply",
            envs: r#"["staging"]"#,
            plan: [yes, yes],
            staging_apply_fails: false,
            want_applies: &["apply-staging"],
        },
        Case {
            name: "production-only customer",
            event: "fleetform-apply",
            envs: r#"["production"]"#,
            plan: [yes, yes],
            staging_apply_fails: false,
            want_applies: &["apply-production"],
        },
        Case {
            name: "nothing to apply in staging",
            event: "fleetform-apply",
            envs: both,
            plan: [none, yes],
            staging_apply_fails: false,
            want_applies: &["apply-production"],
        },
        Case {
            name: "nothing to apply anywhere",
            event: "fleetform-apply",
            envs: both,
            plan: [none, none],
            staging_apply_fails: false,
            want_applies: &[],
        },
        Case {
            name: "staging's gates block",
            event: "fleetform-apply",
            envs: both,
            plan: [blocked, yes],
            staging_apply_fails: false,
            want_applies: &[],
        },
        Case {
            name: "production's gates block",
            event: "fleetform-apply",
            envs: both,
            plan: [yes, blocked],
            staging_apply_fails: false,
            want_applies: &["apply-staging"],
        },
        Case {
            name: "the staging apply fails",
            event: "fleetform-apply",
            envs: both,
            plan: [yes, yes],
            staging_apply_fails: true,
            want_applies: &["apply-staging"],
        },
        Case {
            name: "the staging plan fails",
            event: "fleetform-apply",
            envs: both,
            plan: [None, yes],
            staging_apply_fails: false,
            want_applies: &[],
        },
        Case {
            name: "the production plan fails",
            event: "fleetform-apply",
            envs: both,
            plan: [yes, None],
            staging_apply_fails: false,
            want_applies: &["apply-staging"],
        },
    ];
    for c in &cases {
        let results = simulate(c.event, &outcome_of(c));
        let ran: Vec<&str> = results
            .iter()
            .filter(|(j, r)| j.starts_with("apply-") && **r != "skipped")
            .map(|(j, _)| j.as_str())
            .collect();
        let mut want = c.want_applies.to_vec();
        want.sort();
        assert_eq!(ran, want, "{}: {results:?}", c.name);
        // Plans run for the customer's environments only: skipped, not failed.
        for env in ENVS {
            let planned = results[&format!("plan-{env}")] != "skipped";
            assert_eq!(planned, c.envs.contains(env), "{}: plan-{env}", c.name);
        }
    }
    // A refused dispatch: nothing else runs.
    let results = simulate("fleetform-apply", &|job| match job {
        "authorise" => failed(),
        _ => done(&[("has_changes", "true"), ("gates_pass", "true")]),
    });
    assert!(
        results
            .iter()
            .all(|(j, r)| j == "authorise" || *r == "skipped"),
        "{results:?}"
    );
}

/// A customer with secrets in staging: its key job runs (in the
/// environment the authorise job names) before the staging plan and apply,
/// which run after it; production, where it has none, has no key job and
/// plans and applies as before. A key job that fails stops staging's plan
/// and apply, and production's apply behind it; the conclusion still runs
/// (#82 point 2).
#[test]
fn a_key_job_runs_before_the_plan_of_its_environment_alone() {
    let both = r#"["staging","production"]"#;
    let case = Case {
        name: "changes everywhere",
        event: "fleetform-apply",
        envs: both,
        plan: [Some(("true", "true")), Some(("true", "true"))],
        staging_apply_fails: false,
        want_applies: &["apply-production", "apply-staging"],
    };
    let with_key = |key: Outcome| {
        let base = outcome_of(&case);
        move |job: &str| match job {
            "authorise" => done(&[
                ("customer", "acme"),
                ("environments", both),
                ("event_type", "fleetform-apply"),
                ("key_environments", r#"{"staging":"staging-secrets-acme"}"#),
            ]),
            "key-staging" => key.clone(),
            other => base(other),
        }
    };
    let results = simulate(
        "fleetform-apply",
        &with_key(done(&[("sealed_key", "ffkey1.x")])),
    );
    assert_eq!(results["key-staging"], "success", "{results:?}");
    assert_eq!(results["key-production"], "skipped", "{results:?}");
    for job in [
        "plan-staging",
        "apply-staging",
        "plan-production",
        "apply-production",
        "conclude",
    ] {
        assert_eq!(results[job], "success", "{job}: {results:?}");
    }
    let results = simulate("fleetform-apply", &with_key(failed()));
    for job in ["plan-staging", "apply-staging", "apply-production"] {
        assert_eq!(results[job], "skipped", "{job}: {results:?}");
    }
    assert_eq!(results["plan-production"], "success", "{results:?}");
    assert_eq!(results["conclude"], "success", "{results:?}");
}

#[test]
fn plans_and_applies_never_share_a_concurrency_group_and_key_on_the_registry() {
    let doc = load("workflows/manager-deploy.yml");
    assert!(
        doc.get("concurrency").is_none(),
        "no workflow-level group: it would key on the payload"
    );
    let text = read("workflows/manager-deploy.yml");
    assert!(
        !text.contains("client_payload") && !text.contains("github.event.action"),
        "nothing reads the unchecked payload; the authorise job's outputs instead"
    );
    let jobs = doc["jobs"].as_mapping().unwrap();
    let auth = &doc["jobs"]["authorise"];
    assert!(
        auth.get("concurrency").is_none(),
        "authorise joins no group"
    );
    assert!(auth.get("needs").is_none(), "authorise runs first");
    let steps = auth["steps"].as_sequence().unwrap();
    assert!(steps.iter().any(|st| st["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/authorise@"))));
    for key in ["customer", "environments", "event_type", "plan_key"] {
        assert_eq!(
            auth["outputs"][key].as_str(),
            Some(format!("${{{{ steps.authorise.outputs.{key} }}}}").as_str())
        );
    }
    let mut groups = BTreeMap::new();
    for (name, job) in jobs {
        let name = s(name, "job");
        if name == "authorise" {
            continue;
        }
        let needs = yaml_serde::to_string(&job["needs"]).unwrap();
        assert!(needs.contains("authorise"), "{name} needs authorise");
        if name == "conclude" || name.starts_with("key-") {
            // conclude only reports; a key job only seals a key for this
            // run's jobs (nothing it does can race another run's).
            assert!(job.get("concurrency").is_none(), "{name} joins no group");
            continue;
        }
        let group = s(&job["concurrency"]["group"], "group");
        assert_eq!(
            job["concurrency"]["cancel-in-progress"].as_bool(),
            Some(false),
            "{name}"
        );
        let (kind, env) = name.split_once('-').unwrap();
        let want = match kind {
            "plan" => format!(
                "fleetform-plan-${{{{ needs.authorise.outputs.customer }}}}-{env}-${{{{ needs.authorise.outputs.event_type }}}}-${{{{ needs.authorise.outputs.plan_key }}}}"
            ),
            "apply" => format!("fleetform-apply-${{{{ needs.authorise.outputs.customer }}}}-{env}"),
            other => panic!("unexpected job {other}"),
        };
        assert_eq!(group, want, "{name}");
        groups.insert(name.to_string(), group.to_string());
    }
    // Distinct per job, for every event type: no plan can cancel a pending apply.
    for event in ["fleetform-plan", "fleetform-apply"] {
        let mut seen = std::collections::BTreeSet::new();
        for g in groups.values() {
            let concrete = g
                .replace("${{ needs.authorise.outputs.customer }}", "acme")
                .replace("${{ needs.authorise.outputs.event_type }}", event)
                .replace("${{ needs.authorise.outputs.plan_key }}", "pr-7")
                .to_ascii_lowercase(); // GitHub: group names are case-insensitive
            assert!(seen.insert(concrete.clone()), "shared group {concrete}");
        }
    }
    // Two pull requests of one customer never share a plan group (GitHub
    // keeps one pending job per group: the middle of three pushes to
    // different PRs would be cancelled); an apply group is per customer.
    for (name, g) in &groups {
        let of = |key: &str| g.replace("${{ needs.authorise.outputs.plan_key }}", key);
        if name.starts_with("plan-") {
            assert_ne!(of("pr-7"), of("pr-8"), "{name}");
            assert_ne!(of("pr-7"), of("refs/heads/main"), "{name}");
        } else {
            assert!(!g.contains("plan_key"), "{name}");
        }
    }
    for env in ENVS {
        let plan = &doc["jobs"][format!("plan-{env}").as_str()];
        let cond = plan["if"].as_str().unwrap_or_default();
        assert!(
            cond.contains(&format!(
                "contains(fromJSON(needs.authorise.outputs.environments), '{env}')"
            )) && cond.contains("needs.authorise.result == 'success'"),
            "plan-{env}: {cond}"
        );
    }
}

#[test]
fn the_plan_action_reports_whether_the_gates_pass() {
    let plan: Y = load("actions/plan/action.yml");
    assert_eq!(
        plan["outputs"]["gates_pass"]["value"].as_str(),
        Some("${{ steps.run.outputs.gates_pass }}")
    );
    let doc = load("workflows/manager-deploy.yml");
    for env in ENVS {
        let job = &doc["jobs"][format!("plan-{env}").as_str()];
        for out in ["has_changes", "gates_pass", "plan_sha256", "plan_dir"] {
            assert_eq!(
                job["outputs"][out].as_str(),
                Some(format!("${{{{ steps.plan.outputs.{out} }}}}").as_str()),
                "plan-{env}: {out}"
            );
        }
    }
}

#[test]
fn plan_artifacts_are_sealed_named_per_attempt_and_outlive_an_approval() {
    let doc = load("workflows/manager-deploy.yml");
    for env in ENVS {
        let plan = &doc["jobs"][format!("plan-{env}").as_str()];
        let apply = &doc["jobs"][format!("apply-{env}").as_str()];
        let name = s(&plan["outputs"]["artifact"], "artifact output");
        assert!(name.contains("${{ github.run_attempt }}"), "{name}");
        assert!(
            name.contains("${{ needs.authorise.outputs.customer }}"),
            "{name}"
        );
        assert!(name.contains(env));
        let steps = plan["steps"].as_sequence().unwrap();
        let uploads: Vec<&Y> = steps_using(steps, "actions/upload-artifact@").collect();
        assert_eq!(uploads.len(), 1);
        assert_eq!(
            uploads[0]["if"].as_str(),
            Some("steps.plan.outputs.plan_dir != ''"),
            "no upload (of `/**`) when nothing was planned"
        );
        let w = &uploads[0]["with"];
        assert_eq!(w["name"].as_str(), Some(name), "the name the apply is told");
        assert_eq!(
            w["path"].as_str(),
            Some("${{ steps.plan.outputs.plan_dir }}/**/bundle.sealed"),
            "only the sealed bundles (one per product)"
        );
        assert_eq!(w["retention-days"].as_u64(), Some(35));
        assert_eq!(w["if-no-files-found"].as_str(), Some("error"));
        let fleetform = steps
            .iter()
            .find(|st| st["id"].as_str() == Some("plan"))
            .unwrap();
        assert_eq!(
            fleetform["with"]["artifact-key"].as_str(),
            Some("${{ secrets.FLEETFORM_ARTIFACT_KEY }}")
        );

        let steps = apply["steps"].as_sequence().unwrap();
        let download = steps_using(steps, "actions/download-artifact@")
            .next()
            .expect("a download");
        assert_eq!(
            download["with"]["name"].as_str(),
            Some(format!("${{{{ needs.plan-{env}.outputs.artifact }}}}").as_str())
        );
        let plan_dir = format!("${{{{ needs.plan-{env}.outputs.plan_dir }}}}");
        assert_eq!(download["with"]["path"].as_str(), Some(plan_dir.as_str()));
        let fleetform = steps
            .iter()
            .find(|st| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/apply@"))
            })
            .unwrap();
        assert_eq!(
            fleetform["with"]["plan-dir"].as_str(),
            Some(plan_dir.as_str())
        );
        assert_eq!(
            fleetform["with"]["artifact-key"].as_str(),
            Some("${{ secrets.FLEETFORM_ARTIFACT_KEY }}")
        );
    }
    let h = header("workflows/manager-deploy.yml");
    for needle in [
        "35 days",
        "retention limit",
        "Re-run all jobs",
        "stale",
        "FLEETFORM_ARTIFACT_KEY",
    ] {
        assert!(h.contains(needle), "the header explains: {needle}");
    }
}

/// The manager checkout is the workspace root and no fleetform step moves
/// manager-dir, so `plan_dir` (relative to manager-dir) is relative to the
/// workspace, where the artifact actions resolve their paths.
#[test]
fn plan_paths_mean_the_same_to_fleetform_and_the_artifact_actions() {
    for rel in [
        "workflows/manager-deploy.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-doctor.yml",
    ] {
        let doc = load(rel);
        for (name, job) in doc["jobs"].as_mapping().unwrap() {
            for st in job["steps"].as_sequence().unwrap() {
                let uses = st["uses"].as_str().unwrap_or_default();
                if uses.starts_with("actions/checkout@") {
                    assert!(
                        st["with"].get("path").is_none(),
                        "{rel}: {name:?}: checkout at the root"
                    );
                }
                if uses.starts_with("fleetform/fleetform") {
                    assert!(
                        st["with"].get("manager-dir").is_none(),
                        "{rel}: {name:?}: manager-dir stays `.`"
                    );
                }
            }
        }
    }
    assert!(header("workflows/manager-deploy.yml").contains("relative to the workspace"));
}
