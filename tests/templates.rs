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

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn load(rel: &str) -> Y {
    yaml_serde::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn s<'a>(v: &'a Y, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {v:?}"))
}

fn header(rel: &str) -> String {
    read(rel)
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

const ENVS: [&str; 2] = ["staging", "production"];

use crate::support::workflow_sim::{done, failed, simulate_workflow, Outcome};

/// Runs the deploy template's job graph: each job's `if:` is evaluated
/// against the results and outputs of the jobs it needs; a job that runs
/// gets the outcome `outcome(job)`. Returns every job's result.
fn simulate(event_type: &str, outcome: &dyn Fn(&str) -> Outcome) -> BTreeMap<String, &'static str> {
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
struct Case {
    name: &'static str,
    event: &'static str,
    envs: &'static str,
    plan: [Option<(&'static str, &'static str)>; 2],
    staging_apply_fails: bool,
    want_applies: &'static [&'static str],
}

fn outcome_of(c: &Case) -> impl Fn(&str) -> Outcome + '_ {
    move |job: &str| match job {
        "conclude" => done(&[]),
        "authorise" => done(&[
            ("customer", "acme"),
            ("environments", c.envs),
            ("event_type", c.event),
            ("customer_repo", "acme-corp/acme-infra"),
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
        if name == "conclude" {
            assert!(
                job.get("concurrency").is_none(),
                "conclude only reports: it joins no group"
            );
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
        assert_eq!(
            plan["if"].as_str(),
            Some(
                format!("contains(fromJSON(needs.authorise.outputs.environments), '{env}')")
                    .as_str()
            )
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
        let uploads: Vec<&Y> = steps
            .iter()
            .filter(|st| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
            })
            .collect();
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
        let download = steps
            .iter()
            .find(|st| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/download-artifact@"))
            })
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

fn trigger_steps() -> Vec<Y> {
    load("workflows/customer-trigger-token.yml")["jobs"]["trigger"]["steps"]
        .as_sequence()
        .unwrap()
        .clone()
}

#[test]
fn the_trigger_runs_on_default_branch_pushes_and_pull_request_events_only() {
    let doc = load("workflows/customer-trigger-token.yml");
    let on = &doc["on"];
    let push = &on["push"];
    assert_eq!(
        push["branches"]
            .as_sequence()
            .map(|b| b.iter().map(|x| s(x, "branch")).collect::<Vec<_>>()),
        Some(vec!["main"])
    );
    assert!(push.get("tags").is_none() && push.get("branches-ignore").is_none());
    assert!(read("workflows/customer-trigger-token.yml").contains("Adjust if it is not `main`"));
    let types: Vec<&str> = on["pull_request"]["types"]
        .as_sequence()
        .expect("pull_request.types")
        .iter()
        .map(|t| s(t, "type"))
        .collect();
    assert_eq!(types, ["opened", "synchronize", "reopened"]);
    assert!(on.get("pull_request_target").is_none());
    let keys: Vec<&str> = on
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| s(k, "event"))
        .collect();
    assert_eq!(keys, ["push", "pull_request", "issue_comment"]);
    // Comment commands: new comments only (an edit re-runs nothing), on
    // pull requests only, and the comment's text reaches no script.
    let types: Vec<&str> = on["issue_comment"]["types"]
        .as_sequence()
        .expect("issue_comment.types")
        .iter()
        .map(|t| s(t, "type"))
        .collect();
    assert_eq!(types, ["created"]);
    let job = &doc["jobs"]["trigger"];
    let cond = job["if"].as_str().expect("the trigger job's if");
    assert!(
        cond.contains("github.event.issue.pull_request")
            && cond.contains("startsWith(github.event.comment.body, '/fleetform plan')"),
        "{cond}"
    );
    assert_eq!(job["permissions"]["pull-requests"].as_str(), Some("read"));
    for st in trigger_steps() {
        let run = st["run"].as_str().unwrap_or_default();
        assert!(!run.contains("github.event.comment"), "{run}");
        assert!(
            !yaml_serde::to_string(&st["env"])
                .unwrap()
                .contains("comment.body"),
            "the trigger reads the comment from the event file itself"
        );
    }
}

/// Runs the trigger job's secrets check the way the runner would.
fn secrets_check(head_repo: &str, actor: &str) -> (bool, String, String) {
    let steps = trigger_steps();
    let step = steps
        .iter()
        .find(|st| st["id"].as_str() == Some("secrets"))
        .expect("a step with id secrets");
    let env = step["env"].as_mapping().unwrap();
    let want: BTreeMap<&str, &str> = [
        (
            "HEAD_REPO",
            "${{ github.event.pull_request.head.repo.full_name }}",
        ),
        ("THIS_REPO", "${{ github.repository }}"),
        ("ACTOR", "${{ github.actor }}"),
    ]
    .into();
    let got: BTreeMap<&str, &str> = env
        .iter()
        .map(|(k, v)| (s(k, "env"), s(v, "env")))
        .collect();
    assert_eq!(got, want);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    std::fs::write(&output, "").unwrap();
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(s(&step["run"], "run"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HEAD_REPO", head_repo)
        .env("THIS_REPO", "acme-corp/acme-infra")
        .env("ACTOR", actor)
        .env("GITHUB_OUTPUT", &output)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&output).unwrap(),
    )
}

#[test]
fn forks_and_dependabot_get_a_notice_instead_of_a_failure() {
    for (head, actor, available) in [
        ("acme-corp/acme-infra", "alice", true),
        ("", "alice", true), // a push
        ("mallory/acme-infra", "mallory", false),
        ("acme-corp/acme-infra", "dependabot[bot]", false),
    ] {
        let (ok, stdout, output) = secrets_check(head, actor);
        assert!(ok, "{head} {actor}: the step succeeds");
        assert_eq!(
            output.trim(),
            format!("available={available}"),
            "{head} {actor}"
        );
        assert_eq!(
            stdout.starts_with("::notice title=fleetform::"),
            !available,
            "{head} {actor}: {stdout}"
        );
    }
    // Every later step waits for that answer.
    for st in trigger_steps().iter().skip(1) {
        assert_eq!(
            st["if"].as_str(),
            Some("steps.secrets.outputs.available == 'true'"),
            "{st:?}"
        );
    }
}

#[test]
fn each_token_does_what_github_lets_it() {
    // The trigger: MANAGER_REPO_PAT dispatches, the job's token sets the status.
    let doc = load("workflows/customer-trigger-token.yml");
    assert_eq!(
        yaml_serde::to_string(&doc["permissions"]).unwrap().trim(),
        "{}"
    );
    let job = &doc["jobs"]["trigger"];
    assert_eq!(job["permissions"]["statuses"].as_str(), Some("write"));
    assert_eq!(job["permissions"]["contents"].as_str(), Some("read"));
    let steps = trigger_steps();
    let trigger = steps
        .iter()
        .find(|st| {
            st["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/trigger@"))
        })
        .unwrap();
    assert_eq!(
        trigger["with"]["token"].as_str(),
        Some("${{ secrets.MANAGER_REPO_PAT }}")
    );
    assert_eq!(
        trigger["with"]["status-token"].as_str(),
        Some("${{ github.token }}")
    );
    let action = load("actions/trigger/action.yml");
    assert_eq!(
        action["inputs"]["status-token"]["default"].as_str(),
        Some("${{ github.token }}")
    );
    let run_env = yaml_serde::to_string(&action["runs"]["steps"][1]["env"]).unwrap();
    assert!(run_env.contains("FLEETFORM_STATUS_TOKEN: ${{ inputs.status-token }}"));
    assert!(run_env.contains("FLEETFORM_WAIT: ${{ inputs.wait }}"));

    // Drift: SOURCE_REPOS_PAT from its environment reads the customers in
    // the shards, which write no issue; one job merges their reports and
    // writes every issue here with its own token.
    let doc = load("workflows/manager-drift.yml");
    let drift_step = |job: &yaml_serde::Value| {
        job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|st| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/drift@"))
            })
            .unwrap()
            .clone()
    };
    let job = &doc["jobs"]["drift"];
    assert_eq!(job["environment"].as_str(), Some("drift"));
    assert!(job["permissions"]["issues"].is_null(), "shards write no issue");
    let drift = drift_step(job);
    assert_eq!(
        drift["with"]["token"].as_str(),
        Some("${{ secrets.SOURCE_REPOS_PAT }}")
    );
    assert!(drift["with"]["issues"].is_null() && drift["with"]["issues-token"].is_null());
    let job = &doc["jobs"]["issues"];
    assert_eq!(job["permissions"]["issues"].as_str(), Some("write"));
    assert!(job["environment"].is_null(), "the merge reads no secret");
    let merge = drift_step(job);
    assert_eq!(
        merge["with"]["issues-token"].as_str(),
        Some("${{ github.token }}")
    );
    assert_eq!(merge["with"]["issues"].as_str(), Some("true"));
    assert!(merge["with"]["from-reports"].as_str().is_some());
    assert!(merge["with"]["token"].is_null(), "no customer repo is read");
}

