//! The frictions a newcomer met on a fresh clone (issue #54, point 4),
//! each fixed and kept fixed: what `init` says to run works, what it
//! writes says what is true, `validate FILE` outside a manager names
//! `--schema`, and tests/check.sh names every missing tool before it builds
//! anything.

use std::path::{Path, PathBuf};

use crate::common::{self, stderr, stdout};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `fleetform init --dir <root>/<dir>` with `args`, which must succeed:
/// what it printed.
fn init(root: &Path, dir: &str, args: &[&str]) -> String {
    let out = common::Run::from(common::fleetform_bin())
        .current_dir(root)
        .args(["init", "--dir", dir])
        .args(args)
        .output();
    common::assert_ok_for(format_args!("init {args:?}"), &out);
    stdout(&out)
}

/// The command `init` tells the user to run for a customer's instructions
/// works as printed, given the manager repo's name; once `relay:` is set,
/// without it (`relay.manager_repo` is the default).
#[test]
fn the_instructions_command_init_prints_works() {
    let tmp = tempfile::tempdir().unwrap();
    let printed = init(tmp.path(), "m", &[]);
    let told = "`fleetform customers instructions SLUG\n--manager-repo OWNER/NAME`";
    assert!(printed.contains(told), "{printed}");
    let m = tmp.path().join("m");
    let add = common::Run::from(common::fleetform_bin())
        .current_dir(&m)
        .args(["customers", "add", "acme", "--repo", "acme/infra"])
        .args(["--repo-id", "7", "--contact", "ops@acme.example"])
        .env(
            "FLEETFORM_DISPATCH_SECRET",
            "a-test-dispatch-secret-of-32-bytes!!",
        )
        .output();
    common::assert_ok(&add);
    // As printed, with the placeholders filled.
    common::run_bin(&[])
        .current_dir(&m)
        .args(["customers", "instructions", "acme"])
        .args(["--manager-repo", "provider/manager"])
        .ok()
        .stdout_has("provider/manager");
    // Without the flag and no `relay:`: a usage error that says what to pass.
    common::run_bin(&[])
        .current_dir(&m)
        .args(["customers", "instructions", "acme"])
        .code(2)
        .stderr_has("pass --manager-repo OWNER/NAME")
        .stderr_has("`relay.manager_repo`");
    // With `relay:`, its manager repo is the default.
    let config = m.join("fleetform.yml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\nrelay:\n  app_slug: provider-manager\n  manager_repo: provider/fleet-manager\n",
    );
    std::fs::write(&config, text).unwrap();
    common::run_bin(&[])
        .current_dir(&m)
        .args(["customers", "instructions", "acme"])
        .ok()
        .stdout_has("provider/fleet-manager");
}

/// With `--operators`, fleetform.yml has `rollout:`, so what `init`
/// prints about the rollout template must not say it lacks one; without,
/// it still says the template waits for `rollout:`.
#[test]
fn init_operators_says_why_the_rollout_template_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let with = init(tmp.path(), "with", &["--operators", "my-org/platform"]);
    let config = std::fs::read_to_string(tmp.path().join("with/fleetform.yml")).unwrap();
    assert!(config.contains("\nrollout:\n"), "{config}");
    assert!(
        !with.contains("once it has `rollout:`"),
        "init --operators wrote `rollout:` but says it is missing:\n{with}"
    );
    assert!(
        with.contains(
            "manager-rollout.yml from fleetform's workflows/ once `records:` is a\n   bucket"
        ),
        "{with}"
    );
    let without = init(tmp.path(), "without", &[]);
    assert!(
        without.contains("manager-rollout.yml from fleetform's workflows/ once it has `rollout:`"),
        "{without}"
    );
}

