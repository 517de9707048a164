//! Hostile input II, the classes about what fleetform prints, reads, writes
//! and hands to its children:
//!
//! - workflow commands through any text that reaches the runner, and
//!   control characters on a terminal;
//! - customer files that are symlinks (into another customer's folder, out
//!   of the repo) or not regular files (a FIFO that would block the fleet);
//! - writes through symlinks planted in the output tree;
//! - credentials in a child's environment;
//! - I/O errors that must name the path and the OS reason.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{require_terraform, Fixture};

/// Asserts that the only workflow commands in the output are the ones
/// fleetform writes itself.
fn assert_only_own_commands(out: &impl common::Streams) {
    let all = format!("{}\n{}", common::stdout(out), common::stderr(out));
    if let Some(problem) = common::foreign_commands(&all) {
        panic!("{problem}\n{all}");
    }
}

fn executable(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// A child (Terraform) printing commands on stdout and stderr, indented,
/// in the legacy form and after a CR: under Actions none is obeyed.
#[test]
fn child_output_never_becomes_a_workflow_command() {
    let fx = Fixture::new();
    let tf = fx.path("bin/terraform");
    executable(
        &tf,
        "#!/bin/sh\necho '   ::stop-commands::x'\necho '::add-mask::customer'\necho '\t::warning::from stdout'\n\
         echo '  ##[error]legacy' >&2\nprintf 'a\\r::notice::after cr\\n' >&2\nprintf '\\033]0;retitled\\007\\n' >&2\nexit 1\n",
    );
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .env("FLEETFORM_TERRAFORM", &tf)
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .code(1);
    let err = common::stderr(&out);
    assert!(
        err.contains("::stop-commands::x"),
        "shown, not obeyed: {err}"
    );
    assert!(err.contains("##\\[error]legacy"), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(err.contains("\\u{1b}]0;retitled"), "{err}");
    assert_only_own_commands(&out);
}

/// Customer keys quoted in diagnostics (validation, schema) carry line
/// breaks and commands: neutralised under Actions, escapes shown on a
/// terminal.
#[test]
fn customer_text_in_diagnostics_never_becomes_a_command() {
    let fx = Fixture::new();
    fx.append(
        "customers/acme/infra/variables.yml",
        "\"x\\n::stop-commands::pwned\\n  ##[warning]k\\r::error::cr\": 1\n\"\\e]0;title\\a\\e[2J\": 2\n",
    );
    for github in [true, false] {
        let github_env = github.then_some(("GITHUB_ACTIONS", "true"));
        let out = common::Run::from(fx.fleetform())
            .envs(github_env)
            .args(["validate", "--customer", "acme"])
            .output();
        common::assert_code(&out, 1);
        let all = format!("{}{}", common::stdout(&out), common::stderr(&out));
        assert!(all.contains("stop-commands::pwned"), "{all}");
        assert!(
            !all.contains('\u{1b}'),
            "an escape reached the terminal: {all:?}"
        );
        assert!(!all.contains('\r'), "a CR reached the terminal: {all:?}");
        assert!(!all.contains('\u{7}'), "{all:?}");
        if github {
            assert_only_own_commands(&out);
        }
    }
}

/// Flag values are quoted by the flag parser's errors.
#[test]
fn flag_errors_never_become_commands() {
    let out = common::Run::from(common::fleetform_bin())
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "--jobs", "x\n::stop-commands::y"])
        .output();
    common::assert_code(&out, 2);
    assert!(common::stderr(&out).contains("stop-commands::y"));
    assert_only_own_commands(&out);
}

// ---------------------------------------------------------------------------
// What a customer file may be.

fn plan_staging(fx: &Fixture, customer: &str) -> crate::common::Ran {
    require_terraform();
    common::Run::from(fx.fleetform())
        .args(["plan", "--customer", customer, "--env", "staging", "--json"])
        .output()
}

