//! Hostile input, second part: credentials that only templating shows,
//! manager-side paths that leave the manager repo, options smuggled into
//! git, leftovers of killed runs, and audit records that used to panic the
//! report. The corpus cases live in `tests/fixtures/hostile/` and run in
//! `tests/hostile/corpus.rs`; this file checks what the corpus cannot: every
//! command that reads values refuses them, and nothing repeats a secret.

use crate::common;
use crate::corpus;
use crate::world;

use std::path::Path;

use common::{require_terraform, stderr, stdout, Fixture};
use world::{World, ACME};

fn corpus(file: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hostile")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Asserts that no fragment of a secret shows anywhere in `text`.
fn assert_never_repeated(text: &str, fragments: &[&str], what: &str) {
    for f in fragments {
        assert!(!text.contains(f), "{what} repeats `{f}`:\n{text}");
    }
}

// ---------------------------------------------------------------------------
// 1. Credentials that appear only after templating

/// (corpus file, message, fragments of its secret that must never show,
/// whether the raw file already shows it)
const TEMPLATED_SECRETS: &[(&str, &str, &[&str], bool)] = &[
    (
        "vars/template_assembled_token.yml",
        "/tags/ci: the literal text of this template looks like a GitHub token",
        &["A1b2C3", "d4E5f6"],
        true,
    ),
    (
        "vars/template_password_literal.yml",
        "/tags/db_password: the literal text of this template looks like a secret",
        &["Zq8#", "mK9@", "pL4$"],
        true,
    ),
    (
        "vars/template_rendered_token.yml",
        "/tags/ci: value looks like a GitHub token once rendered",
        &["A1b2C3", "d4E5f6"],
        false,
    ),
    (
        "vars/template_rendered_password.yml",
        "/tags/db_password: value looks like a secret (random-looking value under a secret-like key) once rendered",
        &["Zq8#", "mK9@", "pL4$"],
        false,
    ),
];

/// `validate`, `render`, `render --all` and `plan` refuse every templated
/// secret with the key and the place of the value, write nothing, and never
/// repeat the secret or a part of it.
#[test]
fn templated_secrets_are_refused_by_every_local_command() {
    require_terraform();
    for (file, message, fragments, _) in TEMPLATED_SECRETS {
        let fx = Fixture::new();
        fx.write("customers/acme/infra/variables.yml", &corpus(file));
        let at = "customers/acme/infra/variables.yml:7:";
        for args in [
            &["validate", "--customer", "acme"][..],
            &["render", "--customer", "acme", "--env", "staging"],
            &["render", "--all", "--out", "rendered"],
            &["plan", "--customer", "acme", "--env", "staging"],
        ] {
            let out = common::Run::from(fx.fleetform()).args(args).output();
            let text = format!("{}{}", stdout(&out), stderr(&out));
            common::assert_code_for(format_args!("{file} {args:?}"), &out, 1);
            assert!(text.contains(message), "{file} {args:?}: {text}");
            assert!(text.contains(at), "{file} {args:?}: no position: {text}");
            assert_never_repeated(&text, fragments, &format!("{file} {args:?}"));
        }
        assert!(
            !fx.path("manager/rendered/acme").exists()
                || files_under(&fx.path("manager/rendered/acme")).is_empty(),
            "{file}: render --all wrote acme's values"
        );
        let written = files_under(&fx.manager().join(".fleetform/out"));
        assert!(written.is_empty(), "{file}: plan wrote {written:?}");
    }
}

/// `validate FILE` has no customer to render for: it finds what the file's
/// template text shows (and leaves the rest to render, plan and the
/// manager's checks above).
#[test]
fn validate_files_finds_secrets_in_template_text() {
    let fx = Fixture::new();
    for (file, message, fragments, in_raw_text) in TEMPLATED_SECRETS {
        fx.write("check.yml", &corpus(file));
        let out = common::Run::from(fx.fleetform())
            .args(["validate", "../check.yml"])
            .output();
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_never_repeated(&text, fragments, file);
        if *in_raw_text {
            common::assert_code_for(format_args!("{file}"), &out, 1);
            assert!(text.contains(message), "{file}: {text}");
        }
    }
}

/// A key that is itself a credential is reported at the key, under its
/// mapping's pointer, and the key is never printed (nor quoted by a schema
/// message about the same place).
#[test]
fn a_credential_key_is_never_repeated() {
    let fx = Fixture::new();
    fx.write(
        "customers/acme/infra/variables.yml",
        &corpus("vars/cred_as_key.yml"),
    );
    let out = common::Run::from(fx.fleetform())
        .args(["validate", "--customer", "acme"])
        .output();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    common::assert_code(&out, 1);
    assert!(
        text.contains("variables.yml:7:3: /tags: a key of this mapping looks like a GitHub token"),
        "{text}"
    );
    assert_never_repeated(&text, &["Z9y8X7w6V5u4"], "validate");
}

/// A schema message about the place of a credential (or around it) could
/// quote it: a key the schema does not allow is named in "Additional
/// properties are not allowed", a value too long is repeated in "is
/// longer than". Only the credential finding is reported there.
#[test]
fn schema_messages_never_quote_a_credential() {
    let token = "ghp_Z9y8X7w6V5u4Z9y8X7w6V5u4Z9y8X7w6V5u4";
    let password: String = "Zq8#vR2!mK9@pL4$wX7".repeat(16);
    let fx = Fixture::new();
    let vars = fx
        .read("customers/acme/infra/variables.yml")
        .replace("networking:\n", &format!("networking:\n  {token}: 1\n"));
    fx.write(
        "customers/acme/infra/variables.yml",
        &format!("{vars}{token}: x\n"),
    );
    fx.write(
        "customers/acme/infra/variables.production.yml",
        &format!("tags:\n  db_password: \"{password}\"\n"),
    );
    let out = common::Run::from(fx.fleetform())
        .args(["validate", "--customer", "acme"])
        .output();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    common::assert_code(&out, 1);
    for want in [
        "infra/variables.yml:26:1: a key of this mapping looks like a GitHub token",
        "infra/variables.yml:19:3: /networking: a key of this mapping looks like a GitHub token",
        "infra/variables.production.yml:2:16: /tags/db_password: value looks like a secret",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(text.matches("error: ../customers").count(), 3, "{text}");
    assert_never_repeated(&text, &["Z9y8X7w6", "Zq8#vR2", "pL4$wX7"], "validate");
}

/// The manager's own value layers go through the same scan after
/// rendering: a manager template cannot assemble a token either.
#[test]
fn manager_layer_templates_are_scanned_after_rendering() {
    let fx = Fixture::new();
    fx.append(
        "manager/values/base.yml",
        "\nbuild_id: \"{{ 'GHP_' | lower }}{{ 'A1b2C3d4E5f6A1b2C3d4E5f6A1b2C3d4E5f6' }}\"\n",
    );
    let out = common::Run::from(fx.fleetform())
        .args(["render", "--customer", "acme", "--env", "staging"])
        .output();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    common::assert_code(&out, 1);
    assert!(
        text.contains("values/base.yml:")
            && text.contains("/build_id: value looks like a GitHub token once rendered"),
        "{text}"
    );
    assert_never_repeated(&text, &["A1b2C3"], "render");
}

/// The dispatched plan goes through the same render: a token that only the
/// rendered value shows passes the customer's trigger (it cannot render
/// without the manager) and is refused by the manager, with nothing
/// planned, the problem (not the secret) listed on the customer's pull
/// request, and the secret in no status, comment, summary or log.
#[test]
fn dispatched_plans_refuse_templated_secrets() {
    let mut w = World::new();
    let vars = corpus("vars/template_rendered_token.yml");
    let sha = w.gh.commit(ACME, "leak", &[("infra/variables.yml", &vars)]);
    let pr = w.gh.open_pr(ACME, "leak", "main", "tags");
    let (out, _) = w.trigger_pr(ACME, pr, "leak", &sha);
    world::ok(&out);
    let (out, files) = w.plan_latest("staging");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    common::assert_code(&out, 1);
    // The manager's log counts the problem; the customer's pull request
    // lists it, with its place.
    assert!(text.contains("invalid values (1 problem)"), "{text}");
    let listed = w.gh.comments(ACME, pr).iter().any(|c| {
        c.body.contains(
            "`infra/variables.yml:7:7` `/tags/ci`: value looks like a GitHub token once rendered",
        )
    });
    assert!(listed, "{:?}", w.gh.comments(ACME, pr));
    let status = w.gh.statuses(ACME, &sha).last().cloned().unwrap();
    assert_eq!(status.state, "failure");
    let mut written = text.clone();
    for s in w.gh.statuses(ACME, &sha) {
        written.push_str(s.description.as_deref().unwrap_or_default());
    }
    for c in w.gh.comments(ACME, pr) {
        written.push_str(&c.body);
    }
    written.push_str(&files.summary());
    assert_never_repeated(&written, &["A1b2C3", "d4E5f6"], "the dispatched plan");
    let planned = files_under(&w.fx.manager().join(".fleetform/out"));
    assert!(
        !planned.iter().any(|p| p.ends_with("tfplan")
            || p.ends_with("variables.tfvars.json")
            || p.ends_with("summary.json")),
        "{planned:?}"
    );
}

// ---------------------------------------------------------------------------
// 3. Options smuggled into git

/// Runs git in `dir` (test setup).
fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    common::assert_ok_for(format_args!("git {args:?}"), &out);
}

/// The examples as a git repo with two commits: the second changes acme's
/// variables only.
fn fixture_repo() -> Fixture {
    let fx = Fixture::new();
    git(fx.root(), &["init", "-q", "-b", "main"]);
    git(fx.root(), &["add", "-A"]);
    git(fx.root(), &["commit", "-q", "-m", "one"]);
    fx.append("customers/acme/infra/variables.yml", "\n# changed\n");
    git(fx.root(), &["commit", "-q", "-am", "two"]);
    fx
}

/// `--changed-from=--output=FILE` used to reach `git diff` as an option
/// and write FILE. Every revision flag is checked when the flags are
/// resolved (exit 2, a clear message) and git never runs.
#[test]
fn matrix_refuses_revisions_that_git_would_read_as_options() {
    let fx = fixture_repo();
    let trap = tempfile::tempdir().unwrap();
    let target = trap.path().join("x");
    let target = target.display();
    for (args, env) in [
        (vec![format!("--changed-from=--output={target}")], None),
        (
            vec![
                "--changed-from".into(),
                "HEAD~1".into(),
                format!("--changed-to=--output={target}"),
            ],
            None,
        ),
        (vec![], Some(format!("--output={target}"))),
        (vec!["--changed-from=main..--output=x".into()], None),
    ] {
        let mut run = common::Run::from(fx.fleetform()).arg("matrix").args(&args);
        if let Some(v) = &env {
            run = run.env("FLEETFORM_CHANGED_FROM", v);
        }
        let out = run.output();
        let err = stderr(&out);
        common::assert_code_for(format_args!("{args:?} {env:?}"), &out, 2);
        assert!(
            err.contains("is not a git revision"),
            "{args:?} {env:?}: {err}"
        );
        let written: Vec<_> = std::fs::read_dir(trap.path()).unwrap().collect();
        assert!(
            written.is_empty(),
            "{args:?} {env:?}: git wrote {written:?}"
        );
    }
}

/// A `git` in front of the real one, recording its arguments.
fn recording_git(fx: &Fixture) -> (std::path::PathBuf, std::path::PathBuf) {
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .expect("git on PATH");
    let bin = fx.path("gitbin");
    let log = fx.path("git-calls.log");
    fx.write(
        "gitbin/git",
        &format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done >> '{}'\necho >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            log.display(),
            real.display()
        ),
    );
    let mut perm = std::fs::metadata(bin.join("git")).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(bin.join("git"), perm).unwrap();
    (bin, log)
}