/// The zizmor settings `init` writes suppress only what the workflows
/// written beside them do: the customer's trigger reads no secret (the
/// relay's OIDC path), so the customer repo gets no `secrets-outside-env`
/// suppression (and no comment about a token); the manager's drift
/// workflow does read one, and its suppression says so.
#[test]
fn init_zizmor_suppressions_match_the_workflows() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "m", &[]);
    init(tmp.path(), "c", &["--customer"]);
    let read = |rel: &str| std::fs::read_to_string(tmp.path().join(rel)).unwrap();
    let customer = read("c/.github/zizmor.yml");
    let trigger = read("c/.github/workflows/customer-trigger.yml");
    assert!(!trigger.contains("secrets."), "the trigger reads a secret");
    assert!(
        !customer.contains("secrets-outside-env") && !customer.contains("token"),
        "{customer}"
    );
    let manager = read("m/.github/zizmor.yml");
    let drift = read("m/.github/workflows/manager-drift.yml");
    assert!(drift.contains("secrets."), "drift reads no secret any more");
    assert!(
        manager.contains("secrets-outside-env:")
            && manager.contains("The drift workflow reads its token from a repository secret")
            && manager.contains("- manager-drift.yml"),
        "{manager}"
    );
}

/// `validate FILE` where there is no manager (a customer's repo) names
/// `--schema FILE`, what a customer has, and the files it was given.
#[test]
fn validate_a_file_outside_a_manager_names_schema() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("variables.yml"), "region: eu-west-1\n").unwrap();
    common::run_bin(&[])
        .current_dir(tmp.path())
        .args(["validate", "variables.yml"])
        .code(2)
        .stderr_has("fleetform validate --schema FILE variables.yml");
    // And with the schema, as told, it validates.
    std::fs::write(
        tmp.path().join("schema.json"),
        r#"{"type": "object", "properties": {"region": {"type": "string"}}}"#,
    )
    .unwrap();
    common::run_bin(&[])
        .current_dir(tmp.path())
        .args(["validate", "--schema", "schema.json", "variables.yml"])
        .ok();
}

/// tests/check.sh checks every tool it needs before it builds anything:
/// with none of them on PATH it fails at once, naming each with an install
/// hint (not after a 12-minute build, and never by skipping). Every tool
/// it checks is one .ci/run installs.
#[test]
fn check_sh_names_every_missing_tool_up_front() {
    let script = std::fs::read_to_string(root().join("tests/check.sh")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let tools: Vec<&str> = [
        "protoc",
        "age",
        "age-keygen",
        "cmark-gfm",
        "chromium",
        "chromedriver",
        "openssl",
        "xz",
        "zip",
        "unzip",
        "curl",
        "python3",
        "script",
        "mdbook",
        "rustc",
    ]
    .to_vec();
    // Only what the script runs before its checks: terraform (checked
    // first, with its own hint), and the coreutils it calls.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["terraform", "mktemp", "cat", "dirname", "rm"] {
        let found = which(tool).unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(found, bin.path().join(tool)).unwrap();
    }
    let out = std::process::Command::new("/bin/bash")
        .arg(root().join("tests/check.sh"))
        .env_clear()
        .env("PATH", bin.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for tool in &tools {
        assert!(
            err.contains(&format!("error: {tool} is not on PATH")),
            "check.sh does not check {tool} up front:\n{err}"
        );
        let installed = match *tool {
            "protoc" => "protobuf-compiler",
            "chromedriver" => "chromium-driver",
            "python3" => "python3-venv",
            "script" => "script:bsdutils",
            "mdbook" => "cargo install mdbook --locked --version",
            "rustc" => "https://rustup.rs",
            t => t,
        };
        assert!(ci.contains(installed), ".ci/run does not install {tool}");
    }
    assert!(
        err.matches("hint: ").count() >= tools.len(),
        "a missing tool without an install hint:\n{err}"
    );
    assert!(!stdout(&out).contains("==> cargo"), "it started building");
    assert!(
        script.contains("need "),
        "the checks moved: update this test"
    );
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}