/// A variables file that is a symlink into another customer's folder
/// would plan that customer's values under this customer's name.
#[test]
fn a_symlinked_variables_file_is_refused() {
    let fx = Fixture::new();
    let vars = fx.path("customers/acme/infra/variables.yml");
    std::fs::remove_file(&vars).unwrap();
    symlink(fx.path("customers/globex/infra/variables.yml"), &vars).unwrap();
    for args in [
        vec!["validate", "--customer", "acme"],
        vec!["render", "--customer", "acme", "--env", "staging"],
    ] {
        let out = common::Run::from(fx.fleetform()).args(&args).output();
        common::assert_fails_for(format_args!("{args:?}"), &out);
        assert!(!common::stdout(&out).contains("globex"), "{args:?}");
        let err = common::stderr(&out);
        assert!(err.contains("symbolic link"), "{args:?}: {err}");
        assert!(err.contains("infra/variables.yml"), "{err}");
    }
    let out = plan_staging(&fx, "acme");
    common::assert_code(&out, 1);
    assert!(!fx
        .manager()
        .join(".fleetform/out/acme/staging/summary.json")
        .exists());
}

/// `infra/` itself a symlink to another customer's folder, and an
/// override file linked out of the repo.
#[test]
fn linked_folders_and_overrides_are_refused() {
    let fx = Fixture::new();
    let infra = fx.path("customers/acme/infra");
    std::fs::remove_dir_all(&infra).unwrap();
    symlink(fx.path("customers/globex/infra"), &infra).unwrap();
    let out = common::Run::from(fx.fleetform())
        .args(["render", "--customer", "acme", "--env", "staging"])
        .output();
    common::assert_fails(&out);
    assert!(
        common::stderr(&out).contains("infra: is a symbolic link"),
        "{}",
        common::stderr(&out)
    );

    let fx = Fixture::new();
    fx.write("outside/secret.yml", "region: eu-stolen-1\n");
    symlink(
        fx.path("outside/secret.yml"),
        fx.path("customers/acme/infra/variables.staging.yml"),
    )
    .unwrap();
    let out = common::Run::from(fx.fleetform())
        .args(["render", "--customer", "acme", "--env", "staging"])
        .output();
    common::assert_fails(&out);
    assert!(!common::stdout(&out).contains("eu-stolen-1"));
    assert!(
        common::stderr(&out).contains("variables.staging.yml"),
        "{}",
        common::stderr(&out)
    );
}

/// A FIFO where the variables file belongs would block a plain read
/// forever; the fleet goes on without that customer.
#[test]
fn a_fifo_never_stalls_the_fleet() {
    require_terraform();
    let fx = Fixture::new();
    let vars = fx.path("customers/acme/infra/variables.yml");
    std::fs::remove_file(&vars).unwrap();
    let c = std::ffi::CString::new(vars.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // Blocked on the FIFO, the run is killed at the timeout (a guard, not a
    // measure) and has no exit code, so the exit code 1 below fails it.
    let out = common::Run::from(fx.fleetform())
        .timeout(Duration::from_secs(600))
        .args(["plan", "--all", "--json"])
        .output();
    common::assert_code(&out, 1);
    assert!(
        common::stderr(&out).contains("a FIFO"),
        "{}",
        common::stderr(&out)
    );
    let rows: serde_json::Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let globex_planned = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["customer"] == "globex" && r["error"].is_null())
        .count();
    assert_eq!(globex_planned, 2, "the other customers still plan: {rows}");
}

