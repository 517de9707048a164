//! What the relay requires of a token besides its signature: the audience
//! unique to the provider (the manager repo's address; the old shared
//! `fleetform` refused, in the token and in fleetform.yml) and
//! the workflow that asked for it (`job_workflow_ref`: one of
//! `relay.workflows`, of the token's own repository); and a customer the
//! registry has not revoked.

use serde_json::{json, Value};

use crate::common::stderr;
use crate::relay::serve::verified;
use crate::relay::serve::{dispatch, RelayProc, RelayWorld};
use crate::support::oidc::TRIGGER_WORKFLOW;
use crate::world::{ACME, MANAGER};

/// Claims of a push to acme's main at `sha`, with `key` set to `value`.
fn acme_push(rw: &RelayWorld, sha: &str, key: &str, value: Value) -> Value {
    let mut c = rw
        .issuer
        .claims(ACME, rw.w.gh.repo_id(ACME), "push", "refs/heads/main", sha);
    if value.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = value;
    }
    c
}

/// The relay's answer to a token with `claims`; the answer never holds
/// the token.
fn send(rw: &RelayWorld, relay: &RelayProc, claims: &Value) -> (u16, Value) {
    let token = rw.issuer.mint(claims);
    let (status, answer) = dispatch(relay, &json!({ "token": token }));
    assert!(!answer.to_string().contains(&token[..40]), "{answer}");
    (status, answer)
}

fn refused(answer: &(u16, Value), status: u16, code: &str, says: &str) {
    let (s, a) = answer;
    assert_eq!((*s, a["error"].as_str()), (status, Some(code)), "{a}");
    let message = a["message"].as_str().unwrap_or("");
    assert!(message.contains(says), "{says}: {a}");
}

#[test]
fn only_runs_of_the_trigger_workflow_of_the_tokens_own_repo_may_call() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 21);
    let wf = |v: &str| json!(v);
    let deploy = format!("{ACME}/.github/workflows/deploy.yml@refs/heads/main");
    refused(
        &send(&rw, &relay, &acme_push(&rw, &sha, "job_workflow_ref", wf(&deploy))),
        403,
        "workflow_not_allowed",
        "`.github/workflows/deploy.yml`, which may not call the relay: run the trigger from `.github/workflows/customer-trigger.yml` (the provider lists the allowed workflows in `relay.workflows`",
    );
    // The same path in another repo (a reusable workflow, a fork).
    let reusable = format!("evil/tools/{TRIGGER_WORKFLOW}@refs/heads/main");
    refused(
        &send(
            &rw,
            &relay,
            &acme_push(&rw, &sha, "job_workflow_ref", wf(&reusable)),
        ),
        403,
        "workflow_not_allowed",
        &format!("is not of the repository {ACME}"),
    );
    refused(
        &send(
            &rw,
            &relay,
            &acme_push(&rw, &sha, "job_workflow_ref", Value::Null),
        ),
        403,
        "workflow_not_allowed",
        "carries no `job_workflow_ref`",
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    // The trigger itself, at any ref.
    let tagged = format!("{ACME}/{TRIGGER_WORKFLOW}@refs/tags/v9");
    let (status, answer) = send(
        &rw,
        &relay,
        &acme_push(&rw, &sha, "job_workflow_ref", wf(&tagged)),
    );
    assert!(verified(status, &answer), "{answer}");
}

#[test]
fn the_provider_chooses_the_workflows_that_may_call() {
    let rw = RelayWorld::new();
    rw.w.fx.append(
        "manager/fleetform.yml",
        "  workflows: [.github/workflows/deploy.yml, .github/workflows/infra.yaml]\n",
    );
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 22);
    let of = |path: &str| json!(format!("{ACME}/{path}@refs/heads/main"));
    for path in [
        ".github/workflows/deploy.yml",
        ".github/workflows/infra.yaml",
    ] {
        let (status, answer) = send(
            &rw,
            &relay,
            &acme_push(&rw, &sha, "job_workflow_ref", of(path)),
        );
        assert!(verified(status, &answer), "{path}: {answer}");
    }
    refused(
        &send(
            &rw,
            &relay,
            &acme_push(&rw, &sha, "job_workflow_ref", of(TRIGGER_WORKFLOW)),
        ),
        403,
        "workflow_not_allowed",
        "`.github/workflows/deploy.yml` or `.github/workflows/infra.yaml`",
    );
    // A path that is no workflow file is refused when the relay starts.
    let config = rw.w.fx.read("manager/fleetform.yml");
    let bad = config.replace(".github/workflows/infra.yaml", "infra.yaml@main");
    rw.w.fx.write("manager/fleetform.yml", &bad);
    let out = crate::common::Run::from(rw.w.fx.fleetform())
        .args(["relay", "serve"])
        .output();
    assert_ne!(out.status.code(), Some(0));
    let said = stderr(&out);
    assert!(
        said.contains("fleetform.yml:")
            && said.contains("directly in .github/workflows/, ending .yml or .yaml; no ref"),
        "{said}"
    );
}

