//! The engine's version, pinned end to end: a saved plan applies only with
//! the exact version that made it (FACTS, "Terraform and OpenTofu"), so
//! fleetform records it in the plan's summary and refuses another before
//! Terraform does, saying which to install; fleetform.yml's
//! `terraform.version` pins it for every plan.

use crate::common::{self, Fixture};

/// The version this machine's Terraform reports.
fn running() -> String {
    crate::support::actions_runner::installed_terraform().0
}

#[test]
fn a_plan_records_its_engine_version_and_another_version_is_refused_at_apply() {
    let fx = Fixture::new();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();
    let path = fx
        .manager()
        .join(".fleetform/out/acme/staging/summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(summary["engine_version"], running(), "{summary}");

    // The plan as a job with another Terraform would hold it.
    summary["engine_version"] = "1.17.1".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    let out = common::run(&fx, &["apply", "--customer", "acme", "--env", "staging"]).code(3);
    out.stderr_has("the saved plan was made with terraform 1.17.1")
        .stderr_has(&format!("this job runs terraform {}", running()))
        .stderr_has("install terraform 1.17.1");
    assert!(
        !fx.manager()
            .join(".fleetform/out/acme/staging/apply.json")
            .exists(),
        "nothing was applied"
    );
}

#[test]
fn a_pinned_version_refuses_a_plan_made_with_another_and_a_range_is_no_pin() {
    let fx = Fixture::new();
    let config = fx.read("manager/fleetform.yml");
    let pinned = |v: &str| {
        config.replace(
            "  engine: terraform\n",
            &format!("  engine: terraform\n  version: \"{v}\"\n"),
        )
    };
    std::fs::write(fx.manager().join("fleetform.yml"), pinned("1.17.1")).unwrap();
    // The pair fails (exit 1, as any pair of a plan run that fails) and
    // says why and what to install.
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"])
        .code(1)
        .stdout_has("install terraform 1.17.1 in this job")
        .stderr_has("fleetform.yml pins terraform 1.17.1 (terraform.version)")
        .stderr_has(&format!("this plan was made with terraform {}", running()));

    std::fs::write(fx.manager().join("fleetform.yml"), pinned(&running())).unwrap();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();

    for range in ["~> 1.11", "1.11", "latest", "1.11.x"] {
        std::fs::write(fx.manager().join("fleetform.yml"), pinned(range)).unwrap();
        common::run(&fx, &["validate"]).code(2).stderr_has(&format!(
            "`{range}` is not an exact engine version like 1.11.4"
        ));
    }
}

/// The pin meets every root module's `required_version`, or doctor fails
/// a *must* naming the file and the constraint: Terraform would refuse the
/// pinned version at `init` in every job (#81 point 6).
#[test]
fn doctor_fails_a_pin_the_root_modules_required_version_refuses() {
    use crate::doctor::manager::{configured, doctor, row};
    let gh = configured();
    let fx = Fixture::new();
    // examples/manager/terraform/main.tf: required_version = ">= 1.5.0".
    let yml = fx.read("manager/fleetform.yml");
    let pinned = |v: &str| {
        assert!(!yml.contains("\n  version:"), "the example pins no version");
        let text = yml.replacen(
            "terraform:\n",
            &format!("terraform:\n  version: \"{v}\"\n"),
            1,
        );
        fx.write("manager/fleetform.yml", &text);
    };
    pinned("1.4.2");
    let r = doctor(&gh, &fx, &[], &[]);
    let (level, result, found) = row(&r.stdout, "engine version meets required_version");
    assert_eq!((level, result), ("must", "FAIL"), "{}", r.stdout);
    assert!(
        found.contains("does not meet")
            && found.contains("`>= 1.5.0`")
            && found.contains("main.tf"),
        "{found}"
    );
    assert_eq!(r.code, 5, "{}", r.stdout);
    pinned("1.11.4");
    let r = doctor(&gh, &fx, &[], &[]);
    let (_, result, found) = row(&r.stdout, "engine version meets required_version");
    assert_eq!(result, "pass", "{found}");
}
