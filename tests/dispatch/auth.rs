//! Who may dispatch for whom. Every `repository_dispatch` must carry a
//! signature made with the dispatch key of the customer it names (derived
//! from the manager's secret, rotated through the registry). Anything else
//! is refused before the manager sends a single request: exit 3, one audit
//! line, nothing written to either repo.

use crate::common;
use crate::world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::{dispatch_key, sign_dispatch_with, signed, stderr, stdout, unix_now};
use serde_json::{json, Value};
use world::{ok, World, ACME, MANAGER};

const GLOBEX: &str = "globex/globex-app";

/// A named change to a dispatch.
type Change<'a> = (&'static str, Box<dyn Fn(&mut Value) + 'a>);

/// Every file under the manager's results folder, with its modification time.
fn plan_outputs(w: &World) -> BTreeMap<PathBuf, SystemTime> {
    fn walk(dir: &Path, found: &mut BTreeMap<PathBuf, SystemTime>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, found);
            } else {
                found.insert(p, e.metadata().unwrap().modified().unwrap());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(&w.fx.manager().join(".fleetform/out"), &mut found);
    found
}

/// Runs the staging plan for `d` and checks it was refused the way every
/// unauthenticated dispatch must be: exit 3, a message containing
/// `expect`, no request at all to GitHub (so no write), no plan output and
/// exactly one new audit line, a refusal.
fn assert_refused(w: &mut World, d: &Value, expect: &str) {
    let before = w.audit_lines().len();
    let outputs_before = plan_outputs(w);
    w.gh.reset_counters();
    let (out, files) = w.plan_event(d, "staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains(expect),
        "want `{expect}`:\n{}",
        stderr(&out)
    );
    assert_eq!(w.gh.write_count(), 0, "no write for a refused dispatch");
    assert_eq!(
        w.gh.request_count(),
        0,
        "not even a read: {:?}",
        w.gh.requests()
    );
    assert_eq!(plan_outputs(w), outputs_before, "nothing planned");
    assert!(files.outputs().is_empty(), "no step outputs");
    // The job summary says it was refused, why, and what next (#52).
    let summary = files.summary();
    assert!(
        summary.starts_with("> [!WARNING]\n> **fleetform plan")
            && summary.contains(": refused.**")
            && summary.contains("**Next step:**"),
        "{summary}"
    );
    let lines = w.audit_lines();
    assert_eq!(lines.len(), before + 1, "one audit line: {lines:?}");
    let last = &lines[before];
    assert_eq!(last["action"], "refusal");
    assert_eq!(last["result"], "refused");
    assert!(last["detail"].as_str().unwrap().contains(expect), "{last}");
    // Keyed by the registry's customer, not its repo (issue #52): the
    // audit report counts it with the customer's other records.
    if !last["customer"].is_null()
        && d["client_payload"]["customer_repo"]
            .as_str()
            .is_some_and(|r| r.eq_ignore_ascii_case(ACME))
    {
        assert_eq!(last["customer"], "acme", "{last}");
    }
}

/// A pull request of acme's, triggered by acme's own trigger; returns the
/// dispatch it sent.
fn acme_pr_dispatch(w: &mut World) -> (Value, String, u64) {
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let sig = d["client_payload"]["sig"].as_str().unwrap();
    assert!(sig.starts_with("v1.") && sig.contains(".1."), "{sig}");
    assert_eq!(d["client_payload"].as_object().unwrap().len(), 10);
    (d, sha, pr)
}