#[test]
fn the_default_audience_is_the_manager_repos_address_and_fleetform_is_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 23);
    let wanted = format!("https://github.com/{MANAGER}");
    refused(
        &send(&rw, &relay, &acme_push(&rw, &sha, "aud", json!("fleetform"))),
        401,
        "bad_token",
        &format!("audience is not `{wanted}`: request the OIDC token with that audience (the trigger's `relay-audience` input"),
    );
    let (status, answer) = send(&rw, &relay, &acme_push(&rw, &sha, "aud", json!(wanted)));
    assert!(verified(status, &answer), "{answer}");
    let log = std::fs::read_to_string(&relay.stderr_log).unwrap();
    assert!(!log.contains("relay.audience"), "{log}");
}

#[test]
fn an_explicit_fleetform_audience_is_refused_naming_the_line_and_the_fix() {
    let rw = RelayWorld::new();
    rw.w.fx
        .append("manager/fleetform.yml", "  audience: fleetform\n");
    let line = rw.w.fx.read("manager/fleetform.yml").lines().count();
    let wanted = format!("https://github.com/{MANAGER}");
    // The relay refuses to start, and so does anything reading
    // fleetform.yml (`validate` here): the file and line of the key, why,
    // and the value to move to.
    for args in [&["relay", "serve"][..], &["validate"][..]] {
        let out = crate::common::Run::from(rw.w.fx.fleetform())
            .args(args)
            .output();
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let said = stderr(&out);
        assert!(
            said.contains(&format!("fleetform.yml:{line}:"))
                && said.contains("`audience: fleetform` is no longer accepted")
                && said.contains("a token minted for one provider's relay was good at another's")
                && said.contains(&format!("Remove the key to use the default `{wanted}`"))
                && said.contains("`relay-audience`"),
            "{args:?}: {said}"
        );
        assert!(!said.contains("relay listening"), "{said}");
    }
    // Without the key the relay starts and takes the default audience.
    let config = rw.w.fx.read("manager/fleetform.yml");
    rw.w.fx.write(
        "manager/fleetform.yml",
        &config.replace("  audience: fleetform\n", ""),
    );
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 24);
    let (status, answer) = send(&rw, &relay, &acme_push(&rw, &sha, "aud", json!(wanted)));
    assert!(verified(status, &answer), "{answer}");
}

/// A revoked customer, registered with its repository id (so the refusal
/// is the revocation, not a missing id): refused, told to contact its
/// provider, nothing dispatched and no token minted for its repo.
#[test]
fn a_revoked_customer_is_refused() {
    let rw = RelayWorld::new();
    let initech = "initech/tps-reports";
    rw.w.gh.add_repo(initech);
    let registry = rw.w.fx.read("manager/customers.yml").replace(
        &format!("    repo: {initech}\n"),
        &format!(
            "    repo: {initech}\n    repo_id: {}\n",
            rw.w.gh.repo_id(initech)
        ),
    );
    assert!(registry.contains("status: revoked"), "{registry}");
    rw.w.fx.write("manager/customers.yml", &registry);
    rw.w.gh
        .commit(MANAGER, "main", &[("customers.yml", &registry)]);
    let relay = rw.start(4);
    let sha = rw.w.gh.commit(
        initech,
        "main",
        &[("infra/variables.yml", "project_name: x\n")],
    );
    let token = rw.push_token(initech, "main", &sha);
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("revoked")),
        "{answer}"
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("customer `initech` is revoked"),
        "{answer}"
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    let initech = initech.to_string();
    assert!(
        rw.w.gh
            .minted_tokens()
            .iter()
            .all(|t| !t.repos.contains(&initech)),
        "{:?}",
        rw.w.gh.minted_tokens()
    );
}
