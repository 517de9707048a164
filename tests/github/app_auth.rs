//! GitHub App authentication. With the customer App's
//! `FLEETFORM_CUSTOMER_APP_ID` and `FLEETFORM_CUSTOMER_APP_PRIVATE_KEY`
//! (and no PAT), a dispatched job signs a JWT,
//! finds the App's installation on the customer's repository and works
//! with an installation token restricted to that one repository and the
//! permissions the command needs. The fake GitHub verifies the JWT with
//! the App's public key, lets it call only the App's endpoints, and
//! refuses the installation token anywhere but the repositories it was
//! minted for: a job for acme cannot touch globex, although the App is
//! installed on both.

use crate::common;
use crate::world;

use std::process::Command;

use serde_json::json;

use common::{stderr, stdout};
use world::{ok, World, ACME, MANAGER};

const APP_ID: u64 = 4242;
const GLOBEX: &str = "globex/globex-app";

fn pem() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap()
}

fn pr_dispatch(w: &World, event_type: &str) -> (serde_json::Value, u64) {
    let sha = w.change_acme("feature", 5);
    let pr = w.gh.open_pr(ACME, "feature", "main", "five");
    let d = common::signed(&json!({
        "event_type": event_type,
        "client_payload": {
            "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/feature",
            "pr": pr, "event": "pull_request", "trigger_run_url": null,
            "dispatch_id": "d-app", "files": ["infra/variables.yml"]
        }
    }));
    (d, pr)
}

/// The manager's plan step with the App's settings instead of a PAT.
fn plan_as_app(
    w: &mut World,
    d: &serde_json::Value,
    pem: &str,
) -> (crate::common::Ran, world::StepFiles) {
    plan_as_app_with(w, d, pem, &[])
}

/// [`plan_as_app`] with more environment variables.
fn plan_as_app_with(
    w: &mut World,
    d: &serde_json::Value,
    pem: &str,
    env: &[(&str, &std::path::Path)],
) -> (crate::common::Ran, world::StepFiles) {
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let mut run = common::Run::from(cmd);
    for (k, v) in env {
        run = run.env(k, v);
    }
    let out = run
        .env_remove("FLEETFORM_TOKEN")
        .env("FLEETFORM_CUSTOMER_APP_ID", APP_ID.to_string())
        .env("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem)
        .args(["plan", "--dispatch", "--env", "staging"])
        .output();
    (out, files)
}

#[test]
fn a_job_gets_a_token_for_its_customer_only() {
    let mut w = World::new();
    w.gh.register_app(APP_ID, &pem());
    // One installation covering both customers: the restriction is
    // fleetform's request, not the installation's reach.
    w.gh.install_app(APP_ID, "customers-org", &[ACME, GLOBEX]);
    let (d, pr) = pr_dispatch(&w, "fleetform-plan");
    w.gh.reset_counters();
    let (out, files) = plan_as_app(&mut w, &d, &pem());
    ok(&out);
    assert!(w.gh.violations().is_empty(), "{:?}", w.gh.violations());

    // Exactly one token, for acme's repository, with the plan's permissions.
    let minted = w.gh.minted_tokens();
    assert_eq!(minted.len(), 1, "{minted:?}");
    let t = &minted[0];
    assert_eq!(t.repos, [ACME.to_ascii_lowercase()]);
    assert_eq!(
        t.permissions,
        json!({ "contents": "read", "statuses": "write", "pull_requests": "write" })
    );
    // The JWT called the App's endpoints; everything else carried the
    // installation token.
    let requests = w.gh.requests();
    let (app_calls, rest): (Vec<_>, Vec<_>) = requests
        .iter()
        .partition(|r| r.path.starts_with("/app/") || r.path.ends_with("/installation"));
    assert_eq!(app_calls.len(), 2, "{app_calls:?}");
    // Every request, the App's token exchange included, names fleetform
    // (GitHub asks integrations to identify themselves).
    let agent = format!("fleetform/{}", env!("CARGO_PKG_VERSION"));
    let agents: Vec<Option<&str>> = requests
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
                .map(|(_, v)| v.as_str())
        })
        .collect();
    assert!(
        agents.iter().all(|a| *a == Some(agent.as_str())),
        "{agents:?}"
    );
    assert!(app_calls
        .iter()
        .all(|r| r.token().is_some_and(|t| t.starts_with("eyJ"))));
    assert!(!rest.is_empty());
    assert!(
        rest.iter().all(|r| r.token() == Some(t.token.as_str())),
        "{rest:?}"
    );
    assert!(
        rest.iter()
            .all(|r| r.path.starts_with(&format!("/repos/{ACME}/"))),
        "{rest:?}"
    );
    assert!(w
        .gh
        .comments(ACME, pr)
        .iter()
        .any(|c| c.body.contains("fleetform plan")));

    // Nothing shows the key or a token, except the lines that mask them.
    let shown = format!(
        "{}{}{}{}",
        stdout(&out),
        stderr(&out),
        std::fs::read_to_string(&files.output).unwrap(),
        files.summary()
    );
    let unmasked: String = shown
        .lines()
        .filter(|l| !l.trim_start().starts_with("::add-mask::"))
        .collect();
    assert!(
        !unmasked.contains(&t.token),
        "the installation token leaked"
    );
    assert!(!unmasked.contains("eyJ"), "a JWT leaked");
    assert!(!unmasked.contains("PRIVATE KEY"), "the key leaked");
    assert!(
        shown.contains(&format!("::add-mask::{}", t.token)),
        "the token is masked"
    );

    // The token itself is refused for globex.
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["-H", &format!("Authorization: Bearer {}", t.token)])
        .args(["-H", "Accept: application/vnd.github+json"])
        .args(["-H", "X-GitHub-Api-Version: 2022-11-28"])
        .arg(format!(
            "{}/repos/{GLOBEX}/contents/infra/variables.yml",
            w.gh.api_url()
        ))
        .output()
        .expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "403");
    let refused = w.gh.take_violations();
    assert_eq!(refused.len(), 1, "{refused:?}");
}

