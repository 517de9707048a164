//! A new customer onboarded as the book says, to its first apply, into a
//! manager made by `fleetform init --provider` (its `relay:` block set as
//! point 7 of init's steps says; its own deploy workflow run): the
//! customer's repository starts from `fleetform init --customer --manager`
//! (its variables written for the provider's schema and environments, its
//! trigger workflow), the provider registers it with `fleetform customers
//! add` (the repository's id looked up through the API, as the relay
//! needs it) and merges the registry change, the customer installs the
//! customer App and sets the variables `customers instructions` lists.
//! Its first pull request is planned through the relay and the deploy
//! workflow (comment and status), and its merge applied, production after
//! a second person. The trigger that runs is the file `init` wrote.

use super::relay_loop::{customer_runner_of, merged_and_applied, opened_with};
use crate::relay::serve::{RelayWorld, CUSTOMER_APP_ID};
use crate::support::actions_runner::{workflows_in, Event};
use crate::templates::deploy_run::deploy_runner;

const HOOLI: &str = "hooli/hooli-infra";

/// The relay world with its manager made by `init --provider` (no
/// customer yet), the relay block kept.
pub(crate) fn init_manager_world() -> RelayWorld {
    let rw = RelayWorld::new();
    let fx = &rw.w.fx;
    let config = fx.read("manager/fleetform.yml");
    let relay = config[config.find("\nrelay:").expect("the relay block")..].to_string();
    std::fs::remove_dir_all(fx.path("manager")).unwrap();
    crate::common::Run::from(crate::common::fleetform_bin())
        .current_dir(fx.path(""))
        .args(["init", "--dir", "manager", "--provider", "provider"])
        .ok();
    fx.append("manager/fleetform.yml", &relay);
    rw
}

#[test]
fn a_new_customer_is_onboarded_and_its_first_change_applied() {
    let rw = init_manager_world();
    let w = &rw.w;

    // The customer's repository, as `init --customer` writes it.
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("hooli");
    crate::common::Run::from(crate::common::fleetform_bin())
        .args(["init", "--customer", "--dir"])
        .arg(&repo_dir)
        .arg("--manager")
        .arg(w.fx.manager())
        .ok();
    w.gh.add_repo(HOOLI);
    let files: Vec<(String, String)> = [
        "infra/variables.yml",
        ".github/workflows/customer-trigger.yml",
    ]
    .iter()
    .map(|p| {
        (
            p.to_string(),
            std::fs::read_to_string(repo_dir.join(p)).unwrap(),
        )
    })
    .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    w.gh.commit(HOOLI, "main", &refs);
    w.gh.install_app(CUSTOMER_APP_ID, "hooli", &[HOOLI]);

    // The provider registers it; the registry change is merged.
    crate::common::Run::from(w.fx.fleetform())
        .env("GITHUB_API_URL", w.gh.api_url())
        .env("FLEETFORM_TOKEN", w.gh.token())
        .args([
            "customers",
            "add",
            "hooli",
            "--repo",
            HOOLI,
            "--contact",
            "ops@hooli.test",
        ])
        .ok();
    let registry = w.fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!("repo_id: {}", w.gh.repo_id(HOOLI))),
        "{registry}"
    );
    let mut manager = deploy_runner(w);
    let relay = rw.start(4);
    let mut customer = customer_runner_of(&rw, &relay.url, "hooli", HOOLI);
    let trigger = repo_dir
        .join(".github/workflows/customer-trigger.yml")
        .display()
        .to_string();
    // The deploy workflow init wrote into the manager.
    let deploy = workflows_in(&w.fx.path("manager/.github/workflows"));
    let deploy = deploy.as_slice();

    // Its first pull request.
    let vars = files[0]
        .1
        .replace("project_name: my-project", "project_name: hooli-web");
    assert_ne!(vars, files[0].1, "a change of its settings");
    let head =
        w.gh.commit(HOOLI, "first", &[("infra/variables.yml", vars.as_str())]);
    let pr = w.gh.open_pr(HOOLI, "first", "main", "Our first settings");
    let d = opened_with(&rw, &mut customer, &trigger, pr, "first", &head);
    let (_, payload) = crate::relay::scale::lone_event(&d);
    assert_eq!(payload["customer_repo"], HOOLI, "{d}");
    let planned = manager.run_started(&w.gh, deploy, &Event::dispatch(&d));
    planned.assert_entry_succeeded(
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
    let status =
        w.gh.status_of(HOOLI, &head, "infra/terraform-deploy/staging")
            .expect("a staging status");
    assert_eq!(status.state, "success");

    // Merged and applied.
    merged_and_applied(
        &rw,
        (&mut customer, &mut manager),
        (&trigger, deploy),
        (HOOLI, pr, "first"),
    );
    w.gh.assert_clean();
}
