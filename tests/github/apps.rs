//! The provider's two GitHub Apps (README, "The Apps"): the relay and
//! `fleetform poll` read customer repos with the customer App's tokens
//! (never Contents write) and dispatch with the manager App's (on the
//! manager repo only); the single App's variables of older releases are
//! refused; `doctor` flags an App holding more than its list or a private
//! customer App; `init` writes each App's manifest; no workflow template
//! hands the manager App's key to a plan or apply job.

use serde_json::{json, Value};

use crate::common::{self, stderr};
use crate::doctor::manager::{customer_grant, doctor, row, CUSTOMERS, DOCTOR};
use crate::relay::serve::{
    dispatch, RelayProc, RelayWorld, CUSTOMER_APP_ID, CUSTOMER_SLUG, MANAGER_APP_ID, SLUG,
};
use crate::support::fake_github::FakeGitHub;
use crate::support::readme_budgets::Budgets;
use crate::world::{ACME, MANAGER};

/// A customer App granted more than its list (Contents, Issues and Pull
/// requests write, as a provider who ticked too much would): fleetform
/// must still ask each token for its reads only. A token asked without
/// `permissions` gets every permission of the installation (REST docs,
/// "Create an installation access token for an app"), so only what
/// fleetform asks for keeps the relay read-only.
fn grant_the_customer_app_too_much(rw: &RelayWorld) {
    let mut grant = customer_grant();
    for p in ["contents", "issues", "pull_requests", "statuses"] {
        grant[p] = json!("write");
    }
    rw.w.gh.set_app_settings(
        CUSTOMER_APP_ID,
        grant,
        &["push", "pull_request", "issue_comment"],
        true,
    );
}

/// Every token minted so far: the customer App's only for customer repos,
/// each asked with the permissions it needs, none of them a write (what
/// the token holds: asked without permissions, the App's whole grant), the
/// manager App's only for the manager repo. Returns how many each App
/// minted.
fn assert_tokens_split(rw: &RelayWorld) -> (usize, usize) {
    let minted = rw.w.gh.minted_tokens();
    let manager = MANAGER.to_ascii_lowercase();
    let (mut by_customer_app, mut by_manager_app) = (0, 0);
    for t in &minted {
        match t.app_id {
            CUSTOMER_APP_ID => {
                by_customer_app += 1;
                assert!(!t.repos.contains(&manager), "{t:?}");
                let asked = t.permissions.as_object().unwrap();
                assert!(
                    !asked.is_empty(),
                    "asked without permissions, the token holds the App's whole grant: {t:?}"
                );
                let writes: Vec<&String> = asked
                    .iter()
                    .filter(|(_, v)| *v == "write")
                    .map(|(k, _)| k)
                    .collect();
                assert!(writes.is_empty(), "the relay only reads: {t:?}");
            }
            MANAGER_APP_ID => {
                by_manager_app += 1;
                assert_eq!(t.repos, vec![manager.clone()], "{t:?}");
            }
            other => panic!("a token of App {other}: {t:?}"),
        }
    }
    (by_customer_app, by_manager_app)
}

/// A pull request on acme raising its instances to `max` (`title`), sent
/// to a relay (started here, kept running) with the workflow's OIDC token:
/// the relay and its answer.
fn pr_to_the_relay(rw: &RelayWorld, max: u32, title: &str) -> (RelayProc, u16, Value) {
    let relay = rw.start(4);
    let sha = rw.w.change_acme("feature", max);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", title);
    let id = rw.w.gh.repo_id(ACME);
    let token =
        rw.issuer.mint(
            &rw.issuer
                .claims(ACME, id, "pull_request", "refs/heads/feature", &sha),
        );
    let (status, answer) = dispatch(&relay, &json!({ "token": token, "pr": pr }));
    (relay, status, answer)
}

#[test]
fn the_relay_reads_as_the_customer_app_and_dispatches_as_the_manager_app() {
    let rw = RelayWorld::new();
    grant_the_customer_app_too_much(&rw);
    let (_relay, status, answer) = pr_to_the_relay(&rw, 21, "twenty-one");
    assert_eq!(status, 202, "{answer}");
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["sender"]["login"], format!("{SLUG}[bot]"));
    let (customer, manager) = assert_tokens_split(&rw);
    assert!(customer >= 1 && manager >= 1, "{customer} {manager}");
    rw.w.gh.assert_clean();
}

