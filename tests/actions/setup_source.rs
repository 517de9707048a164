//! The setup action on refs without release checksums: it fails clearly
//! unless a source build is asked for, and builds a development commit
//! with cargo (the runner of `setup_action`).

use std::path::Path;
use std::process::Command;

use crate::actions::setup_install::{binary, run_ok, text, Runner, VERSION};

/// A PATH with the system tools but without cargo, plus `extra` first.
fn path_without_cargo(extra: Option<&Path>) -> String {
    let mut dirs: Vec<String> = extra.map(|p| p.display().to_string()).into_iter().collect();
    for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
        assert!(
            !Path::new(d).join("cargo").exists(),
            "{d}/cargo exists; this test needs a PATH without cargo"
        );
        dirs.push(d.to_string());
    }
    dirs.join(":")
}

/// A ref without checksums (a development commit, or a release tag whose
/// checksums landed later) is an error unless a source build is asked for:
/// no job silently spends minutes in `cargo install`.
#[test]
fn a_ref_without_checksums_fails_unless_a_source_build_is_asked_for() {
    let mut r = Runner::new();
    let fake = tempfile::tempdir().unwrap();
    let log = fake.path().join("cargo.log");
    let cargo = fake.path().join("cargo");
    std::fs::write(
        &cargo,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&cargo));
    r.set("PATH", path_without_cargo(Some(fake.path())));
    let out = r.install();
    crate::common::assert_fails(&out);
    let shown = text(&out);
    assert!(
        shown.contains("no release checksums in this ref")
            && shown.contains(&format!("v{VERSION}-action"))
            && shown.contains("build-from-source: true"),
        "{shown}"
    );
    assert!(!log.exists(), "cargo was not run");
    assert!(r.path_entries().is_empty() && r.outputs().is_empty());

    r.set("FLEETFORM_SETUP_BUILD_FROM_SOURCE", "yes please");
    let out = r.install();
    crate::common::assert_fails(&out);
    assert!(
        text(&out).contains("build-from-source must be true or false"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_development_commit_without_cargo_fails_clearly() {
    let mut r = Runner::new(); // no checksums/: no release of this version
    r.set("PATH", path_without_cargo(None))
        .set("FLEETFORM_SETUP_BUILD_FROM_SOURCE", "true");
    let out = r.install();
    crate::common::assert_fails(&out);
    let shown = text(&out);
    assert!(
        shown.contains("has no published release") && shown.contains("cargo is not installed"),
        "{shown}"
    );
    assert!(r.path_entries().is_empty() && r.outputs().is_empty());
}

#[test]
fn a_development_commit_is_built_from_source_with_cargo() {
    let mut r = Runner::new();
    // A stand-in cargo: records its arguments, "builds" by copying the binary.
    let fake = tempfile::tempdir().unwrap();
    let log = fake.path().join("cargo.log");
    let env_log = fake.path().join("cargo.env");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\nenv | grep '^FLEETFORM_' >> '{env_log}'\nroot=''\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=\"$2\"; shift; done\nmkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/fleetform\"\n",
        log = log.display(),
        env_log = env_log.display(),
        bin = binary().display()
    );
    let cargo = fake.path().join("cargo");
    std::fs::write(&cargo, script).unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(&cargo));
    // fleetform's secrets set on the step that uses the action reach its
    // install step too; none reaches cargo (dependencies' build scripts).
    r.set("PATH", path_without_cargo(Some(fake.path())))
        .set("FLEETFORM_SETUP_BUILD_FROM_SOURCE", "true")
        .set("FLEETFORM_ARTIFACT_KEY", "k".repeat(40))
        .set("FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY", "s3cr3t");

    let out = r.install();
    crate::common::assert_ok(&out);
    let seen = std::fs::read_to_string(&env_log).unwrap();
    assert!(
        seen.contains("FLEETFORM_SETUP_BUILD_FROM_SOURCE=true"),
        "{seen}"
    );
    assert!(
        !seen.contains("ARTIFACT_KEY") && !seen.contains("s3cr3t"),
        "{seen}"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let call = calls.lines().next().unwrap();
    let root = call.split("--root ").nth(1).unwrap();
    assert_eq!(
        call,
        format!(
            "install --path {} --locked --root {root}",
            r.action.display()
        )
    );
    assert!(
        root.starts_with(r.temp.to_str().unwrap()),
        "built into RUNNER_TEMP: {root}"
    );
    let exe = format!("{root}/bin/fleetform");
    assert_eq!(r.outputs().get("path"), Some(&exe));
    assert_eq!(
        r.outputs().get("version").map(String::as_str),
        Some(VERSION)
    );
    assert_eq!(r.path_entries(), vec![format!("{root}/bin")]);
    assert!(
        !r.tool_cache.join("fleetform").exists(),
        "a source build never enters the tool cache"
    );
    assert!(
        text(&out).contains("building it from source"),
        "{}",
        text(&out)
    );

    // The job's next fleetform action reuses the build.
    let out = r.install();
    crate::common::assert_ok(&out);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        1,
        "cargo ran once"
    );
}