/// Secrets live in environments on the manager side: every job there that
/// reads a secret names an environment, and the header lists it.
#[test]
fn manager_secrets_come_from_environments_as_the_docs_say() {
    for rel in [
        "workflows/manager-deploy.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-doctor.yml",
    ] {
        let doc = load(rel);
        let h = header(rel);
        assert!(h.contains("Settings → Environments"), "{rel}");
        for (name, job) in doc["jobs"].as_mapping().unwrap() {
            let text = yaml_serde::to_string(job).unwrap();
            if text.contains("secrets.") {
                let env = job["environment"].as_str().unwrap_or_else(|| {
                    panic!("{rel}: {name:?} reads secrets without an environment")
                });
                let documented = h.contains(&format!("environment {env}"))
                    || (env.ends_with("-plan") || env.ends_with("-apply"))
                        && h.contains("environments <env>-plan and <env>-apply");
                assert!(documented, "{rel}: the header names the environment {env}");
            }
        }
    }
    let readme = read("README.md");
    let security = read("SECURITY.md");
    let actions_section = section(&readme, "## GitHub Actions");
    let configure = section(&security, "## What you must configure");
    for (what, text) in [
        ("README GitHub Actions", &actions_section),
        ("SECURITY configure", &configure),
    ] {
        for needle in [
            "fleetform-authorise",
            "FLEETFORM_ARTIFACT_KEY",
            "FLEETFORM_DISPATCH_SECRET",
            "SOURCE_REPOS_PAT",
            "MANAGER_REPO_PAT",
            "statuses: write",
            "issues: write",
            "`drift`",
            "35",
        ] {
            assert!(text.contains(needle), "{what}: {needle}");
        }
        assert!(!text.contains("TF_STATE_BUCKET"), "{what}");
    }
}

