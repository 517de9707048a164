//! The rollout tests' world: the example manager on the test cloud with a
//! fleet of numbered customers (c01, c02 labelled `tier: internal`) in
//! three waves (by label, by percentage, the rest), committed in git, then
//! a change of one environment's defaults committed on top; and, for the
//! workflow's steps, a fake GitHub holding the manager repo.
//!
//! Eight customers: enough for three waves of two, three and three pairs,
//! a failure inside a wave and shards of a wave, at a third of the
//! Terraform runs twenty took (see README, *Testing*).
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{self, require_terraform, Fixture};
use crate::fakecloud;
use crate::moto;
use crate::support::fake_github::FakeGitHub;

const MODULE: &str = include_str!("../../examples/fakecloud/main.tf");

pub const ROLLOUT: &str = "
rollout:
  bake: 0s
  max_parallel: 4
  halt:
    max_failures: 0
    drift: false
  waves:
    - name: internal
      labels: {tier: internal}
    - name: half
      percent: 50
    - name: rest
";

/// The manager repo on the fake GitHub.
pub const MANAGER_REPO: &str = "provider/manager";

pub struct World {
    pub fx: Fixture,
    pub cli_config: PathBuf,
    pub cloud_file: PathBuf,
    /// The environment the change is in.
    pub env_name: &'static str,
    /// Extra environment for every run (S3 credentials for moto, GitHub).
    pub env: Vec<(&'static str, String)>,
}

pub fn slug(i: usize) -> String {
    format!("c{i:02}")
}

impl World {
    /// Eight customers in staging; the staging defaults' `tier` changes.
    pub fn new() -> World {
        World::with(8, "staging")
    }

    /// `n` customers in `env` only; that environment's `tier` changes.
    pub fn with(n: usize, env: &'static str) -> World {
        require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install(&fx.path("fakecloud"));
        fx.write("manager/terraform/main.tf", MODULE);
        let vars = fx.read("customers/acme/infra/variables.yml");
        let mut registry = String::from("customers:\n");
        for i in 1..=n {
            let c = slug(i);
            fx.write(
                &format!("customers/{c}/infra/variables.yml"),
                &vars.replace("acme", &c),
            );
            registry.push_str(&format!(
                "  - slug: {c}\n    path: ../customers/{c}\n    contact: ops@{c}.test\n    environments: [{env}]\n    added: 2026-01-01\n"
            ));
            if i <= 2 {
                registry.push_str("    labels: {tier: internal}\n");
            }
        }
        fx.write("manager/customers.yml", &registry);
        fx.append("manager/fleetform.yml", ROLLOUT);
        fx.git(&["init", "-q"]);
        fx.git(&["add", "-A"]);
        fx.git(&["commit", "-q", "-m", "base"]);
        let w = World {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            fx,
            env_name: env,
            env: Vec::new(),
        };
        w.change(&format!("tier: {env}"), &format!("tier: {env}-2"));
        w
    }

    /// `n` customers in `env`, each planned and applied ([`World::with`]):
    /// a copy of the world made once per test process.
    pub fn applied(n: usize, env: &'static str) -> World {
        World::copied(&format!("applied {n} in {env}"), env, || {
            let w = World::with(n, env);
            for i in 1..=n {
                let c = slug(i);
                w.expect(0, &["plan", "--customer", &c, "--env", env]);
                w.expect(0, &["apply", "--customer", &c, "--env", env]);
            }
            w
        })
    }

    /// A copy of the world `make` makes in `env`, made once per test
    /// process under `key` ([`Fixture::copied`]), with the test cloud
    /// installed again. `make` must not start servers or set
    /// [`World::env`] (a copy has neither).
    #[track_caller]
    pub fn copied(key: &str, env: &'static str, make: impl FnOnce() -> World) -> World {
        let fx = Fixture::copied(key, || {
            let w = make();
            assert_eq!(w.env_name, env, "{key}: the world's environment");
            assert!(
                w.env.is_empty(),
                "{key}: a copied world has no environment of its own: set it on the copy"
            );
            w.fx
        });
        let installed = fakecloud::install(&fx.path("fakecloud"));
        World {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            fx,
            env_name: env,
            env: Vec::new(),
        }
    }

    /// Commits a change of the environment's defaults.
    pub fn change(&self, from: &str, to: &str) {
        let rel = format!("manager/values/{}.yml", self.env_name);
        let text = self.fx.read(&rel);
        assert!(text.contains(from), "{rel}: {text}");
        self.fx.write(&rel, &text.replacen(from, to, 1));
        self.fx.git(&["commit", "-q", "-am", to]);
    }

