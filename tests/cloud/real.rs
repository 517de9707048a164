//! The fleet against a real provider: the example manager with its root
//! module on `fakecloud` (the test cloud, `crates/fakecloud`), installed
//! from a packed filesystem mirror as a downloaded provider would be.
//! Drift is made outside Terraform (in the cloud file), one customer's
//! apply fails halfway through a fleet, gates count real replacements, and
//! the providers are installed once per fleet run.

use crate::common;
use crate::fakecloud;

use std::path::{Path, PathBuf};

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

/// The example manager's root module on the test cloud.
pub(crate) const MODULE: &str = include_str!("../../examples/fakecloud/main.tf");

pub(crate) struct Cloud {
    pub(crate) fx: Fixture,
    cli_config: PathBuf,
    cloud_file: PathBuf,
    installed: fakecloud::Installed,
}

impl Cloud {
    pub(crate) fn new() -> Cloud {
        require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install_packed(&fx.path("fakecloud"));
        fx.write("manager/terraform/main.tf", MODULE);
        let cloud_file = fx.path("cloud.json");
        Cloud {
            cli_config: installed.cli_config.clone(),
            cloud_file,
            fx,
            installed,
        }
    }

    /// The example fleet planned and applied on the test cloud: a copy of
    /// the world made once per test process ([`Fixture::copied`]), with the
    /// packed mirror installed again.
    fn applied() -> Cloud {
        let fx = Fixture::copied("cloud: the example fleet applied", || {
            let cloud = Cloud::new();
            common::assert_ok(&cloud.plan_all());
            assert!(apply_fleet(&cloud, None).iter().all(|(_, _, ok)| *ok));
            cloud.fx
        });
        let installed = fakecloud::install_packed(&fx.path("fakecloud"));
        Cloud {
            cli_config: installed.cli_config.clone(),
            cloud_file: fx.path("cloud.json"),
            fx,
            installed,
        }
    }

    pub(crate) fn fleetform(&self) -> common::Run {
        common::Run::from(self.fx.fleetform())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud_file)
    }

    fn plan_all(&self) -> crate::common::Ran {
        self.fleetform()
            .args(["plan", "--all", "--jobs", "2", "--json"])
            .output()
    }

    fn apply(&self, customer: &str, env: &str) -> crate::common::Ran {
        self.fleetform()
            .args(["apply", "--customer", customer, "--env", env])
            .output()
    }

    fn objects(&self) -> serde_json::Map<String, Value> {
        fakecloud::objects(&self.cloud_file)
    }

    fn log(&self, customer: &str, env: &str) -> String {
        self.fx.read(&format!(
            "manager/.fleetform/out/{customer}/{env}/terraform.log"
        ))
    }
}

fn rows(out: &impl common::Streams) -> Vec<Value> {
    serde_json::from_slice(out.out_bytes())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn row<'a>(rows: &'a [Value], customer: &str, env: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["customer"] == customer && r["environment"] == env)
        .unwrap_or_else(|| panic!("no row {customer}/{env}: {rows:?}"))
}

fn apply_fleet(cloud: &Cloud, fail_on: Option<&str>) -> Vec<(String, String, bool)> {
    let mut done = Vec::new();
    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("globex", "production"),
    ] {
        let out = cloud
            .fleetform()
            .envs(fail_on.map(|name| ("FAKECLOUD_FAIL_ON", name)))
            .args(["apply", "--customer", c, "--env", e])
            .output();
        done.push((c.to_string(), e.to_string(), out.status.success()));
    }
    done
}

