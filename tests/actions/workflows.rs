//! Static checks of the workflows this repo ships (`.github/workflows/`)
//! and the templates in `workflows/`: actions pinned and credentials
//! dropped, secrets and variables documented, and the release pushing the
//! checksummed action ref.

use crate::actions::shipped::{all_workflows, read, workflow_steps};

#[test]
fn workflows_pin_actions_and_drop_credentials() {
    let templates = [
        "workflows/customer-trigger.yml",
        "workflows/customer-trigger-token.yml",
        "workflows/manager-deploy.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-pr.yml",
        "workflows/manager-doctor.yml",
        "workflows/manager-dashboard.yml",
        "workflows/manager-drill.yml",
    ];
    let own =
        ["ci.yml", "action-selftest.yml", "release.yml"].map(|f| format!(".github/workflows/{f}"));
    let all = all_workflows();
    for f in templates.iter().map(|s| s.to_string()).chain(own) {
        assert!(all.contains(&f), "{f} is missing");
    }
    for rel in &all {
        let text = read(rel);
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start().trim_start_matches("- ");
            let Some(uses) = t.strip_prefix("uses:") else {
                continue;
            };
            let (reference, comment) = match uses.split_once(" #") {
                Some((r, c)) => (r.trim(), Some(c.trim())),
                None => (uses.trim(), None),
            };
            let at = format!("{rel}:{}", n + 1);
            if reference.starts_with("./") {
                continue;
            }
            if reference.starts_with("fleetform/fleetform") {
                assert!(
                    rel.starts_with("workflows/"),
                    "{at}: our own actions are referenced by path in this repo"
                );
                assert!(
                    reference.ends_with("@v1"),
                    "{at}: templates use the major tag: {reference}"
                );
                let before = &text.lines().collect::<Vec<_>>()[..n];
                assert!(
                    text.contains("Pin this to the commit SHA of a fleetform release")
                        && before
                            .iter()
                            .any(|l| l.contains("Pin this to the commit SHA")),
                    "{at}: tell the user to pin {reference} to a release SHA"
                );
                continue;
            }
            let (_, sha) = reference
                .split_once('@')
                .unwrap_or_else(|| panic!("{at}: no ref: {reference}"));
            assert!(
                sha.len() == 40
                    && sha
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{at}: pin {reference} to a full commit SHA"
            );
            assert!(
                comment.is_some_and(|c| c.starts_with('v')),
                "{at}: add the version as a comment: # vX.Y.Z"
            );
        }
        let doc: yaml_serde::Value =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(
            doc.get("permissions").is_some(),
            "{rel}: set workflow permissions"
        );
        for (job, steps) in workflow_steps(&doc) {
            for s in steps {
                let Some(uses) = s.get("uses").and_then(|u| u.as_str()) else {
                    continue;
                };
                if uses.starts_with("actions/checkout@") {
                    let persist = s.get("with").and_then(|w| w.get("persist-credentials"));
                    assert_eq!(
                        persist.and_then(|p| p.as_bool()),
                        Some(false),
                        "{rel}: job {job}: checkout with persist-credentials: false"
                    );
                }
            }
        }
    }
}

