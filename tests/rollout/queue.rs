//! Which rollout runs when: a start while one runs is queued behind it
//! (and covers from where the last one left off), a halted one only by an
//! operator's `--supersede`, an old start re-run is refused, and a
//! tampered record is refused.

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
    let first: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let first_sha = w.head();
    w.change("tier: staging-2", "tier: staging-3");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let second: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
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
    let queued: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
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
        let s: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
        s["manager_sha"].as_str().unwrap().to_string()
    };
    w.fx.write("manager/README.md", "not read by fleetform\n");
    w.fx.git(&["add", "manager/README.md"]);
    w.fx.git(&["commit", "-q", "-m", "a readme"]);
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let third: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
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

/// A halted rollout is not ended by a push: the next start of a new
/// commit queues behind it (saying it is halted and what an operator
/// does), a start of its own commit is refused, and only `start
/// --supersede` (an operator's, on GitHub) supersedes it, covering from
/// the halted one's base; a running one is not superseded either.
#[test]
fn only_an_operator_supersedes_a_halted_rollout() {
    let w = World::with(1, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let first: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    w.expect(0, &["rollout", "halt", "--reason", "wrong tag"]);
    // Halting twice is halting once.
    w.expect(0, &["rollout", "halt", "--reason", "again"]);
    // The push of the same commit again: refused, naming the operator's way.
    let out = w.expect(3, &["rollout", "start", "--base", "HEAD~1"]);
    assert!(
        stderr(&out).contains("(it is halted)")
            && stderr(&out).contains("an operator runs `fleetform rollout start --supersede`"),
        "{}",
        stderr(&out)
    );
    // A push of a new change: queued behind the halted one, not superseding it.
    w.change("tier: staging-2", "tier: staging-3");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    assert!(
        stdout(&out).contains(&format!("queued behind rollout {id}")),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(&format!(
            "rollout {id} is halted (wrong tag); a push does not end it"
        )),
        "{}",
        stderr(&out)
    );
    let current = w.status();
    assert_eq!(
        current["id"],
        id.as_str(),
        "the halted one is still current"
    );
    assert_eq!(current["halted"], "wrong tag");
    assert!(current["superseded_by"].is_null(), "{current:#}");
    // The operator supersedes both open ones.
    let out = w.expect(0, &["rollout", "start", "--supersede", "--json"]);
    let second: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(second["superseded"][0], id.as_str());
    assert_eq!(second["superseded"].as_array().unwrap().len(), 2);
    assert_eq!(second["base"], first["base"], "from the halted one's base");
    let out = w.expect(0, &["rollout", "status", "--id", &id, "--json"]);
    let old: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(old["superseded_by"], second["id"], "{old:#}");
    assert_eq!(old["halted"], "wrong tag");
    // Without --id the open one is meant.
    assert_eq!(w.status()["id"], second["id"]);
    // An id is only what `status` shows.
    for bad in ["../x", "a/b", "", "x y", "ABC-1"] {
        let out = w.run(&["rollout", "status", "--id", bad]);
        common::assert_code_for(format_args!("{bad}"), &out, 2);
    }
}

/// On GitHub: a push by anyone (here not an operator) while the current
/// rollout is halted queues the new one behind it; `start --supersede` is
/// refused to a non-operator and supersedes both for an active member of
/// `rollout.operators`.
#[test]
fn on_github_a_push_queues_behind_a_halted_rollout_and_only_an_operator_supersedes() {
    let gh = crate::support::fake_github::FakeGitHub::start();
    let mut w = World::with(1, "staging");
    w.on_github(&gh, "ops-dana");
    w.operators_are_provider_ops();
    w.fx.git(&["commit", "-q", "-am", "operators"]);
    gh.add_team_member("provider", "ops", "ops-dana", "active");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~2", "--json"]);
    let first: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    w.expect(0, &["rollout", "halt", "--reason", "bad tag"]);

    w.set_env("GITHUB_ACTOR", "mallory");
    w.change("tier: staging-2", "tier: staging-3");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let second: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    assert_eq!(second["queued_behind"], id.as_str(), "{second:#}");
    assert_eq!(second["behind_halted"], "bad tag", "{second:#}");
    assert!(second.get("superseded").is_none(), "{second:#}");
    let current = w.status();
    assert_eq!(current["id"], id.as_str());
    assert_eq!(current["halted"], "bad tag");
    let out = w.expect(3, &["rollout", "start", "--supersede"]);
    assert!(
        stderr(&out).contains("`mallory` is not an active member of `provider/ops`"),
        "{}",
        stderr(&out)
    );
    assert!(w.status()["superseded_by"].is_null());

    w.set_env("GITHUB_ACTOR", "ops-dana");
    let out = w.expect(0, &["rollout", "start", "--supersede", "--json"]);
    let third: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let superseded: Vec<&str> = third["superseded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(superseded, [id.as_str(), second["id"].as_str().unwrap()]);
    assert_eq!(w.status()["id"], third["id"]);
}

/// What a rollout reads back from the records store is checked as if a
/// stranger typed it: a rollout folder whose name is not a rollout id, or
/// an event whose base is not a commit (a tampered record that would make
/// a rollback's id hold a `/`), fails every command that reads it, naming
/// the record and what to do; no event is written anywhere.
#[test]
fn a_tampered_rollout_record_is_refused_not_followed() {
    let w = World::with(1, "staging");
    let out = w.expect(0, &["rollout", "start", "--base", "HEAD~1", "--json"]);
    let started: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let root = w.fx.path("manager/.fleetform/records/rollouts");
    let before = files_under(&root);
    let first = root.join(&id).join("000000.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    event["base"] = Value::from("0123456789ab/../../elsewhere");
    let forged = root.join("999999999999-0123456789ab-abcdef");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::write(forged.join("000000.json"), event.to_string()).unwrap();
    for args in [
        &["rollout", "status"][..],
        &["rollout", "tick"][..],
        &["rollout", "halt", "--reason", "x"][..],
        &["rollout", "rollback"][..],
    ] {
        let out = w.run(args);
        common::assert_code_for(format_args!("{args:?}"), &out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("its base `0123456789ab/../../elsewhere` is not a commit sha")
                && err.contains("outside fleetform"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&forged).unwrap();
    // A folder that is not a rollout id.
    let stray = root.join("x y");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("000000.json"), "{}").unwrap();
    let out = w.run(&["rollout", "status"]);
    common::assert_code_for(format_args!("a folder that is not an id"), &out, 1);
    assert!(
        stderr(&out).contains("`x y` is not a rollout id"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&stray).unwrap();
    assert_eq!(files_under(&root), before, "no event written anywhere");
}

/// Every file under `root`, relative, sorted.
fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
