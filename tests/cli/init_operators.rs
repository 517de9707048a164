//! `fleetform init --operators org/team`: a manager repo whose
//! fleetform.yml names the operators team (`rollout.operators`) gets the
//! workflows only operators run (manager-ops.yml, manager-offboard.yml),
//! passing the same linters as the others, and the printed settings say
//! what they need; without a team init says how to add them later.

use std::path::{Path, PathBuf};

use crate::cli::init::linter;
use crate::common::{self, stderr, stdout};

const OPERATOR_WORKFLOWS: [&str; 2] = ["manager-ops.yml", "manager-offboard.yml"];

/// `fleetform init --dir <root>/m` with `args`: (output, the repo).
fn init(root: &Path, args: &[&str]) -> (common::Ran, PathBuf) {
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(root)
        .args(["init", "--dir", "m"])
        .args(args)
        .output();
    (out, root.join("m"))
}

fn workflows(repo: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    found.sort();
    found
}

#[test]
fn with_operators_init_writes_the_operator_workflows_and_names_the_team() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, repo) = init(tmp.path(), &["--operators", "my-org/platform"]);
    common::assert_ok(&out);
    let config = std::fs::read_to_string(repo.join("fleetform.yml")).unwrap();
    assert!(
        config.contains("\nrollout:\n") && config.contains("\n  operators: my-org/platform\n"),
        "{config}"
    );
    let written = workflows(&repo);
    for name in OPERATOR_WORKFLOWS {
        let path = repo.join(".github/workflows").join(name);
        assert!(written.contains(&path), "{name}: {written:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("-action # v{}", env!("CARGO_PKG_VERSION")))
                && !text.contains("@v1\n"),
            "{name}: fleetform's action is pinned to this release"
        );
    }
    let printed = stdout(&out);
    for needed in [
        "only active members of my-org/platform",
        "fleetform-offboard-plan and fleetform-offboard",
        "FLEETFORM_TEAMS_TOKEN",
        ".github/workflows/manager-offboard.yml",
    ] {
        assert!(printed.contains(needed), "{needed}: {printed}");
    }
    // fleetform.yml as written is valid, team and all.
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(&repo)
        .arg("validate")
        .output();
    common::assert_ok(&out);

    // The linters, as for the other generated workflows (tests/cli/init.rs).
    let out = crate::cli::init::zizmor(&repo);
    assert!(
        out.status.success(),
        "zizmor: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    for name in OPERATOR_WORKFLOWS {
        assert!(stderr(&out).contains(name), "zizmor skipped {name}");
    }
    let out = std::process::Command::new(linter("actionlint"))
        .args(&written)
        .output()
        .unwrap();
    common::assert_ok(&out);
}

#[test]
fn without_operators_init_says_how_to_add_them_later() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, repo) = init(tmp.path(), &[]);
    common::assert_ok(&out);
    for name in OPERATOR_WORKFLOWS {
        assert!(
            !repo.join(".github/workflows").join(name).exists(),
            "{name}"
        );
    }
    let config = std::fs::read_to_string(repo.join("fleetform.yml")).unwrap();
    assert!(!config.contains("\nrollout:"), "{config}");
    let printed = stdout(&out);
    assert!(
        printed.contains("`fleetform init --operators org/team` writes them")
            && printed.contains("manager-offboard.yml"),
        "{printed}"
    );
}

#[test]
fn a_bad_team_or_a_customer_repo_with_operators_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["--operators", "platform"][..],
        &["--operators", "my-org/"],
        &["--operators", "-rf/x"],
        &["--customer", "--operators", "my-org/platform"],
    ] {
        let (out, repo) = init(tmp.path(), args);
        common::assert_code_for(format_args!("{args:?}"), &out, 2);
        assert!(!repo.exists(), "{args:?} wrote {}", repo.display());
    }
}
