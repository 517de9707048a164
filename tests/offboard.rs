//! Offboarding (issue #37 point 2) on the test cloud: `customers offboard`
//! plans the destroy of everything a revoked customer has, applies it
//! only with the plans' digest, archives each final state in the records
//! store and marks the registry entry; a destroy that fails halfway names
//! what is left and leaves the customer revoked, and the others go on.

use serde_json::Value;

use crate::common::{stderr, stdout};
use crate::fakecloud;
use crate::support::rollout_world::World;

/// c01 in staging and production, both applied, then revoked.
fn revoked() -> World {
    let w = World::with(1, "staging");
    let reg = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &reg.replace(
            "environments: [staging]",
            "environments: [staging, production]",
        ),
    );
    for env in ["staging", "production"] {
        w.expect(0, &["plan", "--customer", "c01", "--env", env]);
        w.expect(0, &["apply", "--customer", "c01", "--env", env]);
    }
    assert_eq!(
        count(&w, "c01-staging"),
        3,
        "{:?}",
        fakecloud::objects(&w.cloud_file).keys()
    );
    assert!(count(&w, "c01-production") > 0);
    // Active customers are not offboarded.
    let out = w.expect(
        2,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    assert!(stderr(&out).contains("revoke it first"), "{}", stderr(&out));
    w.expect(
        0,
        &["customers", "revoke", "c01", "--reason", "contract ended"],
    );
    w
}

/// Objects in the cloud whose name starts with `prefix`.
fn count(w: &World, prefix: &str) -> usize {
    fakecloud::objects(&w.cloud_file)
        .values()
        .filter(|o| o["name"].as_str().unwrap_or_default().starts_with(prefix))
        .count()
}

