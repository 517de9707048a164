//! API requests per command, counted by the fake GitHub, against the
//! README's "Request budgets" table. Every count is asserted; with
//! `FLEETFORM_BENCH_OUT=FILE` the table is also written there as JSON for
//! `bench/run.sh` (bench/results.md).

mod common;
mod support;

use std::path::PathBuf;

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::{json, Value};
use support::fake_github::FakeGitHub;

const MANAGER: &str = "provider/manager";
const ACME: &str = "acme-corp/acme-infra";
const GLOBEX: &str = "globex/globex-app";

/// The examples on a fake GitHub (a reduced copy of the `World` in
/// tests/github_loop.rs).
struct World {
    fx: Fixture,
    gh: FakeGitHub,
    scratch: tempfile::TempDir,
    run_id: u64,
}

impl World {
    fn new() -> World {
        require_terraform();
        let gh = FakeGitHub::start();
        let fx = Fixture::new();
        gh.add_repo(MANAGER);
        gh.commit(
            MANAGER,
            "main",
            &[(
                "schema/variables.schema.json",
                &fx.read("manager/schema/variables.schema.json"),
            )],
        );
        for (repo, dir) in [
            (ACME, "acme"),
            (GLOBEX, "globex"),
            ("initech/tps-reports", "initech"),
        ] {
            gh.add_repo(repo);
            let base = fx.path(&format!("customers/{dir}/infra"));
            let mut files: Vec<(String, String)> = std::fs::read_dir(&base)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        format!("infra/{}", e.file_name().to_string_lossy()),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect();
            files.sort();
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            gh.commit(repo, "main", &refs);
        }
        World {
            fx,
            gh,
            scratch: tempfile::tempdir().unwrap(),
            run_id: 1000,
        }
    }

    /// The environment of a GitHub Actions step; returns the command and
    /// its GITHUB_OUTPUT file.
    fn step(
        &mut self,
        repo: &str,
        event_name: &str,
        event: &Value,
        sha: &str,
    ) -> (assert_cmd::Command, PathBuf) {
        self.run_id += 1;
        let dir = self.scratch.path().join(format!("run-{}", self.run_id));
        std::fs::create_dir_all(&dir).unwrap();
        let event_path = dir.join("event.json");
        std::fs::write(&event_path, serde_json::to_vec(event).unwrap()).unwrap();
        let output = dir.join("output");
        let summary = dir.join("summary");
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();
        let mut cmd = self.fx.fleetform();
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", repo)
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_SHA", sha)
            .env("GITHUB_RUN_ID", self.run_id.to_string())
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("FLEETFORM_TOKEN", self.gh.token())
            .env("FLEETFORM_RETRY_BASE_MS", "50");
        (cmd, output)
    }

    /// A customer checkout at `sha`.
    fn checkout(&self, repo: &str, sha: &str) -> PathBuf {
        let dir = self.scratch.path().join(format!("checkout-{}", &sha[..12]));
        for p in [
            "infra/variables.yml",
            "infra/variables.production.yml",
            "infra/variables.staging.yml",
        ] {
            if let Some(c) = self.gh.file_at(repo, sha, p) {
                let f = dir.join(p);
                std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                std::fs::write(f, c).unwrap();
            }
        }
        dir
    }

    fn trigger(&mut self, repo: &str, event_name: &str, event: &Value, sha: &str) -> Output {
        let checkout = self.checkout(repo, sha);
        let github_sha = if event_name == "push" {
            sha.to_string()
        } else {
            "f".repeat(40)
        };
        let (mut cmd, output) = self.step(repo, event_name, event, &github_sha);
        let out = cmd
            .current_dir(checkout)
            .env("FLEETFORM_MANAGER_REPO", MANAGER)
            .arg("trigger")
            .output()
            .unwrap();
        Output { out, output }
    }

    fn latest_dispatch_event(&self) -> Value {
        let d = self
            .gh
            .dispatches(MANAGER)
            .last()
            .cloned()
            .expect("a dispatch was sent");
        json!({ "action": d["event_type"], "client_payload": d["client_payload"] })
    }

    fn plan(&mut self, env: &str) -> Output {
        let event = self.latest_dispatch_event();
        let (mut cmd, output) = self.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        let out = cmd
            .args(["plan", "--dispatch", "--env", env])
            .output()
            .unwrap();
        Output { out, output }
    }