fn section(doc: &str, heading: &str) -> String {
    let start = doc.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &doc[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

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
    let step = job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|st| {
            st["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/conclude@"))
        })
        .expect("a conclude step");
    assert_eq!(step["with"]["needs"].as_str(), Some("${{ toJSON(needs) }}"));
    assert_eq!(
        step["with"]["token"].as_str(),
        Some("${{ secrets.SOURCE_REPOS_PAT }}")
    );
    // Its environment holds the dispatch secret and the customers' token.
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

/// The doctor runs weekly and on demand, reads nothing with the job's own
/// token but the checkout, and hands its two tokens to fleetform through
/// `env:` only.
#[test]
fn the_doctor_template_runs_weekly_with_its_tokens_in_env() {
    let rel = "workflows/manager-doctor.yml";
    let doc = load(rel);
    let on = doc["on"].as_mapping().unwrap();
    let events: Vec<&str> = on.keys().map(|k| s(k, "event")).collect();
    assert_eq!(events, ["schedule", "workflow_dispatch"]);
    let cron = s(&doc["on"]["schedule"][0]["cron"], "cron");
    assert_eq!(cron.split(' ').nth(4), Some("1"), "weekly: {cron}");
    assert_eq!(
        yaml_serde::to_string(&doc["permissions"]).unwrap().trim(),
        "{}"
    );
    let job = &doc["jobs"]["doctor"];
    assert_eq!(job["environment"].as_str(), Some("doctor"));
    assert_eq!(
        yaml_serde::to_string(&job["permissions"]).unwrap().trim(),
        "contents: read"
    );
    let steps = job["steps"].as_sequence().unwrap();
    let run = steps
        .iter()
        .find(|st| st.get("run").is_some())
        .expect("a run step");
    assert_eq!(s(&run["run"], "run").trim(), "fleetform doctor");
    let env = &run["env"];
    assert_eq!(
        env["FLEETFORM_MANAGER_TOKEN"].as_str(),
        Some("${{ secrets.FLEETFORM_DOCTOR_TOKEN }}")
    );
    assert_eq!(
        env["FLEETFORM_TOKEN"].as_str(),
        Some("${{ secrets.SOURCE_REPOS_PAT }}")
    );
    for st in steps {
        let text = st.get("run").and_then(|r| r.as_str()).unwrap_or_default();
        assert!(!text.contains("${{"), "{rel}: an expression inside run:");
    }
    assert!(steps
        .iter()
        .any(|st| st["uses"].as_str() == Some("fleetform/fleetform@v1")));
    let h = header(rel);
    for needle in [
        "exit 5",
        "FLEETFORM_DOCTOR_TOKEN",
        "SOURCE_REPOS_PAT",
        "names only",
    ] {
        assert!(h.contains(needle), "the header explains: {needle}");
    }
}

