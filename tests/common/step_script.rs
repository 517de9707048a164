//! Runs a workflow step's `run:` script the way a runner does (`bash -c`)
//! with a fake `fleetform` first on `PATH` that records its arguments, one
//! per line and a blank line after each call. `REASON` carries a command
//! substitution: the script must never evaluate an input, so the file it
//! would create must not exist afterwards.

/// Runs `script` in a fresh directory with `env` (and `REASON`,
/// `GITHUB_STEP_SUMMARY`). The fake `fleetform` prints `answer`, if any,
/// when called without `--approve`. Returns the script's exit code (-1 if
/// killed) and the fake's recorded calls.
pub fn run_step_script(script: &str, env: &[(&str, &str)], answer: Option<&str>) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    run_step_script_in(tmp.path(), script, env, answer)
}

/// [`run_step_script`] in `dir`, which may hold what the step reads.
pub fn run_step_script_in(
    dir: &std::path::Path,
    script: &str,
    env: &[(&str, &str)],
    answer: Option<&str>,
) -> (i32, String) {
    let log = dir.join("calls");
    let mut fake =
        format!("#!/bin/bash\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> {log:?}; done\necho >> {log:?}\n");
    if let Some(answer) = answer {
        let said = dir.join("said");
        std::fs::write(&said, answer).unwrap();
        fake.push_str(&format!(
            "case \" $* \" in *' --approve '*) ;; *) cat {said:?} ;; esac\n"
        ));
    }
    let bin = dir.join("fleetform");
    std::fs::write(&bin, fake).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&bin)
        .status()
        .unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .envs(env.iter().copied())
        .env("REASON", "why; $(touch pwned)")
        .output()
        .unwrap();
    assert!(!dir.join("pwned").exists(), "an input was evaluated");
    (
        out.status.code().unwrap_or(-1),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}