#[test]
fn a_dispatch_signed_by_another_customer_is_refused() {
    let mut w = World::new();
    // globex's key (and any token that can dispatch) naming acme's repo.
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = common::Run::from(cmd)
        .env("FLEETFORM_DISPATCH_KEY", dispatch_key("globex", 1))
        .output();
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    let statuses_before = w.gh.statuses(ACME, &sha).len();
    assert_refused(
        &mut w,
        &d,
        "the signature does not match `acme`'s dispatch key",
    );
    assert_eq!(w.gh.statuses(ACME, &sha).len(), statuses_before);
    assert!(w.gh.comments(ACME, pr).is_empty());
    let last = w.audit_lines().pop().unwrap();
    assert_eq!(
        last["customer"], "acme",
        "the registry's slug, not the repo"
    );
    assert_eq!(last["sha"], sha.as_str());

    // acme's own key naming globex's repo.
    let globex_sha = w.gh.branch_head(GLOBEX, "main").unwrap();
    let mut d = json!({ "event_type": "fleetform-plan", "client_payload": {
        "v": 1, "customer_repo": GLOBEX, "sha": globex_sha, "ref": "refs/heads/main", "pr": null,
        "event": "push", "trigger_run_url": null, "dispatch_id": "d-x", "files": ["infra/variables.yml"]
    }});
    sign_dispatch_with(&mut d, &dispatch_key("acme", 1), unix_now());
    assert_refused(&mut w, &d, "does not match `globex`'s dispatch key");
    assert!(w.gh.statuses(GLOBEX, &globex_sha).is_empty());
    w.gh.assert_clean();
}

#[test]
fn a_signed_dispatch_replayed_for_anything_else_is_refused() {
    let mut w = World::new();
    let (d, sha, pr) = acme_pr_dispatch(&mut w);
    let other_sha = w.gh.branch_head(ACME, "main").unwrap();
    assert_ne!(other_sha, sha);
    let changes: Vec<Change> = vec![
        (
            "sha",
            Box::new(|d| d["client_payload"]["sha"] = json!(other_sha)),
        ),
        (
            "pr",
            Box::new(|d| d["client_payload"]["pr"] = json!(pr + 1)),
        ),
        (
            "no pr",
            Box::new(|d| d["client_payload"]["pr"] = Value::Null),
        ),
        (
            "event type",
            Box::new(|d| d["event_type"] = json!("fleetform-apply")),
        ),
        (
            "ref",
            Box::new(|d| d["client_payload"]["ref"] = json!("refs/heads/main")),
        ),
        (
            "event",
            Box::new(|d| d["client_payload"]["event"] = json!("push")),
        ),
        (
            "files",
            Box::new(|d| {
                d["client_payload"]["files"] =
                    json!(["infra/variables.yml", "infra/variables.staging.yml"])
            }),
        ),
        (
            "dispatch id",
            Box::new(|d| d["client_payload"]["dispatch_id"] = json!("another")),
        ),
        (
            "run url",
            Box::new(|d| {
                d["client_payload"]["trigger_run_url"] =
                    json!("https://github.com/acme-corp/acme-infra/actions/runs/9")
            }),
        ),
    ];
    for (what, change) in &changes {
        let mut replay = d.clone();
        change(&mut replay);
        assert_ne!(replay, d, "{what}");
        assert_refused(&mut w, &replay, "the signature does not match");
    }
    assert!(w.gh.comments(ACME, pr).is_empty());
    // The dispatch as signed is accepted: the refusals were the changes.
    let (out, files) = w.plan_event(&d, "staging");
    ok(&out);
    assert_eq!(files.outputs()["customer"], "acme");
    assert_eq!(w.gh.comments(ACME, pr).len(), 1);
    w.gh.assert_clean();
}

#[test]
fn old_future_missing_and_malformed_signatures_are_refused() {
    let mut w = World::new();
    let (d, _, _) = acme_pr_dispatch(&mut w);
    let key = dispatch_key("acme", 1);
    let at = |time: u64| {
        let mut d = d.clone();
        sign_dispatch_with(&mut d, &key, time);
        d
    };
    let now = unix_now();
    assert_refused(&mut w, &at(now - 2 * 3600), "more than the 3600s allowed");
    assert_refused(
        &mut w,
        &at(now - 2 * 3600),
        "run the customer's trigger again",
    );
    assert_refused(&mut w, &at(now + 3600), "in the future");
    let mut unsigned = d.clone();
    unsigned["client_payload"]
        .as_object_mut()
        .unwrap()
        .remove("sig");
    assert_refused(&mut w, &unsigned, "the dispatch is not signed");
    let mut null = d.clone();
    null["client_payload"]["sig"] = Value::Null;
    assert_refused(&mut w, &null, "the dispatch is not signed");
    let mut malformed = d.clone();
    malformed["client_payload"]["sig"] = json!("v1.123.1.deadbeef");
    assert_refused(&mut w, &malformed, "`sig` must be v1.<unix-seconds>");
    // A key of a generation the registry never issued.
    let mut d2 = d.clone();
    sign_dispatch_with(&mut d2, &dispatch_key("acme", 2), now);
    assert_refused(
        &mut w,
        &d2,
        "signed with key generation 2, but `acme`'s dispatch key is at generation 1",
    );
    // Within the hour, signed a little in the past, it is accepted.
    let (out, _) = w.plan_event(&at(now - 600), "staging");
    ok(&out);
}

