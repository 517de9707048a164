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

/// `bash -euo pipefail -c <script>` with the scrubbed environment of
/// [`super::fleetform_std`] and `bin_dir` (where a link to the binary is)
/// first on PATH: for shell lines, as a document writes them, that call
/// `fleetform` by name.
pub fn shell(bin_dir: &Path, script: &str) -> Run {
    let mut bash = std::process::Command::new("bash");
    bash.env_clear();
    for (k, v) in super::fleetform_std().get_envs() {
        if let Some(v) = v {
            bash.env(k, v);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    bash.env("PATH", format!("{}:{path}", bin_dir.display()))
        .args(["-euo", "pipefail", "-c", script]);
    Run::from(assert_cmd::Command::from_std(bash))
}

/// A command about to run (any prepared `assert_cmd::Command`, such as a
/// test world's step, through `Run::from`).
pub struct Run {
    cmd: assert_cmd::Command,
    memory: Option<u64>,
}

impl From<assert_cmd::Command> for Run {
    fn from(cmd: assert_cmd::Command) -> Run {
        Run { cmd, memory: None }
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

    pub fn envs<I, K, V>(mut self, vars: I) -> Run
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// Adds `a` when `cond` holds (an optional flag).
    pub fn arg_if(self, cond: bool, a: impl AsRef<OsStr>) -> Run {
        if cond {
            self.arg(a)
        } else {
            self
        }
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

    /// An address-space limit (`RLIMIT_AS`, bytes) for [`Run::spawn`].
    pub fn memory_limit(mut self, bytes: u64) -> Run {
        self.memory = Some(bytes);
        self
    }

    /// The command as a `std::process::Command`: its program, arguments,
    /// directory and environment on a cleared one (every fleetform command
    /// starts from the scrubbed environment of `fleetform_std`).
    fn to_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(self.cmd.get_program());
        cmd.env_clear().args(self.cmd.get_args());
        if let Some(dir) = self.cmd.get_current_dir() {
            cmd.current_dir(dir);
        }
        for (k, v) in self.cmd.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Starts it and hands back the running child (stdin empty, stdout
    /// and stderr piped), for tests that act while it runs; with
    /// [`Run::memory_limit`], under that limit.
    pub fn spawn(self) -> std::process::Child {
        use std::process::Stdio;
        let mut cmd = self.to_std();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(bytes) = self.memory {
            limit_memory(&mut cmd, bytes);
        }
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{:?}: could not start: {e}", self.cmd))
    }

    /// Runs it in a pseudo-terminal (util-linux `script`) with `TERM` set
    /// to `term`: what it drew, line ends as `\n`.
    pub fn on_a_terminal(self, term: &str) -> String {
        let cmd = self.env("TERM", term).to_std();
        let line = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|w| format!("'{}'", w.to_str().unwrap().replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = std::process::Command::new("script");
        script.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                script.env(k, v);
            }
        }
        if let Some(dir) = cmd.get_current_dir() {
            script.current_dir(dir);
        }
        let out = script
            .args(["-qec", &line, "/dev/null"])
            .output()
            .expect("`script` (util-linux: apt-get install -y bsdutils) runs a command in a pseudo-terminal");
        assert_ok(&out);
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    }

    /// Runs it whatever its exit code.
    pub fn output(mut self) -> Ran {
        assert!(self.memory.is_none(), "memory_limit goes with spawn");
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

/// Sets `RLIMIT_AS` to `bytes` in the child before it runs.
fn limit_memory(cmd: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    const RLIMIT_AS: i32 = 9;
    extern "C" {
        fn setrlimit(resource: i32, rlim: *const [u64; 2]) -> i32;
    }
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = [bytes, bytes];
            if setrlimit(RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
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