/// OIDC tokens only where a customer's role is assumed: each deploy plan
/// and apply job (its own stage's role, from the authorise job's
/// `identity` output, never from the payload), each drift job and each PR
/// plan shard (the matrix job's plan role), and the two jobs that read the
/// records store (the dashboard's build, the role in
/// `vars.FLEETFORM_RECORDS_READ_ROLE`; the PR's impact job runs the pull
/// request's code unreviewed and holds none). No other job of any template may
/// ask for one, but the dashboard's Pages deployment, which GitHub requires
/// it for.
#[test]
fn oidc_only_in_jobs_that_assume_the_customers_role() {
    let rels = [
        "workflows/customer-trigger.yml",
        "workflows/customer-trigger-token.yml",
        "workflows/inbox-relay.yml",
        "workflows/manager-dashboard.yml",
        "workflows/manager-deploy.yml",
        "workflows/manager-doctor.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-pr.yml",
        "workflows/manager-rollout.yml",
    ];
    let mut with_oidc = Vec::new();
    for rel in rels {
        let doc = load(rel);
        assert!(
            doc["permissions"].get("id-token").is_none(),
            "{rel}: not at the top"
        );
        for (name, job) in doc["jobs"].as_mapping().unwrap() {
            let name = s(name, "job name").to_string();
            let oidc = job["permissions"]
                .get("id-token")
                .map(|v| s(v, "id-token").to_string());
            let assumes = |st: &&Y| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            };
            let steps = job["steps"].as_sequence().unwrap();
            // The records role's step (its credential for fleetform alone)
            // is checked by `records_are_written_with_their_own_role`.
            let assume = steps
                .iter()
                .filter(assumes)
                .find(|st| st["id"].as_str() != Some("records"));
            let pages = job["steps"].as_sequence().unwrap().iter().any(|st| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/deploy-pages@"))
            });
            let records = steps
                .iter()
                .filter(assumes)
                .any(|st| st["id"].as_str() == Some("records"));
            match (oidc.as_deref(), assume) {
                (None, None) => continue,
                // Only the records role (the deploy's authorise and
                // conclude jobs).
                (Some("write"), None) if records => {
                    with_oidc.push(format!("{rel}:{name}"));
                }
                // GitHub Pages' deployment proves the run with an OIDC token.
                (Some("write"), None) if pages => continue,
                // The customer's trigger proves its run to the relay.
                (Some("write"), None) if rel == "workflows/customer-trigger.yml" => {
                    with_oidc.push(format!("{rel}:{name}"));
                }
                (Some("write"), Some(step)) => {
                    let role = s(&step["with"]["role-to-assume"], "role-to-assume");
                    if role == "${{ vars.FLEETFORM_RECORDS_READ_ROLE }}" {
                        // The records store's read role, only where the
                        // job reads the records and never beside another.
                        assert!(rel.ends_with("manager-dashboard.yml"), "{rel}: {name}");
                        assert_eq!(
                            step["if"].as_str(),
                            Some("vars.FLEETFORM_RECORDS_READ_ROLE != ''"),
                            "{rel}: {name}: no role, no assume"
                        );
                        with_oidc.push(format!("{rel}:{name}"));
                        continue;
                    }
                    let expected = if let Some(env) = name.strip_prefix("plan-") {
                        format!("fromJSON(needs.authorise.outputs.identity)['{env}'].plan.role_arn")
                    } else if let Some(env) = name.strip_prefix("apply-") {
                        format!(
                            "fromJSON(needs.authorise.outputs.identity)['{env}'].apply.role_arn"
                        )
                    } else {
                        "matrix.identity.role_arn".to_string()
                    };
                    assert_eq!(role, format!("${{{{ {expected} }}}}"), "{rel}: {name}");
                    assert!(
                        s(&step["uses"], "uses")
                            .contains("@e6de054238d6b7531b4efff3b6587d9aade6a06c"),
                        "{rel}: {name}: pinned to a commit"
                    );
                    with_oidc.push(format!("{rel}:{name}"));
                }
                other => {
                    panic!("{rel}: {name}: id-token {other:?} without (or with) an assume step")
                }
            }
        }
    }
    assert_eq!(
        with_oidc,
        [
            "workflows/customer-trigger.yml:trigger",
            "workflows/manager-dashboard.yml:build",
            "workflows/manager-deploy.yml:authorise",
            "workflows/manager-deploy.yml:plan-staging",
            "workflows/manager-deploy.yml:plan-production",
            "workflows/manager-deploy.yml:apply-staging",
            "workflows/manager-deploy.yml:apply-production",
            "workflows/manager-deploy.yml:conclude",
            "workflows/manager-drift.yml:drift",
            "workflows/manager-pr.yml:plan",
            "workflows/manager-rollout.yml:start",
            "workflows/manager-rollout.yml:control",
            "workflows/manager-rollout.yml:next",
            "workflows/manager-rollout.yml:plan",
            "workflows/manager-rollout.yml:tick",
        ]
    );
}

