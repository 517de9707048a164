//! The validate and drift composite actions' run scripts, run as a
//! runner would (see `action_scripts`' `World`): the inputs they pass on
//! and the exit codes they map.

use crate::common;
use crate::support;

use std::process::Command;

use common::{require_terraform, Fixture};
use serde_json::{json, Value};
use support::fake_github::FakeGitHub;

use crate::actions::step_scripts::{assert_all_outputs, Job, MANAGER};

#[test]
fn validate_action_checks_registry_customers_and_files() {
    let fx = Fixture::new();
    let gh = FakeGitHub::start();
    let job = Job::new(
        fx.root(),
        MANAGER,
        "workflow_dispatch",
        &json!({}),
        &"a".repeat(40),
        &gh,
        1,
    );

    let r = job.run("validate", &[("manager-dir", "manager")], &[]);
    r.ok();
    assert!(
        r.stdout().contains("acme") && r.stdout().contains("globex"),
        "{}",
        r.stdout()
    );

    let r = job.run(
        "validate",
        &[
            ("manager-dir", "manager"),
            ("customer", "acme"),
            ("json", "true"),
        ],
        &[],
    );
    r.ok();
    let report: Value =
        serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout()));
    assert!(
        report.to_string().contains("acme") && !report.to_string().contains("globex"),
        "{report}"
    );

    // Files, one per line or separated by spaces, relative to manager-dir.
    let files =
        "../customers/acme/infra/variables.yml\n  ../invalid/broken-co/infra/variables.yml ";
    let r = job.run(
        "validate",
        &[("manager-dir", "manager"), ("files", files)],
        &[],
    );
    assert_eq!(r.code(), Some(1), "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("../invalid/broken-co/infra/variables.yml:2:15"),
        "{}",
        r.stderr()
    );
    assert!(
        !r.stderr().contains("acme/infra/variables.yml:"),
        "{}",
        r.stderr()
    );

    // No globbing or other expansion of the files input.
    let r = job.run(
        "validate",
        &[
            ("manager-dir", "manager"),
            ("files", "*.yml $(touch pwned)"),
        ],
        &[],
    );
    assert_eq!(r.code(), Some(1));
    assert!(
        r.stderr().contains("*.yml:1:1: cannot read"),
        "{}",
        r.stderr()
    );
    // The step runs in the workspace: an expansion would touch it there.
    assert!(!job.workspace().join("pwned").exists());
    assert!(!fx.manager().join("pwned").exists());

    // The setup's path output empty: fleetform is found on PATH.
    let mut job = job;
    job.setup_path = String::new();
    job.run("validate", &[("manager-dir", "manager")], &[]).ok();
    gh.assert_clean();
}

