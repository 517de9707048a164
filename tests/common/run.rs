//! The one way tests run the binary: [`run`] (or `Run::from` around a
//! command a test prepared) with `.env(k, v)`, then `.ok()`, `.code(n)` or
//! `.output()`, and checks on what came back (`.stdout_has(..)`,
//! `.stderr_has(..)`, ...). Every failed check prints the command, its exit
//! code and both streams. [`assert_ok`] and [`assert_code`] do the same for
//! an `Output` a test got elsewhere (a spawned child).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use super::{fleetform_bin, Fixture, Streams};

/// `fleetform <args>` from the fixture's manager directory with the
/// scrubbed environment of [`Fixture::fleetform`].
pub fn run(fx: &Fixture, args: &[&str]) -> Run {
    Run::from(fx.fleetform()).args(args)
}

/// Plans and applies one customer × environment from its checkout, as an
/// operator does by hand; both must succeed.
pub fn apply_locally(fx: &Fixture, customer: &str, env: &str) {
    for step in ["plan", "apply"] {
        run(fx, &[step, "--customer", customer, "--env", env]).ok();
    }
}

/// `fleetform <args>` with the scrubbed environment of [`fleetform_bin`]
/// (no fixture, the test's working directory).
pub fn run_bin(args: &[&str]) -> Run {
    Run::from(fleetform_bin()).args(args)
}

/// A command about to run (any prepared `assert_cmd::Command`, such as a
/// test world's step, through `Run::from`).
pub struct Run {
    cmd: assert_cmd::Command,
}

impl From<assert_cmd::Command> for Run {
    fn from(cmd: assert_cmd::Command) -> Run {
        Run { cmd }
    }
}

impl Run {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Run {
        self.cmd.arg(a);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Run {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Run {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Run {
        self.cmd.env_remove(k);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    /// Kills it after `d` (a hung command fails instead of hanging the test).
    pub fn timeout(mut self, d: std::time::Duration) -> Run {
        self.cmd.timeout(d);
        self
    }

    pub fn write_stdin(mut self, input: impl Into<Vec<u8>>) -> Run {
        self.cmd.write_stdin(input);
        self
    }

    /// Runs it whatever its exit code.
    pub fn output(mut self) -> Ran {
        // The command as Debug shows it: directory, environment, arguments.
        let shown = format!("{:?}", self.cmd);
        let out = self
            .cmd
            .output()
            .unwrap_or_else(|e| panic!("{shown}: could not run: {e}"));
        Ran::new(shown, out)
    }

    /// Runs it and asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Ran {
        self.code(0)
    }

    /// Runs it and asserts exit code `n`.
    #[track_caller]
    pub fn code(self, n: i32) -> Ran {
        let ran = self.output();
        ran.expect(ran.code == Some(n), &format!("expected exit code {n}"));
        ran
    }
}

/// What a command did: its exit code and both streams as text.
pub struct Ran {
    shown: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

impl Ran {
    pub fn new(shown: impl Into<String>, out: Output) -> Ran {
        Ran {
            shown: shown.into(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status,
        }
    }

    /// Panics with the command, its exit code and both streams unless
    /// `cond` holds.
    #[track_caller]
    pub fn expect(&self, cond: bool, what: &str) {
        assert!(cond, "{what}\n{self}");
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Ran {
        self.expect(
            self.stdout.contains(needle),
            &format!("stdout lacks {needle:?}"),
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Ran {
        self.expect(
            self.stderr.contains(needle),
            &format!("stderr lacks {needle:?}"),
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Ran {
        self.expect(
            !self.stdout.contains(needle),
            &format!("stdout has {needle:?}"),
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Ran {
        self.expect(
            !self.stderr.contains(needle),
            &format!("stderr has {needle:?}"),
        );
        self
    }

    /// Both streams, for checks that do not care which one a line is on.
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self
            .code
            .map_or("none (killed by a signal)".into(), |c| c.to_string());
        write!(
            f,
            "command: {}\nexit code: {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.shown, self.stdout, self.stderr
        )
    }
}

/// Asserts that `out` (an `Output` a test got elsewhere, such as from a
/// child it spawned or a helper) exited 0, printing both streams otherwise.
#[track_caller]
pub fn assert_ok(out: &impl Streams) {
    assert_code(out, 0);
}

/// Asserts that `out` exited with `n`, printing both streams otherwise.
#[track_caller]
pub fn assert_code(out: &impl Streams, n: i32) {
    check_code(None, out, n);
}

/// [`assert_ok`] naming the case (a loop's item, the command's arguments)
/// in the failure.
#[track_caller]
pub fn assert_ok_for(case: std::fmt::Arguments<'_>, out: &impl Streams) {
    assert_code_for(case, out, 0);
}

/// [`assert_code`] naming the case (a loop's item, the command's
/// arguments) in the failure.
#[track_caller]
pub fn assert_code_for(case: std::fmt::Arguments<'_>, out: &impl Streams, n: i32) {
    check_code(Some(case), out, n);
}

/// Asserts that `out` failed (any exit code but 0, or killed), printing
/// both streams otherwise: for refusals whose exact code is not the point.
#[track_caller]
pub fn assert_fails(out: &impl Streams) {
    check_fails(None, out);
}

/// [`assert_fails`] naming the case in the failure.
#[track_caller]
pub fn assert_fails_for(case: std::fmt::Arguments<'_>, out: &impl Streams) {
    check_fails(Some(case), out);
}

#[track_caller]
fn check_fails(case: Option<std::fmt::Arguments<'_>>, out: &impl Streams) {
    let case = case.map_or(String::new(), |c| format!("{c}: "));
    assert!(
        out.exit_code() != Some(0),
        "{case}expected a failure, but it exited 0\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(out.out_bytes()),
        String::from_utf8_lossy(out.err_bytes())
    );
}

#[track_caller]
fn check_code(case: Option<std::fmt::Arguments<'_>>, out: &impl Streams, n: i32) {
    let code = out.exit_code();
    let case = case.map_or(String::new(), |c| format!("{c}: "));
    assert!(
        code == Some(n),
        "{case}expected exit code {n}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        code.map_or("none (killed by a signal)".into(), |c| c.to_string()),
        String::from_utf8_lossy(out.out_bytes()),
        String::from_utf8_lossy(out.err_bytes())
    );
}