/// A FIFO where a downloaded report or list belongs (`repair --from`'s
/// drift report, `repair --apply`'s list, `apply --plan-dir`'s plan) is
/// refused at once, naming it, instead of waiting for a writer for ever.
#[test]
fn a_fifo_in_place_of_a_downloaded_file_is_refused_at_once() {
    let fx = Fixture::new();
    let fifo = |rel: &str| {
        let p = fx.manager().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    fifo("drift-out/drift-report.json");
    fifo("repairs/repairs.json");
    for (args, file) in [
        (&["repair", "--from", "drift-out"][..], "drift-report.json"),
        (&["repair", "--apply", "repairs"][..], "repairs.json"),
    ] {
        // Blocked on the FIFO, the run would be killed at the timeout (a
        // guard, not a measure) with no exit code: the check below fails.
        // (A workstation's run: no artifact key, so the list is read as
        // it lies, without a sealed copy.)
        let out = common::Run::from(fx.fleetform())
            .env_remove("FLEETFORM_ARTIFACT_KEY")
            .timeout(Duration::from_secs(600))
            .args(args)
            .output();
        common::assert_code(&out, 2);
        let err = common::stderr(&out);
        assert!(
            err.contains(file) && err.contains("FIFO"),
            "{args:?}: {err}"
        );
    }
}

/// `adopt discover`'s listing command that never ends is killed at its
/// `--timeout`, and nothing is written, as a policy tool at its timeout.
#[test]
fn a_listing_command_that_never_ends_is_killed_at_its_timeout() {
    let fx = Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .timeout(Duration::from_secs(600))
        .args([
            "adopt",
            "discover",
            "--customer",
            "acme",
            "--env",
            "staging",
        ])
        .args(["--timeout", "2s", "--", "sh", "-c", "sleep 600"])
        .output();
    common::assert_code(&out, 1);
    assert!(
        common::stderr(&out).contains("killed after its timeout of 2s"),
        "{}",
        common::stderr(&out)
    );
    assert!(!fx.manager().join("adopt/acme/staging.yml").exists());
}

// ---------------------------------------------------------------------------
// Writes through planted symlinks.

/// A symlink planted where the publish lock goes would make the plan
/// truncate the file it points at.
#[test]
fn a_planted_lock_link_never_truncates_its_target() {
    let fx = Fixture::new();
    let victim = fx.path("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let dir = fx.manager().join(".fleetform/out/acme/staging");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(&victim, dir.join(".publish.lock")).unwrap();
    let out = plan_staging(&fx, "acme");
    common::assert_code(&out, 1);
    assert!(
        common::stderr(&out).contains(".publish.lock: is a symbolic link"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// A customer's results folder planted as a link elsewhere.
#[test]
fn a_planted_folder_link_is_refused() {
    let fx = Fixture::new();
    let elsewhere = fx.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out_root = fx.manager().join(".fleetform/out");
    std::fs::create_dir_all(&out_root).unwrap();
    symlink(&elsewhere, out_root.join("acme")).unwrap();
    let out = plan_staging(&fx, "acme");
    common::assert_code(&out, 1);
    assert!(
        common::stderr(&out).contains("is a symbolic link"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// `render --all` replaces a planted file link instead of writing through
/// it, and refuses a planted folder link.
#[test]
fn render_all_never_writes_through_links() {
    let fx = Fixture::new();
    let victim = fx.path("victim.json");
    std::fs::write(&victim, "precious").unwrap();
    let victim_dir = fx.path("victim-dir");
    std::fs::create_dir_all(&victim_dir).unwrap();
    let out_dir = fx.path("rendered");
    std::fs::create_dir_all(out_dir.join("acme")).unwrap();
    symlink(&victim, out_dir.join("acme/staging.tfvars.json")).unwrap();
    symlink(&victim_dir, out_dir.join("globex")).unwrap();
    let out = common::run(&fx, &["render", "--all", "--out"])
        .arg(&out_dir)
        .code(1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0);
    let written = out_dir.join("acme/staging.tfvars.json");
    assert!(!std::fs::symlink_metadata(&written)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&written).unwrap().contains("acme"));
    let err = common::stderr(&out);
    assert!(
        err.contains("rendered/globex:1:1: cannot write: is a symbolic link"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Token hygiene.

/// With only `GITHUB_TOKEN` set (which fleetform uses) and the runner's
/// own tokens present, Terraform sees none of them; `terraform.pass_env`
/// passes a named one on.
#[test]
fn no_credential_reaches_terraform_unless_passed_on() {
    let fx = Fixture::new();
    let (tf, log) = common::recording_terraform(&fx, "echo \"--- $*\"; env");
    let secrets = [
        ("GITHUB_TOKEN", "ghs_githubtoken0123456789abcdefABCDEF01"),
        ("GH_TOKEN", "gho_ghtoken0123456789abcdefABCDEF012345"),
        ("ACTIONS_RUNTIME_TOKEN", "runtime-token-value"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc-request-token-value"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://oidc.example/token"),
        ("GITHUB_ENV", "/tmp/runner-env-file"),
        ("FLEETFORM_DISPATCH_SECRET", "dispatch-secret-value"),
    ];
    let run = |fx: &Fixture| {
        let out = common::Run::from(fx.fleetform())
            .env("FLEETFORM_TERRAFORM", &tf)
            .envs(secrets)
            .args(["plan", "--customer", "acme", "--env", "staging", "--json"])
            .output();
        common::assert_code(&out, 0);
        std::fs::read_to_string(&log).unwrap()
    };
    let env_log = run(&fx);
    assert!(env_log.contains("PATH="), "the log records the environment");
    for (k, v) in secrets {
        assert!(!env_log.contains(v), "terraform saw {k}");
        assert!(
            !env_log.lines().any(|l| l.starts_with(&format!("{k}="))),
            "{k}"
        );
    }

    std::fs::remove_file(&log).unwrap();
    let cfg = fx.read("manager/fleetform.yml").replace(
        "  pass_env: []",
        "  pass_env: [ACTIONS_ID_TOKEN_REQUEST_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL]",
    );
    fx.write("manager/fleetform.yml", &cfg);
    let env_log = run(&fx);
    assert!(env_log.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN=oidc-request-token-value"));
    assert!(env_log.contains("ACTIONS_ID_TOKEN_REQUEST_URL=https://oidc.example/token"));
    assert!(
        !env_log.contains("ghs_githubtoken"),
        "GITHUB_TOKEN still withheld"
    );
    assert!(!env_log.contains("runtime-token-value"));
}

/// A `pass_env` entry that is not a variable name is a config error.
#[test]
fn pass_env_names_are_checked() {
    let fx = Fixture::new();
    let cfg = fx
        .read("manager/fleetform.yml")
        .replace("  pass_env: []", "  pass_env: [\"A=B\"]");
    fx.write("manager/fleetform.yml", &cfg);
    let out = common::run(&fx, &["validate"]).code(2);
    let err = common::stderr(&out);
    assert!(
        err.contains("fleetform.yml:") && err.contains("environment variable name"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// OS errors are never hidden.

/// A write that fails names the file and keeps the OS's reason.
#[test]
fn write_errors_name_the_path_and_the_reason() {
    let fx = Fixture::new();
    let dir = fx.manager().join(".fleetform/out/acme/staging");
    std::fs::create_dir_all(dir.join("comment.md")).unwrap();
    let out = plan_staging(&fx, "acme");
    common::assert_code(&out, 1);
    let err = common::stderr(&out);
    assert!(
        err.contains("writing .fleetform/out/acme/staging/comment.md: ")
            && err.contains("Is a directory (os error 21)"),
        "{err}"
    );
}

/// A full disk: the runner's output file on a device that is always full.
/// The message keeps "No space left on device" and names the file.
#[test]
fn a_full_disk_is_named() {
    let fx = Fixture::new();
    let out = common::Run::from(fx.fleetform())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", "/dev/full")
        .args(["matrix"])
        .output();
    common::assert_fails(&out);
    let err = common::stderr(&out);
    assert!(
        err.contains("/dev/full: No space left on device (os error 28)"),
        "{err}"
    );
}