/// GitHub's installation tokens expire an hour after they are minted, and
/// a job may outlast one (an apply of more than an hour). Here the fake's
/// tokens last 4 s and the plan's Terraform takes 6 s: the job starts with
/// its first token, renews it before the requests after the plan (the
/// same repository and permissions), masks every new one, and no request
/// carries an expired token (the fake would answer 401 and record it).
/// Without the renewal the comment is refused.
#[test]
fn a_job_that_outlasts_its_installation_token_renews_it_first() {
    let mut w = World::new();
    w.gh.register_app(APP_ID, &pem());
    w.gh.install_app(APP_ID, "customers-org", &[ACME]);
    w.gh.set_installation_token_life(4);
    let (d, pr) = pr_dispatch(&w, "fleetform-plan");
    w.gh.reset_counters();
    let (terraform, _) =
        common::recording_terraform(&w.fx, r#"if [ "$1" = plan ]; then sleep 6; fi; echo "$1""#);
    let (out, files) = plan_as_app_with(&mut w, &d, &pem(), &[("FLEETFORM_TERRAFORM", &terraform)]);
    ok(&out);
    assert!(w.gh.violations().is_empty(), "{:?}", w.gh.violations());

    // At least one renewal (the first token cannot outlive the plan; a
    // busy machine may renew once more), each token for acme only with
    // the plan's permissions; no request carried an expired one (the fake
    // records that as a violation, checked above).
    let minted = w.gh.minted_tokens();
    assert!(minted.len() >= 2, "{minted:?}");
    for t in &minted {
        assert_eq!(t.repos, [ACME.to_ascii_lowercase()]);
        assert_eq!(
            t.permissions,
            json!({ "contents": "read", "statuses": "write", "pull_requests": "write" })
        );
    }
    let used: Vec<(String, String, String)> =
        w.gh.requests()
            .iter()
            .filter(|r| r.path.starts_with("/repos/") && !r.path.ends_with("/installation"))
            .map(|r| {
                let token = r.token().unwrap_or_default().to_string();
                (r.method.clone(), r.path.clone(), token)
            })
            .collect();
    assert!(
        used.iter()
            .all(|(_, _, t)| minted.iter().any(|m| m.token == *t)),
        "{used:?}"
    );
    assert_eq!(used[0].2, minted[0].token, "{used:?}");
    let last = &used.last().expect("requests after the plan").2;
    assert_ne!(
        *last, minted[0].token,
        "the first token outlived the plan: {used:?}"
    );
    assert!(w
        .gh
        .comments(ACME, pr)
        .iter()
        .any(|c| c.body.contains("fleetform plan")));
    let shown = format!("{}{}", stderr(&out), files.summary());
    for t in &minted {
        assert!(
            shown.contains(&format!("::add-mask::{}", t.token)),
            "{} is not masked",
            t.token
        );
    }
}

#[test]
fn an_app_that_is_not_installed_or_a_bad_key_is_a_clear_error() {
    let mut w = World::new();
    w.gh.register_app(APP_ID, &pem());
    w.gh.install_app(APP_ID, "globex", &[GLOBEX]);
    let (d, _) = pr_dispatch(&w, "fleetform-plan");
    let (out, _) = plan_as_app(&mut w, &d, &pem());
    common::assert_fails(&out);
    let err = stderr(&out);
    assert!(
        err.contains("/installation") && err.contains("404"),
        "{err}"
    );
    assert!(w.gh.minted_tokens().is_empty());

    let broken = pem().replace("MII", "MIJ");
    let (out, _) = plan_as_app(&mut w, &d, &broken);
    common::assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY is not an RSA private key"),
        "{err}"
    );
    assert!(!err.contains("MIJ"), "the key is never quoted: {err}");

    // A key of another App: GitHub refuses the JWT.
    let other = String::from_utf8(
        Command::new("openssl")
            .args(["genrsa", "-traditional", "2048"])
            .output()
            .expect("openssl is installed (apt-get install openssl)")
            .stdout,
    )
    .unwrap();
    let (out, _) = plan_as_app(&mut w, &d, &other);
    common::assert_fails(&out);
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let refused = w.gh.take_violations();
    assert!(
        refused.len() == 1 && format!("{refused:?}").contains("does not verify"),
        "{refused:?}"
    );
}

