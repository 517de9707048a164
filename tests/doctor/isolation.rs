//! `fleetform doctor`'s tenant isolation rows against the fake GitHub:
//! the registry's `repo_id` of each customer is GitHub's id of its repo
//! (missing: a warning, a failure behind the relay), no customer's account
//! is a collaborator of the manager repo (outside collaborators warn), the
//! organisation's base permission is `none`, and a private manager has no
//! public Pages site. Each with a set-up that fails and one that passes.

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, MANAGER};

const RELAY: &str = "\nrelay:\n  app_slug: fleetform-relay\n  manager_repo: provider/manager\n";

/// The registry's `repo_id` is GitHub's id of the customer's repo: a
/// repo deleted and created again under the same name fails; a missing
/// one warns, and fails behind the relay (which finds customers by it).
#[test]
fn repo_ids_must_be_the_ones_github_reports() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let acme = gh.repo_id("acme-corp/acme-infra");
    assert_eq!(
        row(&r.stdout, "repo_id acme"),
        (
            "must",
            "pass",
            format!("acme-corp/acme-infra: {acme}, as GitHub reports").as_str()
        )
    );
    assert_eq!(row(&r.stdout, "repo_id globex").1, "pass");

    // Deleted and created again: same name, another id.
    gh.remove_repo("acme-corp/acme-infra");
    gh.add_repo("acme-corp/acme-infra");
    let new_id = gh.repo_id("acme-corp/acme-infra");
    assert_ne!(new_id, acme);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "repo_id acme");
    assert_eq!((level, result), ("must", "FAIL"));
    assert!(
        found.contains(&format!("the registry has {acme}, GitHub reports {new_id}"))
            && found.contains("deleted and created again, or the registry is wrong"),
        "{found}"
    );
    assert!(
        r.stdout
            .contains(&format!("set `repo_id: {new_id}` for `acme`")),
        "{}",
        r.stdout
    );
    assert_eq!(row(&r.stdout, "customer acme").1, "pass");
    gh.assert_clean();

    // No repo_id: a warning without the relay, a failure behind it.
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "repo_id globex");
    assert_eq!((level, result), ("should", "WARN"));
    assert!(
        found.starts_with("no `repo_id` in customers.yml"),
        "{found}"
    );
    fx.append("manager/fleetform.yml", RELAY);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "repo_id globex");
    assert_eq!((level, result), ("must", "FAIL"));
    assert!(
        found.contains("the relay cannot find this customer"),
        "{found}"
    );
    let globex = gh.repo_id("globex/globex-app");
    assert!(
        r.stdout.contains(&format!(
            "set `repo_id: {globex}` for `globex` in customers.yml (`fleetform customers add --repo-id`"
        )),
        "{}",
        r.stdout
    );
    // With the ids registered (and the batch workflow a batching relay
    // needs, `doctor_setup`) the relay's manager passes.
    register_repo_ids(&fx, &gh, &[]);
    let batch = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-batch.yml"),
    )
    .unwrap();
    fx.write("manager/.github/workflows/manager-batch.yml", &batch);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    gh.assert_clean();
}

/// No customer's account is a collaborator of the manager repo (all
/// collaborators, every page); outside collaborators warn.
#[test]
fn no_customer_account_reaches_the_manager_repo() {
    let gh = configured();
    gh.add_collaborator_as(MANAGER, "provider-admin", "team", "admin");
    gh.add_collaborator(MANAGER, "alice", "direct");
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        row(&r.stdout, "customer accounts on the manager repo"),
        (
            "must",
            "pass",
            "none of the 2 collaborators is a customer's account"
        )
    );
    assert_eq!(
        row(&r.stdout, "outside collaborators"),
        ("should", "pass", "none")
    );

    // The customer's account, spelt otherwise, on the last of 3 pages.
    gh.add_collaborator_as(MANAGER, "ACME-corp", "outside", "read");
    gh.set_max_page_size(1);
    gh.reset_counters();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "customer accounts on the manager repo");
    assert_eq!((level, result), ("must", "FAIL"));
    assert_eq!(
        found,
        "`ACME-corp` (customer acme) is a collaborator (read)"
    );
    assert!(
        r.stdout
            .contains("customer accounts on the manager repo: remove them"),
        "{}",
        r.stdout
    );
    let (level, result, found) = row(&r.stdout, "outside collaborators");
    assert_eq!((level, result), ("should", "WARN"));
    assert_eq!(found, "provider/manager: `ACME-corp` (read)");
    assert!(
        r.stdout
            .contains("customers must not be collaborators of the manager repo"),
        "{}",
        r.stdout
    );
    let pages: Vec<String> = gh
        .requests()
        .iter()
        .filter(|q| q.path == "/repos/provider/manager/collaborators")
        .map(|q| q.query.clone())
        .collect();
    assert_eq!(pages.len(), 4, "3 pages of all, 1 of outside: {pages:?}");
    assert!(pages[0].contains("affiliation=all"), "{pages:?}");
    assert!(pages[3].contains("affiliation=outside"), "{pages:?}");
    gh.assert_clean();
}

/// The manager's organisation gives its members no access by default; a
/// user-owned manager has no organisation and passes, saying so.
#[test]
fn the_organisation_base_permission_must_be_none() {
    let gh = configured();
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "organisation base permission"),
        (
            "must",
            "pass",
            "`none`: members of `provider` reach only the repos they are given"
        )
    );

    gh.set_org_base_permission("provider", "read");
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "organisation base permission");
    assert_eq!((level, result), ("must", "FAIL"));
    assert_eq!(
        found,
        "`read`: every member of `provider` has `read` on the manager repo"
    );
    assert!(
        r.stdout.contains("Base permissions: \"No permission\""),
        "{}",
        r.stdout
    );

    gh.set_user_account("provider");
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "organisation base permission");
    assert_eq!((level, result), ("must", "pass"));
    assert!(found.contains("`provider` is a user account"), "{found}");
    gh.assert_clean();
}

/// A public Pages site of a private manager repo fails (on GitHub Team
/// and Pro a private repo's site is public); no site, a site of a public
/// repo, or a private site pass.
#[test]
fn a_public_pages_site_of_a_private_manager_fails() {
    let gh = configured();
    gh.set_private(MANAGER, true);
    let fx = common::Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "Pages site"), ("must", "pass", "none"));

    gh.set_pages(MANAGER, true);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}", r.stdout);
    let (level, result, found) = row(&r.stdout, "Pages site");
    assert_eq!((level, result), ("must", "FAIL"));
    assert!(
        found.starts_with("the manager repo is private but its Pages site is public"),
        "{found}"
    );
    assert!(
        r.stdout.contains("Pages site: on GitHub Team and Pro a Pages site of a private repo is public: publish the dashboard as an artifact (workflows/manager-dashboard.yml) instead"),
        "{}",
        r.stdout
    );

    gh.set_pages(MANAGER, false);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(row(&r.stdout, "Pages site").1, "pass");

    gh.set_private(MANAGER, false);
    gh.set_pages(MANAGER, true);
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        row(&r.stdout, "Pages site"),
        ("must", "pass", "public, as the repo itself is")
    );
    gh.assert_clean();
}
