//! `fleetform init`: a manager repo and a customer repo that work as
//! written (validate, plan, the linters on the workflows), and a refusal
//! that writes nothing.

use crate::common;

use std::path::{Path, PathBuf};

use common::{require_terraform, stderr, stdout};

/// `fleetform` run in `dir` with a scrubbed environment and an empty CLI
/// configuration for Terraform.
fn fleetform_in(dir: &Path, rc: &Path) -> common::Run {
    common::run_bin(&[])
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", rc)
}

struct Repos {
    tmp: tempfile::TempDir,
}

impl Repos {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("terraformrc"), "").unwrap();
        Repos { tmp }
    }
    fn root(&self) -> &Path {
        self.tmp.path()
    }
    fn cmd(&self, dir: &str) -> common::Run {
        let dir = self.root().join(dir);
        fleetform_in(&dir, &self.root().join("terraformrc"))
    }
    /// `init` with `args` from the root, which must succeed.
    fn init(&self, args: &[&str]) -> String {
        let out = self.cmd(".").arg("init").args(args).output();
        common::assert_ok_for(format_args!("init {args:?}"), &out);
        stdout(&out)
    }
    fn files(&self, dir: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        walk(&self.root().join(dir), &mut found);
        found.sort();
        found
    }
}

/// Every file under `dir` (recursively) added to `found`.
pub(crate) fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, found);
        } else {
            found.push(p);
        }
    }
}

#[test]
fn a_new_manager_validates_and_a_new_customer_plans() {
    require_terraform();
    let r = Repos::new();
    let printed = r.init(&["--dir", "manager"]);
    assert!(printed.contains("fleetform doctor"), "{printed}");
    let out = r.cmd("manager").arg("validate").output();
    common::assert_ok(&out);
    for f in r.files("manager") {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{}: {text:?}",
            f.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{}", f.display());
        }
    }

    // A customer repo from `init --customer`, registered in local mode.
    let printed = r.init(&["--customer", "--dir", "example"]);
    assert!(printed.contains("FLEETFORM_RELAY_URL"), "{printed}");
    assert!(!printed.contains("MANAGER_REPO_PAT"), "{printed}");
    let out = r
        .cmd("manager")
        .args(["customers", "add", "example", "--path", "../example"])
        .args(["--contact", "ops@example.com", "--date", "2026-01-15"])
        .output();
    common::assert_ok(&out);
    let out = r.cmd("manager").arg("validate").output();
    common::assert_ok(&out);
    assert!(stdout(&out).contains("ok      example"), "{}", stdout(&out));

    let out = r
        .cmd("manager")
        .args(["plan", "--customer", "example", "--env", "staging"])
        .output();
    common::assert_ok(&out);
    assert!(stdout(&out).contains("+1 ~0 -0"), "{}", stdout(&out));
}

#[test]
fn the_customer_file_is_checked_against_the_schema_for_real() {
    // The schema is not a pass-everything: a broken customer file fails.
    let r = Repos::new();
    r.init(&["--dir", "manager", "--environments", "dev,prod"]);
    r.init(&["--customer", "--dir", "c", "--environments", "dev,prod"]);
    let validate = || {
        r.cmd(".")
            .args([
                "validate",
                "--schema",
                "manager/schema/variables.schema.json",
            ])
            .arg("c/infra/variables.yml")
            .output()
    };
    common::assert_ok(&validate());
    std::fs::write(
        r.root().join("c/infra/variables.yml"),
        "project_name: Not A Slug\nenvironments: {qa: {}}\n",
    )
    .unwrap();
    common::assert_code(&validate(), 1);
    // fleetform.yml lists the environments given.
    let yml = std::fs::read_to_string(r.root().join("manager/fleetform.yml")).unwrap();
    assert!(
        yml.contains("  - name: dev\n") && yml.contains("  - name: prod\n"),
        "{yml}"
    );
    assert!(r.root().join("manager/values/prod.yml").is_file());
}

#[test]
fn an_existing_file_is_named_and_nothing_is_written() {
    let r = Repos::new();
    std::fs::create_dir_all(r.root().join("m/terraform")).unwrap();
    std::fs::write(r.root().join("m/terraform/main.tf"), "# mine\n").unwrap();
    let out = r.cmd(".").args(["init", "--dir", "m"]).output();
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("main.tf"), "{}", stderr(&out));
    assert_eq!(r.files("m"), vec![r.root().join("m/terraform/main.tf")]);
    assert_eq!(
        std::fs::read_to_string(r.root().join("m/terraform/main.tf")).unwrap(),
        "# mine\n"
    );

    // The same for a customer repo, and for a symlink where a file would go.
    std::fs::create_dir_all(r.root().join("c/.github/workflows")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "/nonexistent",
        r.root().join("c/.github/workflows/customer-trigger.yml"),
    )
    .unwrap();
    let out = r
        .cmd(".")
        .args(["init", "--customer", "--dir", "c"])
        .output();
    common::assert_code(&out, 2);
    assert!(
        stderr(&out).contains("customer-trigger.yml"),
        "{}",
        stderr(&out)
    );
    assert!(!r.root().join("c/infra").exists());
}