    /// The manager's commit.
    pub fn head(&self) -> String {
        self.commit("HEAD")
    }

    /// The commit `rev` names.
    pub fn commit(&self, rev: &str) -> String {
        let out = std::process::Command::new("git")
            .current_dir(self.fx.root())
            .args(["rev-parse", "--verify", rev])
            .output()
            .unwrap();
        common::assert_ok_for(format_args!("git rev-parse {rev}"), &out);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The records store in a bucket of moto's S3 server instead of the
    /// local folder.
    pub fn on_s3(self, moto: &moto::Moto) -> World {
        let endpoint = moto.url("");
        self.on_s3_at(moto, &endpoint)
    }

    /// The same bucket, reached through `endpoint` (a proxy in front of moto).
    pub fn on_s3_at(mut self, moto: &moto::Moto, endpoint: &str) -> World {
        let bucket = "fleetform-rollouts";
        assert!(moto::curl_signed_put(&moto.url(&format!("/{bucket}"))));
        self.fx
            .records_in_s3(bucket, endpoint, "  prefix: fleet/records\n");
        // Part of the change being rolled out: a rollout starts from a
        // committed manager only.
        self.fx.git(&["commit", "-q", "-a", "--amend", "--no-edit"]);
        self.env = vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ];
        self
    }

    /// A fake GitHub answering for the manager repo `provider/manager`,
    /// with the operators team prov/ops (ops-dana, ops-erin) named in
    /// fleetform.yml's `rollout.operators`.
    pub fn operators_on_github(&self) -> FakeGitHub {
        let gh = FakeGitHub::start();
        gh.add_repo("provider/manager");
        gh.commit("provider/manager", "main", &[("README.md", "manager\n")]);
        for who in ["ops-dana", "ops-erin"] {
            gh.add_team_member("prov", "ops", who, "active");
        }
        let cfg = self.fx.read("manager/fleetform.yml");
        self.fx.write(
            "manager/fleetform.yml",
            &cfg.replace("rollout:\n", "rollout:\n  operators: prov/ops\n"),
        );
        gh
    }

    /// `rollout.operators: provider/ops` in the manager's configuration
    /// (of a world made `with` one wave, `max_parallel: 1`).
    pub fn operators_are_provider_ops(&self) {
        let config = self.fx.read("manager/fleetform.yml");
        self.fx.write(
            "manager/fleetform.yml",
            &config.replace(
                "  max_parallel: 1\n",
                "  max_parallel: 1\n  operators: provider/ops\n",
            ),
        );
    }

    /// fleetform in run `run` of the manager repo's workflow `workflow`
    /// (its path, `.github/workflows/NAME.yml`), started by `actor`, with
    /// `gh`'s token for the customer repos and the operators team; the
    /// job's outputs go to `outputs-<run>`.
    pub fn in_run(&self, gh: &FakeGitHub, workflow: &str, run: u64, actor: &str) -> common::Run {
        self.fleetform()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTOR", actor)
            .env("GITHUB_TRIGGERING_ACTOR", actor)
            .env("GITHUB_REPOSITORY", MANAGER_REPO)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_RUN_ID", run.to_string())
            .env(
                "GITHUB_WORKFLOW_REF",
                format!("{MANAGER_REPO}/{workflow}@refs/heads/main"),
            )
            .env("GITHUB_OUTPUT", self.fx.path(&format!("outputs-{run}")))
            .env("GITHUB_API_URL", gh.api_url())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("FLEETFORM_TEAMS_TOKEN", gh.token())
    }

    /// c01's own repo, `cust/c01-infra`, on `gh` (a commit on main, an
    /// open pull request from `change`), registered as c01's: the repo,
    /// main's head and the pull request.
    pub fn c01_on_github(&self, gh: &FakeGitHub) -> (&'static str, String, u64) {
        let repo = "cust/c01-infra";
        gh.add_repo(repo);
        let head = gh.commit(repo, "main", &[("README.md", "c01\n")]);
        gh.create_branch(repo, "change", "main");
        gh.commit(repo, "change", &[("infra/x.yml", "a: 1\n")]);
        let pr = gh.open_pr(repo, "change", "main", "a change");
        let reg = self.fx.read("manager/customers.yml");
        self.fx.write(
            "manager/customers.yml",
            &reg.replace(
                "  - slug: c01\n",
                &format!("  - slug: c01\n    repo: {repo}\n"),
            ),
        );
        (repo, head, pr)
    }

