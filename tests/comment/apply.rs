//! An apply asked for by a comment command, end to end against the fake
//! GitHub with real Terraform: `/fleetform apply -e staging` (an
//! `auto_apply` environment) on a customer's pull request plans and applies
//! the pull request's head, and says so in the commit status
//! `infra/terraform-deploy` and on the pull request; the same comment from
//! a reader applies nothing.

use crate::common::{self, stderr};
use crate::world::{ok, World, ACME, MANAGER};

const STATE: &str = ".fleetform/state/acme/staging/terraform.tfstate";

/// The customer's token trigger on a new comment `id` (text `body`) on
/// pull request `pr`, in a checkout of its head `head`.
fn trigger_comment(w: &mut World, pr: u64, (id, body): (u64, &str), head: &str) {
    let (out, _) =
        crate::comment::commands::trigger_comment(w, pr, true, (id, body, "created"), head);
    ok(&out);
}

/// The `infra/terraform-deploy` status of `sha`: (state, description).
fn deploy_status(w: &World, sha: &str) -> (String, String) {
    let s =
        w.gh.status_of(ACME, sha, "infra/terraform-deploy")
            .unwrap_or_else(|| panic!("no deploy status: {:?}", w.gh.statuses(ACME, sha)));
    (s.state, s.description.unwrap_or_default())
}

#[test]
fn a_writers_apply_command_applies_the_head_and_a_readers_applies_nothing() {
    let mut w = World::new();
    let head = w.change_acme("feature", 3);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    let command = "/fleetform apply -e staging";
    w.gh.add_collaborator_as(ACME, "reader", "direct", "read");
    w.gh.add_collaborator_as(ACME, "writer", "direct", "write");
    // The pull request's own plans, as its trigger asks for them.
    ok(&w.trigger_pr(ACME, pr, "feature", &head).0);
    let opened = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    for env in ["staging", "production"] {
        ok(&w.plan_event(&opened, env).0);
    }

    // The reader's command: refused when planned, nothing planned.
    let by_reader = w.gh.add_comment(ACME, pr, "reader", command);
    trigger_comment(&mut w, pr, (by_reader, command), &head);
    let readers = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(readers["event_type"], "fleetform-apply");
    let (out, _) = w.plan_latest("staging");
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("@reader has `read` permission"),
        "{}",
        stderr(&out)
    );

    // The writer's: planned at the head.
    let by_writer = w.gh.add_comment(ACME, pr, "writer", command);
    trigger_comment(&mut w, pr, (by_writer, command), &head);
    let writers = w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(
        writers["client_payload"]["sha"].as_str(),
        Some(head.as_str())
    );
    let (out, files) = w.plan_latest("staging");
    ok(&out);
    let digest = files.outputs()["plan_sha256"].clone();

    // The reader's dispatch cannot reach the apply either, even with the
    // writer's plan on disk: the apply checks the comment again.
    let (out, _) = w.apply_latest_of(&readers, "staging", &digest);
    common::assert_code(&out, 3);
    assert!(
        !w.fx.manager().join(STATE).exists(),
        "nothing was applied: {}",
        stderr(&out)
    );

    let (out, _) = w.apply_latest_of(&writers, "staging", &digest);
    ok(&out);
    assert!(w.fx.manager().join(STATE).exists(), "the head was applied");
    assert_eq!(
        deploy_status(&w, &head),
        (
            "success".to_string(),
            "staging: applied +3 ~0 -0".to_string()
        )
    );
    let comments = w.gh.comments(ACME, pr);
    let staging = comments
        .iter()
        .find(|c| c.body.contains("environment=staging"))
        .expect("the staging plan comment");
    assert!(
        staging.body.contains(&head[..12]) && staging.body.contains("**Applied** to `staging`"),
        "{}",
        staging.body
    );
    assert_eq!(
        w.gh.reactions(ACME, by_writer),
        vec![(w.gh.bot_login(), "rocket".to_string())]
    );
    // The reader was told why, and the reader's comment got no reaction.
    assert!(comments.iter().any(|c| c.user == w.gh.bot_login()
        && c.body.contains(&format!("issuecomment-{by_reader}"))
        && c.body.contains("comment commands need `write`")));
    assert!(w.gh.reactions(ACME, by_reader).is_empty());
    w.gh.assert_clean();
}
