//! Rollouts on the test cloud, run by hand (no GitHub): a fleet of
//! numbered customers in three waves (by label, by percentage, the rest).
//! A failure injected in wave 2 halts the rollout and wave 3 never starts;
//! a tick while halted applies nothing; resume after the fix finishes it;
//! two ticks at once apply nothing twice (records in a folder and in S3);
//! a change merged during a rollout is queued behind it; a customer
//! removed meanwhile is skipped and the stage settles; a rollback is a
//! rollout of the base; every step is an event and an audit line, and a
//! rollout's applies count as applies. The workflow's steps on GitHub are
//! in `tests/rollout/github.rs`.

use crate::common;
use crate::fakecloud;
use crate::moto;
use crate::support::rollout_world::World;

use common::{stderr, stdout};
use serde_json::Value;

pub(crate) fn customers(stage: &Value) -> Vec<String> {
    stage["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["customer"].as_str().unwrap().to_string())
        .collect()
}

/// Start → tick (wave 2 fails) → halted (the status says so first), wave 3
/// untouched → tick again does nothing → resume → tick finishes every
/// customer; each apply is an `apply` audit line that `audit report`
/// counts.
#[test]
fn a_failure_in_wave_two_halts_until_resumed() {
    let w = World::with(4, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let started: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let stages = started["stages"].as_array().unwrap();
    let sizes: Vec<usize> = stages.iter().map(|s| customers(s).len()).collect();
    // 2 internal; half of the 2 left (rounded up); the rest.
    assert_eq!(sizes, [2, 1, 1], "{started:#}");
    let victim = customers(&stages[1])[0].clone();

    // A second start of the same commit while this one runs is refused.
    w.expect(3, &["rollout", "start", "--base", "HEAD~1"]);

    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_ON", format!("{victim}-staging"))
        .args(["rollout", "tick"])
        .output();
    common::assert_code(&out, 1);
    assert!(stdout(&out).contains("halted:"), "{}", stdout(&out));
    assert_eq!(w.rolled(), ["c01", "c02"]);
    let status = w.status();
    assert!(
        status["halted"].as_str().unwrap().contains(&victim),
        "{status:#}"
    );
    assert_eq!(status["stages"][1]["failed"], 1);
    assert_eq!(status["stages"][2]["state"], "waiting");
    let table = stdout(&w.run(&["rollout", "status"]));
    assert!(table.starts_with("HALTED: 1 pair failed"), "{table}");

    // Halted: a tick applies nothing.
    let out = w.expect(1, &["rollout", "tick"]);
    assert!(stdout(&out).contains("is halted"), "{}", stdout(&out));
    assert_eq!(w.rolled().len(), 2);

    // The fix is in (no more injected failure): resume, tick.
    w.expect(0, &["rollout", "resume"]);
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    assert_eq!(w.rolled().len(), 4);
    assert_eq!(w.status()["finished"], true);

    // Every step is an event and an audit line; each pair applied once,
    // and a rollout's apply is an apply (its failure a failed apply).
    let applied = w
        .events()
        .iter()
        .filter(|e| e["event"] == "applied" && e["changed"] == true)
        .count();
    assert_eq!(applied, 4);
    let audit = w.audit();
    let count = |action: &str, result: &str| {
        audit
            .iter()
            .filter(|e| e["action"] == action && e["result"] == result)
            .count()
    };
    assert_eq!(count("apply", "ok"), 4);
    assert_eq!(count("apply", "failed"), 1);
    for kind in ["started", "halted", "resumed", "finished"] {
        assert_eq!(count("rollout", kind), 1, "no {kind} in the audit log");
    }
    let out = w.expect(0, &["audit", "report", "--json"]);
    let report: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    for c in ["c01", "c02", "c03", "c04"] {
        assert_eq!(report["applies_per_customer"][c], 1, "{report:#}");
    }
}

/// Two ticks started together on records in a folder: no pair is applied
/// twice, however they interleave. Nothing here makes them overlap (a
/// tick reads and claims with no request a test could hold); the S3
/// case below forces the overlap, holding both claims until both arrived.
#[test]
fn two_ticks_at_once_apply_nothing_twice() {
    ticks_at_once(&World::with(2, "staging"));
}

/// The same with the rollout in an S3 bucket (moto): the create-only
/// writes are conditional puts there. The two ticks are made to overlap:
/// a proxy holds each tick's first put (its claim of the stage) until
/// both have arrived, so both read the rollout before either claimed it,
/// and exactly one finds the stage taken.
#[test]
fn two_ticks_at_once_apply_nothing_twice_with_records_in_s3() {
    use crate::fake_s3::{FakeS3, Reply};
    let moto = moto::Moto::start();
    let gate = std::sync::Arc::new(PutGate::default());
    let held = gate.clone();
    let proxy = FakeS3::start(Some(moto.port()), move |req, _| {
        if req.is_object("PUT") {
            held.pass();
        }
        Reply::Forward
    });
    let w = World::with(2, "staging").on_s3_at(&moto, &proxy.url());
    let outputs = ticks_at_once_through(&w, Some(&gate));
    assert_eq!(gate.arrived(), 2, "both ticks claimed together");
    let lost = outputs
        .iter()
        .filter(|o| {
            let said = format!("{}{}", stdout(o), stderr(o));
            said.contains("another tick took this stage first")
        })
        .count();
    assert_eq!(lost, 1, "one tick took the stage, the other found it taken");
    let keys = moto.keys_in("fleetform-rollouts");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("fleet/records/rollouts/")),
        "{keys:?}"
    );
    assert!(!w.fx.path("manager/.fleetform/records/rollouts").exists());
}

