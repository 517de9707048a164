//! The test cloud (`crates/fakecloud`) under real Terraform: installed from
//! a filesystem mirror, it creates, updates, replaces and deletes objects in
//! its JSON file, shows edits of that file as drift, and fails on demand.

use crate::fakecloud;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::require_terraform;

/// A module in its own temporary directory, with the provider installed
/// from an unpacked mirror and its cloud at `<tmp>/cloud.json`.
struct Work {
    _tmp: tempfile::TempDir,
    installed: fakecloud::Installed,
    module: PathBuf,
    cloud: PathBuf,
}

impl Work {
    fn new() -> Work {
        require_terraform();
        let tmp = tempfile::tempdir().expect("tempdir");
        let installed = fakecloud::install(tmp.path());
        let module = tmp.path().join("module");
        std::fs::create_dir(&module).unwrap();
        let cloud = tmp.path().join("cloud.json");
        Work {
            _tmp: tmp,
            installed,
            module,
            cloud,
        }
    }

    /// Writes `main.tf`: the provider block for this cloud, then `body`.
    fn module(&self, body: &str) {
        let provider = format!(
            "provider \"fakecloud\" {{\n  cloud_file = {}\n}}\n",
            serde_json::to_string(&self.cloud.to_string_lossy()).unwrap()
        );
        let text = format!("{}{provider}{body}", fakecloud::REQUIRED_PROVIDERS);
        std::fs::write(self.module.join("main.tf"), text).unwrap();
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = fakecloud::terraform(&self.installed, &self.module);
        cmd.args(args).arg("-no-color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("running terraform")
    }

    /// Runs terraform and fails the test unless its exit code is `code`.
    fn expect(&self, code: i32, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env);
        crate::common::assert_code_for(format_args!("terraform {args:?}"), &out, code);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args, &[])
    }

    fn init(&self) {
        self.ok(&["init", "-input=false"]);
    }

    fn apply(&self) -> String {
        self.ok(&["apply", "-auto-approve", "-input=false"])
    }

    /// Asserts that a plan has no changes (`-detailed-exitcode` 0).
    fn assert_no_changes(&self) {
        let out = self.expect(0, &["plan", "-detailed-exitcode", "-input=false"], &[]);
        assert!(out.contains("No changes."), "{out}");
    }

    /// Plans into `tfplan` and returns the text plan and `show -json`.
    fn plan(&self) -> (String, Value) {
        let text = self.expect(
            2,
            &["plan", "-detailed-exitcode", "-input=false", "-out=tfplan"],
            &[],
        );
        let json = self.ok(&["show", "-json", "tfplan"]);
        (text, serde_json::from_str(&json).expect("show -json"))
    }

    fn objects(&self) -> serde_json::Map<String, Value> {
        fakecloud::objects(&self.cloud)
    }
}

/// `address → actions` of a plan's `resource_changes` (or `resource_drift`).
fn actions(plan: &Value, list: &str) -> Vec<(String, Vec<String>)> {
    plan[list]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|rc| {
            let acts = rc["change"]["actions"].as_array().unwrap();
            let acts = acts.iter().map(|a| a.as_str().unwrap().to_string());
            (rc["address"].as_str().unwrap().to_string(), acts.collect())
        })
        .collect()
}

fn action_of(plan: &Value, address: &str) -> Vec<String> {
    actions(plan, "resource_changes")
        .into_iter()
        .find(|(a, _)| a == address)
        .unwrap_or_else(|| panic!("{address} not in the plan: {plan}"))
        .1
}

const STACK: &str = r#"
resource "fakecloud_network" "main" {
  name  = "main"
  cidr  = "10.20.0.0/16"
  zones = 3
  tags  = { team = "payments", "cost-center" = "42" }
}

resource "fakecloud_instance" "web" {
  name          = "web-1"
  network_id    = fakecloud_network.main.id
  instance_type = "small"
  size          = 2
  tags          = { role = "web" }
}

resource "fakecloud_bucket" "logs" {
  name       = "logs"
  versioning = true
}
"#;

/// The stack, applied.
fn applied_stack() -> Work {
    let w = Work::new();
    w.module(STACK);
    w.init();
    w.apply();
    w
}

