//! The deploy workflow's first job and the trigger's two tokens, against
//! the fake GitHub.
//!
//! - `fleetform authorise` runs the dispatch checks of `plan --dispatch`
//!   and sets the outputs the later jobs key their concurrency groups and
//!   environments on, from the registry, sending nothing to GitHub.
//! - `fleetform trigger` dispatches to the manager with `FLEETFORM_TOKEN`
//!   and sets the customer's commit status with `FLEETFORM_STATUS_TOKEN`
//!   (the job's `GITHUB_TOKEN`): a fine-grained token covers one owner's
//!   repos, so one token cannot do both.

use crate::common;
use crate::world;

use common::{dispatch_key, sign_dispatch_with, signed, stderr, stdout, unix_now};
use serde_json::{json, Value};
use world::{ok, StepFiles, World, ACME, MANAGER};

const GLOBEX: &str = "globex/globex-app";
const INITECH: &str = "initech/tps-reports";

/// A `fleetform-plan` dispatch for `repo`'s main head, unsigned.
fn dispatch_for(w: &World, repo: &str, event_type: &str) -> Value {
    let sha = w.gh.branch_head(repo, "main").unwrap();
    json!({ "event_type": event_type, "client_payload": {
        "v": 1, "customer_repo": repo, "sha": sha, "ref": "refs/heads/main", "pr": null,
        "event": "push", "trigger_run_url": null, "dispatch_id": "d-1", "files": ["infra/variables.yml"]
    }})
}

/// Runs `fleetform authorise` on `d` in the manager repo, counting only
/// its own requests.
fn authorise(w: &mut World, d: &Value) -> (crate::common::Ran, StepFiles) {
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    w.gh.reset_counters();
    let out = common::Run::from(cmd).arg("authorise").output();
    (out, files)
}

fn assert_refused(w: &mut World, d: &Value, expect: &str) {
    let before = w.audit_lines().len();
    let (out, files) = authorise(w, d);
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains(expect),
        "want `{expect}`:\n{}",
        stderr(&out)
    );
    assert!(
        files.outputs().is_empty(),
        "no outputs: {:?}",
        files.outputs()
    );
    assert_eq!(w.gh.request_count(), 0, "{:?}", w.gh.requests());
    let lines = w.audit_lines();
    assert_eq!(lines.len(), before + 1, "{lines:?}");
    assert_eq!(lines[before]["action"], "refusal");
    assert!(lines[before]["detail"]
        .as_str()
        .unwrap()
        .starts_with("authorise: "));
}