    /// fleetform in the manager with the world's test cloud and
    /// environment, as `ops-dana`.
    pub fn fleetform(&self) -> common::Run {
        common::Run::from(self.fx.fleetform())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud_file)
            .env("USER", "ops-dana")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
    }

    pub fn run(&self, args: &[&str]) -> crate::common::Ran {
        self.fleetform().args(args).output()
    }

    /// Runs and expects `code`, showing the output otherwise.
    pub fn expect(&self, code: i32, args: &[&str]) -> crate::common::Ran {
        let out = self.run(args);
        common::assert_code_for(format_args!("{args:?}"), &out, code);
        out
    }

    pub fn status(&self) -> Value {
        let out = self.expect(0, &["rollout", "status", "--json"]);
        serde_json::from_slice(out.stdout.as_bytes()).unwrap()
    }

    /// The rollout's `applied` events.
    pub fn applied_events(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "applied")
            .collect()
    }

    /// The approval of each successful apply in the audit log.
    pub fn apply_approvals(&self) -> Vec<String> {
        self.audit()
            .into_iter()
            .filter(|e| e["action"] == "apply" && e["result"] == "ok")
            .map(|e| e["approval"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Customers with a network in the cloud.
    pub fn rolled(&self) -> Vec<String> {
        let suffix = format!("-{}", self.env_name);
        let mut c: Vec<String> = self
            .networks()
            .iter()
            .filter_map(|(name, _)| name.strip_suffix(&suffix).map(str::to_string))
            .collect();
        c.sort();
        c
    }

    /// (network name, its `tier` tag), sorted.
    pub fn networks(&self) -> Vec<(String, String)> {
        let mut n: Vec<(String, String)> = fakecloud::objects(&self.cloud_file)
            .iter()
            .filter(|(k, _)| k.starts_with("fakecloud_network/"))
            .map(|(_, v)| {
                (
                    v["name"].as_str().unwrap_or_default().to_string(),
                    v["tags"]["tier"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        n.sort();
        n
    }

    /// (customer, plan digest) of every event of `kind`, sorted.
    pub fn digests(&self, kind: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .events()
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| {
                (
                    e["unit"]["customer"].as_str().unwrap().to_string(),
                    e["plan_sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Every rollout's events, oldest rollout first, in order.
    pub fn events(&self) -> Vec<Value> {
        let root = self.fx.path("manager/.fleetform/records/rollouts");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort();
        let mut out = Vec::new();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for f in files {
                out.push(serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap());
            }
        }
        out
    }

    /// The audit log's lines.
    pub fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.fx.path("manager/.fleetform/audit.jsonl"))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The manager repo on a fake GitHub: its default branch holds this
    /// registry, and the change came in through a merged pull request.
    /// Runs then see a GitHub Actions job of run `run_id` by `actor`.
    /// The stages run as one shard (`max_parallel: 1`, folded into the last
    /// commit), so each step of the workflow runs once.
    pub fn on_github(&mut self, gh: &FakeGitHub, actor: &str) -> u64 {
        let config = self.fx.read("manager/fleetform.yml");
        self.fx.write(
            "manager/fleetform.yml",
            &config.replace("  max_parallel: 4\n", "  max_parallel: 1\n"),
        );
        // Part of the change being rolled out: a rollout starts from a
        // committed manager only.
        self.fx.git(&["commit", "-q", "-a", "--amend", "--no-edit"]);
        gh.add_repo(MANAGER_REPO);
        let registry = self.fx.read("manager/customers.yml");
        gh.commit(
            MANAGER_REPO,
            "main",
            &[("customers.yml", registry.as_str())],
        );
        gh.create_branch(MANAGER_REPO, "change", "main");
        let pr = gh.open_pr(MANAGER_REPO, "change", "main", "the change");
        gh.merged_as(MANAGER_REPO, pr, &self.head());
        self.env.extend([
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_API_URL", gh.api_url()),
            ("GITHUB_SERVER_URL", "https://github.com".to_string()),
            ("GITHUB_REPOSITORY", MANAGER_REPO.to_string()),
            ("GITHUB_RUN_ID", "4242".to_string()),
            ("GITHUB_ACTOR", actor.to_string()),
            ("FLEETFORM_MANAGER_TOKEN", gh.token().to_string()),
            ("FLEETFORM_TEAMS_TOKEN", gh.token().to_string()),
        ]);
        pr
    }

    /// Sets (or replaces) one variable of every run.
    pub fn set_env(&mut self, key: &'static str, value: &str) {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.to_string()));
    }
}
