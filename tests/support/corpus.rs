//! The adversarial corpus's harness (`tests/fixtures/hostile/`, listed
//! with each case's expected message in its README): the cases of one
//! kind, a run of the built binary under a deadline and an address-space
//! limit, and the checks every case must pass (see `hostile.rs`).
#![allow(dead_code)]

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Fixture;

/// The CPU time (user and system, the binary and the children it waited
/// for) a case may take: what the corpus promises ("within 20 s"), counted
/// in CPU time so that a loaded machine cannot make a case look slow.
pub const CPU_LIMIT: Duration = Duration::from_secs(20);
/// Wall-clock time after which a case is taken as hung (a hang uses no
/// CPU, so [`CPU_LIMIT`] cannot see it); generous for the same reason.
pub const DEADLINE: Duration = Duration::from_secs(120);
pub const MEMORY: u64 = 1 << 30;

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// `(file, expected message)` for every case in the corpus README.
pub fn cases(kind: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(corpus().join("README.md")).unwrap();
    let mut out = Vec::new();
    for line in readme.lines() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let (file, rest) = rest.split_once('`').expect("- `file` — ...");
        let expect = rest
            .split_once("Expect: `` ")
            .and_then(|(_, e)| e.strip_suffix(" ``"))
            .unwrap_or_else(|| panic!("README line for {file} has no Expect: `` … ``"));
        assert!(
            corpus().join(file).is_file(),
            "README lists {file}, which does not exist"
        );
        if file.starts_with(&format!("{kind}/")) {
            out.push((file.to_string(), expect.to_string()));
        }
    }
    out
}

/// What one run did.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// User and system CPU time of the binary and its waited-for children.
    pub cpu: Duration,
    /// The binary's peak resident memory in KiB, as last seen while it ran
    /// (`VmHWM` in /proc, read every 10 ms). Not `wait4`'s `ru_maxrss`:
    /// Linux counts in it the test process's own memory the child was
    /// forked from, before its exec.
    pub peak_kib: u64,
}

impl Run {
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary like `common::fleetform_bin` (scrubbed environment) in
/// `dir`, under a deadline and an address-space limit.
pub fn run_bounded(dir: &Path, tf_config: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    // Every case runs as under GitHub Actions, where any line of output
    // could be a workflow command (`judge` checks there is none).
    let cmd = common::run_bin(args)
        .env("GITHUB_ACTIONS", "true")
        .env("TF_CLI_CONFIG_FILE", tf_config)
        .env("FLEETFORM_AUDIT_LOG", dir.join("audit.jsonl"))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .memory_limit(MEMORY);
    run_measured(cmd)
}

/// Runs `cmd` to its end (killed after [`DEADLINE`]) with its output, wall
/// time, CPU time and peak memory.
pub fn run_measured(cmd: common::Run) -> Run {
    let started = Instant::now();
    let mut child = cmd.spawn();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let (status, usage) = wait_with_usage(&mut child, started);
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Run {
        code: status,
        stdout,
        stderr,
        elapsed,
        cpu: usage.cpu,
        peak_kib: usage.peak_kib,
    }
}

/// Files under `dir` (recursively).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// What a child used: its CPU time (from `wait4`) and its peak memory
/// (from /proc while it ran).
struct Usage {
    cpu: Duration,
    peak_kib: u64,
}

/// Waits for `child` (polling, killed after [`DEADLINE`]) and reaps it with
/// `wait4`, which also gives its CPU time; its peak memory is read from
/// /proc while it runs: (exit code, -1 for a signal and `None` when killed
/// at the deadline; its usage).
fn wait_with_usage(child: &mut std::process::Child, started: Instant) -> (Option<i32>, Usage) {
    let pid = child.id() as libc::pid_t;
    let mut killed = false;
    let mut peak_kib = 0;
    loop {
        peak_kib = peak_kib.max(high_water_mark_kib(pid).unwrap_or(0));
        let mut status = 0;
        // SAFETY: plain out-pointers to locals; the pid is our own child,
        // not reaped before (std's `Child` is not waited on elsewhere).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        let got = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        assert!(got >= 0, "wait4: {}", std::io::Error::last_os_error());
        if got == pid {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
            let code = if killed {
                None
            } else if libc::WIFEXITED(status) {
                Some(libc::WEXITSTATUS(status))
            } else {
                Some(-1)
            };
            return (code, Usage { cpu, peak_kib });
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            killed = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running process's peak resident memory so far (`VmHWM`), in KiB.
fn high_water_mark_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The checks every hostile case must pass; returns a failure description.
pub fn judge(case: &str, expect: &str, run: &Run, fx: &Fixture) -> Option<String> {
    judge_in(case, expect, run, &fx.manager())
}

/// [`judge`] for a run in the manager repo at `manager`.
pub fn judge_in(case: &str, expect: &str, run: &Run, manager: &Path) -> Option<String> {
    let text = run.text();
    let mut problems = Vec::new();
    match run.code {
        None => problems.push(format!("did not finish within {DEADLINE:?} (hung)")),
        Some(0) => problems.push("exited 0".into()),
        Some(101) => problems.push("panicked (exit 101)".into()),
        Some(_) => {}
    }
    if run.cpu > CPU_LIMIT {
        problems.push(format!(
            "took {:?} of CPU time, over {CPU_LIMIT:?}",
            run.cpu
        ));
    }
    if run.stderr.contains("panicked") {
        problems.push("\"panicked\" in stderr".into());
    }
    if !text.contains(expect) {
        problems.push(format!("message does not contain `{expect}`"));
    }
    if let Some(p) = common::foreign_commands(&text) {
        problems.push(p);
    }
    if text.contains('\u{1b}') {
        problems.push("an escape character reached the output".into());
    }
    let state = files_under(&manager.join(".fleetform/state"));
    if !state.is_empty() {
        problems.push(format!("state written: {state:?}"));
    }
    let outputs: Vec<PathBuf> = files_under(&manager.join(".fleetform/out"))
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n == "tfplan" || n == "summary.json" || n == "comment.md" || n == "github.json"
        })
        .collect();
    if !outputs.is_empty() {
        problems.push(format!("plan output written: {outputs:?}"));
    }
    if problems.is_empty() {
        None
    } else {
        let cut = |s: &str| s.chars().take(1500).collect::<String>();
        Some(format!(
            "{case}: {} (exit {:?}, {:?}, CPU {:?})\n  stdout: {}\n  stderr: {}",
            problems.join("; "),
            run.code,
            run.elapsed,
            run.cpu,
            cut(&run.stdout),
            cut(&run.stderr)
        ))
    }
}

pub fn report(failures: Vec<String>, n: usize) {
    assert!(
        failures.is_empty(),
        "{} of {n} hostile cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
