//! Who may approve a rollout's wave, against the fake GitHub: never the
//! authors of the change being rolled out (the merged pull request's
//! author and who pushed it, i.e. started the rollout), neither through
//! the run's deployment reviews nor through `approvals:` on the pull
//! request (not even with `allow_author: true`), and neither the author of
//! an earlier change the rollout also covers (one whose own start never
//! ran); when GitHub does not say who wrote the change, the tick is
//! refused.

use crate::common;
use crate::rollout::github::{plan_then_tick, tick};
use crate::support::fake_github::{FakeGitHub, Fault};
use crate::support::rollout_world::{World, MANAGER_REPO};

use common::{stderr, stdout};

const SHARD: &str = r#"["c01/production"]"#;

/// A production rollout on GitHub: the change's pull request written by
/// `pr-author`, the rollout started by `ops-pusher` (the push), ticked by
/// `ops-tick`. Returns the world, the pull request and the rollout id.
fn pushed(gh: &FakeGitHub, approvals: Option<&str>) -> (World, u64, String) {
    let mut w = World::with(1, "production");
    if let Some(rule) = approvals {
        w.fx.append("manager/fleetform.yml", rule);
        w.fx.git(&["commit", "-q", "-am", "approvals"]);
    }
    let pr = w.on_github(gh, "ops-pusher");
    gh.set_author(MANAGER_REPO, pr, "pr-author");
    let base = match approvals {
        Some(_) => "HEAD~2",
        None => "HEAD~1",
    };
    w.expect(0, &["rollout", "start", "--base", base]);
    w.set_env("GITHUB_ACTOR", "ops-tick");
    let id = w.status()["id"].as_str().unwrap().to_string();
    (w, pr, id)
}

fn refused(out: &impl crate::common::Streams, says: &str) {
    assert_eq!(out.exit_code(), Some(3), "{}\n{}", stdout(out), stderr(out));
    assert!(stderr(out).contains(says), "{says}: {}", stderr(out));
}

/// `auto_apply: false` without `approvals:`: the run's deployment
/// reviews. No review, the pull request's author's, the pusher's: refused
/// (self-review, naming both); someone else's: applied, as theirs.
#[test]
fn the_authors_of_the_change_do_not_approve_its_wave_through_the_run() {
    let gh = FakeGitHub::start();
    let (w, _, id) = pushed(&gh, None);
    let (_, _, out) = plan_then_tick(&w);
    refused(&out, "no one approved the deployment to `production-apply`");
    for author in ["pr-author", "ops-pusher"] {
        gh.review_run(MANAGER_REPO, 4242, "production-apply", author, "approved");
        let out = tick(&w, &id, SHARD);
        refused(
            &out,
            "`ops-tick`, who started the run, or `pr-author` and `ops-pusher`, who wrote or pushed the change (self-review)",
        );
        assert!(w.rolled().is_empty(), "{author}'s approval applied nothing");
    }
    gh.review_run(
        MANAGER_REPO,
        4242,
        "production-apply",
        "ops-carol",
        "approved",
    );
    let out = tick(&w, &id, SHARD);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01"]);
    let applied: Vec<_> = w.applied_events();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["actor"], "ops-carol");
}

/// GitHub answers the commit's pull requests with an error (409, as it
/// documents): who wrote the change is unknown, so the tick is refused
/// (fail closed), even with another reviewer's approval.
#[test]
fn a_wave_whose_authors_github_does_not_name_is_refused() {
    let gh = FakeGitHub::start();
    let (w, _, id) = pushed(&gh, None);
    let (_, _, out) = plan_then_tick(&w);
    refused(&out, "no one approved");
    gh.review_run(
        MANAGER_REPO,
        4242,
        "production-apply",
        "ops-carol",
        "approved",
    );
    gh.inject(Fault::status(409).times(1).on("GET", "/commits/"));
    let out = tick(&w, &id, SHARD);
    refused(&out, "cannot find the pull request of");
    assert_eq!(gh.pending_faults(), 0, "the pull requests were asked for");
    assert!(w.rolled().is_empty());
    // GitHub answers again: applied.
    let out = tick(&w, &id, SHARD);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01"]);
}

