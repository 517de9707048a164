//! Concurrency and remote state.
//!
//! - Two `fleetform plan` runs for the same customer × environment and the
//!   same `--out`, started together, do not corrupt each other: both
//!   succeed (or one fails clearly) and the final `summary.json` vouches
//!   for the final `tfplan`.
//! - The `s3` backend, for real, against moto's S3 server on 127.0.0.1
//!   (installed by `tests/install-moto.sh`; missing moto fails the test with
//!   that hint): state keys land where `terraform.state_key` says, and two
//!   applies of one customer × environment at once never both apply and
//!   never corrupt the state.
//! - That second property rests on S3's conditional write (Terraform takes
//!   its lock with `If-None-Match: *`): moto's server keeps it atomic only
//!   because tests/support/moto_server.py handles one request at a time,
//!   and a test here holds the race window open to show it.

use crate::common;
use crate::moto;

use std::process::Child;

use common::{assert_ok as ok, require_terraform, sha256_hex, stderr, stdout, Fixture};
use moto::{curl, curl_put_if_absent_at_once, Moto, BUCKET};
use serde_json::Value;

/// Spawns `fleetform` with the fixture's scrubbed environment.
fn spawn(fx: &Fixture, args: &[&str], env: &[(&str, String)]) -> std::process::Child {
    common::run_bin(args)
        .env("TF_CLI_CONFIG_FILE", fx.path("terraformrc"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(fx.manager())
        .spawn()
}

fn wait(child: Child) -> std::process::Output {
    child.wait_with_output().unwrap()
}

#[test]
fn two_plans_into_the_same_out_dir_at_once() {
    require_terraform();
    let fx = Fixture::new();
    let args = [
        "plan",
        "--customer",
        "acme",
        "--env",
        "staging",
        "--out",
        "shared-out",
    ];
    for round in 0..3 {
        let a = spawn(&fx, &args, &[]);
        let b = spawn(&fx, &args, &[]);
        let (a, b) = (wait(a), wait(b));
        for out in [&a, &b] {
            let code = out.status.code();
            assert!(
                code == Some(0)
                    || (code == Some(1) && stderr(out).contains("lock"))
                    || (code == Some(1) && stderr(out).contains("error")),
                "round {round}: exit {code:?}\n{}\n{}",
                stdout(out),
                stderr(out)
            );
            assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
        }
        assert!(
            a.status.success() || b.status.success(),
            "round {round}: at least one plan succeeds:\n{}\n{}",
            stderr(&a),
            stderr(&b)
        );
        let dir = fx.manager().join("shared-out/acme/staging");
        let summary: Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(
            summary["plan_sha256"].as_str().unwrap(),
            sha256_hex(&dir.join("tfplan")),
            "round {round}: the final summary.json vouches for the final tfplan"
        );
        // The vouched-for plan applies (nothing half-written).
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".work-") || n.starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
    common::run(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--plan-dir",
            "shared-out/acme/staging",
        ],
    )
    .ok();
}

// ---------------------------------------------------------------------------
// The s3 backend against moto.

fn s3_fixture(moto: &Moto) -> Fixture {
    let fx = Fixture::new();
    let cfg = fx.read("manager/fleetform.yml");
    let cfg = cfg
        .replace(
            "  backend:\n    kind: local\n    state_dir: .fleetform/state\n",
            &format!(
                "  backend:\n    kind: s3\n    bucket: {BUCKET}\n    region: us-east-1\n    endpoint: {}\n    use_path_style: true\n    use_lockfile: true\n",
                moto.url("")
            ),
        )
        .replace(
            "state_key: \"{customer}/{environment}/terraform.tfstate\"",
            "state_key: \"tenants/{customer}/{environment}.tfstate\"",
        );
    assert!(
        cfg.contains("kind: s3") && cfg.contains("tenants/"),
        "{cfg}"
    );
    fx.write("manager/fleetform.yml", &cfg);
    fx
}

fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn run(fx: &Fixture, args: &[&str]) -> std::process::Output {
    wait(spawn(fx, args, &aws_env()))
}

fn state(moto: &Moto, key: &str) -> Value {
    let text = moto
        .object(key)
        .unwrap_or_else(|| panic!("no state at {key}; bucket holds {:?}", moto.keys()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("state at {key} is not JSON: {e}"))
}

/// Writers racing to create one key (Terraform's `.tflock`): exactly one
/// wins, the others get 412, however long moto takes between its check and
/// its write (held at 300 ms here; moto's own threaded server lets every
/// writer through that window).
#[test]
fn moto_conditional_writes_let_exactly_one_writer_create_a_key() {
    let moto = Moto::start_with_write_delay(300);
    assert!(
        curl(&moto.url(&format!("/{BUCKET}")), "PUT").is_some(),
        "create the bucket"
    );
    let url = moto.url(&format!("/{BUCKET}/tenants/acme/staging.tfstate.tflock"));
    let bodies = ["writer-0", "writer-1", "writer-2", "writer-3"];
    let mut codes = curl_put_if_absent_at_once(&url, &bodies);
    codes.sort_unstable();
    assert_eq!(codes, [200, 412, 412, 412], "one writer creates the key");
    let body = moto
        .object("tenants/acme/staging.tfstate.tflock")
        .expect("the key exists");
    assert!(
        bodies.contains(&body.as_str()),
        "one writer's whole body: {body}"
    );
}

#[test]
fn s3_backend_state_keys_and_concurrent_applies() {
    require_terraform();
    let moto = Moto::start();
    assert!(
        curl(&moto.url(&format!("/{BUCKET}")), "PUT").is_some(),
        "create the bucket"
    );
    let fx = s3_fixture(&moto);

    // Plan and apply two customers: each state lands at its own key.
    for (c, e) in [
        ("acme", "staging"),
        ("globex", "staging"),
        ("acme", "production"),
    ] {
        ok(&run(&fx, &["plan", "--customer", c, "--env", e]));
        ok(&run(&fx, &["apply", "--customer", c, "--env", e]));
    }
    let mut keys = moto.keys();
    keys.sort();
    assert_eq!(
        keys,
        [
            "tenants/acme/production.tfstate",
            "tenants/acme/staging.tfstate",
            "tenants/globex/staging.tfstate",
        ],
        "one state per customer × environment, at the templated key; no lock left behind"
    );
    let acme = state(&moto, "tenants/acme/staging.tfstate");
    let serial = acme["serial"].as_u64().unwrap();
    let lineage = acme["lineage"].as_str().unwrap().to_string();
    assert!(!acme["resources"].as_array().unwrap().is_empty());
    let globex = state(&moto, "tenants/globex/staging.tfstate");
    assert_ne!(
        globex["lineage"].as_str().unwrap(),
        lineage,
        "separate states"
    );

    // A fleet plan copies one prepared data dir per pair: each reads the
    // state at its own key (the applied ones plan no change, the one never
    // applied plans its resources), and nothing else lands in the bucket.
    let fleet = run(&fx, &["plan", "--all", "--jobs", "2", "--json", "-q"]);
    ok(&fleet);
    let rows: Vec<Value> = serde_json::from_slice(&fleet.stdout).unwrap();
    let changes = |c: &str, e: &str| {
        let r = rows
            .iter()
            .find(|r| r["customer"] == c && r["environment"] == e)
            .unwrap_or_else(|| panic!("no row {c}/{e}: {rows:?}"));
        assert_eq!(r["result"], "planned", "{r}");
        r["summary"]["has_changes"].as_bool().unwrap()
    };
    assert!(!changes("acme", "staging"));
    assert!(!changes("globex", "staging"));
    assert!(!changes("acme", "production"));
    assert!(changes("globex", "production"));
    let mut after = moto.keys();
    after.sort();
    assert_eq!(after, keys, "a fleet plan writes nothing to the bucket");

    // Two plans of one change, then both applies at once.
    let vars = fx.read("customers/acme/infra/variables.yml");
    fx.write(
        "customers/acme/infra/variables.yml",
        &vars.replace("max_instances: 2", "max_instances: 3"),
    );
    for out in ["out-a", "out-b"] {
        ok(&run(
            &fx,
            &[
                "plan",
                "--customer",
                "acme",
                "--env",
                "staging",
                "--out",
                out,
            ],
        ));
    }
    let a = spawn(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--plan-dir",
            "out-a/acme/staging",
        ],
        &aws_env(),
    );
    let b = spawn(
        &fx,
        &[
            "apply",
            "--customer",
            "acme",
            "--env",
            "staging",
            "--plan-dir",
            "out-b/acme/staging",
        ],
        &aws_env(),
    );
    let (a, b) = (wait(a), wait(b));
    let results = [&a, &b];
    let applied = results.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        applied,
        1,
        "exactly one apply wins:\nA: {}\n{}\nB: {}\n{}",
        stdout(&a),
        stderr(&a),
        stdout(&b),
        stderr(&b)
    );
    let loser = results.iter().find(|o| !o.status.success()).unwrap();
    let msg = stderr(loser);
    assert!(
        msg.contains("stale") || msg.contains("locked"),
        "the other one waits for the lock, then finds its plan stale (or gives up on the lock), and says so:\n{msg}"
    );
    assert!(!msg.contains("panicked"), "{msg}");
    common::assert_fails(&loser);

    // The state is intact: parses, same lineage, serial moved on once.
    let after = state(&moto, "tenants/acme/staging.tfstate");
    assert_eq!(after["lineage"].as_str().unwrap(), lineage);
    assert_eq!(
        after["serial"].as_u64().unwrap(),
        serial + 1,
        "one apply, one new serial"
    );
    let max = after["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "autoscaling")
        .unwrap()["instances"][0]["attributes"]["input"]["value"]["max"]
        .as_u64();
    assert_eq!(max, Some(3), "the applied change is in the state");
    assert!(
        !moto.keys().iter().any(|k| k.ends_with(".tflock")),
        "no lock left behind: {:?}",
        moto.keys()
    );

    // A fresh plan after all this sees no changes: the state is consistent.
    let out = run(
        &fx,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    );
    ok(&out);
    let dir = fx.manager().join(".fleetform/out/acme/staging");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["has_changes"], false, "{summary}");
    assert_eq!(summary["state_key"], "tenants/acme/staging.tfstate");
}