#[test]
fn poll_reads_as_the_customer_app_and_dispatches_as_the_manager_app() {
    let rw = RelayWorld::new();
    grant_the_customer_app_too_much(&rw);
    let state = rw.w.scratch.path().join("poll-state.json");
    crate::relay::webhooks::poll(&rw, &state);
    rw.w.change_acme("main", 22);
    let changed = crate::relay::webhooks::poll(&rw, &state);
    assert_eq!(
        changed["dispatched"].as_array().unwrap().len(),
        1,
        "{changed}"
    );
    let (customer, manager) = assert_tokens_split(&rw);
    assert!(customer >= 2 && manager >= 1, "{customer} {manager}");
}

/// With the manager App installed on the customer repos as well (one App
/// for everything, as before), the relay still never asks it for them.
#[test]
fn a_customer_app_not_installed_is_refused_not_replaced_by_the_manager_app() {
    let rw = RelayWorld::new();
    rw.w.gh.uninstall_from(ACME);
    rw.w.gh.install_app(MANAGER_APP_ID, "customers", &[ACME]);
    let (_relay, status, answer) = pr_to_the_relay(&rw, 23, "twenty-three");
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("customer App"),
        "{answer}"
    );
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    assert_tokens_split(&rw);
    let v = rw.w.gh.take_violations();
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn the_single_app_variables_are_refused_naming_the_new_ones() {
    let rw = RelayWorld::new();
    let key = crate::relay::serve::pem();
    let out = common::Run::from(rw.w.fx.fleetform())
        .env("GITHUB_API_URL", rw.w.gh.api_url())
        .envs(crate::relay::serve::app_env())
        .env("FLEETFORM_APP_ID", "4243")
        .env("FLEETFORM_APP_PRIVATE_KEY", &key)
        .args(["poll", "--json", "--state"])
        .arg(rw.w.scratch.path().join("state.json"))
        .output();
    common::assert_code(&out, 2);
    let err = stderr(&out);
    for name in [
        "FLEETFORM_APP_ID",
        "FLEETFORM_CUSTOMER_APP_ID",
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        "FLEETFORM_MANAGER_APP_ID",
        "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
    ] {
        assert!(err.contains(name), "{name}: {err}");
    }
    assert!(!err.contains("PRIVATE KEY-----"), "{err}");
    assert!(rw.w.gh.minted_tokens().is_empty());
}

/// doctor with the customer App 77 (`grant`, `public`) installed on both
/// customers.
fn doctor_customer_app(grant: Value, public: bool) -> crate::doctor::manager::Run {
    doctor_customer_app_counted(grant, public).0
}

/// The same, with the requests it sent.
fn doctor_customer_app_counted(grant: Value, public: bool) -> (crate::doctor::manager::Run, usize) {
    doctor_customer_app_with(grant, public, &["push", "pull_request", "issue_comment"])
}

/// doctor with the customer App 77 subscribed to `events`, and the
/// requests it sent.
fn doctor_customer_app_with(
    grant: Value,
    public: bool,
    events: &[&str],
) -> (crate::doctor::manager::Run, usize) {
    let gh = crate::doctor::manager::configured();
    let pem = crate::relay::serve::pem();
    gh.register_app(77, &pem);
    gh.set_app_slug(77, "acme-provider-customer");
    gh.set_app_settings(77, grant, events, public);
    gh.install_app(77, "customers", &CUSTOMERS);
    let fx = common::Fixture::new();
    let app = [
        ("FLEETFORM_CUSTOMER_APP_ID", "77".to_string()),
        ("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem),
    ];
    let r = doctor(&gh, &fx, &app, &[]);
    (r, gh.request_count())
}

#[test]
fn doctor_passes_a_customer_app_with_exactly_its_list() {
    let (r, requests) = doctor_customer_app_counted(customer_grant(), true);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let what = "permissions of the customer App acme-provider-customer";
    assert_eq!(row(&r.stdout, what).1, "pass", "{}", r.stdout);
    assert_eq!(row(&r.stdout, "visibility of the customer App").1, "pass");
    // The book's "Request budgets": the example manager's, + each
    // customer's installation, + the App and its public page.
    let b = Budgets::from_book();
    let budget = b.n(DOCTOR, " for the example manager")
        + CUSTOMERS.len() * b.n(DOCTOR, " per such customer (its installation)")
        + CUSTOMERS.len() * b.n(DOCTOR, " per such customer without a customer token")
        + b.n(DOCTOR, " (`GET /app`");
    assert_eq!(requests, budget);
}

#[test]
fn doctor_fails_a_customer_app_that_can_push() {
    let mut grant = customer_grant();
    grant["contents"] = json!("write");
    grant["issues"] = json!("write");
    let r = doctor_customer_app(grant, true);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let what = "permissions of the customer App acme-provider-customer";
    let (level, result, _) = row(&r.stdout, what);
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    let line = r.stdout.lines().find(|l| l.contains(what)).unwrap();
    assert!(line.contains("contents: write") && line.contains("issues: write"));
}

#[test]
fn doctor_fails_a_private_customer_app() {
    let r = doctor_customer_app(customer_grant(), false);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, _) = row(&r.stdout, "visibility of the customer App");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
}

