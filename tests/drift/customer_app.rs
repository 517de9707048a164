//! Issue #81 point 3: the fleet jobs that read customer repos (drift, a
//! repair's plans, doctor) do it with the customer App, a token per
//! repository with `contents: read` alone, never one token that reaches
//! every customer. Customers under two owners (a fine-grained token covers
//! one), the App registered from the manifest `init` writes; the strict
//! fake refuses any request beyond a token's repository or permissions.

use serde_json::{json, Value};

use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

const APP: u64 = 4311;
/// c01 and c02 on GitHub under two owners; c03 keeps its checkout.
const ON_GITHUB: [(&str, &str); 2] = [("c01", "north/c01-infra"), ("c02", "south/c02-infra")];

/// The applied world with c01 and c02 read from GitHub only, and the
/// customer App registered; installed by the owners in `installed`.
fn customers_on_github(installed: &[&str]) -> (World, FakeGitHub, String) {
    let w = World::applied(3, "staging");
    let gh = w.operators_on_github();
    let mut registry = w.fx.read("manager/customers.yml");
    for (slug, repo) in ON_GITHUB {
        gh.add_repo(repo);
        let vars = w.fx.read(&format!("customers/{slug}/infra/variables.yml"));
        gh.commit(repo, "main", &[("infra/variables.yml", vars.as_str())]);
        registry = registry.replace(
            &format!("  - slug: {slug}\n    path: ../customers/{slug}\n"),
            &format!("  - slug: {slug}\n    repo: {repo}\n"),
        );
        std::fs::remove_dir_all(w.fx.path(&format!("customers/{slug}"))).unwrap();
    }
    w.fx.write("manager/customers.yml", &registry);
    let pem = crate::relay::serve::pem();
    let manifest =
        fleetform::report::app_manifests::manifest(&fleetform::util::apps::CUSTOMER, Some("acme"));
    gh.register_app_from_manifest(APP, &pem, &manifest).unwrap();
    for (_, repo) in ON_GITHUB {
        let owner = repo.split('/').next().unwrap();
        if installed.contains(&owner) {
            gh.install_app(APP, owner, &[repo]);
        }
    }
    (w, gh, pem)
}

fn drift(w: &World, gh: &FakeGitHub, pem: &str) -> (Option<i32>, Value) {
    let out = w
        .fleetform()
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_CUSTOMER_APP_ID", APP.to_string())
        .env("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem)
        .args(["drift", "--json", "--out", "drift-out"])
        .output();
    let report = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.stderr));
    (out.code, report)
}

#[test]
fn drift_reads_each_customer_with_a_token_for_its_repository_alone() {
    let (w, gh, pem) = customers_on_github(&["north", "south"]);
    let (code, report) = drift(&w, &gh, &pem);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["checked"], json!(3), "{report:#}");
    let minted = gh.minted_tokens();
    let mut scopes: Vec<(Vec<String>, Value)> = minted
        .iter()
        .map(|m| (m.repos.clone(), m.permissions.clone()))
        .collect();
    scopes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        scopes,
        vec![
            (
                vec!["north/c01-infra".to_string()],
                json!({"contents": "read"})
            ),
            (
                vec!["south/c02-infra".to_string()],
                json!({"contents": "read"})
            ),
        ]
    );
}

/// One owner never installed the App: its customer fails, named, and the
/// others are checked all the same.
#[test]
fn a_customer_without_the_app_installed_fails_alone() {
    let (w, gh, pem) = customers_on_github(&["north"]);
    let (code, report) = drift(&w, &gh, &pem);
    assert_ne!(code, Some(0), "{report:#}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("c02"), "{report:#}");
    assert!(!errors.contains("c01"), "{report:#}");
    assert_eq!(report["checked"], json!(3), "{report:#}");
    assert!(errors.contains("installation"), "{report:#}");
    let key_line = pem.lines().nth(1).unwrap();
    assert!(!report.to_string().contains(key_line), "{report:#}");
}
