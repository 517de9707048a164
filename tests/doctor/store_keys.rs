//! `customers add --store-keys-in OWNER/NAME` (#83 point 1: "age
//! identities … generated and stored straight into the right
//! environments through the API, sealed …, never printed or written to
//! disk"): the customer's identity for each environment goes, sealed, into
//! its own environment `<env>-secrets-<slug>` of the manager repo (made,
//! default branch only, where missing); no file is written, and PyNaCl
//! opens what GitHub holds to the identity of the registry's recipient.

use crate::common;
use crate::doctor::fix_secrets::{files_holding, key_pair, open, pynacl};
use crate::doctor::manager::{configured, register_repo_ids};
use crate::support::fake_github::BranchPolicy;
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

/// The book's row ("Request budgets").
const ROW: &str = "`customers add --store-keys-in`";

fn add(
    gh: &crate::support::fake_github::FakeGitHub,
    fx: &common::Fixture,
    slug: &str,
) -> common::Ran {
    common::Run::from(fx.fleetform())
        .env("GITHUB_API_URL", gh.api_url())
        .env("FLEETFORM_MANAGER_TOKEN", gh.token())
        .env("FLEETFORM_RETRY_ATTEMPTS", "1")
        .args([
            "customers",
            "add",
            slug,
            "--repo",
            "acme-corp/newco",
            "--repo-id",
            "77",
        ])
        .args(["--contact", "ops@newco.example", "--env", "staging"])
        .args(["--store-keys-in", MANAGER])
        .output()
}

#[test]
fn a_new_customers_identity_goes_sealed_into_its_own_environment_and_nowhere_else() {
    let python = pynacl();
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    fx.append("manager/fleetform.yml", "\nsecrets: {}\n");
    let (secret_key, public_key) = key_pair(&python);
    gh.set_public_key(MANAGER, "568250167242549743", &public_key);

    let sent = gh.requests().len();
    let r = add(&gh, &fx, "newco");
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    // The book's budget: the repository twice, one page of environments
    // and the custom policies of each (all five), one identity whose
    // environment is made.
    let book = Budgets::from_book();
    assert_eq!(
        gh.requests().len() - sent,
        book.lead(ROW)
            + book.n(ROW, " per 100 environments")
            + 5 * book.n(ROW, " per environment with custom branch policies")
            + book.n(
                ROW,
                " requests (its environment's public key, the sealed secret)"
            )
            + book.n(ROW, " writes where its environment is made"),
        "{:#?}",
        &gh.requests()[sent..]
    );
    assert!(
        r.stderr.contains("newco/staging: secrets identity stored, sealed, in `staging-secrets-newco` of provider/manager as FLEETFORM_SECRETS_KEY (never written to disk)"),
        "{}",
        r.stderr
    );
    let e = gh.environment(MANAGER, "staging-secrets-newco").unwrap();
    assert_eq!(
        e.branch_policy,
        BranchPolicy::Custom(vec![("main".into(), "branch".into())])
    );
    let sealed = gh.sealed_environment_secrets(MANAGER, "staging-secrets-newco");
    let identity = open(&python, &secret_key, &sealed["FLEETFORM_SECRETS_KEY"].1);
    assert!(identity.starts_with("AGE-SECRET-KEY-1"), "an age identity");
    // Its recipient is the registry's.
    let recipient = crate::doctor::fix_keys::recipient_of(&identity);
    let registry = fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!("staging: {}", recipient.trim())),
        "{registry}"
    );
    // Never on disk, never shown.
    assert_eq!(files_holding(fx.root(), &identity), Vec::<String>::new());
    assert!(!r.stdout.contains(&identity) && !r.stderr.contains(&identity));

    // An existing slug: refused before anything is stored.
    let before = gh.requests().iter().filter(|r| r.method != "GET").count();
    let r = add(&gh, &fx, "newco");
    assert_eq!(r.code, Some(2), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("customer `newco` already exists"),
        "{}",
        r.stderr
    );
    assert_eq!(
        gh.requests().iter().filter(|r| r.method != "GET").count(),
        before
    );
    gh.assert_clean();
}