/// A valid revision reaches git after `--end-of-options`, with external
/// diff drivers and textconv filters off, and still selects the changed
/// customer.
#[test]
fn matrix_passes_revisions_after_end_of_options() {
    let fx = fixture_repo();
    let (bin, log) = recording_git(&fx);
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = common::Run::from(fx.fleetform())
        .env("PATH", path)
        .args(["matrix", "--changed-from", "HEAD~1"])
        .code(0);
    let m: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ids: Vec<&str> = m["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-staging", "acme-production"]);
    let calls = std::fs::read_to_string(&log).unwrap();
    let diff = calls
        .lines()
        .find(|l| l.starts_with("[diff]"))
        .unwrap_or_else(|| panic!("no git diff: {calls}"));
    for flag in ["[--no-ext-diff]", "[--no-textconv]", "[-z]"] {
        assert!(diff.contains(flag), "{diff}");
    }
    assert!(
        diff.ends_with("[--end-of-options][HEAD~1..HEAD][--]"),
        "{diff}"
    );
}

// ---------------------------------------------------------------------------
// 4. Leftovers of killed runs

/// `fleetform plan` as a child process (to be killed), with the scrubbed
/// environment of `common::fleetform_bin`.
fn spawn_plan(fx: &Fixture, args: &[&str], env: &[(&str, &Path)]) -> std::process::Child {
    let mut cmd = common::fleetform_std();
    cmd.env("TF_CLI_CONFIG_FILE", fx.path("terraformrc"))
        .current_dir(fx.manager())
        .arg("plan")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    common::Run::from(assert_cmd::Command::from_std(cmd)).spawn()
}

