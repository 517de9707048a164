//! A new customer onboarded from the provider's side in one command (#83
//! point 3): its repository holds only a README; the customer installs
//! the customer App and the sync App on it; `fleetform customers add
//! --open-pr` registers it and opens the onboarding pull request through
//! the sync App (a token for that repository alone): the trigger workflow
//! with the relay written in, a starter variables file, the change form.
//! The customer merges it and sets nothing else, not even a variable; its
//! first pull request is planned through the relay, and the plan comment
//! comes back. Where the sync App is not installed nothing is written and
//! the provider is told.

use super::onboarding::init_manager_world;
use crate::relay::serve::{RelayWorld, CUSTOMER_APP_ID};
use crate::support::actions_runner::{workflows_in, Event, Runner};
use crate::templates::deploy_run::deploy_runner;

const HOOLI: &str = "hooli/hooli-infra";
const SYNC_APP: u64 = 6302;

/// `customers add hooli --open-pr` as the sync App; its output.
fn add_with_pr(rw: &RelayWorld, relay_url: &str, pem: &str) -> crate::common::Ran {
    let w = &rw.w;
    crate::common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .env("FLEETFORM_SYNC_APP_ID", SYNC_APP.to_string())
        .env("FLEETFORM_SYNC_APP_PRIVATE_KEY", pem)
        .args([
            "customers",
            "add",
            "hooli",
            "--repo",
            HOOLI,
            "--contact",
            "ops@hooli.test",
        ])
        .args([
            "--open-pr",
            "--relay-url",
            relay_url,
            "--action-ref",
            "v9.9.9",
        ])
        .output()
}

fn sync_app(rw: &RelayWorld) -> String {
    let pem = crate::relay::serve::pem();
    let manifest =
        fleetform::report::app_manifests::manifest(&fleetform::util::apps::SYNC, Some("provider"));
    rw.w.gh
        .register_app_from_manifest(SYNC_APP, &pem, &manifest)
        .unwrap();
    pem
}

#[test]
fn a_customer_merges_one_pull_request_and_its_first_change_is_planned() {
    let rw = init_manager_world();
    let w = &rw.w;
    w.gh.add_repo(HOOLI);
    w.gh.commit(HOOLI, "main", &[("README.md", "hooli\n")]);
    w.gh.install_app(CUSTOMER_APP_ID, "hooli", &[HOOLI]);
    let pem = sync_app(&rw);
    w.gh.install_app(SYNC_APP, "hooli", &[HOOLI]);
    // The relay's address is known before it starts (a real relay's is a
    // fixed host name); it reads the registry with the customer in.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let relay_url = format!("http://{listen}");
    w.gh.reset_counters();
    let out = add_with_pr(&rw, &relay_url, &pem);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let book = crate::support::readme_budgets::Budgets::from_book();
    assert_eq!(
        w.gh.request_count(),
        book.lead("`customers add --open-pr`"),
        "{}",
        w.gh.request_lines()
    );
    assert!(
        out.stdout.contains("onboarding pull request #"),
        "{}",
        out.stdout
    );
    let pulls = w.gh.pulls(HOOLI);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let onboarding = &pulls[0];
    for path in [
        ".github/workflows/customer-trigger.yml",
        "infra/variables.yml",
        ".github/ISSUE_TEMPLATE/infra-change.yml",
        ".github/workflows/customer-form.yml",
    ] {
        assert!(
            w.gh.file_at(HOOLI, &onboarding.head_sha, path).is_some(),
            "no {path}"
        );
    }
    let trigger =
        w.gh.file_at(
            HOOLI,
            &onboarding.head_sha,
            ".github/workflows/customer-trigger.yml",
        )
        .unwrap();
    assert!(
        trigger.contains(&format!("relay-url: \"{relay_url}\"")),
        "{trigger}"
    );
    assert!(
        !trigger.contains("vars.FLEETFORM_RELAY"),
        "no variable left to set:\n{trigger}"
    );

    // The customer merges it; nothing else is set in its repository.
    w.gh.merge_pr(HOOLI, onboarding.number);
    assert!(w.gh.variables_for(HOOLI, None).is_empty());
    let registry = w.fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!("repo_id: {}", w.gh.repo_id(HOOLI))),
        "{registry}"
    );

    // The provider merges its registry change (the deploy workflow's
    // manager repo on GitHub, which the relay reads).
    let mut manager = deploy_runner(w);
    // Its first change, planned through the relay with the merged trigger.
    let relay = rw.start_on(&listen, (4, 10), &[], &[]);
    assert_eq!(relay.url, relay_url);
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join(".github/workflows/customer-trigger.yml");
    std::fs::create_dir_all(workflow.parent().unwrap()).unwrap();
    std::fs::write(&workflow, &trigger).unwrap();
    let vars = w.gh.file_at(HOOLI, "main", "infra/variables.yml").unwrap();
    let changed = vars.replace("instance_count: 1", "instance_count: 2");
    assert_ne!(changed, vars, "the starter sets instance_count:\n{vars}");
    let head =
        w.gh.commit(HOOLI, "first", &[("infra/variables.yml", changed.as_str())]);
    let pr = w.gh.open_pr(HOOLI, "first", "main", "More instances");
    let mut customer = Runner::new(HOOLI);
    customer.machine_env("FLEETFORM_RETRY_BASE_MS", "50");
    let d = super::relay_loop::opened_with(
        &rw,
        &mut customer,
        &workflow.display().to_string(),
        pr,
        "first",
        &head,
    );
    let workflows = w.fx.path("manager/.github/workflows");
    manager
        .run_started(&w.gh, &workflows_in(&workflows), &Event::dispatch(&d))
        .assert_entry_succeeded(
            0,
            &["authorise", "plan-staging", "plan-production", "conclude"],
        );
    let comments = w.gh.comments(HOOLI, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("customer=hooli environment=staging")),
        "{comments:?}"
    );

    w.gh.assert_clean();
}

#[test]
fn without_the_sync_app_nothing_is_written_and_the_provider_is_told() {
    let rw = init_manager_world();
    let w = &rw.w;
    w.gh.add_repo(HOOLI);
    w.gh.commit(HOOLI, "main", &[("README.md", "hooli\n")]);
    w.gh.install_app(CUSTOMER_APP_ID, "hooli", &[HOOLI]);
    let pem = sync_app(&rw);
    let out = add_with_pr(&rw, "https://relay.provider.test", &pem);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("the sync App is not installed there"),
        "{}",
        out.stderr
    );
    assert!(w.gh.pulls(HOOLI).is_empty());
    assert!(w.fx.read("manager/customers.yml").contains("slug: hooli"));
}
