//! An apply never rolls a customer back to older manager code: "Re-run
//! failed jobs" of a weeks-old run (any manager writer may, for 30 days)
//! applies a plan made with that run's manager commit, which a later apply
//! may have moved past. The apply compares its commit with the one the
//! pair's last deployment record names, in the checkout's history.

use crate::common::{self, stderr};
use crate::world::{ok, World, ACME};

/// `git` in `dir` with a fixed identity; its stdout.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "provider")
        .env("GIT_AUTHOR_EMAIL", "provider@example.invalid")
        .env("GIT_COMMITTER_NAME", "provider")
        .env("GIT_COMMITTER_EMAIL", "provider@example.invalid")
        .output()
        .expect("git is on PATH");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_apply_with_manager_code_older_than_the_last_applied_is_refused() {
    let mut w = World::new();
    // The manager's history: an older commit, then a newer one.
    let m = w.fx.manager();
    git(&m, &["init", "-q", "-b", "main"]);
    git(&m, &["add", "-A"]);
    git(&m, &["commit", "-q", "-m", "older manager code"]);
    let older = git(&m, &["rev-parse", "HEAD"]);
    std::fs::write(m.join("NOTES.md"), "newer\n").unwrap();
    git(&m, &["add", "-A"]);
    git(&m, &["commit", "-q", "-m", "newer manager code"]);
    let newer = git(&m, &["rev-parse", "HEAD"]);

    // Applied with the newer commit.
    let sha = w.change_acme("main", 3);
    ok(&w.trigger_push(ACME, &sha, "raise (#1)").0);
    let d = w.last_dispatch();
    let (cmd, files) = w.dispatch_step(&d);
    let plan = common::Run::from(cmd)
        .env("GITHUB_SHA", &newer)
        .args(["plan", "--dispatch", "--env", "staging"])
        .output();
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let (cmd, _) = w.apply_step(&d, "staging", &digest);
    ok(&common::Run::from(cmd).env("GITHUB_SHA", &newer).output());

    // A re-run of an older run: its plan was made with the older commit.
    let sha = w.change_acme("main", 4);
    ok(&w.trigger_push(ACME, &sha, "raise again (#2)").0);
    let d = w.last_dispatch();
    let (cmd, files) = w.dispatch_step(&d);
    ok(&common::Run::from(cmd)
        .env("GITHUB_SHA", &older)
        .args(["plan", "--dispatch", "--env", "staging"])
        .output());
    let digest = files.outputs()["plan_sha256"].clone();
    let (cmd, _) = w.apply_step(&d, "staging", &digest);
    let apply = common::Run::from(cmd).env("GITHUB_SHA", &older).output();
    common::assert_code(&apply, 3);
    let err = stderr(&apply);
    assert!(
        err.contains(&format!("this run's manager commit {}", &older[..12]))
            && err.contains(&format!("is older than {}", &newer[..12])),
        "{err}"
    );
}