/// A `terraform` that announces itself in `started`, then waits until
/// fleetform (its parent) is gone: a plan that never ends on its own.
fn stuck_terraform(fx: &Fixture) -> (std::path::PathBuf, std::path::PathBuf) {
    let started = fx.path("terraform-started");
    fx.write(
        "slowbin/terraform",
        &format!(
            "#!/bin/sh\ntouch '{}'\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.1; done\nexit 1\n",
            started.display()
        ),
    );
    let script = fx.path("slowbin/terraform");
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    (script, started)
}

fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn work_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".work-")
        })
        .collect()
}

/// `kill -9` during a plan leaves its working copy. A concurrent run leaves
/// it alone while the killed run lives (its lock is held); the next run
/// after the kill removes it and says so.
#[test]
fn working_copies_of_killed_runs_are_removed_by_the_next_run() {
    require_terraform();
    let fx = Fixture::new();
    let (slow, started) = stuck_terraform(&fx);
    let pair = fx.manager().join(".fleetform/out/acme/staging");
    let mut victim = spawn_plan(
        &fx,
        &["--customer", "acme", "--env", "staging"],
        &[("FLEETFORM_TERRAFORM", &slow)],
    );
    wait_for(&started);
    let left = work_dirs(&pair);
    assert_eq!(left.len(), 1, "{left:?}");

    // A run beside the live one keeps its working copy.
    let out = common::run(&fx, &["plan", "--customer", "globex", "--env", "staging"]).code(0);
    assert!(!stderr(&out).contains("removed"), "{}", stderr(&out));
    assert!(left[0].exists(), "a live run's working copy was removed");

    // kill -9, reaped: the working copy stays behind.
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(left[0].exists());

    let out = common::Run::from(fx.fleetform())
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .output();
    let err = stderr(&out);
    common::assert_ok(&out);
    let name = left[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.contains(&format!(
            "removed .fleetform/out/acme/staging/{name}, a working copy left by a run that was killed"
        )),
        "{err}"
    );
    assert!(!left[0].exists());
    assert!(work_dirs(&pair).is_empty(), "{:?}", work_dirs(&pair));
}