#[test]
fn templates_document_their_secrets_and_variables() {
    let want: &[(&str, &[&str])] = &[
        (
            "workflows/customer-trigger.yml",
            &["FLEETFORM_RELAY_URL", "FLEETFORM_RELAY_AUDIENCE"],
        ),
        (
            "workflows/manager-poll.yml",
            &[
                "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
                "FLEETFORM_MANAGER_APP_ID",
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_CUSTOMER_APP_ID",
                "FLEETFORM_ARTIFACT_KEY",
            ],
        ),
        (
            "workflows/customer-trigger-token.yml",
            &[
                "MANAGER_REPO_PAT",
                "FLEETFORM_DISPATCH_KEY",
                "MANAGER_REPO_OWNER",
                "MANAGER_REPO_NAME",
            ],
        ),
        (
            "workflows/manager-deploy.yml",
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_DISPATCH_SECRET",
                "FLEETFORM_ARTIFACT_KEY",
            ],
        ),
        (
            "workflows/manager-drift.yml",
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_ARTIFACT_KEY",
            ],
        ),
        (
            "workflows/manager-ops.yml",
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_TEAMS_TOKEN",
                "FLEETFORM_ARTIFACT_KEY",
            ],
        ),
        (
            "workflows/manager-offboard.yml",
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_TEAMS_TOKEN",
                "FLEETFORM_ARTIFACT_KEY",
                "FLEETFORM_RECORDS_WRITE_ROLE",
            ],
        ),
        (
            "workflows/manager-doctor.yml",
            &[
                "FLEETFORM_DOCTOR_TOKEN",
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            ],
        ),
        (
            "workflows/manager-drill.yml",
            &[
                "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
                "FLEETFORM_ARTIFACT_KEY",
                "FLEETFORM_DRILL_ROLE",
                "FLEETFORM_DRILL_REGION",
                "FLEETFORM_RECORDS_WRITE_ROLE",
            ],
        ),
        (
            "workflows/inbox-relay.yml",
            &["MANAGER_RELAY_TOKEN", "MANAGER_REPO"],
        ),
    ];
    for (rel, names) in want {
        let text = read(rel);
        let comments: String = text
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for n in *names {
            assert!(
                comments.contains(n),
                "{rel}: the header comment must tell the user to set {n}"
            );
            let used =
                text.contains(&format!("secrets.{n}")) || text.contains(&format!("vars.{n}"));
            assert!(used, "{rel}: {n} is documented but not used");
        }
    }

    // The deploy template: environments, the digest hand-over, the gates.
    let doc: yaml_serde::Value =
        yaml_serde::from_str(&read("workflows/manager-deploy.yml")).unwrap();
    let types = doc["on"]["repository_dispatch"]["types"]
        .as_sequence()
        .unwrap();
    assert_eq!(types.len(), 2);
    let jobs = doc["jobs"].as_mapping().unwrap();
    for env in ["staging", "production"] {
        let plan = &doc["jobs"][format!("plan-{env}").as_str()];
        let apply = &doc["jobs"][format!("apply-{env}").as_str()];
        assert_eq!(
            plan["environment"].as_str(),
            Some(format!("{env}-plan").as_str())
        );
        assert_eq!(
            apply["environment"].as_str(),
            Some(format!("{env}-apply").as_str())
        );
        assert!(plan["outputs"]["plan_sha256"]
            .as_str()
            .unwrap()
            .contains("steps.plan.outputs.plan_sha256"));
        assert!(apply["if"]
            .as_str()
            .unwrap()
            .contains("needs.authorise.outputs.event_type == 'fleetform-apply'"));
        for j in [plan, apply] {
            assert_eq!(
                j["concurrency"]["cancel-in-progress"].as_bool(),
                Some(false)
            );
        }
        let apply_text = yaml_serde::to_string(apply).unwrap();
        assert!(
            apply_text.contains(&format!("needs.plan-{env}.outputs.plan_sha256")),
            "apply-{env} re-checks the digest"
        );
        // The dispatch secret goes to the fleetform step of each job as an
        // input (the action puts it in that step's env), nowhere else.
        let authorise = &doc["jobs"]["authorise"];
        for (job, j) in [("plan", plan), ("apply", apply), ("authorise", authorise)] {
            let steps = j["steps"].as_sequence().unwrap();
            let with_secret: Vec<&str> = steps
                .iter()
                .filter(|s| {
                    yaml_serde::to_string(s)
                        .unwrap()
                        .contains("FLEETFORM_DISPATCH_SECRET")
                })
                .map(|s| s["uses"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(with_secret.len(), 1, "{job}-{env}: {with_secret:?}");
            assert!(
                with_secret[0].starts_with(&format!("fleetform/fleetform/actions/{job}@")),
                "{job}-{env}: {with_secret:?}"
            );
            // The artifact secret likewise, to plan and apply only.
            let with_key = steps
                .iter()
                .filter(|s| {
                    yaml_serde::to_string(s)
                        .unwrap()
                        .contains("FLEETFORM_ARTIFACT_KEY")
                })
                .count();
            assert_eq!(with_key, usize::from(job != "authorise"), "{job}-{env}");
            let step = steps
                .iter()
                .find(|s| s["uses"].as_str() == Some(with_secret[0]))
                .unwrap();
            assert_eq!(
                step["with"]["dispatch-secret"].as_str(),
                Some("${{ secrets.FLEETFORM_DISPATCH_SECRET }}")
            );
            assert!(j.get("env").is_none(), "{job}-{env}: no job-level env");
        }
        assert!(apply_text.contains("actions/download-artifact@"));
    }
    let needs = doc["jobs"]["apply-production"]["needs"]
        .as_sequence()
        .unwrap();
    assert!(
        needs.iter().any(|n| n.as_str() == Some("apply-staging")),
        "production applies after staging"
    );
    // authorise, conclude, and per environment a key, plan and apply job.
    assert_eq!(jobs.len(), 8);
    // Documented and read by nothing: gone.
    for rel in [
        "workflows/manager-deploy.yml",
        "workflows/manager-drift.yml",
        "workflows/customer-trigger-token.yml",
    ] {
        assert!(!read(rel).contains("TF_STATE_BUCKET"), "{rel}");
    }
    assert!(
        !yaml_serde::to_string(&doc["env"])
            .unwrap()
            .contains("DISPATCH"),
        "the dispatch secret is not in the workflow's env"
    );
    assert!(
        !read("workflows/manager-drift.yml").contains("DISPATCH_SECRET"),
        "drift has no use for the dispatch secret"
    );

    // The customer's trigger signs with its key, passed as the action's input.
    let doc: yaml_serde::Value =
        yaml_serde::from_str(&read("workflows/customer-trigger-token.yml")).unwrap();
    let steps = doc["jobs"]["trigger"]["steps"].as_sequence().unwrap();
    let trigger = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("fleetform/fleetform/actions/trigger@"))
        })
        .expect("the trigger step");
    assert_eq!(
        trigger["with"]["dispatch-key"].as_str(),
        Some("${{ secrets.FLEETFORM_DISPATCH_KEY }}")
    );
}