#[test]
fn apply_creates_the_objects_in_the_cloud_file_and_the_next_plan_is_empty() {
    let w = Work::new();
    w.module(STACK);
    w.init();
    let (text, plan) = w.plan();
    assert!(
        text.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    for (address, acts) in actions(&plan, "resource_changes") {
        assert_eq!(acts, ["create"], "{address}");
    }
    assert!(w.objects().is_empty(), "a plan wrote to the cloud");

    let out = w.ok(&["apply", "-input=false", "tfplan"]);
    assert!(out.contains("[id=net-main]"), "{out}");
    let objects = w.objects();
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "fakecloud_bucket/bucket-logs",
            "fakecloud_instance/i-web-1",
            "fakecloud_network/net-main"
        ]
    );
    assert_eq!(
        objects["fakecloud_network/net-main"],
        json!({"id": "net-main", "name": "main", "cidr": "10.20.0.0/16", "zones": 3,
               "tags": {"team": "payments", "cost-center": "42"}})
    );
    assert_eq!(
        objects["fakecloud_instance/i-web-1"],
        json!({"id": "i-web-1", "name": "web-1", "network_id": "net-main",
               "instance_type": "small", "size": 2, "tags": {"role": "web"},
               "private_ip": "10.20.0.10"})
    );
    assert_eq!(
        objects["fakecloud_bucket/bucket-logs"],
        json!({"id": "bucket-logs", "name": "logs", "versioning": true, "tags": null,
               "arn": "arn:fakecloud:bucket:::logs"})
    );

    // The state holds what the cloud holds: maps and numbers round-trip.
    let state: Value = serde_json::from_str(&w.ok(&["show", "-json"])).unwrap();
    let resources = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap();
    let net = resources
        .iter()
        .find(|r| r["address"] == "fakecloud_network.main")
        .unwrap();
    assert_eq!(net["values"]["zones"], 3);
    assert_eq!(net["values"]["tags"]["cost-center"], "42");
    let web = resources
        .iter()
        .find(|r| r["address"] == "fakecloud_instance.web")
        .unwrap();
    assert_eq!(web["values"]["private_ip"], "10.20.0.10");
    assert_eq!(web["values"]["size"], 2);

    w.assert_no_changes();

    // And destroy empties the cloud.
    w.ok(&["destroy", "-auto-approve", "-input=false"]);
    assert!(w.objects().is_empty(), "{:?}", w.objects());
}

#[test]
fn a_cidr_change_replaces_and_an_instance_type_change_updates_in_place() {
    let w = applied_stack();
    w.module(&STACK.replace("\"small\"", "\"large\""));
    let (text, plan) = w.plan();
    assert!(text.contains("~ update in-place"), "{text}");
    assert_eq!(action_of(&plan, "fakecloud_instance.web"), ["update"]);
    assert_eq!(action_of(&plan, "fakecloud_network.main"), ["no-op"]);
    w.ok(&["apply", "-input=false", "tfplan"]);
    let objects = w.objects();
    let web = &objects["fakecloud_instance/i-web-1"];
    assert_eq!(web["instance_type"], "large");
    assert_eq!(
        web["private_ip"], "10.20.0.10",
        "an update keeps computed values"
    );

    w.module(
        &STACK
            .replace("\"small\"", "\"large\"")
            .replace("10.20.0.0/16", "10.30.0.0/16"),
    );
    let (text, plan) = w.plan();
    assert!(
        text.contains("-/+ resource \"fakecloud_network\" \"main\""),
        "{text}"
    );
    assert!(
        text.contains("~ cidr  = \"10.20.0.0/16\" -> \"10.30.0.0/16\" # forces replacement"),
        "{text}"
    );
    assert_eq!(
        action_of(&plan, "fakecloud_network.main"),
        ["delete", "create"]
    );
    // The instance's network id is unknown until the new network exists.
    assert_eq!(
        action_of(&plan, "fakecloud_instance.web"),
        ["delete", "create"]
    );
    assert_eq!(action_of(&plan, "fakecloud_bucket.logs"), ["no-op"]);
    let rc = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "fakecloud_network.main")
        .unwrap();
    assert_eq!(rc["change"]["replace_paths"], json!([["cidr"]]));

    w.ok(&["apply", "-input=false", "tfplan"]);
    let objects = w.objects();
    assert_eq!(
        objects["fakecloud_network/net-main"]["cidr"],
        "10.30.0.0/16"
    );
    assert_eq!(
        objects["fakecloud_instance/i-web-1"]["private_ip"], "10.30.0.10",
        "the new instance lives in the new range"
    );
    w.assert_no_changes();
}

