//! Ephemeral secrets through apply (#82 point 1): a secret bound for an
//! `ephemeral = true` variable that reaches the test cloud's write-only
//! argument (`fakecloud_secret.value_wo`) is planned, applied from the
//! saved plan with the value decrypted again, and found in no file
//! fleetform or Terraform wrote: not the plan file, not the state. The
//! apply without the customer's key is refused before Terraform runs.

use std::path::Path;

use crate::common::{self, stderr, stdout};
use crate::secrets::cloud::{encrypt, run, secrets_file, world, VALUE};
use crate::support::rollout_world::World;

/// The secrets world with `db_password` ephemeral, sent to the cloud
/// through a write-only argument (an ephemeral value may go nowhere else).
pub(crate) fn ephemeral_world() -> (World, [(String, String); 2]) {
    let (w, keys) = world();
    let module = w
        .fx
        .read("manager/terraform/main.tf")
        .replace(
            "  tags  = merge(var.tags, var.db_password == null ? {} : { db = var.db_password })\n}",
            "  tags  = var.tags\n}",
        )
        .replace(
            "  default   = null\n  sensitive = true\n}",
            "  default   = null\n  sensitive = true\n  ephemeral = true\n}\n\nresource \"fakecloud_secret\" \"db\" {\n  name             = \"${var.customer}-db\"\n  value_wo         = var.db_password\n  value_wo_version = 1\n}",
        );
    assert!(module.contains("ephemeral = true") && !module.contains("db = var.db_password"));
    w.fx.write("manager/terraform/main.tf", &module);
    (w, keys)
}

/// Every file under `dir` holding `needle`: plan files, states and logs
/// included.
pub(crate) fn every_file_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(every_file_holding(&p, needle));
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn sha256_hex(v: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(v.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn an_ephemeral_secret_is_applied_again_and_kept_in_no_plan_file_or_state() {
    let (w, keys) = ephemeral_world();
    let file = secrets_file(&keys[0].0, &encrypt(&keys[0].0, VALUE));
    w.fx.write("customers/c01/infra/secrets.staging.yml", &file);
    let args = |cmd: &'static str| [cmd, "--customer", "c01", "--env", "staging"];

    let plan = run(&w, &keys[0].1, &args("plan"));
    common::assert_code(&plan, 0);
    let summary: serde_json::Value =
        serde_json::from_str(&w.fx.read("manager/.fleetform/out/c01/staging/summary.json"))
            .unwrap();
    assert_eq!(summary["secrets"][0]["name"], "db_password");
    assert!(
        summary["secrets"][0].get("stored").is_none(),
        "an ephemeral secret is not kept in the plan file: {summary}"
    );
    let comment = w.fx.read("manager/.fleetform/out/c01/staging/comment.md");
    assert!(comment.contains("`db_password`"), "{comment}");
    assert!(
        !comment.contains("Kept in the sealed plan file"),
        "{comment}"
    );
    let show = run(&w, &keys[0].1, &["customers", "show", "c01"]);
    assert!(
        !stdout(&show).contains("secrets in plans"),
        "{}",
        stdout(&show)
    );

    // The apply without the customer's key: Terraform would ask for the
    // value; fleetform refuses first, saying which key, and applies nothing.
    let keyless = w.fleetform().args(args("apply")).output();
    assert_ne!(keyless.status.code(), Some(0));
    let said = format!("{}{}", stdout(&keyless), stderr(&keyless));
    assert!(said.contains("no key for c01/staging"), "{said}");
    assert!(crate::fakecloud::objects(&w.cloud_file).is_empty());

    let apply = run(&w, &keys[0].1, &args("apply"));
    common::assert_code(&apply, 0);
    // The cloud received the value at apply (it keeps its digest).
    let objects = crate::fakecloud::objects(&w.cloud_file);
    let secret = objects
        .iter()
        .find(|(k, _)| k.starts_with("fakecloud_secret/"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no secret in the cloud: {objects:?}"));
    assert_eq!(secret["value_wo_sha256"], sha256_hex(VALUE), "{secret}");
    assert_eq!(secret["value_wo"], serde_json::Value::Null);

    // No byte of it anywhere: out folders, the plan file, the state, logs.
    for out in [&plan, &apply] {
        assert!(!stdout(out).contains(VALUE) && !stderr(out).contains(VALUE));
    }
    let leaked = every_file_holding(&w.fx.path("manager"), VALUE.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    let plan_file = w.fx.path("manager/.fleetform/out/c01/staging/tfplan");
    assert!(plan_file.is_file(), "the plan file was searched");
}