#[test]
fn init_writes_each_apps_manifest_with_exactly_its_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(tmp.path())
        .args(["init", "--dir", "m"])
        .output();
    common::assert_ok_for(format_args!("init"), &out);
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(tmp.path().join("m/apps").join(name)).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let customer = read("customer-app.json");
    assert_eq!(customer["default_permissions"], customer_grant());
    assert_eq!(customer["public"], true);
    assert_eq!(
        customer["default_events"],
        json!(["push", "pull_request", "issue_comment"])
    );
    assert_eq!(
        customer["hook_attributes"]["url"],
        "https://RELAY.EXAMPLE/webhook"
    );
    let manager = read("manager-app.json");
    assert_eq!(
        manager["default_permissions"],
        json!({"contents": "write", "metadata": "read"})
    );
    assert_eq!(manager["public"], false);
    assert_eq!(manager["default_events"], json!([]));
    let sync = read("sync-app.json");
    assert_eq!(
        sync["default_permissions"],
        json!({"contents": "write", "metadata": "read", "pull_requests": "write", "workflows": "write"})
    );
    // Customers install it on their repos (#81 point 3).
    assert_eq!(sync["public"], true);
    // Only the keys GitHub's manifest flow knows.
    let known = [
        "name",
        "url",
        "description",
        "hook_attributes",
        "redirect_url",
        "public",
        "default_permissions",
        "default_events",
    ];
    for m in [&customer, &manager, &sync] {
        for k in m.as_object().unwrap().keys() {
            assert!(known.contains(&k.as_str()), "{k}");
        }
        assert!(m["url"].is_string() && m["redirect_url"].is_string());
    }
    let page = std::fs::read_to_string(tmp.path().join("m/apps/register.html")).unwrap();
    assert_eq!(
        page.matches("https://github.com/settings/apps/new").count(),
        3
    );
    assert!(page.contains("name=\"manifest\""));
    let _ = CUSTOMER_SLUG;
}

/// The manager App's key dispatches to the manager repo: no plan, apply,
/// authorise or conclude job gets it. Only the poll job (environment
/// `poll`) names it; every `app-id:`/`app-private-key:` in a template, even
/// in a comment, is the customer App's.
#[test]
fn no_workflow_template_hands_the_manager_app_to_a_plan_or_apply_job() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut polled = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in text.lines() {
            let l = line.trim_start_matches([' ', '#']);
            if l.starts_with("app-id:") {
                assert!(
                    l.contains("vars.FLEETFORM_CUSTOMER_APP_ID "),
                    "{name}: {line}"
                );
            }
            if l.starts_with("app-private-key:") {
                assert!(
                    l.contains("secrets.FLEETFORM_CUSTOMER_APP_PRIVATE_KEY "),
                    "{name}: {line}"
                );
            }
        }
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        let Some(jobs) = doc["jobs"].as_mapping() else {
            continue;
        };
        for (id, job) in jobs {
            let body = yaml_serde::to_string(job).unwrap();
            if !body.contains("FLEETFORM_MANAGER_APP") {
                continue;
            }
            let env = yaml_serde::to_string(&job["environment"]).unwrap();
            assert_eq!(
                env.trim(),
                "poll",
                "{name}: job {id:?} gets the manager App"
            );
            polled += 1;
        }
    }
    assert_eq!(polled, 1, "manager-poll.yml's job takes the manager App");
}