/// Plans the offboarding; its digest.
fn plan(w: &World) -> String {
    let out = w.expect(
        0,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    let text = stdout(&out);
    assert!(text.contains("CAUTION"), "{text}");
    assert!(text.contains("fakecloud_network.main"), "{text}");
    // The dependents' environments in registry order: staging, production.
    let staging = text.find("## c01/staging").expect("staging's plan");
    let production = text.find("## c01/production").expect("production's plan");
    assert!(staging < production, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Offboarding digest: "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}

fn archived(w: &World, env: &str) -> Vec<Value> {
    let dir = w.fx.path(&format!(
        "manager/.fleetform/records/offboarded/c01/_/{env}"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect()
}

#[test]
fn an_offboarding_destroys_everything_and_archives_the_state() {
    let w = revoked();
    let digest = plan(&w);
    // Nothing is destroyed without the digest, nor by a plain apply.
    w.expect(
        3,
        &[
            "customers",
            "offboard",
            "c01",
            "--reason",
            "r",
            "--approve",
            "0123456789ab",
        ],
    );
    let out = w.expect(3, &["apply", "--customer", "c01", "--env", "staging"]);
    assert!(
        stderr(&out).contains("customers offboard --approve"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&w, "c01-staging"), 3);
    w.expect(
        0,
        &[
            "customers",
            "offboard",
            "c01",
            "--reason",
            "contract ended",
            "--approve",
            &digest[..16],
        ],
    );
    assert!(
        fakecloud::objects(&w.cloud_file).is_empty(),
        "{:?}",
        fakecloud::objects(&w.cloud_file)
    );
    for env in ["staging", "production"] {
        let states = archived(&w, env);
        assert_eq!(states.len(), 1, "{env}");
        assert!(states[0]["lineage"].is_string(), "{env}: {}", states[0]);
        assert_eq!(states[0]["resources"], serde_json::json!([]), "{env}");
    }
    let reg = w.fx.read("manager/customers.yml");
    let today = jiff::Zoned::now().date().to_string();
    assert!(reg.contains(&format!("    offboarded: {today}\n")), "{reg}");
    assert!(reg.contains("status: revoked"), "{reg}");
    let offboards: Vec<Value> = w
        .audit()
        .into_iter()
        .filter(|e| e["action"] == "offboard")
        .collect();
    assert_eq!(offboards.len(), 2, "{offboards:?}");
    assert!(offboards
        .iter()
        .all(|e| e["result"] == "ok" && e["reason"] == "contract ended"));
    assert!(w
        .audit()
        .iter()
        .any(|e| e["action"] == "registry" && e["result"] == "offboarded"));
    // Once offboarded, there is nothing left to do.
    w.expect(2, &["customers", "offboard", "c01", "--reason", "again"]);
}

#[test]
fn an_offboarding_that_fails_halfway_says_what_is_left() {
    let w = revoked();
    let digest = plan(&w);
    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_DELETE_ON", "c01-staging-web-0")
        .args([
            "customers",
            "offboard",
            "c01",
            "--reason",
            "contract ended",
            "--approve",
            &digest,
        ])
        .output()
        .unwrap();
    crate::common::assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("`c01` stays revoked"), "{err}");
    assert!(err.contains("c01/staging"), "{err}");
    assert!(err.contains("fakecloud_instance.web[0]"), "{err}");
    assert!(err.contains("fakecloud_network.main"), "{err}");
    // Halfway: the bucket went, the instance and its network stayed.
    assert_eq!(count(&w, "c01-staging-logs"), 0);
    assert_eq!(count(&w, "c01-staging"), 2);
    // The other environment went on and is gone, its state archived.
    assert_eq!(count(&w, "c01-production"), 0);
    assert_eq!(archived(&w, "production").len(), 1);
    assert!(archived(&w, "staging").is_empty());
    let reg = w.fx.read("manager/customers.yml");
    assert!(!reg.contains("offboarded:"), "{reg}");
    assert!(reg.contains("status: revoked"), "{reg}");
}

#[test]
fn products_are_destroyed_dependents_first() {
    crate::common::require_terraform();
    let fx = crate::common::Fixture::new();
    let installed = fakecloud::install(&fx.path("fakecloud"));
    let cloud = fx.path("cloud.json");
    let reg = fx.read("products/manager/customers.yml");
    fx.write(
        "products/manager/customers.yml",
        &reg.replacen(
            "environments: [staging, production]",
            "environments: [staging]",
            1,
        ),
    );
    let run = |code: i32, args: &[&str]| {
        let out = crate::common::fleetform_bin()
            .current_dir(fx.path("products/manager"))
            .env("TF_CLI_CONFIG_FILE", &installed.cli_config)
            .env("FAKECLOUD_FILE", &cloud)
            .args(args)
            .output()
            .unwrap();
        crate::common::assert_code_for(format_args!("{args:?}"), &out, code);
        out
    };
    let acme = || {
        fakecloud::objects(&cloud)
            .values()
            .filter(|o| o["name"].as_str().unwrap_or_default().starts_with("acme"))
            .count()
    };
    for product in ["network", "app"] {
        run(0, &["plan", "--customer", "acme", "--env", "staging"]);
        run(
            0,
            &[
                "apply",
                "--customer",
                "acme",
                "--product",
                product,
                "--env",
                "staging",
            ],
        );
    }
    assert!(acme() >= 2, "{:?}", fakecloud::objects(&cloud).keys());
    run(
        0,
        &["customers", "revoke", "acme", "--reason", "contract ended"],
    );
    let text = stdout(&run(
        0,
        &[
            "customers",
            "offboard",
            "acme",
            "--reason",
            "contract ended",
        ],
    ));
    let app = text
        .find("## acme/app/staging")
        .unwrap_or_else(|| panic!("{text}"));
    let network = text
        .find("## acme/network/staging")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        app < network,
        "the app (which needs the network) goes first:\n{text}"
    );
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("Offboarding digest: "))
        .unwrap()
        .to_string();
    run(
        0,
        &[
            "customers",
            "offboard",
            "acme",
            "--reason",
            "contract ended",
            "--approve",
            &digest,
        ],
    );
    assert_eq!(acme(), 0, "{:?}", fakecloud::objects(&cloud).keys());
    let audit =
        std::fs::read_to_string(fx.path("products/manager/.fleetform/audit.jsonl")).unwrap();
    let order: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "offboard")
        .map(|e| e["product"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, ["app", "network"]);
}