#[test]
fn without_the_manager_secret_every_dispatch_is_refused_with_a_hint() {
    let mut w = World::new();
    let (d, _, _) = acme_pr_dispatch(&mut w);
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    for (secret, expect) in [
        (None, "FLEETFORM_DISPATCH_SECRET is not set"),
        (Some(""), "FLEETFORM_DISPATCH_SECRET is not set"),
        (Some("too-short"), "is shorter than 32 characters"),
    ] {
        for command in ["plan", "apply"] {
            w.gh.reset_counters();
            let (mut cmd, _) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
            match secret {
                None => cmd.env_remove("FLEETFORM_DISPATCH_SECRET"),
                Some(s) => cmd.env("FLEETFORM_DISPATCH_SECRET", s),
            };
            cmd.args([command, "--dispatch", "--env", "staging"]);
            if command == "apply" {
                // An apply dispatch, so that the signature is what is checked.
                let mut e = event.clone();
                e["action"] = json!("fleetform-apply");
                let path = w.scratch.path().join("apply-event.json");
                std::fs::write(&path, serde_json::to_vec(&e).unwrap()).unwrap();
                cmd.env("GITHUB_EVENT_PATH", &path).args([
                    "--plan-dir",
                    ".fleetform/out/acme/staging",
                    "--plan-sha256",
                    &"0".repeat(64),
                ]);
            }
            let out = common::Run::from(cmd).output();
            common::assert_code_for(format_args!("{command}"), &out, 3);
            let err = stderr(&out);
            assert!(err.contains(expect), "{command}: {err}");
            if secret.is_none() {
                // What to configure, and where.
                assert!(
                    err.contains("`<env>-plan` and `<env>-apply` environments")
                        && err
                            .contains("dispatch-secret: ${{ secrets.FLEETFORM_DISPATCH_SECRET }}"),
                    "{err}"
                );
            }
            assert_eq!(w.gh.request_count(), 0, "{command}: no request");
        }
    }
    let refusals = w
        .audit_lines()
        .iter()
        .filter(|l| l["action"] == "refusal")
        .count();
    assert_eq!(refusals, 6, "one audit line per refused run");
}