/// Every pin fleetform writes names `v<version>-action`; the release
/// workflow pushes exactly that tag on a commit holding the release's
/// checksums (the release tag's own commit cannot hold them), and that tag
/// does not start another release run.
#[test]
fn the_release_pushes_the_checksummed_action_ref_that_pins_name() {
    assert_eq!(
        fleetform::version::action_ref(),
        format!("v{}-action", env!("CARGO_PKG_VERSION"))
    );
    let raw: yaml_serde::Value =
        yaml_serde::from_str(&read(".github/workflows/release.yml")).unwrap();
    let tags: Vec<&str> = raw["on"]["push"]["tags"]
        .as_sequence()
        .expect("on.push.tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&"!**-action"), "{tags:?}");
    let job = &raw["jobs"]["update-setup-checksums"];
    let script: String = job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    for needle in [
        r#"action_tag="v$version-action""#,
        r#"git switch --detach "refs/tags/$TAG""#,
        r#"git add "$file""#,
        r#"git push origin "refs/tags/$action_tag""#,
    ] {
        assert!(script.contains(needle), "update-setup-checksums: {needle}");
    }
    let detach = script.find("git switch --detach").unwrap();
    let commit = script[detach..].find("git commit").unwrap() + detach;
    let push = script
        .find(r#"git push origin "refs/tags/$action_tag""#)
        .unwrap();
    assert!(
        detach < commit && commit < push,
        "the tag is the checksums commit"
    );
}

/// tests/check-targets.sh type-checks fewer targets than the release
/// builds, but never a system or an architecture less: each system of
/// dist-workspace.toml's targets (the triple after its architecture) and
/// each architecture is among the targets it checks, and `--all` checks
/// every target. The same holds as tests/check.sh runs it, with the static
/// release build's target counted as checked by that build.
#[test]
fn check_targets_covers_every_system_and_architecture_of_the_release() {
    let dist = read("dist-workspace.toml");
    let array = dist
        .split("\ntargets = [")
        .nth(1)
        .and_then(|rest| rest.split("\n]").next())
        .expect("dist-workspace.toml's [dist] targets");
    let release: Vec<String> = regex::Regex::new(r#""([^"]+)""#)
        .unwrap()
        .captures_iter(array)
        .map(|c| c[1].to_string())
        .collect();
    assert!(release.len() >= 3, "{release:?}");
    let list = |args: &[&str]| -> Vec<String> {
        let out = std::process::Command::new("bash")
            .arg(crate::actions::shipped::repo().join("tests/check-targets.sh"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let parts = |t: &str| {
        let (arch, system) = t.split_once('-').unwrap();
        (arch.to_string(), system.to_string())
    };
    let covers_the_release = |checked: &[String]| {
        for t in &release {
            let (arch, system) = parts(t);
            assert!(
                checked.iter().any(|c| parts(c).1 == system),
                "no target of {system} is checked: {checked:?}"
            );
            assert!(
                checked.iter().any(|c| parts(c).0 == arch),
                "no {arch} target is checked: {checked:?}"
            );
        }
        assert!(checked.iter().all(|c| release.contains(c)), "{checked:?}");
        assert!(checked.len() < release.len(), "{checked:?}");
    };
    // On its own.
    let checked = list(&["--list"]);
    covers_the_release(&checked);
    // As tests/check.sh runs it: with the static release build's target
    // covered by that build, which is one of the release's targets and is
    // not checked a second time.
    let check_sh = read("tests/check.sh");
    let static_target = check_sh
        .lines()
        .find_map(|l| l.strip_prefix("static_target="))
        .expect("tests/check.sh sets static_target=");
    assert!(
        release.iter().any(|t| t == static_target),
        "{static_target}"
    );
    assert!(
        check_sh.contains("bash tests/check-targets.sh --covered \"$static_target\"")
            && check_sh.contains("cargo build --locked --release --target \"$static_target\""),
        "tests/check.sh builds $static_target and tells check-targets.sh so"
    );
    let mut checked = list(&["--list", "--covered", static_target]);
    assert!(!checked.iter().any(|t| t == static_target), "{checked:?}");
    checked.push(static_target.to_string());
    covers_the_release(&checked);
    let mut all = list(&["--all", "--list"]);
    all.sort();
    let mut want = release.clone();
    want.sort();
    assert_eq!(all, want);
}