#[test]
fn edits_of_the_cloud_file_show_as_drift_on_the_next_plan() {
    let w = applied_stack();
    fakecloud::edit_objects(&w.cloud, |o| {
        o["fakecloud_network/net-main"]["zones"] = json!(5);
        o["fakecloud_network/net-main"]["tags"]["team"] = json!("someone-else");
        o.remove("fakecloud_bucket/bucket-logs");
    });
    let (text, plan) = w.plan();
    assert!(
        text.contains("Plan: 1 to add, 1 to change, 0 to destroy."),
        "{text}"
    );
    assert!(text.contains("~ zones = 5 -> 3"), "{text}");
    assert!(
        text.contains("~ \"team\"        = \"someone-else\" -> \"payments\""),
        "{text}"
    );
    assert_eq!(action_of(&plan, "fakecloud_network.main"), ["update"]);
    assert_eq!(action_of(&plan, "fakecloud_bucket.logs"), ["create"]);
    assert_eq!(action_of(&plan, "fakecloud_instance.web"), ["no-op"]);
    let drift = actions(&plan, "resource_drift");
    assert!(
        drift.contains(&("fakecloud_network.main".into(), vec!["update".into()])),
        "{drift:?}"
    );
    assert!(
        drift.contains(&("fakecloud_bucket.logs".into(), vec!["delete".into()])),
        "{drift:?}"
    );

    w.ok(&["apply", "-input=false", "tfplan"]);
    let objects = w.objects();
    assert_eq!(objects["fakecloud_network/net-main"]["zones"], 3);
    assert!(objects.contains_key("fakecloud_bucket/bucket-logs"));
    w.assert_no_changes();

    // A value of the wrong type in the file is named, not a protocol error.
    fakecloud::edit_objects(&w.cloud, |o| {
        o["fakecloud_network/net-main"]["zones"] = json!("three");
    });
    let out = w.run(&["plan", "-input=false"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains("fakecloud_network/net-main.zones is \"three\" in the cloud file"),
        "{stderr}"
    );
}

#[test]
fn fail_on_fails_the_named_object_while_the_others_are_created() {
    let w = Work::new();
    w.module(STACK);
    w.init();
    let out = w.run(
        &["apply", "-auto-approve", "-input=false"],
        &[("FAKECLOUD_FAIL_ON", "nothing,web-1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains("fakecloud: injected failure: create fakecloud_instance \"web-1\""),
        "{stderr}"
    );
    assert!(stderr.contains("with fakecloud_instance.web"), "{stderr}");
    let keys: Vec<String> = w.objects().keys().cloned().collect();
    assert_eq!(
        keys,
        ["fakecloud_bucket/bucket-logs", "fakecloud_network/net-main"]
    );

    // Without the knob the next apply finishes the job.
    let out = w.apply();
    assert!(
        out.contains("Resources: 1 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    assert!(w.objects().contains_key("fakecloud_instance/i-web-1"));

    // Updates fail too, and leave the object as it was.
    w.module(&STACK.replace("\"small\"", "\"large\""));
    let out = w.run(
        &["apply", "-auto-approve", "-input=false"],
        &[("FAKECLOUD_FAIL_ON", "web-1")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains("injected failure: update fakecloud_instance \"web-1\""),
        "{stderr}"
    );
    assert_eq!(
        w.objects()["fakecloud_instance/i-web-1"]["instance_type"],
        "small"
    );
}

#[test]
fn slow_ms_delays_each_change_and_a_bad_value_is_an_error() {
    let w = Work::new();
    w.module("resource \"fakecloud_bucket\" \"b\" {\n  name = \"b\"\n}\n");
    w.init();
    let started = Instant::now();
    w.expect(
        0,
        &["apply", "-auto-approve", "-input=false"],
        &[("FAKECLOUD_SLOW_MS", "1500")],
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "apply took {took:?}");

    let out = w.run(
        &["destroy", "-auto-approve", "-input=false"],
        &[("FAKECLOUD_SLOW_MS", "soon")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains("FAKECLOUD_SLOW_MS=\"soon\" is not a whole number of milliseconds"),
        "{stderr}"
    );
    assert!(w.objects().contains_key("fakecloud_bucket/bucket-b"));
}

#[test]
fn the_cloud_file_comes_from_the_environment_and_is_required() {
    let w = Work::new();
    let body = format!(
        "{}resource \"fakecloud_bucket\" \"b\" {{\n  name = \"b\"\n}}\n",
        fakecloud::REQUIRED_PROVIDERS
    );
    std::fs::write(w.module.join("main.tf"), body).unwrap();
    w.init();
    let out = w.run(&["plan", "-input=false"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains(
            "fakecloud needs a cloud file: set cloud_file in the provider block or \
             FAKECLOUD_FILE in the environment"
        ),
        "{stderr}"
    );

    let cloud = w.cloud.to_string_lossy().into_owned();
    w.expect(
        0,
        &["apply", "-auto-approve", "-input=false"],
        &[("FAKECLOUD_FILE", &cloud)],
    );
    assert!(w.objects().contains_key("fakecloud_bucket/bucket-b"));
}

#[test]
fn a_bad_cidr_is_refused_at_plan_time() {
    let w = Work::new();
    w.module(&STACK.replace("10.20.0.0/16", "10.20.0.0"));
    w.init();
    let out = w.run(&["plan", "-input=false"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    crate::common::assert_code(&out, 1);
    assert!(
        stderr.contains("Invalid cidr for fakecloud_network"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"10.20.0.0\" is not an IPv4 range like 10.0.0.0/16"),
        "{stderr}"
    );
}

/// Modules applied at the same time against one cloud file: the lock keeps
/// every object, and equal names get distinct ids.
#[test]
fn parallel_applies_share_one_cloud_file() {
    let first = Work::new();
    let root = first.cloud.parent().unwrap().to_path_buf();
    let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("m{i}"))).collect();
    let body = (0..4)
        .map(|i| {
            format!("resource \"fakecloud_bucket\" \"b{i}\" {{\n  name = \"shared-{i}\"\n}}\n")
        })
        .collect::<String>();
    for dir in &dirs {
        std::fs::create_dir(dir).unwrap();
        let text = format!("{}{body}", fakecloud::REQUIRED_PROVIDERS);
        std::fs::write(dir.join("main.tf"), text).unwrap();
        run_in(&first, dir, &["init", "-input=false"]);
    }
    let handles: Vec<_> = dirs
        .iter()
        .map(|dir| {
            let mut cmd = fakecloud::terraform(&first.installed, dir);
            cmd.args(["apply", "-auto-approve", "-input=false", "-no-color"])
                .env("FAKECLOUD_FILE", &first.cloud)
                .env("FAKECLOUD_SLOW_MS", "50");
            std::thread::spawn(move || cmd.output().expect("terraform apply"))
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        crate::common::assert_ok(&out);
    }
    let objects = first.objects();
    assert_eq!(objects.len(), 12, "{:?}", objects.keys());
    for i in 0..4 {
        for id in [
            format!("bucket-shared-{i}"),
            format!("bucket-shared-{i}-2"),
            format!("bucket-shared-{i}-3"),
        ] {
            assert!(
                objects.contains_key(&format!("fakecloud_bucket/{id}")),
                "{id}"
            );
        }
    }
}

fn run_in(w: &Work, dir: &Path, args: &[&str]) {
    let out = fakecloud::terraform(&w.installed, dir)
        .args(args)
        .arg("-no-color")
        .output()
        .expect("running terraform");
    crate::common::assert_ok_for(
        format_args!("terraform {args:?} in {}", dir.display()),
        &out,
    );
}

/// The packed layout (a zip in the mirror), which benchmarks use.
#[test]
fn the_packed_mirror_installs_too() {
    require_terraform();
    let tmp = tempfile::tempdir().unwrap();
    let installed = fakecloud::install_packed(tmp.path());
    let archive = installed.mirror.join(format!(
        "registry.terraform.io/fleetform/fakecloud/terraform-provider-fakecloud_0.1.0_{}.zip",
        fakecloud::platform()
    ));
    assert!(archive.is_file(), "{}", archive.display());
    let module = tmp.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let text = format!(
        "{}resource \"fakecloud_bucket\" \"b\" {{\n  name = \"b\"\n}}\n",
        fakecloud::REQUIRED_PROVIDERS
    );
    std::fs::write(module.join("main.tf"), text).unwrap();
    let out = fakecloud::terraform(&installed, &module)
        .args(["init", "-input=false", "-no-color"])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Installed fleetform/fakecloud v0.1.0 (unauthenticated)"),
        "{stdout}"
    );
    let cloud = tmp.path().join("cloud.json");
    let out = fakecloud::terraform(&installed, &module)
        .args(["apply", "-auto-approve", "-input=false", "-no-color"])
        .env("FAKECLOUD_FILE", &cloud)
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    assert!(fakecloud::objects(&cloud).contains_key("fakecloud_bucket/bucket-b"));
}
