//! Customer secrets in fleet jobs (drift, rollouts): they plan many
//! customers in one process and hold one identity, the fleet key
//! (`FLEETFORM_FLEET_SECRETS_KEY`), which opens only the planned pair's
//! entry of the fleet keyring (`secrets.keyring`). `customers add` seals
//! each identity it makes into the keyring (read back here with the `age`
//! command-line tool, another implementation), `revoke` drops the
//! customer's entries; a fleet job without the fleet key names it; the
//! secret reaches Terraform and nothing fleetform prints.

use crate::common::{self, stderr, stdout};
use crate::secrets::cloud::{encrypt, keygen, secrets_file, world, VALUE};
use crate::support::rollout_world::World;

/// `armored` opened by `age -d -i <identity file>`, another
/// implementation; `None` when `identity` does not open it.
fn age_open(w: &World, identity: &str, armored: &str) -> Option<String> {
    use std::io::Write as _;
    let key_file = w.fx.path("fleet.agekey");
    std::fs::write(&key_file, format!("{identity}\n")).unwrap();
    let mut child = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&key_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("`age` is not on PATH (Debian/Ubuntu: apt-get install age)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(armored.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// `text` decrypted by `age -d -i <identity file>`.
fn age_decrypt(w: &World, identity: &str, armored: &str) -> String {
    age_open(w, identity, armored).expect("the identity opens it")
}

/// c03 (c01's values) added with `customers add`.
fn add_c03(w: &World) -> crate::common::Ran {
    std::fs::create_dir_all(w.fx.path("customers/c03/infra")).unwrap();
    w.fx.write(
        "customers/c03/infra/variables.yml",
        &w.fx.read("customers/c01/infra/variables.yml"),
    );
    w.expect(
        0,
        &[
            "customers",
            "add",
            "c03",
            "--path",
            "../customers/c03",
            "--contact",
            "ops@c03.example",
        ],
    )
}

/// fleetform in the world, holding only the fleet key `key`.
fn fleet_run(w: &World, key: &str, args: &[&str]) -> crate::common::Ran {
    w.fleetform()
        .env("FLEETFORM_FLEET_SECRETS_KEY", key)
        .args(args)
        .output()
}

/// The keyring's entries: name → armored ciphertext.
fn entries(w: &World) -> Vec<(String, String)> {
    entries_of(w, "manager/secrets/keyring.yml")
}

/// The entries of the keyring at `rel`: name → armored ciphertext.
fn entries_of(w: &World, rel: &str) -> Vec<(String, String)> {
    let text = w.fx.read(rel);
    let doc: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    doc["secrets"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["value"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn customers_add_seals_each_identity_for_the_fleet_and_revoke_drops_it() {
    let (w, _) = world();
    let (fleet_r, fleet_id) = keygen();
    w.fx.append(
        "manager/fleetform.yml",
        &format!("  fleet_recipient: {fleet_r}\n"),
    );
    let out = add_c03(&w);
    assert!(stderr(&out).contains("fleet keyring"), "{}", stderr(&out));
    let sealed = entries(&w);
    assert_eq!(
        sealed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["c03/production", "c03/staging"]
    );
    // What the entry holds is the identity whose recipient the registry
    // names for c03/staging, and only the fleet key opens it.
    let identity = age_decrypt(&w, &fleet_id, &sealed[1].1);
    let on_disk =
        w.fx.read("manager/.fleetform/secret-keys/c03.staging.agekey");
    assert_eq!(identity.trim(), on_disk.trim());
    assert!(!w
        .fx
        .read("manager/secrets/keyring.yml")
        .contains(identity.trim()));

    w.expect(
        0,
        &["customers", "revoke", "c03", "--reason", "contract ended"],
    );
    assert!(entries(&w).is_empty(), "{:?}", entries(&w));
}

/// One fleet recipient per environment: `customers add` seals each
/// environment's identity into a keyring of its own, to that
/// environment's recipient, so the staging fleet identity opens no
/// production entry; `revoke` empties both.
#[test]
fn a_fleet_recipient_per_environment_keeps_each_environment_apart() {
    let (w, _) = world();
    let (staging_r, staging_id) = keygen();
    let (production_r, production_id) = keygen();
    w.fx.append(
        "manager/fleetform.yml",
        &format!("  fleet_recipient:\n    staging: {staging_r}\n    production: {production_r}\n"),
    );
    add_c03(&w);
    for (env, recipient, identity, other) in [
        ("staging", &staging_r, &staging_id, &production_id),
        ("production", &production_r, &production_id, &staging_id),
    ] {
        let rel = format!("manager/secrets/keyring.{env}.yml");
        assert!(
            w.fx.read(&rel).contains(&format!("recipient: {recipient}")),
            "{rel} is sealed to {env}'s fleet recipient"
        );
        let sealed = entries_of(&w, &rel);
        assert_eq!(
            sealed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [format!("c03/{env}").as_str()]
        );
        let on_disk =
            w.fx.read(&format!("manager/.fleetform/secret-keys/c03.{env}.agekey"));
        assert_eq!(
            age_decrypt(&w, identity, &sealed[0].1).trim(),
            on_disk.trim()
        );
        // The other environment's fleet identity does not open it.
        assert!(
            age_open(&w, other, &sealed[0].1).is_none(),
            "{env}'s entry opened with another environment's fleet identity"
        );
    }
    assert!(!w.fx.path("manager/secrets/keyring.yml").exists());
    // An environment that fleetform.yml does not have is refused.
    let config = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &config.replace("    staging: age1", "    qa: age1"),
    );
    let out = w.expect(2, &["validate"]);
    assert!(
        stderr(&out).contains("`qa` is not an environment of fleetform.yml"),
        "{}",
        stderr(&out)
    );
    w.fx.write("manager/fleetform.yml", &config);
    w.expect(
        0,
        &["customers", "revoke", "c03", "--reason", "contract ended"],
    );
    for env in ["staging", "production"] {
        assert!(entries_of(&w, &format!("manager/secrets/keyring.{env}.yml")).is_empty());
    }
}

/// The world with c01's secret and a keyring holding c01's identity,
/// sealed by the `age` tool to a fleet recipient; returns the fleet
/// identity.
fn fleet_world() -> (World, String) {
    let (w, keys) = world();
    let (fleet_r, fleet_id) = keygen();
    w.fx.append(
        "manager/fleetform.yml",
        &format!("  fleet_recipient: {fleet_r}\n"),
    );
    let sealed: String = encrypt(&fleet_r, &keys[0].1)
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    w.fx.write(
        "manager/secrets/keyring.yml",
        &format!("recipient: {fleet_r}\nsecrets:\n  c01/staging:\n    value: |\n{sealed}"),
    );
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    w.fx.git(&["add", "-A"]);
    w.fx.git(&["commit", "-qm", "secrets, sealed for the fleet"]);
    (w, fleet_id)
}

#[test]
fn a_rollout_plans_a_customer_with_secrets_with_the_fleet_key_alone() {
    let (w, fleet_id) = fleet_world();
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let out = fleet_run(&w, &fleet_id, &["rollout", "tick"]);
    common::assert_code(&out, 0);
    assert_eq!(w.rolled(), ["c01", "c02"]);
    let tagged = crate::fakecloud::objects(&w.cloud_file)
        .values()
        .any(|v| v["tags"]["db"].as_str() == Some(VALUE));
    assert!(tagged, "the secret never reached Terraform");
    assert!(!stdout(&out).contains(VALUE) && !stderr(&out).contains(VALUE));
    assert!(!stderr(&out).contains(&fleet_id));

    // Drift of the same fleet: nothing changed, with the fleet key alone.
    let out = fleet_run(&w, &fleet_id, &["drift", "--json"]);
    common::assert_code(&out, 0);
    assert!(!stdout(&out).contains(VALUE) && !stderr(&out).contains(VALUE));
}

#[test]
fn a_fleet_job_without_the_fleet_key_names_it_and_plans_the_others() {
    let (w, _) = fleet_world();
    let out = w.fleetform().args(["drift", "--json"]).output();
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("FLEETFORM_FLEET_SECRETS_KEY"), "{said}");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // c01 (its secrets need the fleet key) is the one error; c02 was
    // planned (never applied in this world: its plan is a first apply).
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer"].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["c01"], "{report:#}");
    assert_eq!(
        report["planned_customers"],
        serde_json::json!(["c02"]),
        "{report:#}"
    );
    assert_eq!(report["never_applied"][0]["customer"], "c02", "{report:#}");
    assert_eq!(
        report["never_applied"][0]["result"], "planned",
        "{report:#}"
    );

    // A wrong fleet key: the same, and no key is shown.
    let (_, other) = keygen();
    let out = fleet_run(&w, &other, &["drift", "--json"]);
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("holds no identity of secrets.fleet_recipient"),
        "{said}"
    );
    assert!(!said.contains("AGE-SECRET-KEY"), "{said}");
}

#[test]
fn impact_never_decrypts_and_says_which_pairs_it_withholds() {
    let (w, fleet_id) = fleet_world();
    // A reviewed-nowhere change of the defaults, on top of the secrets.
    w.change("tier: staging-2", "tier: staging-3");
    let out = fleet_run(
        &w,
        &fleet_id,
        &["impact", "--base", "HEAD~1", "--plan", "--json"],
    );
    common::assert_code(&out, 0);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("c01/staging is not previewed: it has secrets"),
        "{said}"
    );
    assert!(said.contains("planned c02/staging"), "{said}");
    assert!(!said.contains("planned c01/staging"), "{said}");
    assert!(!said.contains(VALUE));
    // Listed apart from failures (the run succeeds), with why.
    let answer: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let withheld = answer["plans"]["withheld"].to_string();
    assert!(
        withheld.contains("c01") && withheld.contains("has secrets"),
        "{answer}"
    );
    assert_eq!(answer["plans"]["failed"], serde_json::json!([]), "{answer}");
    // Nothing of c01 was planned, so nothing decrypted its secret.
    assert!(!w
        .fx
        .path("manager/.fleetform/impact/head/c01/staging/tfplan")
        .exists());
}
