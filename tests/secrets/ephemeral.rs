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
/// included, a plan file (a zip archive, its entries compressed) searched
/// in its entries.
pub(crate) fn every_file_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !e.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        if holds(&searchable(&bytes), needle) {
            found.push(e.path().display().to_string());
        }
    }
    found
}

fn holds(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// `bytes` as a search sees them: a zip archive (Terraform's saved plan)
/// with each entry's content appended, uncompressed by the `unzip` tool
/// (fails, never skips, without it).
pub(crate) fn searchable(bytes: &[u8]) -> Vec<u8> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return bytes.to_vec();
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive.zip");
    std::fs::write(&archive, bytes).unwrap();
    let out = std::process::Command::new("unzip")
        .arg("-p")
        .arg(&archive)
        .output()
        .unwrap_or_else(|e| {
            panic!("`unzip` did not run ({e}); these tests read Terraform's plan files with it: install it (Debian/Ubuntu: apt-get install unzip)")
        });
    assert!(
        out.status.success(),
        "unzip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = bytes.to_vec();
    all.extend(out.stdout);
    all
}

pub(crate) fn sha256_hex(v: &str) -> String {
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