#[test]
fn rotating_a_key_voids_the_old_one() {
    let mut w = World::new();
    let registry_before = w.fx.read("manager/customers.yml");
    let out = common::Run::from(w.fx.fleetform())
        .args(["customers", "rotate-key", "acme"])
        .output();
    ok(&out);
    let new_key = stdout(&out).trim().to_string();
    assert_eq!(new_key, dispatch_key("acme", 2), "the key alone on stdout");
    assert!(
        stderr(&out).contains("FLEETFORM_DISPATCH_KEY")
            && stderr(&out).contains("generation 1 are refused"),
        "{}",
        stderr(&out)
    );
    // The registry gained one line, after `added:`; comments and order kept.
    let registry = w.fx.read("manager/customers.yml");
    let added: Vec<&str> = registry
        .lines()
        .filter(|l| !registry_before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(added, ["    key_generation: 2"], "{registry}");
    let line = registry
        .lines()
        .position(|l| l == "    key_generation: 2")
        .unwrap();
    assert!(registry
        .lines()
        .nth(line - 1)
        .unwrap()
        .trim_start()
        .starts_with("added:"));
    assert_eq!(
        registry.lines().count(),
        registry_before.lines().count() + 1
    );
    // Audited without the key.
    let audit = w.fx.read("manager/.fleetform/audit.jsonl");
    assert!(audit.contains("\"result\":\"key-rotated\""), "{audit}");
    assert!(!audit.contains(new_key.rsplit('.').next().unwrap()));

    // A trigger still holding the old key is refused ...
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (out, _) = w.trigger_pr(ACME, pr, "feature", &sha);
    ok(&out);
    let stale = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_refused(
        &mut w,
        &stale,
        "signed with key generation 1, but `acme`'s dispatch key is at generation 2",
    );
    // ... and one holding the new key is not.
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    ok(&common::Run::from(cmd)
        .env("FLEETFORM_DISPATCH_KEY", &new_key)
        .output());
    let (out, _) = w.plan_latest("staging");
    ok(&out);
    assert_eq!(w.gh.comments(ACME, pr).len(), 1);

    // A second rotation edits the number in place; dispatch-key and show
    // follow the registry.
    let out = common::Run::from(w.fx.fleetform())
        .args(["customers", "rotate-key", "acme"])
        .output();
    ok(&out);
    let registry = w.fx.read("manager/customers.yml");
    assert!(
        registry.contains("    key_generation: 3\n") && !registry.contains("key_generation: 2")
    );
    assert_eq!(
        registry.lines().count(),
        registry_before.lines().count() + 1
    );
    let out = common::Run::from(w.fx.fleetform())
        .args(["customers", "dispatch-key", "acme"])
        .output();
    ok(&out);
    assert_eq!(stdout(&out).trim(), dispatch_key("acme", 3));
    let out = common::Run::from(w.fx.fleetform())
        .args(["customers", "show", "acme"])
        .output();
    ok(&out);
    assert!(stdout(&out).contains("generation 3"), "{}", stdout(&out));
    assert_refused(&mut w, &signed(&stale), "at generation 3");
}

#[test]
fn keys_are_issued_only_for_active_customers_with_a_repo_and_the_secret() {
    let w = World::new();
    let before = w.fx.read("manager/customers.yml");
    // Without the secret, `add` stops before writing anything.
    let add = |with_secret: bool| {
        let mut cmd = common::Run::from(w.fx.fleetform());
        if !with_secret {
            cmd = cmd.env_remove("FLEETFORM_DISPATCH_SECRET");
        }
        cmd.args(common::ADD_HOOLI).output()
    };
    let out = add(false);
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("FLEETFORM_DISPATCH_SECRET is not set: `customers add` derives"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.fx.read("manager/customers.yml"),
        before,
        "nothing written"
    );
    // With it, the key is issued (stdout) and where it goes is said (stderr).
    let out = add(true);
    ok(&out);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("added `hooli` to "), "{text}");
    assert_eq!(lines[1], dispatch_key("hooli", 1));
    assert!(stderr(&out)
        .contains("hooli/platform as the Actions repository secret FLEETFORM_DISPATCH_KEY"));
    assert!(!w
        .fx
        .read("manager/customers.yml")
        .contains("key_generation"));
    let audit = w.fx.read("manager/.fleetform/audit.jsonl");
    assert!(!audit.contains(dispatch_key("hooli", 1).rsplit('.').next().unwrap()));
    // Under Actions the key is masked before it is printed.
    let out = common::Run::from(w.fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .args(["customers", "dispatch-key", "hooli"])
        .output();
    ok(&out);
    let key = dispatch_key("hooli", 1);
    let text = stdout(&out);
    let mask = text.find(&format!("::add-mask::{key}")).expect("masked");
    assert!(mask < text.rfind(&key).unwrap());
    // No key for revoked, unknown or local-only customers, nor without the secret.
    for (args, expect) in [
        (vec!["dispatch-key", "initech"], "is revoked"),
        (vec!["rotate-key", "initech"], "is revoked"),
        (vec!["dispatch-key", "nobody"], "is not registered"),
    ] {
        let out = common::Run::from(w.fx.fleetform())
            .arg("customers")
            .args(&args)
            .output();
        common::assert_code_for(format_args!("{args:?}"), &out, 2);
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
    let out = common::Run::from(w.fx.fleetform())
        .env_remove("FLEETFORM_DISPATCH_SECRET")
        .args(["customers", "rotate-key", "acme"])
        .output();
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("FLEETFORM_DISPATCH_SECRET is not set"));
    // The instructions name the secret and the workflow passes it.
    let out = common::Run::from(w.fx.fleetform())
        .args([
            "customers",
            "instructions",
            "acme",
            "--manager-repo",
            MANAGER,
        ])
        .output();
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("| secret | `FLEETFORM_DISPATCH_KEY` |"),
        "{text}"
    );
    assert!(text.contains("dispatch-key: ${{ secrets.FLEETFORM_DISPATCH_KEY }}"));
    assert!(
        !text.contains(&dispatch_key("acme", 1)),
        "never the key itself"
    );
}