#[test]
fn authorise_outputs_the_registered_customer_and_its_environments() {
    let mut w = World::new();
    for event_type in ["fleetform-plan", "fleetform-apply"] {
        let d = signed(&dispatch_for(&w, ACME, event_type));
        let (out, files) = authorise(&mut w, &d);
        ok(&out);
        let o = files.outputs();
        assert_eq!(o["customer"], "acme");
        assert_eq!(o["customer_repo"], ACME);
        assert_eq!(o["event_type"], event_type);
        // fleetform.yml order, as the workflow's `fromJSON` reads it.
        assert_eq!(o["environments"], r#"["staging","production"]"#);
        // No `identity:` in the example: an empty object the templates skip on.
        assert_eq!(o["identity"], "{}");
        // The plan groups' key: a push's signed ref.
        assert_eq!(o["plan_key"], "refs/heads/main");
        // No `secrets:` in the example: no key job runs.
        assert_eq!(o["key_environments"], "{}");
        // The first run of this event: not a duplicate.
        assert_eq!(o["duplicate"], "false");
        assert_eq!(o.len(), 8, "{o:?}");
        assert_eq!(w.gh.request_count(), 0, "{:?}", w.gh.requests());
    }
    // A pull request's dispatch: its plans key on the pull request, so
    // two pull requests of one customer never replace each other's plans.
    w.gh.create_branch(ACME, "feature", "main");
    let pr = w.gh.open_pr(ACME, "feature", "main", "a change");
    let mut d = dispatch_for(&w, ACME, "fleetform-plan");
    d["client_payload"]["pr"] = json!(pr);
    d["client_payload"]["event"] = json!("pull_request");
    d["client_payload"]["ref"] = json!("refs/heads/feature");
    let (out, files) = authorise(&mut w, &signed(&d));
    ok(&out);
    assert_eq!(files.outputs()["plan_key"], format!("pr-{pr}"));

    // A staging-only customer: production is not in the list, so the
    // workflow skips its production jobs instead of failing them.
    let registry = w.fx.read("manager/customers.yml");
    let globex = registry.find("slug: globex").unwrap();
    let line = registry[globex..]
        .find("environments: [staging, production]")
        .unwrap()
        + globex;
    let mut edited = registry.clone();
    edited.replace_range(
        line..line + "environments: [staging, production]".len(),
        "environments: [staging]",
    );
    w.fx.write("manager/customers.yml", &edited);
    let d = signed(&dispatch_for(&w, GLOBEX, "fleetform-plan"));
    let (out, files) = authorise(&mut w, &d);
    ok(&out);
    assert_eq!(files.outputs()["customer"], "globex");
    assert_eq!(files.outputs()["environments"], r#"["staging"]"#);
    w.gh.assert_clean();
}

#[test]
fn authorise_refuses_what_plan_refuses_without_a_request() {
    let mut w = World::new();
    // Unsigned.
    let d = dispatch_for(&w, ACME, "fleetform-plan");
    assert_refused(&mut w, &d, "dispatch not authenticated");
    // Signed with another customer's key.
    let mut d = dispatch_for(&w, ACME, "fleetform-apply");
    sign_dispatch_with(&mut d, &dispatch_key("globex", 1), unix_now());
    assert_refused(&mut w, &d, "does not match `acme`'s dispatch key");
    // Older than an hour.
    let mut d = dispatch_for(&w, ACME, "fleetform-plan");
    sign_dispatch_with(&mut d, &dispatch_key("acme", 1), unix_now() - 7200);
    assert_refused(&mut w, &d, "dispatch not authenticated");
    // Not registered.
    w.gh.add_repo("mallory/infra");
    let mut d = dispatch_for(&w, ACME, "fleetform-plan");
    d["client_payload"]["customer_repo"] = json!("mallory/infra");
    sign_dispatch_with(&mut d, &dispatch_key("acme", 1), unix_now());
    assert_refused(&mut w, &d, "is not a registered customer");
    // Another spelling of a registered repo: the registered one is the
    // concurrency key.
    let mut d = dispatch_for(&w, ACME, "fleetform-plan");
    d["client_payload"]["customer_repo"] = json!("ACME-CORP/acme-infra");
    sign_dispatch_with(&mut d, &dispatch_key("acme", 1), unix_now());
    assert_refused(&mut w, &d, "registered spelling");
    // Revoked, signed with its last key: refused, and its commit marked
    // `failure` (the one write authorise makes, after the signature).
    let mut d = dispatch_for(&w, INITECH, "fleetform-plan");
    sign_dispatch_with(&mut d, &dispatch_key("initech", 1), unix_now());
    w.gh.reset_counters();
    let (out, files) = authorise(&mut w, &d);
    common::assert_code(&out, 3);
    assert!(stderr(&out).contains("was revoked"), "{}", stderr(&out));
    assert!(files.outputs().is_empty());
    let sha = w.gh.branch_head(INITECH, "main").unwrap();
    let st = w.gh.statuses(INITECH, &sha);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].state, "failure");
    assert_eq!(w.gh.request_count(), 1, "{:?}", w.gh.requests());
    // Unsigned, the same revoked repo gets nothing.
    let d = dispatch_for(&w, INITECH, "fleetform-plan");
    assert_refused(&mut w, &d, "not signed");
    assert_eq!(w.gh.statuses(INITECH, &sha).len(), 1);
    // Not a dispatch event at all: a usage error, still no request.
    let (cmd, files) = w.step(MANAGER, "push", &json!({}), &"e".repeat(40));
    w.gh.reset_counters();
    let out = common::Run::from(cmd).arg("authorise").output();
    common::assert_code(&out, 2);
    assert!(files.outputs().is_empty());
    assert_eq!(w.gh.request_count(), 0);
    w.gh.assert_clean();
}