#[test]
fn bad_environment_names_are_usage_errors() {
    let r = Repos::new();
    for envs in ["Staging", "a,a", "", "a,,b"] {
        let out = r
            .cmd(".")
            .args(["init", "--dir", "m", "--environments", envs])
            .output();
        common::assert_code_for(format_args!("{envs}"), &out, 2);
    }
    assert!(!r.root().join("m").exists());
}

/// The linter from the repo's `.venv` (tests/install-linters.sh); a
/// missing one fails the test with the hint.
pub(crate) fn linter(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        p.is_file(),
        "{} is missing; the generated workflows are checked with zizmor and actionlint, the issue forms with check-jsonschema. \
         Install them with `bash tests/install-linters.sh` (a Python venv at .venv) and run again",
        p.display()
    );
    p
}

/// zizmor (offline, pedantic) over the repo at `dir`, with the settings
/// `init` wrote there.
pub(crate) fn zizmor(dir: &Path) -> std::process::Output {
    std::process::Command::new(linter("zizmor"))
        .args([
            "--offline",
            "--strict-collection",
            "--no-progress",
            "--persona",
            "pedantic",
        ])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn the_generated_workflows_pass_zizmor_and_actionlint() {
    let actionlint = linter("actionlint");
    let r = Repos::new();
    r.init(&["--dir", "manager"]);
    r.init(&["--customer", "--dir", "customer"]);
    let mut workflows: Vec<PathBuf> = r.files("manager/.github/workflows");
    workflows.extend(r.files("customer/.github/workflows"));
    assert_eq!(workflows.len(), 8, "{workflows:?}");
    for w in &workflows {
        let text = std::fs::read_to_string(w).unwrap();
        assert!(
            !text.contains("@v1\n"),
            "{}: an unpinned fleetform action",
            w.display()
        );
        assert!(
            text.contains(&format!("-action # v{}", env!("CARGO_PKG_VERSION"))),
            "{}",
            w.display()
        );
    }
    // Each repo as written, with the zizmor settings init wrote for it.
    for repo in ["manager", "customer"] {
        let out = zizmor(&r.root().join(repo));
        common::assert_ok_for(format_args!("zizmor {repo}"), &out);
        // It audited every workflow written there.
        for w in workflows
            .iter()
            .filter(|w| w.starts_with(r.root().join(repo)))
        {
            let name = w.file_name().unwrap().to_str().unwrap();
            assert!(
                stderr(&out).contains(name),
                "zizmor skipped {name}: {}",
                stderr(&out)
            );
        }
    }
    let out = std::process::Command::new(&actionlint)
        .args(&workflows)
        .output()
        .unwrap();
    common::assert_ok(&out);
}

#[test]
fn the_printed_settings() {
    let r = Repos::new();
    let printed = r.init(&["--dir", "manager"]);
    let version = env!("CARGO_PKG_VERSION");
    // The engine version init found on PATH (this machine's terraform).
    let engine = crate::support::actions_runner::installed_terraform().0;
    let engine = format!("every job installs, {engine} ");
    insta::with_settings!({filters => vec![(version, "[VERSION]"), (engine.as_str(), "every job installs, [TERRAFORM] ")]}, {
        insta::assert_snapshot!("init_settings", printed);
    });
}

#[test]
fn the_commented_out_examples_are_valid_once_uncommented() {
    let r = Repos::new();
    r.init(&["--dir", "manager"]);
    let path = r.root().join("manager/fleetform.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut active = false;
    let mut uncommented = Vec::new();
    for line in text.lines() {
        for key in ["policies", "sync", "rollout", "identity", "approvals"] {
            if line == format!("# {key}:") {
                active = true;
                uncommented.push(key);
            }
        }
        if line.trim().is_empty() {
            active = false;
        }
        out.push(match line.strip_prefix("# ") {
            Some(rest) if active => rest,
            _ => line,
        });
    }
    assert_eq!(uncommented.len(), 5, "{text}");
    let edited = out.join("\n") + "\n";
    assert!(
        edited.contains("\npolicies:\n") && edited.contains("\napprovals:\n"),
        "{edited}"
    );
    std::fs::write(&path, edited).unwrap();
    let out = r.cmd("manager").arg("validate").output();
    common::assert_ok(&out);
}
