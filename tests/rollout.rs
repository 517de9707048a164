//! Rollouts on the test cloud: 20 customers, three waves (by label, by
//! percentage, the rest). A failure injected in wave 2 halts the rollout
//! and wave 3 never starts; a tick while halted applies nothing; resume
//! after the fix finishes it; two ticks at once apply nothing twice; every
//! step is an event in the records store and an audit line.

use crate::common;
use crate::fakecloud;
use crate::moto;
use crate::support;

use std::path::PathBuf;

use common::{require_terraform, stderr, stdout, Fixture};
use serde_json::Value;

const MODULE: &str = include_str!("../examples/fakecloud/main.tf");

const ROLLOUT: &str = "
rollout:
  bake: 0s
  max_parallel: 4
  halt:
    max_failures: 0
  waves:
    - name: internal
      labels: {tier: internal}
    - name: half
      percent: 50
    - name: rest
";

struct World {
    fx: Fixture,
    cli_config: PathBuf,
    cloud_file: PathBuf,
    /// Extra environment for every run (S3 credentials for moto).
    env: Vec<(&'static str, String)>,
}

fn slug(i: usize) -> String {
    format!("c{i:02}")
}

impl World {
    /// The example manager on the test cloud with 20 customers (staging
    /// only; c01-c03 labelled `tier: internal`), committed, then a change
    /// of the staging defaults committed on top.
    fn new() -> World {
        require_terraform();
        let fx = Fixture::new();
        let installed = fakecloud::install(&fx.path("fakecloud"));
        fx.write("manager/terraform/main.tf", MODULE);
        let vars = fx.read("customers/acme/infra/variables.yml");
        let mut registry = String::from("customers:\n");
        for i in 1..=20 {
            let c = slug(i);
            fx.write(
                &format!("customers/{c}/infra/variables.yml"),
                &vars.replace("acme", &c),
            );
            registry.push_str(&format!(
                "  - slug: {c}\n    path: ../customers/{c}\n    contact: ops@{c}.test\n    environments: [staging]\n    added: 2026-01-01\n"
            ));
            if i <= 3 {
                registry.push_str("    labels: {tier: internal}\n");
            }
        }
        fx.write("manager/customers.yml", &registry);
        fx.append("manager/fleetform.yml", ROLLOUT);
        fx.git(&["init", "-q"]);
        fx.git(&["add", "-A"]);
        fx.git(&["commit", "-q", "-m", "base"]);
        let staging = fx.read("manager/values/staging.yml");
        fx.write(
            "manager/values/staging.yml",
            &staging.replace("tier: staging", "tier: staging-2"),
        );
        fx.git(&["commit", "-q", "-am", "staging tier"]);
        World {
            cli_config: installed.cli_config,
            cloud_file: fx.path("cloud.json"),
            fx,
            env: Vec::new(),
        }
    }

