//! `doctor --fix` against the strict fake GitHub (#83 point 1, first
//! part): the plan names each change with the doctor row it answers and
//! changes nothing; `--yes` applies it through GitHub's "Create or update
//! an environment" and "Create a deployment branch policy" (each request
//! checked against the OpenAPI description and the permission map), after
//! which doctor's rows pass and a second `--fix` plans nothing.

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row};
use crate::support::fake_github::BranchPolicy;
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

/// The book's row for `doctor --fix` ("Request budgets").
const FIX: &str = "`doctor --fix`";

/// The requests that wrote, as `METHOD path`.
pub(crate) fn writes(gh: &crate::support::fake_github::FakeGitHub) -> Vec<String> {
    gh.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn fix_plans_then_creates_and_restricts_environments_once() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    // acme has secrets in staging: its key environment is missing.
    let registry = fx.read("manager/customers.yml").replacen(
        "    added: 2026-01-15\n",
        "    added: 2026-01-15\n    secrets:\n      staging: age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45\n",
        1,
    );
    fx.write("manager/customers.yml", &registry);
    // The manager's own keys are named (they are `fix_keys`' tests).
    let r = "age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45";
    fx.append(
        "manager/fleetform.yml",
        &format!("\nsecrets:\n  fleet_recipient: {r}\n  recipients: {{staging: {r}}}\n  handoff_recipients: {{staging: {r}, production: {r}}}\n"),
    );
    // Every branch may deploy to staging-plan.
    let mut open = gh.environment(MANAGER, "staging-plan").unwrap();
    open.branch_policy = BranchPolicy::Any;
    gh.set_environment(MANAGER, "staging-plan", open);

    let custom = [
        "fleetform-authorise",
        "staging-apply",
        "production-plan",
        "production-apply",
    ]
    .iter()
    .filter(|e| {
        matches!(
            gh.environment(MANAGER, e).map(|e| e.branch_policy),
            Some(BranchPolicy::Custom(_))
        )
    })
    .count();
    let sent = gh.requests().len();
    let r = doctor(&gh, &fx, &[], &["--fix"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The book's budget: the repository twice, one page of environments,
    // each custom policy list, the secrets of each expected environment
    // there (authorise, two plan and two apply; acme's key environment is
    // not), the two rulesets and the workflow permissions; no write.
    let book = Budgets::from_book();
    assert_eq!(
        gh.requests().len() - sent,
        book.lead(FIX)
            + book.n(FIX, " per 100 environments")
            + custom * book.n(FIX, " per environment with custom branch policies")
            + 5 * book.n(FIX, " per expected environment that exists")
            + book.n(FIX, " per 100 rulesets")
            + 2 * book.n(FIX, " per ruleset")
            + book.n(FIX, " for the workflow permissions"),
        "{:#?}",
        &gh.requests()[sent..]
    );
    for want in [
        "restrict environment staging-plan to the default branch `main` (every branch may deploy to it now)  [doctor: branch policy staging-plan]",
        "create environment staging-secrets-acme, deployable from the default branch `main` only  [doctor: customer secrets keys for staging]",
        "2 changes planned, nothing changed: run again with --yes to apply",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    // A key environment made later needs nothing shared: acme's holds its
    // identity alone, handed over to the handoff recipient.
    assert!(!r.stdout.contains("FLEETFORM_ARTIFACT_KEY"), "{}", r.stdout);
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.matches("done: ").count(), 2, "{}", r.stdout);
    // Each change is in the audit log, as every change fleetform makes.
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    // The run's intent first, then each change.
    let kept = |result: &str| {
        audit
            .lines()
            .filter(|l| {
                l.contains("\"doctor-fix\"") && l.contains(&format!("\"result\":\"{result}\""))
            })
            .count()
    };
    assert_eq!((kept("started"), kept("applied")), (1, 2), "{audit}");
    assert_eq!(
        writes(&gh).len(),
        2 * book.n(FIX, " writes per environment created or restricted"),
        "{:?}",
        writes(&gh)
    );
    let main_only = BranchPolicy::Custom(vec![("main".into(), "branch".into())]);
    for env in ["staging-plan", "staging-secrets-acme"] {
        let e = gh.environment(MANAGER, env).unwrap();
        assert_eq!(e.branch_policy, main_only, "{env}");
    }
    // What staging-plan held is kept.
    assert!(!gh
        .environment(MANAGER, "staging-plan")
        .unwrap()
        .secrets
        .is_empty());

    // Doctor's rows now pass, but for what --fix does not set (the key
    // environment's secrets).
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "branch policy staging-plan").1,
        "pass",
        "{}",
        r.stdout
    );
    let (_, _, found) = row(&r.stdout, "customer secrets keys for staging");
    assert_eq!(found, "staging-secrets-acme lacks FLEETFORM_SECRETS_KEY");

    // Twice changes nothing the second time.
    let before = writes(&gh).len();
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    assert_eq!(writes(&gh).len(), before);
    gh.assert_clean();
}

/// A token GitHub's answer gives no admin permission on the manager repo
/// is refused before anything is written, saying what --fix needs.
#[test]
fn fix_refuses_a_token_that_cannot_administer_the_repo() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let mut open = gh.environment(MANAGER, "staging-plan").unwrap();
    open.branch_policy = BranchPolicy::Any;
    gh.set_environment(MANAGER, "staging-plan", open);
    gh.set_token_admin(MANAGER, false);
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot administer provider/manager"),
        "{}",
        r.stderr
    );
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
}

/// Every change `--fix` makes is recorded: where the audit log cannot
/// keep the run's intent (records in a bucket, no credentials for it),
/// nothing is changed and the provider is told what to give it.
#[test]
fn fix_changes_nothing_it_cannot_record() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let mut open = gh.environment(MANAGER, "staging-plan").unwrap();
    open.branch_policy = BranchPolicy::Any;
    gh.set_environment(MANAGER, "staging-plan", open);
    let config = fx.read("manager/fleetform.yml");
    let local = "records:\n  kind: local\n  dir: .fleetform/records\n";
    assert!(config.contains(local), "{config}");
    fx.write(
        "manager/fleetform.yml",
        &config.replace(
            local,
            "records:\n  kind: s3\n  bucket: provider-records\n  region: eu-west-1\n  endpoint: http://127.0.0.1:9\n",
        ),
    );
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("cannot keep the audit record in s3://provider-records")
            && r.stderr.contains("nothing was changed"),
        "{}",
        r.stderr
    );
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
}