const DISPATCH_TOKEN: &str = "github_pat_dispatchonly000000000000000000";
const STATUS_TOKEN: &str = "ghs_customerjobtoken00000000000000000000";

/// The fake accepts the dispatch token only on the manager repo and the
/// status token only on acme's repo, like a fine-grained PAT of the
/// provider's org and acme's job token.
fn scoped_world() -> World {
    let w = World::new();
    w.gh.add_scoped_token(DISPATCH_TOKEN, &[MANAGER]);
    w.gh.add_scoped_token(STATUS_TOKEN, &[ACME]);
    w
}

fn tokens_by_request(w: &World) -> Vec<(String, String, String)> {
    w.gh.requests()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.token().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_trigger_dispatches_with_one_token_and_sets_the_status_with_the_other() {
    let mut w = scoped_world();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (cmd, files) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    w.gh.reset_counters();
    let out = common::Run::from(cmd)
        .env("FLEETFORM_TOKEN", DISPATCH_TOKEN)
        .env("FLEETFORM_STATUS_TOKEN", STATUS_TOKEN)
        .output();
    ok(&out);
    assert_eq!(files.outputs()["dispatched"], "true");
    let seen = tokens_by_request(&w);
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (method, path, token) in &seen {
        let want = if path.starts_with(&format!("/repos/{ACME}/statuses/")) {
            STATUS_TOKEN
        } else {
            assert!(path.starts_with(&format!("/repos/{MANAGER}/")), "{path}");
            DISPATCH_TOKEN
        };
        assert_eq!(token, want, "{method} {path}");
    }
    assert!(seen
        .iter()
        .any(|(m, p, _)| m == "POST" && p.ends_with("/dispatches")));
    assert_eq!(w.gh.statuses(ACME, &sha).last().unwrap().state, "pending");
    // Both are masked, and shown nowhere else.
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    for t in [DISPATCH_TOKEN, STATUS_TOKEN] {
        let lines: Vec<&str> = printed.lines().filter(|l| l.contains(t)).collect();
        assert_eq!(lines, [format!("::add-mask::{t}")], "{t}");
    }
    w.gh.assert_clean();
}

#[test]
fn without_a_status_token_the_dispatch_token_is_refused_on_the_customer_repo() {
    // What the template did before: one token for both. The fake refuses
    // it on acme's repo as GitHub refuses a token of another owner.
    let mut w = scoped_world();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = common::Run::from(cmd)
        .env("FLEETFORM_TOKEN", DISPATCH_TOKEN)
        .output();
    common::assert_code(&out, 1);
    assert!(w.gh.statuses(ACME, &sha).is_empty());
    let v = w.gh.take_violations();
    assert!(
        v.iter().any(|v| v.path.contains("/statuses/")),
        "the status went out with the dispatch token: {v:?}"
    );
}

#[test]
fn waiting_reads_and_marks_the_status_with_the_status_token() {
    let mut w = scoped_world();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    w.gh.reset_counters();
    let out = common::Run::from(cmd)
        .env("FLEETFORM_TOKEN", DISPATCH_TOKEN)
        .env("FLEETFORM_STATUS_TOKEN", STATUS_TOKEN)
        .env("FLEETFORM_WAIT", "1s")
        .env("FLEETFORM_POLL_BASE_MS", "100")
        .output();
    // The manager never answers here.
    common::assert_code(&out, 1);
    let seen = tokens_by_request(&w);
    let on_acme: Vec<_> = seen
        .iter()
        .filter(|(_, p, _)| p.starts_with(&format!("/repos/{ACME}/")))
        .collect();
    assert!(
        on_acme.iter().any(|(m, _, _)| m == "GET"),
        "polled: {seen:?}"
    );
    for (method, path, token) in on_acme {
        assert_eq!(token, STATUS_TOKEN, "{method} {path}");
    }
    assert_eq!(w.gh.statuses(ACME, &sha).last().unwrap().state, "error");
    w.gh.assert_clean();
}