    /// The records store in a bucket of moto's S3 server instead of the
    /// local folder.
    fn on_s3(mut self, moto: &moto::Moto) -> World {
        let bucket = "fleetform-rollouts";
        assert!(moto::curl_signed_put(&moto.url(&format!("/{bucket}"))));
        let cfg = self.fx.read("manager/fleetform.yml");
        let local = "records:\n  kind: local\n  dir: .fleetform/records\n";
        assert!(cfg.contains(local), "{cfg}");
        self.fx.write(
            "manager/fleetform.yml",
            &cfg.replace(
                local,
                &format!(
                    "records:\n  kind: s3\n  bucket: {bucket}\n  region: us-east-1\n  prefix: fleet/records\n  endpoint: {}\n  use_path_style: true\n",
                    moto.url("")
                ),
            ),
        );
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

    fn fleetform(&self) -> assert_cmd::Command {
        let mut cmd = self.fx.fleetform();
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("FAKECLOUD_FILE", &self.cloud_file)
            .env("USER", "ops-dana");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.fleetform().args(args).output().unwrap()
    }

    fn status(&self) -> Value {
        let out = self.run(&["rollout", "status", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Customers with a network in the cloud.
    fn rolled(&self) -> Vec<String> {
        let mut c: Vec<String> = fakecloud::objects(&self.cloud_file)
            .iter()
            .filter(|(k, _)| k.starts_with("fakecloud_network/"))
            .filter_map(|(_, v)| {
                v["name"]
                    .as_str()
                    .and_then(|n| n.strip_suffix("-staging"))
                    .map(str::to_string)
            })
            .collect();
        c.sort();
        c
    }

    /// (customer, plan digest) of every event of `kind`, sorted.
    fn digests(&self, kind: &str) -> Vec<(String, String)> {
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

    /// The rollout's events, in order.
    fn events(&self) -> Vec<Value> {
        let root = self.fx.path("manager/.fleetform/records/rollouts");
        let mut out = Vec::new();
        for dir in std::fs::read_dir(root).unwrap() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir.unwrap().path())
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
}

/// Start → tick (wave 2 fails) → halted, wave 3 untouched → tick again
/// does nothing → resume → tick finishes every customer.
#[test]
fn a_failure_in_wave_two_halts_until_resumed() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = started["stages"].as_array().unwrap();
    let sizes: Vec<usize> = stages
        .iter()
        .map(|s| s["units"].as_array().unwrap().len())
        .collect();
    // 3 internal; half of the 17 left (rounded up); the rest.
    assert_eq!(sizes, [3, 9, 8], "{started:#}");
    let wave2: Vec<String> = stages[1]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["customer"].as_str().unwrap().to_string())
        .collect();
    let victim = wave2[4].clone();

    // A second start while this one runs is refused.
    let again = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));

    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_ON", format!("{victim}-staging"))
        .args(["rollout", "tick"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("halted:"), "{}", stdout(&out));
    let rolled = w.rolled();
    assert_eq!(rolled.len(), 3 + 8, "{rolled:?}");
    assert!(!rolled.contains(&victim));
    let wave3: Vec<String> = stages[2]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["customer"].as_str().unwrap().to_string())
        .collect();
    assert!(wave3.iter().all(|c| !rolled.contains(c)), "wave 3 started");
    let status = w.status();
    assert!(
        status["halted"].as_str().unwrap().contains(&victim),
        "{status:#}"
    );
    assert_eq!(status["stages"][1]["failed"], 1);
    assert_eq!(status["stages"][2]["state"], "waiting");
    let table = stdout(&w.run(&["rollout", "status"]));
    assert!(
        table.contains("halted") && table.contains("half"),
        "{table}"
    );

    // Halted: a tick applies nothing.
    let out = w.run(&["rollout", "tick"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("is halted"), "{}", stdout(&out));
    assert_eq!(w.rolled().len(), 11);

    // The fix is in (no more injected failure): resume, tick.
    let out = w.run(&["rollout", "resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = w.run(&["rollout", "tick"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    assert_eq!(w.rolled().len(), 20);
    assert_eq!(w.status()["finished"], true);

    // Every step is an event and an audit line; each pair applied once.
    let events = w.events();
    let applied = events
        .iter()
        .filter(|e| e["event"] == "applied" && e["changed"] == true)
        .count();
    assert_eq!(applied, 20);
    let audit = w.fx.read("manager/.fleetform/audit.jsonl");
    for kind in ["started", "failed", "halted", "resumed", "finished"] {
        assert!(
            audit.contains(&format!("\"action\":\"rollout\",\"result\":\"{kind}\""))
                || audit.contains(&format!("\"result\":\"{kind}\"")),
            "no {kind} in the audit log"
        );
    }
}

/// Two ticks at once: one takes the stages, the other finds them taken;
/// no pair is applied twice.
#[test]
fn two_ticks_at_once_apply_nothing_twice() {
    ticks_at_once(&World::new());
}

/// The same with the rollout in an S3 bucket (moto): the create-only
/// writes are conditional puts there.
#[test]
fn two_ticks_at_once_apply_nothing_twice_with_records_in_s3() {
    let moto = moto::Moto::start();
    let w = World::new().on_s3(&moto);
    ticks_at_once(&w);
    let keys = moto.keys_in("fleetform-rollouts");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("fleet/records/rollouts/")),
        "{keys:?}"
    );
    assert!(!w.fx.path("manager/.fleetform/records/rollouts").exists());
}

fn ticks_at_once(w: &World) {
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outputs: Vec<std::process::Output> = std::thread::scope(|s| {
        let ticks: Vec<_> = (0..2)
            .map(|_| {
                let mut cmd = w.fleetform();
                s.spawn(move || cmd.args(["rollout", "tick"]).output().unwrap())
            })
            .collect();
        ticks.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    }
    // Once more, to finish whatever the two left.
    let out = w.run(&["rollout", "tick"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled().len(), 20);
    let status = w.status();
    assert_eq!(status["finished"], true, "{status:#}");
    let applied: usize = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["applied"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(applied, 20);
    let audit = w.fx.read("manager/.fleetform/audit.jsonl");
    let applied_lines = audit
        .lines()
        .filter(|l| l.contains("\"action\":\"rollout\"") && l.contains("\"result\":\"applied\""))
        .count();
    assert_eq!(applied_lines, 20, "each pair applied once");
}

/// A finished rollout, then a second one halted in wave 2: rollback puts
/// the first one's configuration back on every pair the second changed,
/// and the cloud is as it was before the second rollout.
#[test]
fn rollback_returns_the_rolled_customers_to_where_they_were() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = w.run(&["rollout", "tick"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let before = fakecloud::objects(&w.cloud_file);
    assert_eq!(w.rolled().len(), 20);

    let staging = w.fx.read("manager/values/staging.yml");
    w.fx.write(
        "manager/values/staging.yml",
        &staging.replace("tier: staging-2", "tier: staging-3"),
    );
    w.fx.git(&["commit", "-q", "-am", "staging tier 3"]);
    let out = w.run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let victim = started["stages"][1]["units"][0]["customer"]
        .as_str()
        .unwrap()
        .to_string();
    // Rolling back a running rollout is refused: halt it first.
    let out = w.run(&["rollout", "rollback"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_ON", format!("{victim}-staging"))
        .args(["rollout", "tick"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let tiers = |objects: &serde_json::Map<String, Value>| -> Vec<String> {
        objects
            .iter()
            .filter(|(k, _)| k.starts_with("fakecloud_network/"))
            .map(|(_, v)| v["tags"]["tier"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let during = tiers(&fakecloud::objects(&w.cloud_file));
    assert_eq!(during.iter().filter(|t| *t == "staging-3").count(), 3 + 8);

    let out = w.run(&["rollout", "rollback"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("rolled back"), "{}", stdout(&out));
    let after = fakecloud::objects(&w.cloud_file);
    assert!(
        tiers(&after).iter().all(|t| t == "staging-2"),
        "{:?}",
        tiers(&after)
    );
    assert_eq!(after, before, "the cloud is as it was before the rollout");
    // Rolled back: ticks do nothing; a second rollback says so.
    let out = w.run(&["rollout", "tick"]);
    assert!(stdout(&out).contains("rolled back"), "{}", stdout(&out));
    let out = w.run(&["rollout", "rollback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("already"), "{}", stdout(&out));
}

/// Bake time holds the next wave back; drift in a pair already rolled,
/// found when the next wave would start, halts the rollout.
#[test]
fn drift_in_a_rolled_pair_halts_before_the_next_wave() {
    let w = World::new();
    let config = w.fx.read("manager/fleetform.yml");
    w.fx.write(
        "manager/fleetform.yml",
        &config.replace("    - name: half\n", "      bake: 1h\n    - name: half\n"),
    );
    w.fx.git(&["commit", "-q", "-am", "bake after the internal wave"]);
    let out = w.run(&["rollout", "start", "--base", "HEAD~2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = w.run(&["rollout", "tick"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("baking for 3600 s"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.rolled(), ["c01", "c02", "c03"]);
    // Still baking: nothing happens.
    let out = w.run(&["rollout", "tick"]);
    assert!(stdout(&out).contains("baking until"), "{}", stdout(&out));
    assert_eq!(w.rolled().len(), 3);

    // Someone changes c02's network by hand.
    let mut cloud: Value = serde_json::from_slice(&std::fs::read(&w.cloud_file).unwrap()).unwrap();
    let objects = cloud["objects"].as_object_mut().unwrap();
    let (_, net) = objects
        .iter_mut()
        .find(|(k, v)| k.starts_with("fakecloud_network/") && v["name"] == "c02-staging")
        .unwrap();
    net["tags"]["tier"] = "by-hand".into();
    std::fs::write(&w.cloud_file, serde_json::to_vec(&cloud).unwrap()).unwrap();

    let later = (common::unix_now() + 2 * 3600).to_string();
    let out = w
        .fleetform()
        .env("FLEETFORM_NOW", &later)
        .args(["rollout", "tick"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("halted: drift in c02/staging"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.rolled().len(), 3, "the next wave did not start");
}

/// The workflow's steps: `status --summary` gives the next stage as step
/// outputs and its wave and customers in the job summary (what the
/// reviewer approves); `tick --one-stage` runs that stage only and says
/// what it applied in the job summary.
#[test]
fn github_steps_show_the_next_wave_and_tick_one_stage() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let (output, summary) = (dir.path().join("output"), dir.path().join("summary"));
    std::fs::write(&output, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let step = |args: &[&str]| {
        w.fleetform()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(args)
            .output()
            .unwrap()
    };
    let out = step(&["rollout", "status", "--summary"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outputs = common::parse_outputs(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(outputs["ready"], "true");
    assert_eq!(outputs["environment"], "staging");
    assert_eq!(outputs["wave"], "internal");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("wave `internal` in `staging`"), "{text}");
    for c in ["c01/staging", "c02/staging", "c03/staging"] {
        assert!(text.contains(c), "{text}");
    }

    let out = step(&["rollout", "tick", "--one-stage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01", "c02", "c03"]);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("| `c01/staging` | applied sha256:"), "{text}");
    let status = w.status();
    assert_eq!(status["next"]["wave"], "half");
    assert!(status["next"]["waiting"].is_null(), "{status:#}");
}

/// On GitHub a rollout's apply is a deployment on the customer's repo: the
/// commit its last deployment record names, in the environment, described
/// by the rollout, the wave and the manager commit, `in_progress` then
/// `success`, linked to the run. Pairs without such a record have none.
#[test]
fn a_rollout_apply_is_a_deployment_on_the_customers_repo() {
    let w = World::new();
    let gh = support::fake_github::FakeGitHub::start();
    let repo = "c01-org/infra";
    gh.add_repo(repo);
    let vars = w.fx.read("customers/c01/infra/variables.yml");
    let sha = gh.commit(repo, "main", &[("infra/variables.yml", &vars)]);
    w.fx.write("vars-c01.yml", &vars);
    let record = serde_json::json!({
        "time": "2026-01-01T00:00:00Z",
        "customer": "c01",
        "environment": "staging",
        "customer_repo": repo,
        "customer_sha": sha,
        "plan_sha256": "0".repeat(64),
        "files": [{
            "path": "infra/variables.yml",
            "sha256": common::sha256_hex(&w.fx.path("vars-c01.yml")),
            "content": vars,
        }],
        "actor": "ops-dana",
    });
    w.fx.write(
        "manager/.fleetform/records/deployments/c01/_/staging/20260101T000000.000Z-000000000000.json",
        &record.to_string(),
    );
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    gh.reset_counters();
    let out = w
        .fleetform()
        .env("FLEETFORM_TOKEN", gh.token())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "provider/manager")
        .env("GITHUB_RUN_ID", "4242")
        .args(["rollout", "tick", "--one-stage"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(w.rolled(), ["c01", "c02", "c03"]);
    assert_eq!(gh.request_count(), 3, "one deployment and its two statuses");
    let deployments = gh.deployments(repo);
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(
        (d.sha.as_str(), d.environment.as_str()),
        (sha.as_str(), "staging")
    );
    let description = d.description.clone().unwrap_or_default();
    assert!(
        description.contains("wave internal") && description.contains("manager "),
        "{description}"
    );
    let states: Vec<&str> = d.statuses.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(states, ["in_progress", "success"]);
    assert_eq!(
        d.statuses[1].2.as_deref(),
        Some("https://github.com/provider/manager/actions/runs/4242")
    );
}

/// Products: a rollout from nothing to the example's network → app on the
/// test cloud. Within a customer × environment the network is applied
/// before the app is even planned, so the app's plan reads the network's
/// outputs; one wave takes acme, the other the rest.
#[test]
fn a_rollout_applies_products_in_dependency_order() {
    require_terraform();
    let fx = Fixture::new();
    let installed = fakecloud::install(&fx.path("fakecloud"));
    let cloud = fx.path("cloud.json");
    fx.append(
        "products/manager/fleetform.yml",
        "\nrollout:\n  waves:\n    - name: canary\n      customers: [acme]\n    - name: rest\n",
    );
    // The base: values the rollout then changes for every pair.
    let network = "products/manager/products/network/values/base.yml";
    let app = "products/manager/products/app/values/base.yml";
    let (n, a) = (fx.read(network), fx.read(app));
    fx.write(network, &n.replace("zones: 2", "zones: 1"));
    fx.write(
        app,
        &a.replace("instance_type: small", "instance_type: tiny"),
    );
    fx.git(&["init", "-q"]);
    fx.git(&["add", "-A"]);
    fx.git(&["commit", "-q", "-m", "base"]);
    fx.write(network, &n);
    fx.write(app, &a);
    fx.git(&["commit", "-q", "-am", "the change"]);
    let run = |args: &[&str]| {
        common::fleetform_bin()
            .current_dir(fx.path("products/manager"))
            .env("TF_CLI_CONFIG_FILE", &installed.cli_config)
            .env("FAKECLOUD_FILE", &cloud)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let canary: Vec<String> = started["stages"][0]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}/{}",
                u["product"].as_str().unwrap_or("-"),
                u["environment"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        canary.contains(&"network/staging".to_string()),
        "{canary:?}"
    );
    assert!(canary.contains(&"app/staging".to_string()), "{canary:?}");
    let out = run(&["rollout", "tick"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let objects = fakecloud::objects(&cloud);
    let count = |kind: &str| objects.keys().filter(|k| k.starts_with(kind)).count();
    // The pairs whose values the change reaches: acme's staging network and
    // app, globex's network (acme's production and initech set these values
    // themselves).
    assert_eq!(count("fakecloud_network/"), 2, "{:?}", objects.keys());
    assert_eq!(count("fakecloud_instance/"), 2, "{:?}", objects.keys());
    let out = run(&["rollout", "status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["finished"], true, "{status:#}");
    // Network before app for every customer × environment.
    let root = fx.path("products/manager/.fleetform/records/rollouts");
    let dir = std::fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let order: Vec<String> = files
        .iter()
        .map(|f| serde_json::from_slice::<Value>(&std::fs::read(f).unwrap()).unwrap())
        .filter(|e| e["event"] == "applied")
        .map(|e| {
            format!(
                "{}/{}/{}",
                e["unit"]["customer"].as_str().unwrap(),
                e["unit"]["product"].as_str().unwrap(),
                e["unit"]["environment"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "acme/network/staging",
            "acme/app/staging",
            "globex/network/staging"
        ],
        "the network before the app that needs it"
    );
}

/// The wave's pairs in shards (`status --summary`'s `matrix`), ticked by
/// parallel jobs: every pair applied once, and the stage marked done once,
/// by whichever shard finished last.
#[test]
fn shards_of_a_wave_run_together_and_the_last_settles_it() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Stage 1 first, whole; then stage 2 (9 pairs) in shards.
    let out = w.run(&["rollout", "tick", "--one-stage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    std::fs::write(&output, "").unwrap();
    let out = w
        .fleetform()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .args(["rollout", "status", "--summary"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let outputs = common::parse_outputs(&std::fs::read_to_string(&output).unwrap());
    let matrix: Value = serde_json::from_str(&outputs["matrix"]).unwrap();
    let shards: Vec<String> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["shard"].to_string())
        .collect();
    assert_eq!(shards.len(), 4, "max_parallel shards: {matrix}");
    let outputs: Vec<std::process::Output> = std::thread::scope(|s| {
        let jobs: Vec<_> = shards
            .iter()
            .map(|shard| {
                let mut cmd = w.fleetform();
                s.spawn(move || {
                    cmd.args(["rollout", "tick", "--one-stage", "--shard", shard])
                        .output()
                        .unwrap()
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            stdout(out),
            stderr(out)
        );
    }
    assert_eq!(w.rolled().len(), 3 + 9);
    let events = w.events();
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "stage-done")
        .collect();
    assert_eq!(done.len(), 2, "stage 1 and stage 2, once each: {done:?}");
    let applied = events.iter().filter(|e| e["event"] == "applied").count();
    assert_eq!(applied, 12, "each pair once");
    assert_eq!(w.status()["next"]["wave"], "rest");
    // A shard that names something else is refused before any work.
    let out = w.run(&["rollout", "tick", "--shard", "[\"../x\"]"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// `rollout:` mistakes are configuration errors at their place in
/// fleetform.yml, before anything runs.
#[test]
fn rollout_mistakes_point_at_fleetform_yml() {
    let w = World::new();
    let config = w.fx.read("manager/fleetform.yml");
    for (from, to, what) in [
        (
            "      percent: 50\n",
            "      percent: 0\n",
            "percentage from 1 to 100",
        ),
        ("  bake: 0s\n", "  bake: soon\n", "a duration"),
        (
            "    - name: rest\n",
            "    - name: internal\n",
            "declared twice",
        ),
        (
            "      labels: {tier: internal}\n",
            "      labels: {tier: internal}\n      percent: 10\n",
            "one of",
        ),
        (
            "    - name: half\n      percent: 50\n",
            "    - name: half\n",
            "say which customers",
        ),
    ] {
        assert!(config.contains(from), "{from}");
        w.fx.write("manager/fleetform.yml", &config.replace(from, to));
        let out = w.run(&["rollout", "status"]);
        assert_eq!(out.status.code(), Some(2), "{to}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("fleetform.yml:") && err.contains(what),
            "{to}: {err}"
        );
    }
}

/// A halted rollout is superseded by the next start; a running one is not.
#[test]
fn a_new_rollout_supersedes_a_halted_one() {
    let w = World::new();
    let first = w.run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    let out = w.run(&["rollout", "halt", "--reason", "wrong tag"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Halting twice is halting once.
    let out = w.run(&["rollout", "halt", "--reason", "again"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = w.run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    let out = w.run(&["rollout", "status", "--id", &id, "--json"]);
    let old: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(old["superseded_by"], second["id"], "{old:#}");
    assert_eq!(old["halted"], "wrong tag");
    // Without --id the open one is meant.
    assert_eq!(w.status()["id"], second["id"]);
    // An id is only what `status` shows.
    for bad in ["../x", "a/b", "", "x y"] {
        let out = w.run(&["rollout", "status", "--id", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
}

/// Plans for review: `rollout plan` makes the wave's plans before the
/// approval (grouped, with digests, in the job summary; sealed); `tick
/// --plans-from` applies exactly those, and a bundle that was changed is
/// refused and halts the rollout.
#[test]
fn the_reviewer_sees_the_plans_that_are_applied() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary");
    std::fs::write(&summary, "").unwrap();
    let out = w
        .fleetform()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["rollout", "plan"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("3 pair(s) in 1 group(s)"), "{text}");
    assert_eq!(
        w.status()["stages"][0]["state"],
        "planned, waiting for approval"
    );
    assert!(text.contains("`c01/staging`"), "{text}");
    assert!(w.rolled().is_empty(), "nothing applied before the approval");
    let planned: Vec<(String, String)> = w.digests("planned");
    assert_eq!(planned.len(), 3);
    for (c, digest) in &planned {
        assert!(text.contains(digest.as_str()), "{c}: {text}");
    }

    let out = w.run(&[
        "rollout",
        "tick",
        "--one-stage",
        "--plans-from",
        ".fleetform/rollout-plans",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(w.rolled(), ["c01", "c02", "c03"]);
    let applied: Vec<(String, String)> = w.digests("applied");
    assert_eq!(applied, planned, "the reviewed plans are the applied ones");

    // The next wave: planned, then one bundle changed before the tick.
    let out = w.run(&["rollout", "plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let victim = w
        .events()
        .iter()
        .rev()
        .find(|e| e["event"] == "planned")
        .map(|e| e["unit"]["customer"].as_str().unwrap().to_string())
        .unwrap();
    let bundle = w.fx.path(&format!(
        "manager/.fleetform/rollout-plans/{victim}/staging/bundle.sealed"
    ));
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, bytes).unwrap();
    let out = w.run(&[
        "rollout",
        "tick",
        "--one-stage",
        "--plans-from",
        ".fleetform/rollout-plans",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let status = w.status();
    let failed = status["failed"].as_array().unwrap();
    assert!(
        failed
            .iter()
            .any(|f| f["unit"]["customer"] == victim.as_str()
                && f["reason"].as_str().unwrap().contains("cannot be opened")),
        "{status:#}"
    );
    assert!(!w.rolled().contains(&victim));
}

/// The dashboard (`report --html`) shows the open rollout's stages and,
/// in the fleet grid, the wave still holding each pair not yet rolled.
#[test]
fn the_dashboard_shows_the_rollout_and_each_pairs_wave() {
    let w = World::new();
    let out = w.run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let second: Vec<String> = started["stages"][1]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["customer"].as_str().unwrap().to_string())
        .collect();
    let out = w.run(&["rollout", "tick", "--one-stage"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let out = w.run(&["report", "--html", "dash.html"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let html = w.fx.read("manager/dash.html");

    let rollouts = html.split(r#"id="rollouts""#).nth(1).unwrap();
    let rollouts = rollouts.split("</section>").next().unwrap();
    assert!(rollouts.contains(&format!("Rollout {id}")), "{rollouts}");
    for wave in ["internal", "half", "rest"] {
        assert!(
            rollouts.contains(&format!("<td>{wave}</td>")),
            "{wave}: {rollouts}"
        );
    }
    // The internal wave is applied: 3 of 3.
    assert!(
        rollouts.contains("<td>internal</td><td>3</td><td>3</td><td>0</td>"),
        "{rollouts}"
    );

    let grid = html.split(r#"id="grid""#).nth(1).unwrap();
    let grid = grid.split("</section>").next().unwrap();
    let row = |c: &str| {
        grid.split(&format!(r##"<a href="#customer-{c}">{c}</a>"##))
            .nth(1)
            .unwrap_or_else(|| panic!("no row {c}"))
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(row("c01").contains("applied 0 d ago"), "{}", row("c01"));
    assert!(!row("c01").contains("rollout wave"), "{}", row("c01"));
    let next = &second[0];
    assert!(
        row(next).contains(&format!("rollout wave half ({id})")),
        "{}",
        row(next)
    );
}