/// The manifests `fleetform init` writes pass GitHub's manifest rules
/// (the fake's `manifest.rs`): GitHub refuses a whole manifest whose
/// default events lack their permissions, so the first click on the
/// registration page would fail for every provider.
///
/// With `--provider`, for accounts of every length GitHub allows (a name
/// over 34 characters refuses the manifest: "PROVIDER fleetform customer"
/// did for any account over 15 characters).
#[test]
fn every_manifest_init_writes_passes_githubs_manifest_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let gh = FakeGitHub::start();
    let pem = crate::relay::serve::pem();
    let mut registered = 0;
    let mut id = 70;
    for provider in [
        None,
        Some("acme"),
        Some("northwind-cloud"),
        Some("northwind-cloud-services-gmbh"),
        Some("northwind-cloud-services-europe-gmbh-x"),
    ] {
        let dir = format!("m{id}");
        let out = common::Run::from(common::fleetform_bin())
            .current_dir(tmp.path())
            .args(["init", "--dir", &dir])
            .args(provider.map(|p| vec!["--provider", p]).unwrap_or_default())
            .output();
        common::assert_ok_for(format_args!("init {provider:?}"), &out);
        for name in ["customer", "manager", "sync"] {
            id += 1;
            let path = tmp.path().join(format!("{dir}/apps/{name}-app.json"));
            let manifest: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if let Some(p) = provider {
                assert_eq!(manifest["url"], format!("https://github.com/{p}"));
            }
            gh.register_app_from_manifest(id, &pem, &manifest)
                .unwrap_or_else(|why| {
                    panic!("GitHub refuses apps/{name}-app.json for {provider:?}: {why}")
                });
            registered += 1;
        }
    }
    assert_eq!(registered, 15);
    common::Run::from(common::fleetform_bin())
        .current_dir(tmp.path())
        .args(["init", "--dir", "bad", "--provider", "not an account"])
        .code(2)
        .stderr_has("--provider: `not an account` is not a GitHub account name");
}

/// The fake refuses what GitHub's manifest flow refuses: an event without
/// its permission, a name over 34 characters, events without a webhook
/// URL, an event it does not know the permission of.
#[test]
fn the_fake_refuses_a_manifest_github_refuses() {
    let gh = FakeGitHub::start();
    let pem = crate::relay::serve::pem();
    let good = json!({
        "name": "Acme fleetform customer",
        "url": "https://github.com/acme",
        "public": true,
        "default_permissions": {"contents": "read", "issues": "read", "pull_requests": "write"},
        "default_events": ["push", "pull_request", "issue_comment"],
        "hook_attributes": {"url": "https://relay.acme.example/webhook"},
    });
    let refused = |m: Value| gh.register_app_from_manifest(81, &pem, &m).unwrap_err();
    let mut no_issues = good.clone();
    no_issues["default_permissions"]
        .as_object_mut()
        .unwrap()
        .remove("issues");
    assert_eq!(
        refused(no_issues),
        "Default events are not supported by permissions: issue_comment"
    );
    let mut long = good.clone();
    long["name"] = json!("Northwind Cloud Services fleetform customer");
    assert!(refused(long).starts_with("Name is too long (maximum is 34 characters)"));
    let mut no_hook = good.clone();
    no_hook.as_object_mut().unwrap().remove("hook_attributes");
    assert!(refused(no_hook).starts_with("Hook url can't be blank"));
    let mut unknown = good.clone();
    unknown["default_events"] = json!(["membership"]);
    assert!(refused(unknown).starts_with("fake GitHub bug"));
    gh.register_app_from_manifest(82, &pem, &good).unwrap();
    gh.assert_clean();
}

/// doctor compares the customer App's webhook events with fleetform's:
/// without `issue_comment` the relay never hears a comment command (a
/// provider who dropped the event to get the manifest accepted); an event
/// beyond the list is deliveries nobody acts on.
#[test]
fn doctor_names_the_webhook_events_a_customer_app_lacks_or_adds() {
    let what = "webhook events of the customer App acme-provider-customer";
    let (all, _) = doctor_customer_app_counted(customer_grant(), true);
    assert_eq!(row(&all.stdout, what).1, "pass", "{}", all.stdout);
    let (dropped, _) = doctor_customer_app_with(customer_grant(), true, &["push", "pull_request"]);
    // The fixture has no `relay:`: a *should* (fleetform reads no webhook
    // then; with a relay it is a *must*, src/doctor/apps.rs's tests).
    let (level, result, _) = row(&dropped.stdout, what);
    assert_eq!((level, result), ("should", "WARN"), "{}", dropped.stdout);
    let line = dropped.stdout.lines().find(|l| l.contains(what)).unwrap();
    assert!(line.contains("lacks issue_comment"), "{line}");
    let (more, _) = doctor_customer_app_with(
        customer_grant(),
        true,
        &["push", "pull_request", "issue_comment", "issues"],
    );
    let (level, result, _) = row(&more.stdout, what);
    assert_eq!((level, result), ("should", "WARN"), "{}", more.stdout);
    let line = more.stdout.lines().find(|l| l.contains(what)).unwrap();
    assert!(
        line.contains("beyond what fleetform reads: issues"),
        "{line}"
    );
}