/// Plans and applies reach the cloud; providers come from the cache.
#[test]
fn a_fleet_plans_and_applies_against_the_test_cloud_with_providers_installed_once() {
    let cloud = Cloud::new();
    let out = cloud.plan_all();
    common::assert_code(&out, 0);
    let planned = rows(&out);
    let acme = row(&planned, "acme", "staging");
    assert_eq!(acme["result"], "planned", "{acme}");
    assert!(acme["summary"]["create"].as_u64().unwrap() >= 3, "{acme}");
    // One install filled the cache and made a data dir; every pair's is a
    // copy of it (no `init` of its own, so no second unpacking or hashing
    // of the providers), linking the providers from the cache.
    let cache = cloud
        .fx
        .path("manager/.fleetform/out/.providers/plugin-cache");
    let cached: Vec<PathBuf> = walk(&cache);
    assert!(
        cached.iter().any(|p| p
            .to_string_lossy()
            .contains("terraform-provider-fakecloud_v0.1.0")),
        "{cached:?}"
    );
    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("globex", "production"),
    ] {
        let log = cloud.log(c, e);
        assert!(log.contains("prepared data dir, copied"), "{c}/{e}: {log}");
        assert!(!log.contains(" init "), "{c}/{e}: {log}");
    }
    let applied = apply_fleet(&cloud, None);
    assert!(applied.iter().all(|(_, _, ok)| *ok), "{applied:?}");
    let objects = cloud.objects();
    assert!(
        objects
            .keys()
            .any(|k| k.contains("network") && k.contains("acme-staging")),
        "{objects:?}"
    );
    assert!(objects.len() >= 4 * 3, "{objects:?}");
    // Applied: a new plan changes nothing, so each copied data dir read
    // its own pair's state.
    let out = cloud.plan_all();
    common::assert_code(&out, 0);
    let planned: Vec<_> = rows(&out)
        .into_iter()
        .filter(|r| r["result"] == "planned")
        .collect();
    assert_eq!(planned.len(), 4, "{planned:?}");
    for r in planned {
        assert_eq!(r["summary"]["has_changes"], false, "{r}");
    }
}

