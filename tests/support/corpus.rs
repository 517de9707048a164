//! The adversarial corpus's harness (`tests/fixtures/hostile/`, listed
//! with each case's expected message in its README): the cases of one
//! kind, a run of the built binary under a deadline and an address-space
//! limit, and the checks every case must pass (see `hostile.rs`).
#![allow(dead_code)]

use crate::common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Fixture;

pub const DEADLINE: Duration = Duration::from_secs(20);
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
}

impl Run {
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the binary like `common::fleetform_bin` (scrubbed environment) in
/// `dir`, under a deadline and an address-space limit.
pub fn run_bounded(dir: &Path, tf_config: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = common::fleetform_std();
    // Every case runs as under GitHub Actions, where any line of output
    // could be a workflow command (`judge` checks there is none).
    cmd.env("GITHUB_ACTIONS", "true")
        .env("TF_CLI_CONFIG_FILE", tf_config)
        .env("FLEETFORM_AUDIT_LOG", dir.join("audit.jsonl"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = [MEMORY, MEMORY];
            if setrlimit(RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn fleetform");
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
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Run {
        code: match status {
            Some(st) => st.code().or(Some(-1)),
            None => None,
        },
        stdout,
        stderr,
        elapsed,
    }
}

const RLIMIT_AS: i32 = 9;
extern "C" {
    fn setrlimit(resource: i32, rlim: *const [u64; 2]) -> i32;
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

/// The checks every hostile case must pass; returns a failure description.
pub fn judge(case: &str, expect: &str, run: &Run, fx: &Fixture) -> Option<String> {
    judge_in(case, expect, run, &fx.manager())
}

/// [`judge`] for a run in the manager repo at `manager`.
pub fn judge_in(case: &str, expect: &str, run: &Run, manager: &Path) -> Option<String> {
    let text = run.text();
    let mut problems = Vec::new();
    match run.code {
        None => problems.push(format!("did not finish within {DEADLINE:?}")),
        Some(0) => problems.push("exited 0".into()),
        Some(101) => problems.push("panicked (exit 101)".into()),
        Some(_) => {}
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
            "{case}: {} (exit {:?}, {:?})\n  stdout: {}\n  stderr: {}",
            problems.join("; "),
            run.code,
            run.elapsed,
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
