//! The customer side of the GitHub loop waiting for the manager, and the
//! audit lines of a full run.

use crate::common;
use crate::world;

use common::{stderr, stdout};
use serde_json::Value;

use world::{ok, World, ACME, MANAGER};

/// `trigger --wait`: the manager's answer ends the wait.
#[test]
fn trigger_waits_for_the_manager() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (mut cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    cmd.env("FLEETFORM_POLL_BASE_MS", "100")
        .args(["--wait", "60s"]);
    let run = std::thread::spawn(move || common::Run::from(cmd).output());
    // The manager answers once the dispatch arrived (no wall-clock bound:
    // the wait ends when the dispatch is there or the trigger has exited).
    while w.gh.dispatches(MANAGER).is_empty() && !run.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !w.gh.dispatches(MANAGER).is_empty(),
        "the trigger dispatched"
    );
    // The trigger is waiting: it has asked for the commit's status and
    // found no answer yet (no wall-clock bound, as above).
    let polls = |w: &World| {
        w.gh.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/commits/{sha}/status")))
            .count()
    };
    while polls(&w) == 0 && !run.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(polls(&w) > 0, "the trigger polled before the answer");
    w.gh.add_status(ACME, &sha, "success", "infra/terraform-deploy");
    let out = run.join().unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("the manager answered"),
        "{}",
        stdout(&out)
    );
    w.gh.assert_clean();
}

/// `trigger --wait`: a manager that never answers fails the customer's job
/// and marks the commit.
#[test]
fn trigger_wait_times_out_when_the_manager_never_answers() {
    let mut w = World::new();
    let sha = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let (cmd, _) = w.trigger_pr_command(ACME, pr, "feature", &sha);
    w.gh.reset_counters();
    let out = common::Run::from(cmd)
        .env("FLEETFORM_POLL_BASE_MS", "200")
        .args(["--wait", "2s"])
        .output();
    common::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("the manager never answered within 2s"),
        "{}",
        stderr(&out)
    );
    let last = w.gh.statuses(ACME, &sha).last().cloned().unwrap();
    assert_eq!(last.state, "error");
    // 3 for the trigger, a handful of polls (200 ms doubling within 2 s), 1 to mark.
    assert!(
        w.gh.request_count() <= 3 + 5 + 1,
        "poll budget: {}",
        w.gh.request_count()
    );
    w.gh.assert_clean();
}

/// A full trigger → plan → apply run leaves one audit line per step, and
/// the report lists the apply with its digest and actor.
#[test]
fn audit_lines_for_a_full_run() {
    let mut w = World::new();
    let log = w.scratch.path().join("audit.jsonl");
    w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "x");
    let sha = w.gh.merge_pr(ACME, pr);
    let event = world::push_event(
        &sha,
        &format!("Merge pull request #{pr} from acme-corp/feature"),
    );
    let checkout = w.checkout(ACME, &sha);
    let (cmd, _) = w.trigger_step(ACME, "push", &event, &sha, checkout);
    let out = common::Run::from(cmd)
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "dev-alice")
        .output();
    ok(&out);
    let d = w.last_dispatch();
    let (cmd, files) = w.dispatch_step(&d);
    let out = common::Run::from(cmd)
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "ops-bot")
        .args(["plan", "--dispatch", "--env", "staging"])
        .output();
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();
    let (cmd, _) = w.apply_step(&d, "staging", &digest);
    let out = common::Run::from(cmd)
        .env("FLEETFORM_AUDIT_LOG", &log)
        .env("GITHUB_ACTOR", "ops-carol")
        .env("GITHUB_TRIGGERING_ACTOR", "ops-bot")
        .output();
    ok(&out);
    // A refused apply (wrong digest) is audited too.
    let (cmd, _) = w.apply_step(&d, "staging", &"0".repeat(64));
    let out = common::Run::from(cmd)
        .env("FLEETFORM_AUDIT_LOG", &log)
        .output();
    common::assert_code(&out, 3);

    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "plan", "apply", "refusal"]);
    for l in &lines {
        assert_eq!(l["sha"], sha.as_str(), "{l}");
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["dispatch_id"], d["client_payload"]["dispatch_id"]);
    }
    assert_eq!(lines[0]["actor"], "dev-alice");
    assert_eq!(lines[1]["plan_sha256"], digest.as_str());
    assert_eq!(lines[1]["environment"], "staging");
    assert_eq!(
        (lines[2]["actor"].as_str(), lines[2]["result"].as_str()),
        (Some("ops-carol"), Some("ok"))
    );
    assert_eq!(lines[2]["plan_sha256"], digest.as_str());
    assert_eq!(lines[2]["triggering_actor"], "ops-bot");
    assert!(lines[2]["run_url"]
        .as_str()
        .unwrap()
        .starts_with("https://github.com/provider/manager/actions/runs/"));

    let out = common::Run::from(w.fx.fleetform())
        .args(["audit", "report", "--since", "2000-01-01", "--log"])
        .arg(&log)
        .arg("--json")
        .output();
    ok(&out);
    let report: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(report["applies_per_customer"]["acme"], 1);
    assert_eq!(report["applies"][0]["actor"], "ops-carol");
    assert_eq!(report["refusals"].as_array().unwrap().len(), 1);
    let out = common::Run::from(w.fx.fleetform())
        .args(["audit", "report", "--log"])
        .arg(&log)
        .output();
    ok(&out);
    assert!(stdout(&out).contains("## Approved applies (who approved what)"));
    assert!(stdout(&out).contains("ops-carol (run by ops-bot)"));
    let out = common::Run::from(w.fx.fleetform())
        .args([
            "audit",
            "report",
            "--since",
            "2999-01-01",
            "--json",
            "--log",
        ])
        .arg(&log)
        .output();
    let report: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(report["records"], 0);
}
