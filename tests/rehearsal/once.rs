//! The same event at the manager twice (the fleet on the test cloud,
//! `on_cloud`, records in the bucket): the relay sends at least once (an
//! instance killed after GitHub took its batch sends it again once its
//! claims are stale), and a signed dispatch can be replayed within its
//! hour. The deploy workflow's first run plans and concludes; a second run
//! of the very same dispatch ends at `authorise` as a duplicate: no plan,
//! no comment, no status, one audit line. A re-run of the first run is
//! that run and plans again.

use super::on_cloud::OnCloud;
use crate::support::actions_runner::Event;
use crate::world::{ok, ACME};

const DEPLOY: &str = "workflows/manager-deploy.yml";

#[test]
fn a_dispatch_delivered_twice_is_planned_once() {
    let mut c = OnCloud::applied("");
    let sha = c.w.change_acme("feature", 3);
    let pr = c.w.gh.open_pr(ACME, "feature", "main", "More instances");
    ok(&c.w.trigger_pr(ACME, pr, "feature", &sha).0);
    let d = c.w.last_dispatch();
    let event = Event::dispatch(&d);

    let first = c.runner.run(&c.w.gh, DEPLOY, &event);
    first.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    let comments = c.w.gh.comments(ACME, pr).len();
    let statuses = c.w.gh.statuses(ACME, &sha).len();
    assert!(comments > 0 && statuses > 0);

    // The same dispatch again, in a run of its own.
    let again = c.runner.run(&c.w.gh, DEPLOY, &event);
    let authorise = again.job("authorise");
    assert_eq!(authorise.result, "success", "{}", authorise.log);
    assert!(
        authorise.log.contains(&format!(
            "duplicate: this fleetform-plan dispatch from `acme` was claimed by run {}",
            first.run_id
        )),
        "{}",
        authorise.log
    );
    for job in ["plan-staging", "plan-production", "conclude"] {
        assert_eq!(again.job(job).result, "skipped", "{job}");
    }
    assert_eq!(c.w.gh.comments(ACME, pr).len(), comments);
    assert_eq!(c.w.gh.statuses(ACME, &sha).len(), statuses);
    let claims: Vec<String> = c
        .moto
        .keys_in(super::on_cloud::BUCKET)
        .into_iter()
        .filter(|k| k.contains("/dispatches/acme/"))
        .collect();
    assert_eq!(claims.len(), 1, "{claims:?}");

    // "Re-run all jobs" of the first run is the first run: it plans.
    let rerun = c.runner.rerun(&c.w.gh, &first);
    rerun.assert_succeeded(&["authorise", "plan-staging", "plan-production", "conclude"]);
    c.w.gh.assert_clean();
}