/// A pull request's dispatch to the manager run as `args` with the
/// customer App (no PAT) and `env`: it must send no request the strict
/// fake refuses, succeed, and mint one token, whose permissions it
/// returns.
fn pull_request_step_as_app(args: &[&str], env: &[(&str, String)]) -> serde_json::Value {
    let mut w = World::new();
    w.gh.register_app(APP_ID, &pem());
    w.gh.install_app(APP_ID, "customers-org", &[ACME, GLOBEX]);
    let (d, _pr) = pr_dispatch(&w, "fleetform-plan");
    w.gh.reset_counters();
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, _files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let mut run = common::Run::from(cmd)
        .env_remove("FLEETFORM_TOKEN")
        .env("FLEETFORM_CUSTOMER_APP_ID", APP_ID.to_string())
        .env("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem());
    for (k, v) in env {
        run = run.env(k, v);
    }
    let out = run.args(args).output();
    let violations = w.gh.take_violations();
    assert!(violations.is_empty(), "{violations:#?}\n{}", stderr(&out));
    ok(&out);
    let minted = w.gh.minted_tokens();
    assert_eq!(minted.len(), 1, "{minted:?}");
    minted[0].permissions.clone()
}

/// `authorise` of a pull request's dispatch with the customer App: it
/// reads the pull request (its head must still be the dispatched branch),
/// so its installation token must hold `pull_requests: read` besides the
/// commit status it may write. On github.com a `statuses: write` token
/// reading the pull request is answered 403 and every later job of the
/// run is skipped: the customer's PR gets no comment and no status.
#[test]
fn authorise_of_a_pull_request_reads_it_with_a_token_that_may() {
    assert_eq!(
        pull_request_step_as_app(&["authorise"], &[]),
        json!({ "statuses": "write", "pull_requests": "read" })
    );
}

/// `conclude` of a pull request's dispatch with the customer App: it
/// authorises the dispatch again (the pull request read for its head) and
/// marks an apply that did not run, with one token that may do both.
#[test]
fn conclude_of_a_pull_request_reads_it_with_a_token_that_may() {
    let due =
        json!({"result": "success", "outputs": {"has_changes": "true", "gates_pass": "true"}});
    let needs = json!({
        "authorise": {"result": "success", "outputs": {}},
        "plan-staging": due,
        "apply-staging": {"result": "cancelled", "outputs": {}},
    });
    assert_eq!(
        pull_request_step_as_app(&["conclude"], &[("FLEETFORM_NEEDS", needs.to_string())]),
        json!({ "statuses": "write", "pull_requests": "read" })
    );
}
