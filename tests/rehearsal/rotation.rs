//! A customer rotates a secret: its pull request changes only
//! `infra/secrets.staging.yml` (encrypted with the `age` tool to its
//! recipient in the registry), the trigger workflow runs for it (its
//! `paths: infra/**`), the relay dispatches it, and the deploy workflow's
//! key job reads the customer's identity in its own environment
//! (`staging-secrets-acme`, by name) and hands it to the staging plan
//! sealed for the run, which decrypts the secret and comments; the plan
//! job receives no customer identity as a secret, and the value is in no
//! log (#82 point 2).

use serde_json::json;

use crate::relay::serve::RelayWorld;
use crate::secrets::cloud::{encrypt, keygen};
use crate::support::actions_runner::Event;
use crate::templates::deploy_run::deploy_runner;
use crate::world::ACME;

const VALUE: &str = "rotated-Pa55word-51c3";

/// acme's secrets file for staging: `db_password` encrypted to `recipient`.
fn secrets_file(recipient: &str, value: &str) -> String {
    let ciphertext: String = encrypt(recipient, value)
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    format!("recipient: {recipient}\nsecrets:\n  db_password:\n    updated: 2026-11-20\n    value: |\n{ciphertext}")
}

#[test]
fn a_secrets_rotation_pull_request_is_planned_through_the_relay() {
    let rw = RelayWorld::new();
    let w = &rw.w;
    let (recipient, identity) = keygen();
    // The provider's side: `secrets:`, acme's recipient in the registry,
    // the secret in the schema and the root module (the book's
    // "Customer secrets").
    let (secrets, handoff) =
        crate::secrets::cloud::secrets_with_handoff(&["staging", "production"]);
    w.fx.append("manager/fleetform.yml", &secrets);
    let registry = w.fx.read("manager/customers.yml").replacen(
        "    repo: acme-corp/acme-infra\n",
        &format!("    repo: acme-corp/acme-infra\n    secrets: {{staging: {recipient}}}\n"),
        1,
    );
    w.fx.write("manager/customers.yml", &registry);
    let schema_path = "manager/schema/variables.schema.json";
    let mut schema: serde_json::Value = serde_json::from_str(&w.fx.read(schema_path)).unwrap();
    schema["properties"]["db_password"] =
        json!({"type": "string", "writeOnly": true, "minLength": 12});
    w.fx.write(schema_path, &serde_json::to_string_pretty(&schema).unwrap());
    w.fx.append(
        "manager/terraform/main.tf",
        "\nvariable \"db_password\" {\n  type      = string\n  default   = null\n  sensitive = true\n}\n",
    );
    let relay = rw.start(4);
    let mut manager = deploy_runner(w);
    // acme's own environment for its staging key: default branch only.
    w.gh.set_environment(
        crate::world::MANAGER,
        "staging-secrets-acme",
        crate::support::fake_github::Environment {
            branch_policy: crate::support::fake_github::BranchPolicy::Custom(vec![(
                "main".into(),
                "branch".into(),
            )]),
            ..Default::default()
        },
    );
    manager.secret(
        &w.gh,
        Some("staging-secrets-acme"),
        "FLEETFORM_SECRETS_KEY",
        &identity,
    );
    crate::secrets::cloud::store_handoff(&mut manager, &w.gh, &handoff);
    let mut customer = crate::rehearsal::relay_loop::customer_runner(&rw, &relay.url);

    // The customer's pull request changes only its secrets file.
    let head = w.gh.commit(
        ACME,
        "rotate",
        &[(
            "infra/secrets.staging.yml",
            &secrets_file(&recipient, VALUE),
        )],
    );
    let pr =
        w.gh.open_pr(ACME, "rotate", "main", "Rotate the database password");
    let d = crate::rehearsal::relay_loop::opened(&rw, &mut customer, pr, "rotate", &head);
    let run = manager.run(&w.gh, "workflows/manager-deploy.yml", &Event::dispatch(&d));
    run.assert_succeeded(&["authorise", "key-staging", "plan-staging", "conclude"]);
    // The key job alone received acme's identity; the plan job none.
    let key_log = &run.job("key-staging").log;
    assert!(
        key_log.contains(r#"environment Some("staging-secrets-acme")"#)
            && key_log.contains(r#"secrets ["FLEETFORM_SECRETS_KEY"]"#),
        "{key_log}"
    );
    let plan_log = &run.job("plan-staging").log;
    let received = plan_log
        .lines()
        .find(|l| l.starts_with("runner: job plan-staging: environment"))
        .unwrap_or_default();
    assert!(
        received.contains("secrets [") && !received.contains("FLEETFORM_SECRETS_KEY"),
        "{received}"
    );
    // The plan decrypted the rotated secret for Terraform: the comment
    // names it by its source, never by value.
    let comments = w.gh.comments(ACME, pr);
    assert!(
        comments
            .iter()
            .any(|c| c.body.contains("customer=acme environment=staging")
                && c.body
                    .contains("`db_password` from `infra/secrets.staging.yml#db_password`")),
        "{comments:?}"
    );
    for (id, job) in &run.jobs {
        assert!(
            !job.log.contains(VALUE),
            "the secret's value in job {id}'s log"
        );
    }
    assert!(w
        .gh
        .all_comments()
        .iter()
        .all(|(_, c)| !c.body.contains(VALUE)));
    w.gh.assert_clean();
}
