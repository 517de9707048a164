//! A test world for the GitHub loop: the examples, a fake GitHub seeded
//! with the manager and customer repos, and runner-like steps. Included by
//! the test crates that need it with
//! `#[path = "support/world.rs"] mod world;` (next to `mod common; mod support;`).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::{require_terraform, Fixture};
use crate::support::fake_github::FakeGitHub;

pub const MANAGER: &str = "provider/manager";
pub const ACME: &str = "acme-corp/acme-infra";

/// One test world: the examples, a fake GitHub seeded with the manager and
/// the customer repos, and a runner-like scratch dir.
pub struct World {
    pub fx: Fixture,
    pub gh: FakeGitHub,
    pub scratch: tempfile::TempDir,
    pub run_id: u64,
}

impl World {
    /// The audit log of the manager's runs (`.fleetform/audit.jsonl`).
    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.fx.manager().join(".fleetform/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn new() -> World {
        Self::with_github(FakeGitHub::start())
    }

    pub fn with_github(gh: FakeGitHub) -> World {
        Self::seeded(gh, Fixture::new())
    }

    /// A world whose fixture is a copy of the examples after `make` ran on
    /// them, made once per test process under `key`
    /// ([`Fixture::copied`]); `make` must change no file the fake GitHub is
    /// seeded with (applies write state only), as the fake is seeded from
    /// the copy.
    #[track_caller]
    pub fn copied(key: &str, make: impl FnOnce(&Fixture)) -> World {
        let fx = Fixture::copied(key, || {
            let fx = Fixture::new();
            let seeds = seed_files(&fx);
            make(&fx);
            assert!(
                seeds == seed_files(&fx),
                "{key}: the set-up changed a file the fake GitHub is seeded with"
            );
            fx
        });
        Self::seeded(FakeGitHub::start(), fx)
    }

    /// `fx` with `gh` seeded from it: the manager's schema and registry,
    /// and the example customers' repos.
    fn seeded(gh: FakeGitHub, fx: Fixture) -> World {
        require_terraform();
        for (repo, files) in seed_files(&fx) {
            gh.add_repo(&repo);
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            gh.commit(&repo, "main", &refs);
        }
        World {
            fx,
            gh,
            scratch: tempfile::tempdir().unwrap(),
            run_id: 1000,
        }
    }