/// The default trigger holds no credential of the provider: its job may
/// read the checkout and ask for an OIDC token, nothing else; it names no
/// secret; the trigger step goes through the relay; forks and Dependabot
/// (no OIDC token) get a notice.
#[test]
fn the_relay_trigger_holds_no_provider_credential() {
    let rel = "workflows/customer-trigger.yml";
    let doc = load(rel);
    assert_eq!(
        yaml_serde::to_string(&doc["permissions"]).unwrap().trim(),
        "{}"
    );
    let perms = doc["jobs"]["trigger"]["permissions"].as_mapping().unwrap();
    let got: BTreeMap<&str, &str> = perms
        .iter()
        .map(|(k, v)| (s(k, "perm"), s(v, "perm")))
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([("contents", "read"), ("id-token", "write")])
    );
    let text = read(rel);
    assert!(!text.contains("secrets."), "{rel} names a secret");
    let steps = doc["jobs"]["trigger"]["steps"].as_sequence().unwrap();
    let trigger = steps
        .iter()
        .find(|st| {
            st["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/trigger@"))
        })
        .unwrap();
    let with: BTreeMap<&str, &str> = trigger["with"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (s(k, "with"), s(v, "with")))
        .collect();
    assert_eq!(
        with,
        BTreeMap::from([("relay-url", "${{ vars.FLEETFORM_RELAY_URL }}")])
    );
    for st in steps.iter().skip(1) {
        assert_eq!(
            st["if"].as_str(),
            Some("steps.identity.outputs.available == 'true'")
        );
    }
    // The inbox (legacy) keeps its relay token in an environment.
    let inbox = load("workflows/inbox-relay.yml");
    assert_eq!(
        inbox["jobs"]["relay"]["environment"].as_str(),
        Some("fleetform-inbox")
    );
}
