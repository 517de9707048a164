//! `fleetform doctor --inbox OWNER/NAME` against the fake GitHub: a
//! customer's inbox repo set as `workflows/inbox-relay.yml`'s header asks
//! (environment `fleetform-inbox` on the default branch only, holding
//! `MANAGER_RELAY_TOKEN`, which is no repository secret; `MANAGER_REPO`
//! naming the manager; a ruleset on the default branch) passes, within the
//! README's request budget; each setting missing fails the run, and a read
//! GitHub refuses is *could not check*, never a pass.

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, MANAGER};
use crate::support::fake_github::{BranchPolicy, Environment, FakeGitHub, Fault, Ruleset};
use crate::support::readme_budgets::Budgets;

const INBOX: &str = "provider/inbox-acme";
const ENV: &str = "fleetform-inbox";

fn inbox_env(branch_policy: BranchPolicy) -> Environment {
    Environment {
        branch_policy,
        secrets: ["MANAGER_RELAY_TOKEN".to_string()].into(),
        ..Environment::default()
    }
}

/// A configured manager and an inbox repo set as its template asks.
fn well_set() -> FakeGitHub {
    let gh = configured();
    gh.add_repo(INBOX);
    gh.set_environment(
        INBOX,
        ENV,
        inbox_env(BranchPolicy::Custom(vec![("main".into(), "branch".into())])),
    );
    gh.set_variable(INBOX, None, "MANAGER_REPO", MANAGER);
    gh.add_ruleset(
        INBOX,
        Ruleset {
            name: "lock the default branch".into(),
            target: "branch".into(),
            enforcement: "active".into(),
            include: vec!["~DEFAULT_BRANCH".into()],
            rules: vec!["creation".into(), "update".into(), "deletion".into()],
        },
    );
    gh
}

/// The row of `what` for the inbox repo.
fn inbox_row<'a>(stdout: &'a str, what: &str) -> (&'a str, &'a str, &'a str) {
    row(stdout, &format!("{what} ({INBOX})"))
}

fn fixture(gh: &FakeGitHub) -> common::Fixture {
    let fx = common::Fixture::new();
    register_repo_ids(&fx, gh, &[]);
    fx
}

#[test]
fn a_well_set_inbox_passes_within_the_readme_budget() {
    let gh = well_set();
    let fx = fixture(&gh);
    let without = doctor(&gh, &fx, &[], &[]);
    assert_eq!(without.code, 0, "{}\n{}", without.stdout, without.stderr);
    let manager_only = gh.request_count();
    gh.reset_counters();
    let r = doctor(&gh, &fx, &[], &["--inbox", INBOX]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        row(&r.stdout, &format!("inbox repo {INBOX}")),
        ("must", "pass", "default branch `main`")
    );
    for what in [
        "environment fleetform-inbox",
        "branch policy fleetform-inbox",
        "secrets fleetform-inbox",
        "repository secrets",
        "variable MANAGER_REPO",
        "ruleset on the default branch",
    ] {
        let (level, result, found) = inbox_row(&r.stdout, what);
        assert_eq!((level, result), ("must", "pass"), "{what}: {found}");
    }
    assert_eq!(
        inbox_row(&r.stdout, "variable MANAGER_REPO").2,
        "provider/manager"
    );
    // README, "Request budgets": the inbox's reads, +2 its environment's
    // secrets and variables, +1 its custom branch policies, +1 its one
    // ruleset.
    let budget = Budgets::from_book().n("`doctor`", " per inbox repo");
    assert_eq!(gh.request_count() - manager_only, budget + 2 + 1 + 1);
    gh.assert_clean();
}

/// The variable and the flag's variable: `FLEETFORM_INBOX_REPOS`, comma
/// separated, and the environment's `MANAGER_REPO` over the repository's.
#[test]
fn the_inboxes_may_come_from_fleetform_inbox_repos() {
    let gh = well_set();
    gh.set_variable(INBOX, Some(ENV), "MANAGER_REPO", "someone/else");
    let fx = fixture(&gh);
    let r = doctor(
        &gh,
        &fx,
        &[("FLEETFORM_INBOX_REPOS", format!("{INBOX},{INBOX}"))],
        &[],
    );
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (_, result, found) = inbox_row(&r.stdout, "variable MANAGER_REPO");
    assert_eq!(result, "FAIL");
    assert_eq!(found, "`someone/else`, not this manager (provider/manager)");
    assert_eq!(r.stdout.matches(&format!("inbox repo {INBOX}")).count(), 1);
}

#[test]
fn the_relay_token_as_a_repository_secret_fails() {
    let gh = well_set();
    gh.add_repo_secret(INBOX, "MANAGER_RELAY_TOKEN");
    let fx = fixture(&gh);
    let r = doctor(&gh, &fx, &[], &["--inbox", INBOX]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        inbox_row(&r.stdout, "repository secrets"),
        (
            "must",
            "FAIL",
            "MANAGER_RELAY_TOKEN readable by every workflow on every branch"
        )
    );
    // The environment's copy is there all the same.
    assert_eq!(inbox_row(&r.stdout, "secrets fleetform-inbox").1, "pass");
}

#[test]
fn an_environment_any_branch_may_deploy_from_fails() {
    let gh = well_set();
    gh.set_environment(INBOX, ENV, inbox_env(BranchPolicy::Any));
    let fx = fixture(&gh);
    let r = doctor(&gh, &fx, &[], &["--inbox", INBOX]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        inbox_row(&r.stdout, "branch policy fleetform-inbox"),
        (
            "must",
            "FAIL",
            "every branch may deploy (it holds MANAGER_RELAY_TOKEN)"
        )
    );
}

#[test]
fn an_inbox_without_the_environment_fails() {
    let gh = configured();
    gh.add_repo(INBOX);
    let fx = fixture(&gh);
    let r = doctor(&gh, &fx, &[], &["--inbox", INBOX]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        inbox_row(&r.stdout, "environment fleetform-inbox"),
        ("must", "FAIL", "missing (the relay's job runs in it)")
    );
    assert_eq!(inbox_row(&r.stdout, "variable MANAGER_REPO").1, "FAIL");
    assert_eq!(
        inbox_row(&r.stdout, "ruleset on the default branch").1,
        "FAIL"
    );
    assert!(!r.stdout.contains("branch policy fleetform-inbox"));
}

/// GitHub fails the inbox's reads (a 500 every attempt): each row says it
/// could not check, and the run fails.
#[test]
fn a_read_github_refuses_is_could_not_check() {
    let gh = well_set();
    for path in [
        "/inbox-acme/environments",
        "/inbox-acme/actions/secrets",
        "/inbox-acme/rulesets",
    ] {
        gh.inject(Fault::server_error().times(1).on("GET", path));
    }
    let fx = fixture(&gh);
    let r = doctor(&gh, &fx, &[], &["--inbox", INBOX]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    for what in [
        "environment fleetform-inbox",
        "repository secrets",
        "variable MANAGER_REPO",
        "ruleset on the default branch",
    ] {
        let (level, result, found) = inbox_row(&r.stdout, what);
        assert_eq!((level, result), ("must", "could not check"), "{what}");
        assert!(found.starts_with("could not check"), "{what}: {found}");
    }
    assert_eq!(gh.pending_faults(), 0);
}

/// `--inbox` takes owner/name only.
#[test]
fn an_inbox_that_is_no_repo_is_a_usage_error() {
    let gh = configured();
    let fx = fixture(&gh);
    let r = doctor(&gh, &fx, &[], &["--inbox", "inbox-acme"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--inbox `inbox-acme` is not owner/name"));
}