    /// Environment of a GitHub Actions step. In the manager repo it has the
    /// manager's dispatch secret; in a customer repo, that customer's
    /// dispatch key (generation 1) and not the secret.
    pub fn step(
        &mut self,
        repo: &str,
        event_name: &str,
        event: &Value,
        sha: &str,
    ) -> (assert_cmd::Command, StepFiles) {
        self.run_id += 1;
        let dir = self.scratch.path().join(format!("run-{}", self.run_id));
        std::fs::create_dir_all(&dir).unwrap();
        let event_path = dir.join("event.json");
        std::fs::write(&event_path, serde_json::to_vec(event).unwrap()).unwrap();
        let files = StepFiles {
            output: dir.join("output"),
            summary: dir.join("summary"),
        };
        std::fs::write(&files.output, "").unwrap();
        std::fs::write(&files.summary, "").unwrap();
        // A prepared command (the relay tests add to it), run through
        // `common::Run` by whoever runs it.
        let mut cmd = self.fx.fleetform();
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", self.gh.api_url())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", repo)
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_SHA", sha)
            .env("GITHUB_RUN_ID", self.run_id.to_string())
            .env("GITHUB_OUTPUT", &files.output)
            .env("GITHUB_STEP_SUMMARY", &files.summary)
            .env("FLEETFORM_TOKEN", self.gh.token())
            .env("FLEETFORM_RETRY_BASE_MS", "50");
        if repo == MANAGER {
            // The provider's token that reads its teams (`approvals:` by
            // team): never the customer's token.
            cmd.env("FLEETFORM_TEAMS_TOKEN", self.gh.token());
        }
        if repo != MANAGER {
            cmd.env_remove("FLEETFORM_DISPATCH_SECRET")
                .env_remove("FLEETFORM_ARTIFACT_KEY");
            if let Some(slug) = crate::common::example_slug(repo) {
                cmd.env(
                    "FLEETFORM_DISPATCH_KEY",
                    crate::common::dispatch_key(slug, 1),
                );
            }
        }
        (cmd, files)
    }

    /// A customer checkout at the state of `sha`.
    pub fn checkout(&self, repo: &str, sha: &str) -> PathBuf {
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

    /// Runs the trigger for a pull request; returns the dispatch sent.
    /// The customer's trigger step for a pull request, ready to run
    /// (`trigger` plus any extra arguments the caller adds).
    pub fn trigger_pr_command(
        &mut self,
        repo: &str,
        pr: u64,
        branch: &str,
        sha: &str,
    ) -> (assert_cmd::Command, StepFiles) {
        let checkout = self.checkout(repo, sha);
        let event = pr_event(pr, branch, sha);
        self.trigger_step(repo, "pull_request", &event, &"f".repeat(40), checkout)
    }

    /// `repo`'s trigger step for `event` (`event_name`, its workflow at
    /// `head`), run in `checkout`.
    pub fn trigger_step(
        &mut self,
        repo: &str,
        event_name: &str,
        event: &Value,
        head: &str,
        checkout: PathBuf,
    ) -> (assert_cmd::Command, StepFiles) {
        let (mut cmd, files) = self.step(repo, event_name, event, head);
        cmd.current_dir(checkout)
            .env("FLEETFORM_MANAGER_REPO", MANAGER)
            .arg("trigger");
        (cmd, files)
    }

    pub fn trigger_pr(
        &mut self,
        repo: &str,
        pr: u64,
        branch: &str,
        sha: &str,
    ) -> (crate::common::Ran, StepFiles) {
        let (cmd, files) = self.trigger_pr_command(repo, pr, branch, sha);
        (crate::common::Run::from(cmd).output(), files)
    }

    /// acme's pull request "More instances" (`max_instances: 3` on
    /// `feature`), triggered and planned in staging, both without error:
    /// its head.
    pub fn pr_planned_in_staging(&mut self) -> String {
        let sha = self.change_acme("feature", 3);
        let pr = self.gh.open_pr(ACME, "feature", "main", "More instances");
        ok(&self.trigger_pr(ACME, pr, "feature", &sha).0);
        ok(&self.plan_latest("staging").0);
        sha
    }

    /// acme's pull request `pr` (from `feature`) merged, its push
    /// triggered and planned in staging, both without error: the merge
    /// commit and the plan step's files.
    pub fn merge_and_plan(&mut self, pr: u64) -> (String, StepFiles) {
        let sha = self.gh.merge_pr(ACME, pr);
        let message = format!("Merge pull request #{pr} from acme-corp/feature");
        ok(&self.trigger_push(ACME, &sha, &message).0);
        let (out, files) = self.plan_latest("staging");
        ok(&out);
        (sha, files)
    }

    /// Commits acme's variables with `max_instances: 2` raised to `max` on
    /// `branch`; returns the commit.
    pub fn change_acme(&self, branch: &str, max: u32) -> String {
        let vars = acme_vars_with(
            &self.fx,
            "max_instances: 2",
            &format!("max_instances: {max}"),
        );
        self.gh
            .commit(ACME, branch, &[("infra/variables.yml", &vars)])
    }

    pub fn trigger_push(
        &mut self,
        repo: &str,
        sha: &str,
        message: &str,
    ) -> (crate::common::Ran, StepFiles) {
        let checkout = self.checkout(repo, sha);
        let (cmd, files) =
            self.trigger_step(repo, "push", &push_event(sha, message), sha, checkout);
        (crate::common::Run::from(cmd).output(), files)
    }

    /// The latest dispatch the manager repo got.
    pub fn last_dispatch(&self) -> Value {
        self.gh
            .dispatches(MANAGER)
            .last()
            .cloned()
            .expect("a dispatch was sent")
    }

    /// The manager's step for dispatch `d` (the runner's
    /// `repository_dispatch` event of it).
    pub fn dispatch_step(&mut self, d: &Value) -> (assert_cmd::Command, StepFiles) {
        let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
        self.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40))
    }

    /// The manager's run for the latest dispatch.
    pub fn plan_latest(&mut self, env: &str) -> (crate::common::Ran, StepFiles) {
        let d = self.last_dispatch();
        self.plan_event(&d, env)
    }

    pub fn plan_event(&mut self, dispatch: &Value, env: &str) -> (crate::common::Ran, StepFiles) {
        let (cmd, files) = self.dispatch_step(dispatch);
        let out = crate::common::Run::from(cmd)
            .args(["plan", "--dispatch", "--env", env])
            .output();
        (out, files)
    }

    /// `login` approves the next run's deployment to `<env>-apply` (the
    /// run `apply_latest` starts next).
    pub fn approve_next_run(&self, env: &str, login: &str) {
        self.gh.review_run(
            MANAGER,
            self.run_id + 1,
            &format!("{env}-apply"),
            login,
            "approved",
        );
    }

    pub fn apply_latest(&mut self, env: &str, sha256: &str) -> (crate::common::Ran, StepFiles) {
        let d = self.last_dispatch();
        self.apply_latest_of(&d, env, sha256)
    }

    /// The apply step for dispatch `d`, of the plan in acme's plan folder.
    pub fn apply_latest_of(
        &mut self,
        d: &Value,
        env: &str,
        sha256: &str,
    ) -> (crate::common::Ran, StepFiles) {
        let (cmd, files) = self.apply_step(d, env, sha256);
        (crate::common::Run::from(cmd).output(), files)
    }

    /// The apply step for dispatch `d`, of the plan in acme's plan folder
    /// for `env` with digest `sha256`, not run yet.
    pub fn apply_step(
        &mut self,
        d: &Value,
        env: &str,
        sha256: &str,
    ) -> (assert_cmd::Command, StepFiles) {
        let (mut cmd, files) = self.dispatch_step(d);
        let plan_dir = format!(".fleetform/out/acme/{env}");
        cmd.args([
            "apply",
            "--dispatch",
            "--env",
            env,
            "--plan-dir",
            &plan_dir,
            "--plan-sha256",
            sha256,
        ]);
        (cmd, files)
    }
}

