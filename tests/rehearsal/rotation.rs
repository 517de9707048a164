//! A customer rotates a secret: its pull request changes only
//! `infra/secrets.staging.yml` (encrypted with the `age` tool to its
//! recipient in the registry), the trigger workflow runs for it (its
//! `paths: infra/**`), the relay dispatches it, and the deploy workflow's
//! staging plan decrypts it with the customer's key from the plan
//! environment (`secrets-key: secrets[secrets_key]`, the name authorise
//! gives) and comments; the value is in no log.

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
    w.fx.append("manager/fleetform.yml", "\nsecrets: {}\n");
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
    manager.secret(
        &w.gh,
        Some("staging-plan"),
        &fleetform::values::secret_files::key_secret_name("acme"),
        &identity,
    );
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
    run.assert_succeeded(&["authorise", "plan-staging", "conclude"]);
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