/// The same through an endpoint that fails as S3 does now and then: a put
/// carried out but answered 500, a put answered 503 `SlowDown`, a put
/// carried out whose answer is lost, and two failed reads. Each is
/// retried (a put carried out is read back and found to be the tick's
/// own), and still no pair is applied twice.
#[test]
fn two_ticks_at_once_apply_nothing_twice_with_s3_failing_transiently() {
    use crate::fake_s3::{FakeS3, Reply};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    let moto = moto::Moto::start();
    let (puts, gets, injected) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        Arc::new(AtomicUsize::new(0)),
    );
    let counted = injected.clone();
    let proxy = FakeS3::start(Some(moto.port()), move |req, _| {
        let reply = if req.is_object("PUT") {
            match puts.fetch_add(1, SeqCst) {
                1 => Reply::ForwardThenError(500, "InternalError"),
                4 => Reply::Error(503, "SlowDown"),
                7 => Reply::ForwardThenHangUp,
                _ => Reply::Forward,
            }
        } else if req.method == "GET" {
            match gets.fetch_add(1, SeqCst) {
                2 => Reply::Error(500, "InternalError"),
                9 => Reply::Error(503, "SlowDown"),
                _ => Reply::Forward,
            }
        } else {
            Reply::Forward
        };
        if !matches!(reply, Reply::Forward) {
            counted.fetch_add(1, SeqCst);
        }
        reply
    });
    let w = World::with(2, "staging").on_s3_at(&moto, &proxy.url());
    ticks_at_once(&w);
    assert_eq!(injected.load(SeqCst), 5, "every fault was injected");
    // No audit record was lost to a fault either.
    let lines = w.fx.read("manager/.fleetform/audit.jsonl").lines().count();
    let kept = moto
        .keys_in("fleetform-rollouts")
        .iter()
        .filter(|k| k.starts_with("fleet/records/audit/"))
        .count();
    assert_eq!(kept, lines, "every audit line is a record in the bucket");
    assert!(!w.fx.path("manager/.fleetform/records/rollouts").exists());
}

/// Once armed, holds the first two puts until both have arrived (a
/// barrier for two ticks' claims); later puts pass.
#[derive(Default)]
struct PutGate {
    /// (armed, puts arrived since).
    state: std::sync::Mutex<(bool, usize)>,
    changed: std::sync::Condvar,
}

impl PutGate {
    fn arm(&self) {
        self.state.lock().unwrap().0 = true;
    }

    fn arrived(&self) -> usize {
        self.state.lock().unwrap().1
    }

    /// Waits for the other of the first two puts (5 minutes at most: a
    /// tick that never puts fails the test's count, it does not hang it).
    fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        if !st.0 || st.1 >= 2 {
            return;
        }
        st.1 += 1;
        self.changed.notify_all();
        let limit = std::time::Duration::from_secs(300);
        let _ = self.changed.wait_timeout_while(st, limit, |st| st.1 < 2);
    }
}

fn ticks_at_once(w: &World) {
    ticks_at_once_through(w, None);
}

