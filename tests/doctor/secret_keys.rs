//! `doctor` checks where each customer's secrets identity lives (#82
//! point 2): in an environment of its own, `<env>-secrets-<slug>`, with
//! `FLEETFORM_SECRETS_KEY` and the artifact key, deployable from the
//! default branch only; and never in a plan environment, where a job
//! reading a secret by a computed name would receive every customer's.
//! And that each secret reaches a `sensitive` variable, and which ones
//! Terraform keeps in plan files and states (not `ephemeral`).

use crate::common;
use crate::doctor::manager::{configured, doctor, register_repo_ids, row, CREDENTIALS};
use crate::support::fake_github::BranchPolicy;
use crate::world::MANAGER;
use serde_json::Value;

#[test]
fn each_customers_key_is_checked_in_its_own_environment() {
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
    // acme's staging key environment is right; production's is missing.
    gh.set_environment(
        MANAGER,
        "staging-secrets-acme",
        crate::doctor::manager::env(&[], &["FLEETFORM_SECRETS_KEY"]),
    );
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "customer secrets keys for staging"),
        (
            "must",
            "pass",
            "1 customer's key, each in an environment of its own"
        )
    );
    let (level, result, found) = row(&r.stdout, "customer secrets keys for production");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert_eq!(found, "production-secrets-acme missing");
    assert!(
        r.stdout
            .contains(".fleetform/secret-keys/acme.production.agekey"),
        "{}",
        r.stdout
    );
    assert_ne!(r.code, 0);
    // The plan environments hold no customer's identity.
    assert_eq!(
        row(&r.stdout, "no customer secrets keys in staging-plan").1,
        "pass"
    );

    // Deployable from every branch, without the identity; and a key left
    // in the plan environment by the old layout.
    let mut open = crate::doctor::manager::env(&[], &[]);
    open.branch_policy = BranchPolicy::Any;
    gh.set_environment(MANAGER, "staging-secrets-acme", open);
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
    let (_, result, found) = row(&r.stdout, "customer secrets keys for staging");
    assert_eq!(result, "FAIL", "{}", r.stdout);
    assert!(
        found.contains("staging-secrets-acme: every branch may deploy")
            && found.contains("staging-secrets-acme lacks FLEETFORM_SECRETS_KEY"),
        "{found}"
    );
    let (level, result, found) = row(&r.stdout, "no customer secrets keys in staging-plan");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert!(
        found.contains("holds FLEETFORM_SECRETS_KEY_ACME"),
        "{found}"
    );
    // No row for globex, which has no recipient.
    assert!(!r.stdout.contains("secrets-globex"));
}

/// A secret the schema declares (`writeOnly: true`) bound for a root
/// module variable that is not `sensitive = true` fails a must row naming
/// it, before any customer's plan meets it; declared sensitive, it passes.
/// A should row names it while its variable is not `ephemeral` (Terraform
/// keeps it in plan files and states), and passes once it is.
#[test]
fn a_secret_bound_for_a_plain_variable_fails_a_must_row() {
    let gh = configured();
    let fx = common::Fixture::new();
    register_repo_ids(&fx, &gh, &[]);
    let schema_path = "manager/schema/variables.schema.json";
    let mut schema: Value = serde_json::from_str(&fx.read(schema_path)).unwrap();
    schema["properties"]["db_password"] = serde_json::json!({"type": "string", "writeOnly": true});
    fx.write(schema_path, &serde_json::to_string_pretty(&schema).unwrap());
    let module = fx.read("manager/terraform/main.tf");
    let plain = "\nvariable \"db_password\" {\n  type    = string\n  default = null\n}\n";
    fx.write("manager/terraform/main.tf", &format!("{module}{plain}"));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let (level, result, found) = row(&r.stdout, "secret variables are sensitive");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert!(
        found.contains("`db_password`") && found.contains("sensitive"),
        "{found}"
    );

    let sensitive = plain.replace("default = null\n", "default = null\n  sensitive = true\n");
    fx.write("manager/terraform/main.tf", &format!("{module}{sensitive}"));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "secret variables are sensitive").1,
        "pass",
        "{}",
        r.stdout
    );
    let (level, result, found) = row(&r.stdout, "secrets stay out of plan files and states");
    assert_eq!(level, "should", "{}", r.stdout);
    assert_ne!(result, "pass", "{}", r.stdout);
    assert!(found.contains("`db_password`"), "{found}");

    let ephemeral = sensitive.replace(
        "sensitive = true\n",
        "sensitive = true\n  ephemeral = true\n",
    );
    fx.write("manager/terraform/main.tf", &format!("{module}{ephemeral}"));
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(
        row(&r.stdout, "secrets stay out of plan files and states").1,
        "pass",
        "{}",
        r.stdout
    );
}
