//! Which rollout runs when: a start while one runs is queued behind it
//! (and covers from where the last one left off), a halted one is
//! superseded by the next start, and an old start re-run is refused.

use crate::common;
use crate::support::rollout_world::World;

use common::stderr;
use common::stdout;
use serde_json::Value;

/// A change merged while a rollout runs is queued behind it (not refused,
/// not lost): the running one goes on with its own commit's configuration,
/// and the queued one begins when it ends. A start covers from where the
/// last rollout left off, so a change whose own start never ran is rolled
/// out too; a start of a commit already rolled out (a re-run of an old
/// start job) is refused.
#[test]
fn a_change_merged_during_a_rollout_is_queued_and_rolled_out_after_it() {
    let w = World::with(1, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    let first_sha = w.head();
    w.change("tier: staging-2", "tier: staging-3");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["queued_behind"], first["id"], "{second:#}");
    assert_eq!(second["base"], first_sha.as_str());
    let status = w.status();
    assert_eq!(
        status["id"], first["id"],
        "the running one is the current one"
    );
    let out = w.expect(
        0,
        &[
            "rollout",
            "status",
            "--id",
            second["id"].as_str().unwrap(),
            "--json",
        ],
    );
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queued["queued_behind"], first["id"]);
    assert!(queued["next"]["waiting"]
        .as_str()
        .unwrap()
        .contains("queued behind"));

    // The first rollout applies its own commit, not the queued change.
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    let tiers: Vec<String> = w.networks().into_iter().map(|(_, t)| t).collect();
    assert_eq!(tiers, ["staging-2"]);
    let out = w.expect(0, &["rollout", "tick"]);
    assert!(stdout(&out).contains("finished"), "{}", stdout(&out));
    let tiers: Vec<String> = w.networks().into_iter().map(|(_, t)| t).collect();
    assert_eq!(tiers, ["staging-3"]);

    // Two more changes; only the last one's start runs, from its parent.
    w.change("tier: staging-3", "tier: staging-4");
    let second_sha = {
        let out = w.expect(0, &["rollout", "status", "--json"]);
        let s: Value = serde_json::from_slice(&out.stdout).unwrap();
        s["manager_sha"].as_str().unwrap().to_string()
    };
    w.fx.write("manager/README.md", "not read by fleetform\n");
    w.fx.git(&["add", "manager/README.md"]);
    w.fx.git(&["commit", "-q", "-m", "a readme"]);
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let third: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        third["base"],
        second_sha.as_str(),
        "where the last rollout left off"
    );
    assert_eq!(
        third["stages"][0]["units"].as_array().unwrap().len(),
        1,
        "{third:#}"
    );
    // A re-run of the second change's start: refused.
    w.fx.git(&["checkout", "-q", &second_sha]);
    let out = w.expect(3, &["rollout", "start", "--base", "HEAD~1"]);
    assert!(
        stderr(&out).contains("already rolls out"),
        "{}",
        stderr(&out)
    );
}

/// A halted rollout is superseded by the next start (even of the same
/// commit), which covers from the halted one's base; a running one is
/// not (the start is queued, or refused for the same commit).
#[test]
fn a_new_rollout_supersedes_a_halted_one() {
    let w = World::with(1, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    w.expect(0, &["rollout", "halt", "--reason", "wrong tag"]);
    // Halting twice is halting once.
    w.expect(0, &["rollout", "halt", "--reason", "again"]);
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["superseded"][0], id.as_str());
    assert_eq!(second["base"], first["base"], "from the halted one's base");
    let out = w.expect(0, &["rollout", "status", "--id", &id, "--json"]);
    let old: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(old["superseded_by"], second["id"], "{old:#}");
    assert_eq!(old["halted"], "wrong tag");
    // Without --id the open one is meant.
    assert_eq!(w.status()["id"], second["id"]);
    // An id is only what `status` shows.
    for bad in ["../x", "a/b", "", "x y"] {
        let out = w.run(&["rollout", "status", "--id", bad]);
        common::assert_code_for(format_args!("{bad}"), &out, 2);
    }
}
