//! The repository settings `doctor --fix` sets (#83 point 1): rulesets
//! locking every branch and every tag, `GITHUB_TOKEN`'s default
//! permissions and secret scanning with push protection, each through
//! GitHub's own endpoint (checked against the OpenAPI description and
//! the permission map) and only where doctor's row fails; a private
//! repository's secret scanning is left to the provider, and every
//! customer repo is reported in one row.

use crate::common;
use crate::doctor::manager::{doctor, register_repo_ids, row, without_rulesets};
use crate::support::fake_github::SecretScanning;
use crate::support::readme_budgets::Budgets;
use crate::world::MANAGER;

const FIX: &str = "`doctor --fix`";

fn writes(gh: &crate::support::fake_github::FakeGitHub) -> Vec<String> {
    gh.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

const ROWS: [&str; 5] = [
    "rulesets (branches)",
    "rulesets (tags)",
    "workflow permissions",
    "workflow approvals",
    "secret scanning",
];

#[test]
fn fix_sets_rulesets_workflow_permissions_and_secret_scanning_once() {
    let gh = without_rulesets();
    gh.set_private(MANAGER, false);
    gh.set_workflow_permissions(MANAGER, "write", true);
    gh.set_secret_scanning(MANAGER, SecretScanning::default());
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);

    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(row(&r.stdout, "secret scanning").2, "off", "{}", r.stdout);
    for what in ROWS {
        assert_ne!(row(&r.stdout, what).1, "pass", "{what}\n{}", r.stdout);
    }

    let r = doctor(&gh, &fx, &[], &["--fix"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for want in [
        "create ruleset `fleetform: lock every branch`: active on every branch, restricting creation, update and deletion; the repository's admins may bypass it  [doctor: rulesets (branches)]",
        "create ruleset `fleetform: lock every tag`: active on every tag, restricting creation, update and deletion; the repository's admins may bypass it  [doctor: rulesets (tags)]",
        "set the workflow permissions: GITHUB_TOKEN reads by default, and GitHub Actions may not approve pull requests  [doctor: workflow permissions, workflow approvals]",
        "turn on secret scanning and push protection  [doctor: secret scanning]",
        "4 changes planned, nothing changed",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));

    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        writes(&gh).len(),
        4 * Budgets::from_book().n(FIX, " write per repository setting"),
        "{:?}",
        writes(&gh)
    );
    let rulesets = gh.rulesets(MANAGER);
    assert_eq!(rulesets.len(), 2);
    for r in &rulesets {
        assert_eq!(
            (r.enforcement.as_str(), &r.include[..]),
            ("active", &["~ALL".to_string()][..])
        );
        assert_eq!(r.rules, ["creation", "update", "deletion"]);
    }
    assert_eq!(
        gh.workflow_permissions(MANAGER),
        ("read".to_string(), false)
    );
    assert_eq!(
        gh.secret_scanning(MANAGER),
        SecretScanning {
            scanning: true,
            push_protection: true
        }
    );
    let audit = fx.read("manager/.fleetform/audit.jsonl");
    assert_eq!(audit.matches("\"doctor-fix\"").count(), 4, "{audit}");

    let r = doctor(&gh, &fx, &[], &[]);
    for what in ROWS {
        assert_eq!(row(&r.stdout, what).1, "pass", "{what}\n{}", r.stdout);
    }
    let before = writes(&gh).len();
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert!(r.stdout.contains("nothing to fix"), "{}", r.stdout);
    assert_eq!(writes(&gh).len(), before);
    gh.assert_clean();
}

/// On a private repository GitHub offers secret scanning with GitHub
/// Secret Protection only: left to the provider, said why. The customer
/// repos are one row, naming those with it off.
#[test]
fn a_private_repos_secret_scanning_is_left_and_customers_are_one_row() {
    let gh = without_rulesets();
    gh.set_private(MANAGER, true);
    gh.set_secret_scanning(MANAGER, SecretScanning::default());
    gh.set_secret_scanning(
        crate::doctor::manager::CUSTOMERS[1],
        SecretScanning::default(),
    );
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let r = doctor(&gh, &fx, &[], &["--fix", "--yes"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "left for you: secret scanning on a private repository needs GitHub Secret Protection"
        ),
        "{}",
        r.stdout
    );
    assert!(
        !writes(&gh).iter().any(|w| w.starts_with("PATCH")),
        "{:?}",
        writes(&gh)
    );
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, verdict, found) = row(&r.stdout, "secret scanning (customer repos)");
    assert_eq!(verdict, "WARN", "{}", r.stdout);
    assert!(
        found.starts_with("off, or without push protection, on "),
        "{found}"
    );
}
