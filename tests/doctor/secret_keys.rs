//! `doctor` checks that each customer's secrets identity is where its
//! plans read it: `FLEETFORM_SECRETS_KEY_<SLUG>` in the plan environment
//! of every environment it has a recipient for (one row per plan
//! environment, naming what is missing and the key file to add).

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, CREDENTIALS};
use crate::world::MANAGER;

#[test]
fn each_customers_key_is_checked_in_its_plan_environments() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let registry = fx.read("manager/customers.yml").replacen(
        "    added: 2026-01-15\n",
        "    added: 2026-01-15\n    secrets:\n      staging: age1waqp3az0rj3k07ymad4jrpcarl97c0570nsgk0tcr325zper6ggsxxfk45\n      production: age1zx09khxwl79hvznc0lh5lwm7ect5hee5dkwpfch3lzk6yhyu8gjqrkvwa7\n",
        1,
    );
    assert!(registry.contains("age1waqp"), "acme's entry: {registry}");
    fx.write("manager/customers.yml", &registry);
    fx.append(
        "manager/fleetform.yml",
        "\nsecrets:\n  keys_dir: .fleetform/secret-keys\n",
    );
    // staging-plan holds acme's key; production-plan does not.
    let with_key: Vec<&str> = CREDENTIALS
        .iter()
        .copied()
        .chain(["FLEETFORM_SECRETS_KEY_ACME"])
        .collect();
    gh.set_environment(
        MANAGER,
        "staging-plan",
        crate::doctor::manager::env(&[], &with_key),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "customer secrets keys in staging-plan"),
        ("must", "pass", "1 customer's key")
    );
    let (level, result, found) = row(&r.stdout, "customer secrets keys in production-plan");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert_eq!(found, "missing FLEETFORM_SECRETS_KEY_ACME");
    assert!(
        r.stdout
            .contains(".fleetform/secret-keys/acme.production.agekey"),
        "{}",
        r.stdout
    );
    assert_ne!(r.code, 0);
    // No row for globex, which has no recipient; none without `secrets:`.
    assert!(!r.stdout.contains("FLEETFORM_SECRETS_KEY_GLOBEX"));
}