/// `approvals:` with `allow_author: true` listing the authors too: the
/// pull request's author's and the pusher's approvals of the wave's digest
/// do not count (the refusal says why); a third listed user's does.
#[test]
fn the_authors_of_the_change_do_not_approve_its_wave_on_the_pull_request() {
    let gh = FakeGitHub::start();
    let rule = "approvals:\n  production:\n    users: [pr-author, ops-pusher, ops-erin]\n    allow_author: true\n";
    let (w, pr, id) = pushed(&gh, Some(rule));
    let (_, _, out) = plan_then_tick(&w);
    refused(&out, "0 of 1 approvals");
    let err = stderr(&out);
    let re = regex::Regex::new(r"comment `/fleetform approve ([0-9a-f]{12})`").unwrap();
    let prefix = re.captures(&err).unwrap_or_else(|| panic!("{err}"))[1].to_string();
    let approve = format!("/fleetform approve {prefix}");
    gh.add_comment(MANAGER_REPO, pr, "pr-author", &approve);
    gh.add_comment(MANAGER_REPO, pr, "ops-pusher", &approve);
    let out = tick(&w, &id, SHARD);
    refused(
        &out,
        "(`pr-author` and `ops-pusher` wrote or pushed the change, so their approval does not count)",
    );
    assert!(w.rolled().is_empty());
    gh.add_comment(MANAGER_REPO, pr, "ops-erin", &approve);
    let out = tick(&w, &id, SHARD);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01"]);
}

/// A rollout covers every change since its base (a merge whose own start
/// never ran is rolled out by the next start): the author of that earlier
/// change's pull request does not approve the wave either.
#[test]
fn the_author_of_an_earlier_change_in_the_rollout_does_not_approve_it() {
    let gh = FakeGitHub::start();
    let rule = "approvals:\n  production:\n    users: [early-author, ops-erin]\n";
    let (w, pr, id) = pushed(&gh, Some(rule));
    // The change before the last one came through a pull request of its own.
    let earlier = w.commit("HEAD~1");
    gh.create_branch(MANAGER_REPO, "earlier", "main");
    let early = gh.open_pr(MANAGER_REPO, "earlier", "main", "the earlier change");
    gh.merged_as(MANAGER_REPO, early, &earlier);
    gh.set_author(MANAGER_REPO, early, "early-author");
    let (_, _, out) = plan_then_tick(&w);
    refused(&out, "0 of 1 approvals");
    let err = stderr(&out);
    let re = regex::Regex::new(r"comment `/fleetform approve ([0-9a-f]{12})`").unwrap();
    let prefix = re.captures(&err).unwrap_or_else(|| panic!("{err}"))[1].to_string();
    let approve = format!("/fleetform approve {prefix}");
    gh.add_comment(MANAGER_REPO, pr, "early-author", &approve);
    let out = tick(&w, &id, SHARD);
    refused(
        &out,
        "(`early-author` wrote or pushed the change, so their approval does not count)",
    );
    assert!(w.rolled().is_empty());
    gh.add_comment(MANAGER_REPO, pr, "ops-erin", &approve);
    let out = tick(&w, &id, SHARD);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01"]);
}

/// A change of more than 50 commits since the rollout's base: fleetform
/// does not read every author, so it refuses rather than guess, even with
/// another reviewer's approval.
#[test]
fn a_change_too_long_to_read_its_authors_is_refused() {
    let gh = FakeGitHub::start();
    let mut w = World::with(1, "production");
    for i in 0..50 {
        w.fx.git(&["commit", "-q", "--allow-empty", "-m", &format!("empty {i}")]);
    }
    w.on_github(&gh, "ops-pusher");
    w.expect(0, &["rollout", "start", "--base", "HEAD~51"]);
    w.set_env("GITHUB_ACTOR", "ops-tick");
    gh.review_run(
        MANAGER_REPO,
        4242,
        "production-apply",
        "ops-carol",
        "approved",
    );
    let (_, _, out) = plan_then_tick(&w);
    refused(
        &out,
        "spans more than 50 first-parent commits since its base",
    );
    assert!(w.rolled().is_empty());
}