/// Two ticks started together (their first puts held together by `gate`,
/// armed once the rollout has started); both succeed, and every pair is
/// applied once. Their outputs.
fn ticks_at_once_through(w: &World, gate: Option<&PutGate>) -> Vec<common::Ran> {
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    if let Some(gate) = gate {
        gate.arm();
    }
    let outputs: Vec<common::Ran> = std::thread::scope(|s| {
        let ticks: Vec<_> = (0..2)
            .map(|_| {
                let cmd = w.fleetform();
                s.spawn(move || cmd.args(["rollout", "tick"]).output())
            })
            .collect();
        ticks.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for out in &outputs {
        common::assert_ok(&out);
    }
    // Once more, to finish whatever the two left.
    w.expect(0, &["rollout", "tick"]);
    assert_eq!(w.rolled().len(), 2);
    let status = w.status();
    assert_eq!(status["finished"], true, "{status:#}");
    let applied: usize = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["applied"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(applied, 2);
    let applies = w
        .audit()
        .iter()
        .filter(|e| e["action"] == "apply" && e["result"] == "ok")
        .count();
    assert_eq!(applies, 2, "each pair applied once");
    outputs
}

/// A finished rollout, then a second one halted by a failed pair: rollback
/// is a rollout of the second one's base over the pairs it changed, newest
/// stage first, that ticks apply; the rollback itself applies nothing.
/// The cloud is then as it was before the second rollout.
#[test]
fn rollback_is_a_rollout_that_returns_the_rolled_customers() {
    let w = World::with(2, "staging");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    w.expect(0, &["rollout", "tick"]);
    let before = fakecloud::objects(&w.cloud_file);
    assert_eq!(w.rolled().len(), 2);

    w.change("tier: staging-2", "tier: staging-3");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let second: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let id = second["id"].as_str().unwrap().to_string();
    let victim = customers(&second["stages"][0])[1].clone();
    // Rolling back a running rollout is refused: halt it first.
    w.expect(3, &["rollout", "rollback"]);
    let out = w
        .fleetform()
        .env("FAKECLOUD_FAIL_ON", format!("{victim}-staging"))
        .args(["rollout", "tick"])
        .output();
    common::assert_code(&out, 1);
    let tier3 = |w: &World| {
        w.networks()
            .iter()
            .filter(|(_, t)| t == "staging-3")
            .count()
    };
    assert_eq!(tier3(&w), 1);

    let during = fakecloud::objects(&w.cloud_file);
    let out = w.expect(0, &["rollout", "rollback"]);
    assert!(stdout(&out).contains("rollback "), "{}", stdout(&out));
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        during,
        "nothing applied yet"
    );
    let old = w.expect(0, &["rollout", "status", "--id", &id, "--json"]);
    let old: Value = serde_json::from_slice(old.stdout.as_bytes()).unwrap();
    let rollback = old["rolled_back_by"].as_str().unwrap().to_string();
    let status = w.status();
    assert_eq!(
        status["id"],
        rollback.as_str(),
        "the rollback is the current rollout"
    );
    assert_eq!(status["rollback_of"], id.as_str());
    // Only the pair the second rollout changed (not the one that failed).
    assert_eq!(status["stages"].as_array().unwrap().len(), 1, "{status:#}");
    assert_eq!(status["stages"][0]["pairs"], 1, "{status:#}");

    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    assert_eq!(
        fakecloud::objects(&w.cloud_file),
        before,
        "the cloud is as it was"
    );
    // Rolled back: its ticks do nothing; a second rollback says so.
    let out = w.expect(0, &["rollout", "tick", "--id", &id]);
    assert!(stdout(&out).contains("rolled back"), "{}", stdout(&out));
    let out = w.expect(0, &["rollout", "rollback", "--id", &id]);
    assert!(stdout(&out).contains("already"), "{}", stdout(&out));
}

/// Bake time holds the next wave back (its end in RFC 3339, and how far
/// off); drift in a pair already rolled, found when the next wave would
/// start, halts the rollout.
#[test]
fn drift_in_a_rolled_pair_halts_before_the_next_wave() {
    let w = World::with(4, "staging");
    let config = w.fx.read("manager/fleetform.yml");
    let config = config.replace("    - name: half\n", "      bake: 1h\n    - name: half\n");
    w.fx.write(
        "manager/fleetform.yml",
        &config.replace("drift: false", "drift: true"),
    );
    w.fx.git(&["commit", "-q", "-am", "bake after the internal wave"]);
    w.expect(0, &["rollout", "start", "--base", "HEAD~2"]);
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(
        stdout(&out).contains("baking for 3600 s"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.rolled(), ["c01", "c02"]);
    // Still baking: nothing happens; the end reads as a time.
    let out = w.run(&["rollout", "tick"]);
    let said = stdout(&out);
    let re = regex::Regex::new(r"baking until \d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z, in (59 min|1 h)")
        .unwrap();
    assert!(re.is_match(&said), "{said}");
    assert_eq!(w.rolled().len(), 2);

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
        .output();
    common::assert_code(&out, 1);
    assert!(
        stdout(&out).contains("halted: drift in c02/staging"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.rolled().len(), 2, "the next wave did not start");
}

/// A customer removed from the registry while its stage waits is skipped,
/// named, and the stage settles: the rollout goes on and finishes, never
/// "another tick holds stage N" for good; a run that is no shard never
/// speaks of shards.
#[test]
fn a_customer_removed_during_a_rollout_is_skipped_and_the_stage_settles() {
    let w = World::with(3, "staging");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let registry = w.fx.read("manager/customers.yml");
    let c02 = registry.find("  - slug: c02").unwrap();
    let c03 = registry.find("  - slug: c03").unwrap();
    w.fx.write(
        "manager/customers.yml",
        &format!("{}{}", &registry[..c02], &registry[c03..]),
    );
    let out = w.expect(0, &["rollout", "tick"]);
    let said = stdout(&out);
    assert!(
        said.contains("skipped c02/staging (customer `c02` is no longer in `customers.yml`)"),
        "{said}"
    );
    assert!(said.contains("finished"), "{said}");
    assert!(!said.contains("shard"), "{said}");
    assert_eq!(w.rolled(), ["c01", "c03"]);
    let status = w.status();
    assert_eq!(status["stages"][0]["skipped"], 1, "{status:#}");
    assert_eq!(status["finished"], true);
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("is finished"), "{}", stdout(&out));
}

/// Products: a rollout from nothing to the example's network → app on the
/// test cloud. A wave's network pairs are a stage before its app pairs, so
/// the app's plan (made, and on GitHub reviewed, after the network's
/// apply) reads the network's outputs; one wave takes acme, the other the
/// rest.
#[test]
fn a_rollout_applies_products_in_dependency_order() {
    common::require_terraform();
    let fx = common::Fixture::new();
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
        common::Run::from(common::fleetform_bin())
            .current_dir(fx.path("products/manager"))
            .env("TF_CLI_CONFIG_FILE", &installed.cli_config)
            .env("FAKECLOUD_FILE", &cloud)
            .args(args)
            .output()
    };
    let out = run(&["rollout", "start", "--base", "HEAD~1", "--json"]);
    common::assert_ok(&out);
    let started: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let stages: Vec<(String, Vec<String>)> = started["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let units = s["units"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    format!(
                        "{}/{}",
                        u["customer"].as_str().unwrap(),
                        u["product"].as_str().unwrap()
                    )
                })
                .collect();
            (s["wave"].as_str().unwrap().to_string(), units)
        })
        .collect();
    assert_eq!(
        stages[..2],
        [
            ("canary".to_string(), vec!["acme/network".to_string()]),
            ("canary".to_string(), vec!["acme/app".to_string()]),
        ],
        "{stages:?}"
    );
    let out = run(&["rollout", "tick"]);
    common::assert_ok(&out);
    let objects = fakecloud::objects(&cloud);
    let count = |kind: &str| objects.keys().filter(|k| k.starts_with(kind)).count();
    // The pairs whose values the change reaches: acme's staging network and
    // app, globex's network (acme's production and initech set these values
    // themselves).
    assert_eq!(count("fakecloud_network/"), 2, "{:?}", objects.keys());
    assert_eq!(count("fakecloud_instance/"), 2, "{:?}", objects.keys());
    let out = run(&["rollout", "status", "--json"]);
    let status: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(status["finished"], true, "{status:#}");
    let audit =
        std::fs::read_to_string(fx.path("products/manager/.fleetform/audit.jsonl")).unwrap();
    let order: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "apply" && e["result"] == "ok")
        .map(|e| {
            format!(
                "{}/{}/{}",
                e["customer"].as_str().unwrap(),
                e["product"].as_str().unwrap(),
                e["environment"].as_str().unwrap()
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

/// `rollout:` mistakes are configuration errors at their place in
/// fleetform.yml, before anything runs.
#[test]
fn rollout_mistakes_point_at_fleetform_yml() {
    let w = World::with(1, "staging");
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
        (
            "  max_parallel: 4\n",
            "  max_parallel: 4\n  operators: ops\n",
            "`org/team-slug`",
        ),
    ] {
        assert!(config.contains(from), "{from}");
        w.fx.write("manager/fleetform.yml", &config.replace(from, to));
        let out = w.run(&["rollout", "status"]);
        common::assert_code_for(format_args!("{to}"), &out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("fleetform.yml:") && err.contains(what),
            "{to}: {err}"
        );
    }
}
