//! Offboarding (issue #37 point 2, issue #48 point 3) on the test cloud:
//! `customers offboard` previews and seals the destroy of everything a
//! revoked customer has; with the preview's digest (and, on a
//! workstation, `--unreviewed`) it archives every state first, in the
//! records store, create-only, read back, and only then destroys, and
//! marks the registry entry. A state that cannot be kept, or changed
//! since the preview, destroys nothing; a destroy that fails halfway names
//! what is left and leaves the customer revoked, and the others go on.

use serde_json::Value;

use crate::common::{stderr, stdout};
use crate::fakecloud;
use crate::support::rollout_world::World;

/// c01 in staging and production, both applied, then revoked.
pub fn revoked() -> World {
    World::copied("offboard::revoked", "staging", made_and_revoked)
}

/// c01 registered for staging and production, nothing applied yet.
fn in_staging_and_production() -> World {
    let w = World::with(1, "staging");
    let reg = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &reg.replace(
            "environments: [staging]",
            "environments: [staging, production]",
        ),
    );
    w
}

fn made_and_revoked() -> World {
    let w = in_staging_and_production();
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
pub fn count(w: &World, prefix: &str) -> usize {
    fakecloud::objects(&w.cloud_file)
        .values()
        .filter(|o| o["name"].as_str().unwrap_or_default().starts_with(prefix))
        .count()
}

pub use crate::common::digest_of;

/// Previews the offboarding; its digest.
fn preview(w: &World) -> String {
    let out = w.expect(
        0,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("This will destroy 7 resources in 2 pairs"),
        "{text}"
    );
    assert!(text.contains("`fakecloud_network.main`"), "{text}");
    // The dependents' environments in registry order: staging, production.
    let staging = text
        .find("#### `c01/staging` will destroy")
        .expect("staging's list");
    let production = text
        .find("#### `c01/production` will destroy")
        .expect("production's list");
    assert!(staging < production, "{text}");
    // Totals and digest before any list of addresses.
    assert!(text.find("Digest `").unwrap() < staging, "{text}");
    digest_of(&text)
}

fn approve(digest: &str) -> Vec<&str> {
    vec!["customers", "offboard", "c01", "--approve", digest]
}

/// The states archived for `env`, as kept.
pub fn archived(w: &World, env: &str) -> Vec<Value> {
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

/// The offboarding records (`offboarded/c01/*-offboarding.json`).
pub fn offboarding_records(w: &World) -> Vec<Value> {
    let dir = w.fx.path("manager/.fleetform/records/offboarded/c01");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-offboarding.json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// The addresses a kept state holds (`type.name`, `type.name[i]`).
pub fn addresses(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in state["resources"].as_array().unwrap() {
        if r["mode"] != "managed" {
            continue;
        }
        let base = format!(
            "{}.{}",
            r["type"].as_str().unwrap(),
            r["name"].as_str().unwrap()
        );
        for i in r["instances"].as_array().unwrap() {
            match &i["index_key"] {
                Value::Null => out.push(base.clone()),
                Value::Number(n) => out.push(format!("{base}[{n}]")),
                other => out.push(format!("{base}[{other}]")),
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_offboarding_archives_every_resource_then_destroys_everything() {
    let w = revoked();
    let digest = preview(&w);
    // Nothing is destroyed without the digest, nor by a plain apply.
    let out = w.expect(
        3,
        &[&approve("0123456789ab")[..], &["--unreviewed"]].concat(),
    );
    assert!(
        stderr(&out).contains("is not the digest"),
        "{}",
        stderr(&out)
    );
    let out = w.expect(
        3,
        &[
            "apply",
            "--customer",
            "c01",
            "--env",
            "staging",
            "--unreviewed",
        ],
    );
    assert!(
        stderr(&out).contains("customers offboard --approve"),
        "{}",
        stderr(&out)
    );
    // On a workstation no one else reviews: only with --unreviewed.
    let out = w.expect(3, &approve(&digest[..16]));
    assert!(
        stderr(&out).contains("add --unreviewed"),
        "{}",
        stderr(&out)
    );
    // Another reason than the one the approver read.
    let out = w.expect(
        2,
        &[
            &approve(&digest)[..],
            &["--reason", "other", "--unreviewed"],
        ]
        .concat(),
    );
    assert!(
        stderr(&out).contains("--reason differs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&w, "c01-staging"), 3);
    assert!(archived(&w, "staging").is_empty(), "nothing kept yet");
    let out = w.expect(
        0,
        &[&approve(&digest[..16])[..], &["--unreviewed"]].concat(),
    );
    assert!(
        stdout(&out).contains("7 resources destroyed in 2 pairs, unreviewed: run by ops-dana"),
        "{}",
        stdout(&out)
    );
    assert!(
        fakecloud::objects(&w.cloud_file).is_empty(),
        "{:?}",
        fakecloud::objects(&w.cloud_file)
    );
    // Each archive is the state from before its destroy: every resource.
    let staging = archived(&w, "staging");
    assert_eq!(staging.len(), 1);
    assert_eq!(
        addresses(&staging[0]),
        [
            "fakecloud_bucket.logs",
            "fakecloud_instance.web[0]",
            "fakecloud_network.main"
        ]
    );
    let production = archived(&w, "production");
    assert_eq!(production.len(), 1);
    assert!(!addresses(&production[0]).is_empty(), "{}", production[0]);
    let records = offboarding_records(&w);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["digest"], digest.as_str());
    assert_eq!(records[0]["approval"], "unreviewed");
    assert_eq!(records[0]["requested_by"], "ops-dana");
    assert_eq!(records[0]["approved_by"], Value::Null);
    assert_eq!(records[0]["archived"].as_array().unwrap().len(), 2);
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
    for e in &offboards {
        assert_eq!(e["result"], "ok", "{e}");
        assert_eq!(e["reason"], "contract ended", "{e}");
        assert_eq!(e["approval"], "unreviewed", "{e}");
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains("the state before it"), "{detail}");
        assert!(detail.contains("unreviewed: run by ops-dana"), "{detail}");
    }
    assert!(w.audit().iter().any(|e| e["action"] == "registry"
        && e["result"] == "offboarded"
        && e["approval"] == "unreviewed"));
    // Once offboarded, there is nothing left to do.
    w.expect(2, &["customers", "offboard", "c01", "--reason", "again"]);
}

/// A customer registered for an environment it never applied: that pair
/// has no state, so its preview says so and destroys nothing there, and
/// the offboarding of the pair that was applied goes on.
#[test]
fn a_pair_never_applied_has_nothing_to_destroy_and_blocks_nothing() {
    let w = in_staging_and_production();
    w.expect(0, &["plan", "--customer", "c01", "--env", "staging"]);
    w.expect(0, &["apply", "--customer", "c01", "--env", "staging"]);
    w.expect(
        0,
        &["customers", "revoke", "c01", "--reason", "contract ended"],
    );
    let out = w.expect(
        0,
        &["customers", "offboard", "c01", "--reason", "contract ended"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("This will destroy 3 resources in 1 pair")
            && text.contains("`c01/production` has no state: nothing to destroy (never applied)"),
        "{text}"
    );
    let digest = digest_of(&text);
    let out = w.expect(0, &[&approve(&digest)[..], &["--unreviewed"]].concat());
    assert!(
        stdout(&out).contains("3 resources destroyed in 1 pair"),
        "{}",
        stdout(&out)
    );
    assert_eq!(count(&w, "c01-"), 0);
    assert_eq!(archived(&w, "staging").len(), 1);
    assert!(archived(&w, "production").is_empty());
    assert!(w
        .fx
        .read("manager/customers.yml")
        .contains("    offboarded: "));
}

#[test]
fn an_archive_that_cannot_be_written_destroys_nothing() {
    let w = revoked();
    let digest = preview(&w);
    // Production's archive folder cannot be made (a file is in its way);
    // staging's is kept first.
    w.fx.write("manager/.fleetform/records/offboarded/c01/_/production", "");
    let out = w.expect(1, &[&approve(&digest)[..], &["--unreviewed"]].concat());
    let err = stderr(&out);
    assert!(
        err.contains("the state of c01/production was not archived"),
        "{err}"
    );
    assert!(err.contains("nothing was destroyed"), "{err}");
    assert!(
        err.contains("kept before it: c01/staging at offboarded/c01/_/staging/"),
        "{err}"
    );
    assert_eq!(count(&w, "c01-staging"), 3);
    assert!(count(&w, "c01-production") > 0);
    assert!(offboarding_records(&w).is_empty());
    assert!(
        !w.audit().iter().any(|e| e["action"] == "offboard"),
        "{:?}",
        w.audit()
    );
    let reg = w.fx.read("manager/customers.yml");
    assert!(!reg.contains("offboarded:"), "{reg}");
}

#[test]
fn a_state_changed_since_the_preview_destroys_nothing() {
    let w = revoked();
    let digest = preview(&w);
    // Someone changed production's state after the preview.
    let path = "manager/.fleetform/state/c01/production/terraform.tfstate";
    let mut state: Value = serde_json::from_str(&w.fx.read(path)).unwrap();
    state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
    w.fx.write(path, &serde_json::to_string_pretty(&state).unwrap());
    let out = w.expect(3, &[&approve(&digest)[..], &["--unreviewed"]].concat());
    let err = stderr(&out);
    assert!(
        err.contains("the state of c01/production changed since the preview"),
        "{err}"
    );
    assert!(err.contains("nothing was destroyed"), "{err}");
    assert_eq!(count(&w, "c01-staging"), 3);
    assert!(count(&w, "c01-production") > 0);
}

#[test]
fn an_offboarding_that_fails_halfway_says_what_is_left() {
    let w = revoked();
    let digest = preview(&w);
    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_DELETE_ON", "c01-staging-web-0")
        .args([&approve(&digest)[..], &["--unreviewed"]].concat())
        .output();
    crate::common::assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("`c01` stays revoked"), "{err}");
    assert!(err.contains("c01/staging"), "{err}");
    assert!(err.contains("fakecloud_instance.web[0]"), "{err}");
    assert!(err.contains("fakecloud_network.main"), "{err}");
    // Halfway: the bucket went, the instance and its network stayed.
    assert_eq!(count(&w, "c01-staging-logs"), 0);
    assert_eq!(count(&w, "c01-staging"), 2);
    // The other environment went on and is gone.
    assert_eq!(count(&w, "c01-production"), 0);
    // Both states were kept before anything was destroyed.
    assert_eq!(archived(&w, "production").len(), 1);
    assert_eq!(addresses(&archived(&w, "staging")[0]).len(), 3);
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
        let out = crate::common::Run::from(crate::common::fleetform_bin())
            .current_dir(fx.path("products/manager"))
            .env("TF_CLI_CONFIG_FILE", &installed.cli_config)
            .env("FAKECLOUD_FILE", &cloud)
            .env(
                "FLEETFORM_ARTIFACT_KEY",
                "the products test's artifact key, 32+ bytes",
            )
            .args(args)
            .output();
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
        .find("#### `acme/app/staging`")
        .unwrap_or_else(|| panic!("{text}"));
    let network = text
        .find("#### `acme/network/staging`")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        app < network,
        "the app (which needs the network) goes first:\n{text}"
    );
    // Each product's plan leaves its folder only sealed for its own
    // product × environment: keep the bundles alone, as an artifact would.
    let out_dir = fx.path("products/manager/.fleetform/out/acme");
    let mut bundles = 0;
    for product in ["app", "network"] {
        let dir = out_dir.join(product).join("staging");
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() == "bundle.sealed" {
                bundles += 1;
            } else if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
    }
    assert_eq!(bundles, 2);
    // The app's bundle in the network's folder does not open there.
    let app = std::fs::read(out_dir.join("app/staging/bundle.sealed")).unwrap();
    let network = std::fs::read(out_dir.join("network/staging/bundle.sealed")).unwrap();
    std::fs::write(out_dir.join("network/staging/bundle.sealed"), &app).unwrap();
    let approve = [
        "customers",
        "offboard",
        "acme",
        "--approve",
        &digest_of(&text),
        "--unreviewed",
    ];
    let out = run(3, &approve);
    assert!(
        stderr(&out).contains("the sealed plan of acme/network/staging"),
        "{}",
        stderr(&out)
    );
    assert!(acme() >= 2, "nothing destroyed");
    std::fs::write(out_dir.join("network/staging/bundle.sealed"), &network).unwrap();
    run(0, &approve);
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