#[test]
fn the_trigger_needs_a_well_formed_key_before_any_request() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    for (key, expect) in [
        (None, "FLEETFORM_DISPATCH_KEY is not set"),
        (
            Some("ghp_not_a_dispatch_key"),
            "is not a fleetform dispatch key",
        ),
    ] {
        w.gh.reset_counters();
        let (mut cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
        match key {
            None => cmd.env_remove("FLEETFORM_DISPATCH_KEY"),
            Some(k) => cmd.env("FLEETFORM_DISPATCH_KEY", k),
        };
        let out = common::Run::from(cmd).output();
        common::assert_code(&out, 2);
        assert!(stderr(&out).contains(expect), "{}", stderr(&out));
        if key.is_none() {
            assert!(
                stderr(&out).contains("dispatch-key: ${{ secrets.FLEETFORM_DISPATCH_KEY }}"),
                "{}",
                stderr(&out)
            );
        }
        assert_eq!(w.gh.request_count(), 0);
    }
    assert!(w.gh.dispatches(MANAGER).is_empty());
    // A pasted trailing newline is fine.
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    ok(&common::Run::from(cmd)
        .env(
            "FLEETFORM_DISPATCH_KEY",
            format!("{}\n", dispatch_key("acme", 1)),
        )
        .output());
    assert_eq!(w.gh.dispatches(MANAGER).len(), 1);
}

/// The apply job runs after its plan job, possibly days later (environment
/// approval), with the same event: it checks the signature against the
/// customer's current key and the event type, and allows GitHub's 30 days
/// of approval wait instead of the plan's hour.
#[test]
fn the_apply_checks_the_signature_against_the_current_key() {
    let mut w = World::new();
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let sha = w.gh.merge_pr(ACME, pr);
    let (out, _) = w.trigger_push(
        ACME,
        &sha,
        &format!("Merge pull request #{pr} from acme-corp/feature"),
    );
    ok(&out);
    let d = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["event_type"], "fleetform-apply");
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let state =
        w.fx.manager()
            .join(".fleetform/state/acme/staging/terraform.tfstate");

    let apply = |w: &mut World, d: &Value| {
        let (cmd, _) = w.apply_step(d, "staging", &digest);
        w.gh.reset_counters();
        common::Run::from(cmd).output()
    };
    let refused = |w: &mut World, d: &Value, expect: &str| {
        let before = w.audit_lines().len();
        let out = apply(w, d);
        common::assert_code(&out, 3);
        assert!(stderr(&out).contains(expect), "{expect}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was applied"),
            "{}",
            stderr(&out)
        );
        assert_eq!(w.gh.request_count(), 0, "no request before the check");
        assert_eq!(w.audit_lines().len(), before + 1);
        assert!(!state.exists(), "nothing applied");
    };
    let now = unix_now();
    let day = 24 * 3600;
    let resigned = |key: &str, time: u64| {
        let mut d = d.clone();
        sign_dispatch_with(&mut d, key, time);
        d
    };
    refused(
        &mut w,
        &resigned(&dispatch_key("acme", 1), now - 31 * day),
        "more than the 2592000s allowed",
    );
    refused(
        &mut w,
        &resigned(&dispatch_key("acme", 1), now + 3600),
        "in the future",
    );
    refused(
        &mut w,
        &resigned(&dispatch_key("globex", 1), now),
        "does not match `acme`'s dispatch key",
    );
    let mut no_sig = d.clone();
    no_sig["client_payload"]
        .as_object_mut()
        .unwrap()
        .remove("sig");
    refused(&mut w, &no_sig, "not signed");
    // A rotation after the plan voids the pending apply.
    ok(&common::Run::from(w.fx.fleetform())
        .args(["customers", "rotate-key", "acme"])
        .output());
    refused(&mut w, &d, "at generation 2");
    // Signed with the current key two days ago (an approval that took two
    // days): applied.
    let out = apply(&mut w, &resigned(&dispatch_key("acme", 2), now - 2 * day));
    ok(&out);
    assert!(state.is_file());
    w.gh.assert_clean();
}