    fn apply(&mut self, env: &str, sha256: &str) -> Output {
        let event = self.latest_dispatch_event();
        let (mut cmd, output) = self.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
        let plan_dir = format!(".fleetform/out/acme/{env}");
        let out = cmd
            .args([
                "apply",
                "--dispatch",
                "--env",
                env,
                "--plan-dir",
                &plan_dir,
                "--plan-sha256",
                sha256,
            ])
            .output()
            .unwrap();
        Output { out, output }
    }

    fn drift(&mut self, customers: &str) -> Output {
        let (mut cmd, output) = self.step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
        let out = cmd
            .args([
                "drift",
                "--customer",
                customers,
                "--env",
                "staging",
                "--issues",
                "--manager-repo",
                MANAGER,
            ])
            .output()
            .unwrap();
        Output { out, output }
    }
}

struct Output {
    out: std::process::Output,
    output: PathBuf,
}

impl Output {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            stdout(&self.out),
            stderr(&self.out)
        );
        self
    }

    /// A `key=value` line of GITHUB_OUTPUT.
    fn output(&self, key: &str) -> String {
        let text = std::fs::read_to_string(&self.output).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no `{key}` output in:\n{text}"))
            .to_string()
    }
}

/// One row of the table.
struct Count {
    command: &'static str,
    case: &'static str,
    requests: usize,
    budget: usize,
}

#[test]
fn requests_per_command_within_the_readme_budgets() {
    let mut w = World::new();
    let mut rows: Vec<Count> = Vec::new();
    let mut count = |w: &World, command, case, budget| {
        rows.push(Count {
            command,
            case,
            requests: w.gh.request_count(),
            budget,
        });
        w.gh.reset_counters();
    };

    // A pull request: trigger, then plan each environment.
    let vars = w.fx.read("customers/acme/infra/variables.yml");
    let changed = vars.replace("max_instances: 2", "max_instances: 3");
    assert_ne!(vars, changed);
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", &changed)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    w.gh.reset_counters();
    let event = json!({
        "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": "feature" } },
        "repository": { "default_branch": "main" }
    });
    w.trigger(ACME, "pull_request", &event, &sha).expect(0);
    count(&w, "trigger", "pull request", 3);
    w.plan("staging").expect(0);
    count(
        &w,
        "plan --dispatch",
        "staging: variables file only, new comment",
        4,
    );
    w.plan("production").expect(0);
    count(
        &w,
        "plan --dispatch",
        "production: + 1 override file, new comment",
        5,
    );
    w.plan("staging").expect(0);
    count(
        &w,
        "plan --dispatch",
        "staging again: sticky comment updated",
        4,
    );

    // The merge: trigger on push, plan, apply.
    let merged = w.gh.merge_pr(ACME, pr);
    let event = json!({
        "ref": "refs/heads/main", "after": merged,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": "Merge pull request #1 from acme-corp/feature" }
    });
    w.trigger(ACME, "push", &event, &merged).expect(0);
    count(&w, "trigger", "push to the default branch", 3);
    let plan = w.plan("staging").expect(0);
    let digest = plan.output("plan_sha256");
    w.gh.reset_counters();
    w.apply("staging", &digest).expect(0);
    count(&w, "apply --dispatch", "staging", 4);

    // Drift with sticky issues: open, update, then close once it is gone.
    w.drift("acme,globex").expect(4);
    count(
        &w,
        "drift --issues",
        "2 customers drifted: list + 2 issues opened",
        1 + 2,
    );
    w.drift("acme,globex").expect(4);
    count(
        &w,
        "drift --issues",
        "2 customers still drifted: list + 2 issues updated",
        1 + 2,
    );
    for args in [
        ["plan", "--customer", "acme", "--env", "staging"],
        ["apply", "--customer", "acme", "--env", "staging"],
    ] {
        let out = w.fx.fleetform().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    w.gh.reset_counters();
    w.drift("acme").expect(0);
    count(
        &w,
        "drift --issues",
        "1 customer's drift gone: list + comment + close",
        1 + 2,
    );
    w.gh.assert_clean();

    let table: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "command": r.command,
                "case": r.case,
                "requests": r.requests,
                "budget": r.budget,
            })
        })
        .collect();
    if let Some(path) = std::env::var_os("FLEETFORM_BENCH_OUT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&table).unwrap()).unwrap();
    }
    for r in &rows {
        println!(
            "{:<18} {:<55} {:>3} / {:<3}",
            r.command, r.case, r.requests, r.budget
        );
    }
    let over: Vec<String> = rows
        .iter()
        .filter(|r| r.requests > r.budget)
        .map(|r| format!("{} ({}): {} > {}", r.command, r.case, r.requests, r.budget))
        .collect();
    assert!(over.is_empty(), "over budget: {over:#?}");
}