// ---------------------------------------------------------------------------
// 5. The audit reader

/// `fleetform audit report ARGS` with at most `memory` bytes of address
/// space: (exit code, stdout, stderr).
fn audit_report(args: &[&str], memory: u64) -> (Option<i32>, String, String) {
    let child = common::run_bin(&["audit", "report"])
        .args(args)
        .memory_limit(memory)
        .spawn();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// A multi-byte `--since` and multi-byte shas in records used to panic on
/// byte slicing; they are a usage error and a rendered row now.
#[test]
fn audit_report_never_panics_on_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let sha = format!("a{}", "é".repeat(30));
    let rec = serde_json::json!({"time": "2026-11-01T00:00:00Z", "action": "apply", "actor": "ö",
        "customer": "acme", "result": "ok", "sha": sha, "plan_sha256": "ü".repeat(40), "detail": "é"});
    std::fs::write(&log, format!("{rec}\n")).unwrap();
    let log = log.display().to_string();
    let (code, out, err) = audit_report(&["--log", &log], 1 << 30);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("`aééééééééééé`") && out.contains(&format!("`{}`", "ü".repeat(12))),
        "{out}"
    );
    for since in [
        "aééééééééZ",
        "éééééééééé",
        "2026-11-0é",
        "2026-11-01T0é:00:00Z",
    ] {
        let (code, _, err) = audit_report(&["--log", &log, "--since", since], 1 << 30);
        assert_eq!(code, Some(2), "{since}: {err}");
        assert!(err.contains("is not a date (YYYY-MM-DD)"), "{since}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A log of `lines` plan records (about 400 bytes each) and one apply.
fn write_audit_log(path: &Path, lines: usize) {
    let plan = serde_json::json!({"time": "2026-11-01T10:00:00Z", "action": "plan", "actor": "someone",
        "customer": "acme", "environment": "staging", "sha": "0123456789abcdef0123456789abcdef01234567",
        "plan_sha256": "ab".repeat(32), "result": "changes",
        "run_url": "https://github.com/provider/manager/actions/runs/123456789",
        "dispatch_id": "d-0123456789", "detail": "staging: +3 ~0 -0"})
    .to_string();
    let apply = r#"{"time":"2026-11-02T10:00:00Z","action":"apply","actor":"approver","customer":"acme","result":"ok"}"#;
    let mut text = format!("{plan}\n").repeat(lines);
    text.push_str(apply);
    text.push('\n');
    std::fs::write(path, &text).unwrap();
}

/// `audit report --log LOG ARGS… --json` to its end: the summary and the
/// report's peak resident memory in KiB.
fn audit_report_peak(log: &Path, args: &[&str]) -> (serde_json::Value, u64) {
    let log = log.to_str().expect("a UTF-8 temporary path");
    let run = corpus::run_measured(
        common::run_bin(&["audit", "report", "--json", "--log", log]).args(args),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    (serde_json::from_str(&run.stdout).unwrap(), run.peak_kib)
}

/// The report streams the log, and its report: its peak memory for an
/// 11.6 MB log is within 4 MiB of its peak for a 0.6 MB one, with or
/// without `--since` (a version that read the log whole peaked 9 MB
/// higher). Peak resident memory of the same binary on the same records,
/// so the binary's own size cancels out.
#[test]
fn audit_report_memory_does_not_grow_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (
        dir.path().join("small.jsonl"),
        dir.path().join("large.jsonl"),
    );
    write_audit_log(&small, 1_500);
    write_audit_log(&large, 30_000);
    assert!(std::fs::metadata(&large).unwrap().len() > 11 << 20);
    let (s, small_kib) = audit_report_peak(&small, &[]);
    assert_eq!(s["records"], 1_501);
    let (s, large_kib) = audit_report_peak(&large, &[]);
    assert_eq!(s["records"], 30_001);
    assert_eq!(s["applies_per_customer"]["acme"], 1);
    let (s, since_kib) = audit_report_peak(&large, &["--since", "2026-11-02"]);
    assert_eq!(
        (s["records"].as_u64(), s["since"].as_str()),
        (Some(1), Some("2026-11-02T00:00:00Z"))
    );
    for (what, kib) in [("the whole report", large_kib), ("--since", since_kib)] {
        assert!(
            kib < small_kib + 4 * 1024,
            "{what}: the report's peak memory grew with the log: {small_kib} KiB for \
             0.6 MB, {kib} KiB for 11.6 MB"
        );
    }
}

/// I/O errors of a plan name the path and keep the OS reason (they said
/// "writing terraform.log" and nothing else).
#[test]
fn plan_io_errors_name_the_path_and_the_reason() {
    require_terraform();
    let fx = Fixture::new();
    let blocker = fx
        .manager()
        .join(".fleetform/out/acme/staging/terraform.log");
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let out = common::Run::from(fx.fleetform())
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .output();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    common::assert_code(&out, 1);
    assert!(
        text.contains(".fleetform/out/acme/staging/terraform.log: ") && text.contains("(os error"),
        "{text}"
    );
}
