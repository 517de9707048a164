//! A rollout ticked by hand, outside GitHub Actions, where no second
//! person can be shown: a stage whose environment needs approval
//! (`auto_apply: false`, the example's production) is refused and applies
//! nothing; with `--unreviewed` it is applied and every apply is recorded
//! as unreviewed, in the rollout's events, the tick's lines and the audit
//! log; `--unreviewed` is refused on GitHub Actions. A stage of an
//! environment that needs no approval (staging) needs no flag.

use crate::common;
use crate::support::fake_github::FakeGitHub;
use crate::support::rollout_world::World;

use common::{stderr, stdout};

#[test]
fn a_production_tick_by_hand_needs_unreviewed_and_says_so() {
    let w = World::with(2, "production");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);

    // Refused (exit 3), as an apply without its approval is.
    let out = w.expect(3, &["rollout", "tick"]);
    let err = stderr(&out);
    assert!(
        err.contains("`production` needs approval") && err.contains("--unreviewed"),
        "{err}"
    );
    assert!(w.rolled().is_empty(), "applied without a second person");
    assert!(w.digests("applied").is_empty());

    let out = w.expect(0, &["rollout", "tick", "--unreviewed"]);
    let said = stdout(&out);
    assert!(said.contains("finished"), "{said}");
    assert_eq!(w.rolled(), ["c01", "c02"]);
    let applied: Vec<_> = w.applied_events();
    assert_eq!(applied.len(), 2);
    assert!(
        applied.iter().all(|e| e["unreviewed"] == true),
        "{applied:?}"
    );
    let approvals: Vec<_> = w.apply_approvals();
    assert_eq!(approvals, ["unreviewed", "unreviewed"]);
}

#[test]
fn a_staging_tick_by_hand_needs_no_flag_and_is_recorded_as_local() {
    let w = World::with(1, "staging");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    w.expect(0, &["rollout", "tick"]);
    assert_eq!(w.rolled(), ["c01"]);
    let applied: Vec<_> = w.applied_events();
    assert!(
        applied.iter().all(|e| e.get("unreviewed").is_none()),
        "{applied:?}"
    );
    let approvals: Vec<_> = w.apply_approvals();
    assert_eq!(approvals, ["local"]);
}

#[test]
fn unreviewed_is_refused_on_github_actions() {
    let gh = FakeGitHub::start();
    let mut w = World::with(1, "production");
    w.on_github(&gh, "ops-pusher");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    w.set_env("GITHUB_ACTOR", "ops-tick");
    let out = w.expect(2, &["rollout", "tick", "--unreviewed"]);
    assert!(
        stderr(&out).contains("--unreviewed is for a workstation"),
        "{}",
        stderr(&out)
    );
    assert!(w.rolled().is_empty());
}
