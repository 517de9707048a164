//! With `sync.form`, a pull request's plan comment names the settings it
//! changes, each linked to its entry in the customer's reference (at the
//! pull request's commit), for one more request: the variables file on
//! the customer's default branch. Without `sync.form`, neither.

use crate::support::readme_budgets::Budgets;
use crate::world::{World, ACME};

const PLAN: &str = "`plan --dispatch`, per environment";

/// acme's pull request raising `max_instances` in staging, triggered,
/// then planned in staging: the plan's comment, and the requests the
/// plan sent.
fn planned(form: bool) -> (String, usize, String) {
    let mut w = World::new();
    if form {
        w.fx.append("manager/fleetform.yml", "\nsync:\n  form: true\n");
    }
    let vars = w.fx.read("customers/acme/infra/variables.yml");
    let changed = vars.replace("max_instances: 2", "max_instances: 3");
    assert_ne!(vars, changed);
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", &changed)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let (out, _files) = w.trigger_pr(ACME, pr, "feature", &sha);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    w.gh.reset_counters();
    let (out, _files) = w.plan_latest("staging");
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let sent = w.gh.request_count();
    let comment =
        w.gh.comments(ACME, pr)
            .into_iter()
            .map(|c| c.body)
            .find(|b| b.contains("environment=staging"))
            .expect("the staging plan's comment");
    (comment, sent, sha)
}

#[test]
fn a_plan_comment_links_the_settings_its_pull_request_changes() {
    let book = Budgets::from_book();
    let base = book.lead(PLAN) + book.n(PLAN, " for a pull request's plan");

    let (comment, sent, sha) = planned(true);
    assert!(
        comment.contains("Settings this pull request changes"),
        "{comment}"
    );
    let link = format!(
        "`environments.staging.max_instances` ([what it may be](https://github.com/{ACME}/blob/{sha}/infra/README.md#environmentsstagingmax_instances))"
    );
    assert!(comment.contains(&link), "no {link} in:\n{comment}");
    assert!(
        comment.contains(&format!("{link}\n\n**Plan digest**")),
        "{comment}"
    );
    assert_eq!(
        sent,
        base + book.n(
            PLAN,
            " with `sync.form` for the settings a pull request changes"
        ),
        "the base variables file, once"
    );

    let (comment, sent, _) = planned(false);
    assert!(
        !comment.contains("Settings this pull request changes"),
        "{comment}"
    );
    assert_eq!(sent, base);
}