/// The drift action's script with a stand-in binary that records what it
/// got and exits as told: every exit code, and exactly the given inputs.
#[test]
fn drift_action_passes_its_inputs_and_maps_exit_codes() {
    let fx = Fixture::new();
    let gh = FakeGitHub::start();
    let mut job = Job::new(
        fx.root(),
        MANAGER,
        "schedule",
        &json!({}),
        &"a".repeat(40),
        &gh,
        1,
    );
    let stub_dir = tempfile::tempdir().unwrap();
    let record = stub_dir.path().join("env");
    let stub = stub_dir.path().join("fleetform");
    std::fs::write(
        &stub,
        format!("#!/bin/sh\necho \"$*\" > '{r}.args'\nenv | grep '^FLEETFORM_' | sort > '{r}'\nexit \"$STUB_EXIT\"\n", r = record.display()),
    )
    .unwrap();
    assert!(Command::new("chmod")
        .arg("+x")
        .arg(&stub)
        .status()
        .unwrap()
        .success());
    job.setup_path = stub.display().to_string();

    let inputs = [
        ("token", "t0ken"),
        ("shard", r#"["acme","globex"]"#),
        ("manager-dir", "manager"),
        ("issues", "true"),
    ];
    let r = job.run("drift", &inputs, &[("STUB_EXIT", "0")]);
    r.ok();
    assert_eq!(
        std::fs::read_to_string(record.with_extension("args"))
            .unwrap()
            .trim(),
        "drift"
    );
    let got = std::fs::read_to_string(&record).unwrap();
    for line in [
        "FLEETFORM_TOKEN=t0ken",
        r#"FLEETFORM_SHARD=["acme","globex"]"#,
        "FLEETFORM_MANAGER_DIR=manager",
        "FLEETFORM_ISSUES=true",
        "FLEETFORM_JSON=false",
        &format!("FLEETFORM_MANAGER_REPO={MANAGER}"),
    ] {
        assert!(got.lines().any(|l| l == line), "{line} not passed:\n{got}");
    }
    assert!(
        got.lines()
            .any(|l| l == "FLEETFORM_OUT_DIR=.fleetform/drift"),
        "{got}"
    );
    for absent in [
        "FLEETFORM_CUSTOMER=",
        "FLEETFORM_JOBS=",
        "FLEETFORM_TERRAFORM=",
        "FLEETFORM_FAIL_ON_DRIFT=",
    ] {
        assert!(
            !got.lines().any(|l| l.starts_with(absent)),
            "{absent} should be unset:\n{got}"
        );
    }

    // Exit 4 is drift: a failure unless fail-on-drift is false.
    assert_eq!(
        job.run("drift", &inputs, &[("STUB_EXIT", "4")]).code(),
        Some(4)
    );
    let mut lenient = inputs.to_vec();
    lenient.push(("fail-on-drift", "false"));
    let r = job.run("drift", &lenient, &[("STUB_EXIT", "4")]);
    r.ok();
    assert!(
        r.stdout().contains("::warning title=fleetform drift::"),
        "{}",
        r.stdout()
    );
    // Errors always fail.
    assert_eq!(
        job.run("drift", &lenient, &[("STUB_EXIT", "1")]).code(),
        Some(1)
    );
    gh.assert_clean();
}

/// The drift action with the real `fleetform drift` on the example fleet
/// on the test cloud (local mode, real terraform): globex staging is
/// applied, then its bucket's versioning is switched off outside
/// Terraform, which is drift (a pair never applied is not drift, nor are
/// edits not applied yet: issue #52).
#[test]
fn drift_action_runs_fleetform_drift() {
    require_terraform();
    let fx = Fixture::new();
    let cloud = crate::fakecloud::onto_fixture(&fx);
    let planned = common::Run::from(fx.fleetform())
        .args(["plan", "--customer", "globex", "--env", "staging"])
        .output();
    common::assert_ok(&planned);
    let applied = common::Run::from(fx.fleetform())
        .args(["apply", "--customer", "globex", "--env", "staging"])
        .output();
    common::assert_ok(&applied);
    crate::fakecloud::versioning_off(&cloud, "globex-");
    let gh = FakeGitHub::start();
    let job = Job::new(
        fx.root(),
        MANAGER,
        "schedule",
        &json!({}),
        &"a".repeat(40),
        &gh,
        1,
    );
    let inputs = [
        ("token", "unused"),
        ("manager-dir", "manager"),
        ("shard", r#"["globex/staging"]"#),
    ];
    let tf = format!("TF_CLI_CONFIG_FILE={}", fx.path("terraformrc").display());
    let (k, v) = tf.split_once('=').unwrap();

    let r = job.run("drift", &inputs, &[(k, v)]);
    assert_eq!(
        r.code(),
        Some(4),
        "drift fails the step by default:\n{}\n{}",
        r.stdout(),
        r.stderr()
    );
    assert_all_outputs("drift", &r);
    assert_eq!(
        (r.outputs["drifted"].as_str(), r.outputs["errors"].as_str()),
        ("1", "0")
    );
    assert_eq!(r.outputs["unapplied"], "0");
    let report = fx.manager().join(&r.outputs["report"]);
    assert!(
        report.is_file(),
        "report is relative to manager-dir: {}",
        report.display()
    );

    let mut lenient = inputs.to_vec();
    lenient.push(("fail-on-drift", "false"));
    let r = job.run("drift", &lenient, &[(k, v)]);
    r.ok();
    assert_eq!(r.outputs["drifted"], "1");
    assert!(
        r.stdout().contains("::warning title=fleetform drift::"),
        "{}",
        r.stdout()
    );
    gh.assert_clean();
}