/// Drift made outside Terraform is found by `fleetform drift`; a clean
/// customer stays clean.
#[test]
fn drift_in_the_cloud_is_found() {
    let cloud = Cloud::applied();
    // Someone resizes globex's staging network by hand, and deletes its bucket.
    fakecloud::edit_objects(&cloud.cloud_file, |objects| {
        let net = objects
            .iter_mut()
            .find(|(k, v)| k.contains("network") && v["name"] == "globex-staging")
            .map(|(_, v)| v)
            .expect("globex's staging network");
        net["zones"] = Value::from(9);
        let bucket = objects
            .iter()
            .find(|(_, v)| v["name"] == "globex-staging-logs")
            .map(|(k, _)| k.clone())
            .expect("globex's staging bucket");
        objects.remove(&bucket);
    });
    let out = cloud.fleetform().args(["drift", "--json"]).code(4);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let drifted: Vec<(String, String)> = report["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["customer"].as_str().unwrap().into(),
                r["environment"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        drifted,
        [("globex".to_string(), "staging".to_string())],
        "{report}"
    );
    let summary = &report["drifted"][0]["summary"];
    assert_eq!(summary["update"], 1, "{summary}");
    assert_eq!(summary["create"], 1, "{summary}");
}

/// One customer's apply fails halfway (the cloud refuses one instance);
/// the others apply, and the failing one applied what came before.
#[test]
fn one_failing_customer_does_not_stop_the_fleet() {
    let cloud = Cloud::new();
    common::assert_ok(&cloud.plan_all());
    let applied = apply_fleet(&cloud, Some("globex-staging-web-0"));
    let failed: Vec<_> = applied.iter().filter(|(_, _, ok)| !ok).collect();
    assert_eq!(failed.len(), 1, "{applied:?}");
    assert_eq!(
        (failed[0].0.as_str(), failed[0].1.as_str()),
        ("globex", "staging")
    );
    let objects = cloud.objects();
    let names: Vec<&str> = objects
        .values()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(names.contains(&"acme-production-web-0"), "{names:?}");
    assert!(names.contains(&"globex-production-logs"), "{names:?}");
    assert!(
        names.contains(&"globex-staging"),
        "the network came before: {names:?}"
    );
    assert!(!names.contains(&"globex-staging-web-0"), "{names:?}");
    // The failed apply left a stale plan: a new plan picks up the rest.
    let out = cloud.plan_all();
    common::assert_code(&out, 0);
    let globex = row(&rows(&out), "globex", "staging").clone();
    assert_eq!(globex["summary"]["has_changes"], true, "{globex}");
}

/// A changed CIDR replaces the network (and the instances on it): the
/// production gates (`max_destroy: 0` by default) block it, and the
/// comment names the replacements.
#[test]
fn gates_count_real_replacements() {
    let cloud = Cloud::applied();
    let vars = cloud.fx.read("customers/acme/infra/variables.yml");
    let changed = change_cidr(&vars);
    cloud
        .fx
        .write("customers/acme/infra/variables.yml", &changed);
    let out = cloud
        .fleetform()
        .args([
            "plan",
            "--customer",
            "acme",
            "--env",
            "production",
            "--json",
        ])
        .code(0);
    let planned = rows(&out);
    let prod = row(&planned, "acme", "production");
    let summary = &prod["summary"];
    assert!(summary["replace"].as_u64().unwrap() >= 1, "{summary}");
    let gates = summary["gates"]["results"].as_array().unwrap();
    let max_destroy = gates
        .iter()
        .find(|g| g["gate"] == "max_destroy")
        .expect("max_destroy");
    assert_eq!(max_destroy["passed"], false, "{max_destroy}");
    let comment = cloud
        .fx
        .read("manager/.fleetform/out/acme/production/comment.md");
    assert!(comment.contains("> [!CAUTION]"), "{comment}");
    assert!(
        comment.contains("> - replace `fakecloud_network.main`"),
        "{comment}"
    );
    assert!(
        comment.contains("**Gates: blocked by `max_destroy`"),
        "{comment}"
    );
    // The apply refuses: nothing is replaced.
    let before = cloud.objects();
    let out = cloud.apply("acme", "production");
    common::assert_code(&out, 3);
    assert_eq!(cloud.objects(), before);
}

fn change_cidr(vars: &str) -> String {
    let line = vars
        .lines()
        .find(|l| l.trim_start().starts_with("vpc_cidr:"))
        .expect("acme sets vpc_cidr");
    vars.replacen(line, &line.replace("10.", "172."), 1)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

/// A plugin cache the user set is the one filled and read; fleetform's own
/// stays empty.
#[test]
fn the_users_own_plugin_cache_is_respected() {
    let cloud = Cloud::new();
    let theirs = cloud.fx.path("their-cache");
    std::fs::create_dir_all(&theirs).unwrap();
    cloud
        .fleetform()
        .env("TF_PLUGIN_CACHE_DIR", &theirs)
        .args(["plan", "--all", "--jobs", "2", "-q"])
        .code(0);
    assert!(
        walk(&theirs).iter().any(|p| p
            .to_string_lossy()
            .contains("terraform-provider-fakecloud_v0.1.0")),
        "{:?}",
        walk(&theirs)
    );
    let ours = cloud
        .fx
        .path("manager/.fleetform/out/.providers/plugin-cache");
    assert!(
        walk(&ours)
            .iter()
            .all(|p| !p.to_string_lossy().contains("terraform-provider")),
        "{:?}",
        walk(&ours)
    );
    let installed = walk(&theirs);
    assert!(cloud
        .log("globex", "production")
        .contains("prepared data dir, copied"));
    // The pair's data dir links the provider in the user's cache.
    assert!(
        installed
            .iter()
            .any(|p| p.to_string_lossy().contains("linux_amd64")),
        "{installed:?}"
    );
}

/// The lock file a real `init` writes for the module: the provider's
/// version and its checksums.
fn real_lock_file(cloud: &Cloud) -> String {
    let dir = cloud.fx.path("lock-probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), MODULE).unwrap();
    let out = fakecloud::terraform(&cloud.installed, &dir)
        .args(["init", "-backend=false", "-input=false", "-no-color"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    std::fs::read_to_string(dir.join(".terraform.lock.hcl")).unwrap()
}

/// The lock file inside a saved plan (a zip archive).
fn lock_in_plan(plan: &Path) -> String {
    let out = std::process::Command::new("unzip")
        .args(["-p"])
        .arg(plan)
        .arg(".terraform.lock.hcl")
        .output()
        .expect("unzip is installed (bash .ci/run installs it)");
    common::assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// The manager's lock file is the source of truth: a package that does
/// not match its checksums is refused at `init`, before any plan, in a
/// fleet run and for one pair. After `init` checked the packages, the
/// working copy's lock keeps the versions only (the plan and `show` need
/// not hash the provider again), and a plan made that way is applied by
/// another process, whose own `init` checks the packages again.
#[test]
fn the_lock_files_checksums_are_checked_once_per_working_copy() {
    let cloud = Cloud::new();
    let good = real_lock_file(&cloud);
    assert!(good.contains("h1:"), "{good}");
    let wrong = good
        .lines()
        .map(|l| match l.trim_start().strip_prefix("\"h1:") {
            Some(_) => "    \"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",",
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(wrong, good);
    cloud
        .fx
        .write("manager/terraform/.terraform.lock.hcl", &wrong);

    let out = cloud.plan_all();
    common::assert_code(&out, 1);
    let rows = rows(&out);
    for (c, e) in [
        ("acme", "staging"),
        ("acme", "production"),
        ("globex", "staging"),
        ("globex", "production"),
    ] {
        assert_eq!(row(&rows, c, e)["result"], "failed", "{rows:?}");
    }
    for (c, e) in [("acme", "staging"), ("globex", "production")] {
        let log = cloud.log(c, e);
        assert!(log.contains("checksums"), "{c}/{e}: {log}");
        assert!(!log.contains("providers checked by init"), "{c}/{e}: {log}");
    }
    cloud
        .fleetform()
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .code(1);
    assert!(cloud.objects().is_empty());

    cloud
        .fx
        .write("manager/terraform/.terraform.lock.hcl", &good);
    let out = cloud.plan_all();
    common::assert_code(&out, 0);
    let plan = cloud.fx.path("manager/.fleetform/out/acme/staging/tfplan");
    let recorded = lock_in_plan(&plan);
    assert!(recorded.contains("version = \"0.1.0\""), "{recorded}");
    assert!(!recorded.contains("h1:"), "{recorded}");
    assert!(cloud
        .log("acme", "staging")
        .contains("providers checked by init"));
    // The manager's own lock file is untouched.
    assert_eq!(cloud.fx.read("manager/terraform/.terraform.lock.hcl"), good);
    // The summary says so, and the apply follows it: told the plan kept its
    // checksums, the apply keeps them too and Terraform refuses the plan.
    let summary_path = "manager/.fleetform/out/acme/staging/summary.json";
    let summary = cloud.fx.read(summary_path);
    let recorded: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(recorded["lock_checksums_dropped"], true, "{recorded}");
    let mut kept = recorded.clone();
    kept.as_object_mut()
        .unwrap()
        .remove("lock_checksums_dropped");
    cloud
        .fx
        .write(summary_path, &serde_json::to_string_pretty(&kept).unwrap());
    let refused = cloud.apply("acme", "staging");
    common::assert_fails(&refused);
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("Inconsistent dependency lock file"), "{said}");
    assert!(cloud.objects().is_empty());
    cloud.fx.write(summary_path, &summary);
    let applied = cloud.apply("acme", "staging");
    common::assert_code(&applied, 0);
    assert!(!cloud.objects().is_empty());
}
