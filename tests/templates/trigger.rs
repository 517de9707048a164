//! The workflow templates' trigger and tokens: which events run the
//! trigger, forks and dependabot getting a notice, what each token may do
//! and where the manager's secrets come from.

use std::collections::BTreeMap;

use yaml_serde::Value as Y;

use crate::templates::jobs::{header, load, read, s, steps_using};

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

    // Drift: the customer App's key from its environment reads the
    // customers (a token per repository) in
    // the shards, which write no issue; one job merges their reports and
    // writes every issue here with its own token.
    let doc = load("workflows/manager-drift.yml");
    let drift_step = |job: &yaml_serde::Value| {
        steps_using(
            job["steps"].as_sequence().unwrap(),
            "fleetform/fleetform/actions/drift@",
        )
        .next()
        .unwrap()
        .clone()
    };
    let job = &doc["jobs"]["drift"];
    assert_eq!(job["environment"].as_str(), Some("drift"));
    assert!(
        job["permissions"]["issues"].is_null(),
        "shards write no issue"
    );
    let drift = drift_step(job);
    assert!(drift["with"]["token"].is_null());
    assert_eq!(
        drift["with"]["app-private-key"].as_str(),
        Some("${{ secrets.FLEETFORM_CUSTOMER_APP_PRIVATE_KEY }}")
    );
    assert!(drift["with"]["issues"].is_null() && drift["with"]["issues-token"].is_null());
    // Its ETag cache, kept in the Actions cache, is sealed with the
    // artifact secret, handed through `env:` to that step alone.
    assert_eq!(
        drift["env"]["FLEETFORM_ARTIFACT_KEY"].as_str(),
        Some("${{ secrets.FLEETFORM_ARTIFACT_KEY }}")
    );
    assert!(drift["env"]["FLEETFORM_ETAG_CACHE"].as_str().is_some());
    // The artifact secret reaches the drift step and the repair jobs'
    // fleetform steps (sealed plans), nothing else.
    let with_key: Vec<String> = doc["jobs"]
        .as_mapping()
        .unwrap()
        .iter()
        .flat_map(|(name, j)| {
            j["steps"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter(|st| {
                    yaml_serde::to_string(st)
                        .unwrap()
                        .contains("FLEETFORM_ARTIFACT_KEY")
                })
                .map(move |st| {
                    let step = st["name"].as_str().or(st["id"].as_str()).unwrap_or("?");
                    format!("{}:{step}", name.as_str().unwrap())
                })
        })
        .collect();
    assert_eq!(
        with_key,
        [
            "drift:drift",
            "repair-plan:repair plans",
            "repair-apply:apply repairs",
            "repair-confirm:apply repairs"
        ],
        "{with_key:?}"
    );
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
                // A key job's environment is the customer's own, named by
                // the authorise job: `<env>-secrets-<slug>`.
                let key_env = format!(
                    "${{{{ fromJSON(needs.authorise.outputs.key_environments)['{}'] }}}}",
                    s(name, "job").trim_start_matches("key-")
                );
                let documented = h.contains(&format!("environment {env}"))
                    || (env.ends_with("-plan") || env.ends_with("-apply"))
                        && h.contains("environments <env>-plan and <env>-apply")
                    || env == key_env && h.contains("environments <env>-secrets-<slug>");
                assert!(documented, "{rel}: the header names the environment {env}");
            }
        }
    }
    let actions_section = read("docs/src/provider/github-actions.md");
    let configure = read("docs/src/security/configure.md");
    for (what, text) in [
        ("the book's GitHub Actions", &actions_section),
        ("the book's What you must configure", &configure),
    ] {
        for needle in [
            "fleetform-authorise",
            "FLEETFORM_ARTIFACT_KEY",
            "FLEETFORM_DISPATCH_SECRET",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
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

/// GitHub keeps one pending run per concurrency group and a newer run
/// cancels it: every event the trigger job skips (a comment that is no
/// command, or one on a plain issue) must get a group of its own, so it
/// cancels no pending trigger; every event the job runs for shares the
/// pull request's (or branch's) group. Both templates, the group computed
/// with the same expression evaluator as the job's `if:`.
#[test]
fn a_comment_the_trigger_skips_joins_no_pull_requests_group() {
    use crate::support::workflow_sim::{eval, runs, Ctx};
    let events: &[(&str, Option<&str>, bool)] = &[
        ("pull_request", None, false),
        ("push", None, false),
        ("issue_comment", Some("/fleetform plan"), true),
        ("issue_comment", Some("/fleetform apply -e staging"), true),
        ("issue_comment", Some("/FLEETFORM PLAN"), true),
        ("issue_comment", Some("LGTM"), true),
        ("issue_comment", Some(""), true),
        ("issue_comment", Some(" /fleetform plan"), true),
        ("issue_comment", Some("/fleetform plan"), false),
    ];
    for path in [
        "workflows/customer-trigger.yml",
        "workflows/customer-trigger-token.yml",
    ] {
        let doc = load(path);
        let group = s(&doc["concurrency"]["group"], "group");
        let cond = doc["jobs"]["trigger"]["if"].as_str();
        for (event, body, on_pull) in events {
            let mut values: BTreeMap<String, String> = [
                ("github.event_name", *event),
                ("github.run_id", "9001"),
                ("github.ref", "refs/heads/main"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            match body {
                Some(b) => {
                    values.insert("github.event.comment.body".into(), b.to_string());
                    values.insert("github.event.issue.number".into(), "7".into());
                    if *on_pull {
                        values.insert("github.event.issue.pull_request".into(), "{..}".into());
                    }
                }
                None if *event == "pull_request" => {
                    values.insert("github.event.pull_request.number".into(), "7".into());
                }
                None => {}
            }
            let ctx = Ctx {
                values: &values,
                needs: Vec::new(),
                cancelled: false,
            };
            let job_runs = runs(cond, &ctx);
            let key = group.replace("fleetform-trigger-", "");
            let key = eval(&key, &values).text();
            let expected = match (*event, job_runs) {
                (_, false) => "skipped-9001",
                ("push", true) => "refs/heads/main",
                (_, true) => "7",
            };
            assert_eq!(
                key, expected,
                "{path}: {event} {body:?} on a pull request: {on_pull}"
            );
        }
    }
}
