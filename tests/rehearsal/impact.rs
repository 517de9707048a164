//! A manager pull request's impact, as the impact workflow's header tells
//! a provider to set it up: the fleet on the test cloud (`on_cloud`), the
//! environment `impact-plan` with required reviewers. A pull request
//! changes production's defaults: the `impact` job answers from the
//! deployment records (a sticky comment and the status `fleetform/impact`
//! on its head) with nothing but its GITHUB_TOKEN; after a reviewer
//! approves, the `plan` jobs plan the affected pairs and `merge` adds the
//! plans to the same comment.

use serde_json::json;

use super::on_cloud::OnCloud;
use crate::support::actions_runner::Event;
use crate::support::fake_github::Environment;
use crate::world::MANAGER;

#[test]
fn a_manager_pull_request_is_answered_with_its_impact_and_plans() {
    let mut c = OnCloud::applied("");
    let gh = &c.w.gh;
    gh.set_environment(
        MANAGER,
        "impact-plan",
        Environment {
            reviewers: vec!["provider-lead".into()],
            prevent_self_review: true,
            ..Default::default()
        },
    );

    let base = gh.branch_head(MANAGER, "main").unwrap();
    let values = c.w.fx.read("manager/values/production.yml");
    gh.create_branch(MANAGER, "tier-2", "main");
    let head = gh.commit(
        MANAGER,
        "tier-2",
        &[(
            "values/production.yml",
            &values.replace("tier: production", "tier: production-2"),
        )],
    );
    let pr = gh.open_pr(MANAGER, "tier-2", "main", "production: tier 2");
    let event = Event {
        name: "pull_request".into(),
        payload: json!({
            "action": "opened",
            "number": pr,
            "pull_request": {
                "number": pr,
                "head": {"sha": head, "ref": "tier-2"},
                "base": {"sha": base, "ref": "main"},
                "user": {"login": "provider-dev"},
            },
        }),
        git_ref: format!("refs/pull/{pr}/merge"),
        actor: "provider-dev".into(),
        inputs: json!(null),
    };
    c.runner.approve("impact-plan", "provider-lead");
    let run = c.runner.run(&c.w.gh, "workflows/manager-pr.yml", &event);
    run.assert_succeeded(&["impact", "matrix", "plan", "merge"]);
    let gh = &c.w.gh;
    let comments = gh.comments(MANAGER, pr);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    let body = &comments[0].body;
    for pair in ["acme", "globex"] {
        assert!(body.contains(pair), "{pair} in the impact:\n{body}");
    }
    // What changes, key by key, and the approved plans merged in.
    for said in [
        "**2 of 4 pairs change**",
        "`/tags/tier` (`values/production.yml:7:9`)",
        "Plan 2: 1 pair; update 4",
    ] {
        assert!(body.contains(said), "{said}:\n{body}");
    }
    let status = gh
        .status_of(MANAGER, &head, "fleetform/impact")
        .expect("the impact's status");
    assert_eq!(status.state, "success", "{status:?}");
    gh.assert_clean();
}