/// `login` approves the plan with digest `digest` on acme's pull request
/// `pr` (`/fleetform approve <12 hex>`), a second after the plan: an
/// approval counts only when written after the plan's time, which has
/// whole seconds.
pub fn approve_on_pr(
    gh: &crate::support::fake_github::FakeGitHub,
    pr: u64,
    login: &str,
    digest: &str,
) {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    gh.add_comment(
        ACME,
        pr,
        login,
        &format!("/fleetform approve {}", &digest[..12]),
    );
}

/// A `pull_request` event for pull request `pr` from `branch` at `sha`.
pub fn pr_event(pr: u64, branch: &str, sha: &str) -> Value {
    json!({
        "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": branch } },
        "repository": { "default_branch": "main" }
    })
}

/// A `push` event of `sha` to main, its head commit's message `message`.
pub fn push_event(sha: &str, message: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "after": sha,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": message }
    })
}

pub struct StepFiles {
    pub output: PathBuf,
    pub summary: PathBuf,
}

impl StepFiles {
    pub fn outputs(&self) -> std::collections::BTreeMap<String, String> {
        crate::common::parse_outputs(&std::fs::read_to_string(&self.output).unwrap())
    }
    pub fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap()
    }
}

/// What a world's fake GitHub is seeded with, by repo: the manager's
/// schema and registry (on the default branch: apply checks it again),
/// and each example customer's files.
fn seed_files(fx: &Fixture) -> Vec<(String, Vec<(String, String)>)> {
    let manager = vec![
        (
            "schema/variables.schema.json".to_string(),
            fx.read("manager/schema/variables.schema.json"),
        ),
        (
            "customers.yml".to_string(),
            fx.read("manager/customers.yml"),
        ),
    ];
    let mut seeds = vec![(MANAGER.to_string(), manager)];
    for (repo, dir) in [
        (ACME, "acme"),
        ("globex/globex-app", "globex"),
        ("initech/tps-reports", "initech"),
    ] {
        seeds.push((repo.to_string(), customer_files(fx, dir)));
    }
    seeds
}

pub fn customer_files(fx: &Fixture, dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let base = fx.path(&format!("customers/{dir}/infra"));
    for e in std::fs::read_dir(&base).unwrap() {
        let e = e.unwrap();
        out.push((
            format!("infra/{}", e.file_name().to_string_lossy()),
            std::fs::read_to_string(e.path()).unwrap(),
        ));
    }
    out.sort();
    out
}

/// Asserts exit code 0 (the one copy: [`crate::common::assert_ok`]).
pub use crate::common::assert_ok as ok;

pub fn acme_vars_with(fx: &Fixture, from: &str, to: &str) -> String {
    let v = fx.read("customers/acme/infra/variables.yml");
    assert!(v.contains(from));
    v.replace(from, to)
}
