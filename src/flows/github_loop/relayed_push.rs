//! A push the relay dispatched, made whole by the manager.
//!
//! The relay sends every push on a branch (and a manual run on one) as
//! `fleetform-apply` and names no pull request: its caller's OIDC token
//! proves the repository (by id), the commit and the branch, and the relay
//! reads nothing more per push, so a burst of a thousand customers' pushes
//! costs it batch writes only, no token mint and no read per customer.
//! The manager reads the rest from GitHub, with the customer App's token its
//! jobs hold for the repository anyway, before anything uses the event:
//!
//! - the repository (`GET /repos/{owner}/{repo}`, Metadata: read): its id
//!   must be the dispatch's `repo_id`, and a push on any branch but the
//!   default one is planned only (`fleetform-plan`), never applied;
//! - on the default branch, the commit (`GET
//!   /repos/{owner}/{repo}/commits/{ref}`, Contents: read): the pull request
//!   its title names (`Merge pull request #N …`, `Title (#N)`), on which the
//!   plan is reported, as the customer's own trigger does without a relay.
//!
//! A dispatch that already names its pull request (the relay's webhook,
//! which has GitHub's own push payload) or was not sent by the relay is
//! left as it is.

use crate::config::Manager;
use crate::dispatch::{pr_from_commit_message, EVENT_APPLY, EVENT_PLAN};
use crate::error::{Error, Result};
use crate::github::GitHub;

use super::event::{Dispatched, Stage};
use super::session::gh_err;

/// Whether `dispatched` is a push the relay left to the manager.
fn left_to_the_manager(manager: &Manager, dispatched: &Dispatched) -> bool {
    let Some(relay) = &manager.config.relay else {
        return false;
    };
    let p = &dispatched.payload;
    dispatched.sender.as_deref() == Some(relay.sender_login().as_str())
        && dispatched.event_type == EVENT_APPLY
        && matches!(p.event.as_str(), "push" | "workflow_dispatch")
        && p.comment.is_none()
        && p.pr.is_none()
        && p.repo_id.is_some()
}

/// Makes a relayed push whole (module docs): the event type it really is
/// and the pull request its commit merged. At most two reads, only for a
/// push the relay left to the manager.
pub async fn resolve(
    manager: &Manager,
    gh: &GitHub,
    dispatched: &mut Dispatched,
    stage: Stage,
) -> Result<()> {
    if !left_to_the_manager(manager, dispatched) {
        return Ok(());
    }
    let p = &dispatched.payload;
    let repo = p.customer_repo.clone();
    let facts = gh.repo_facts(&repo).await.map_err(gh_err)?.ok_or_else(|| {
        Error::refused(format!(
            "{repo} cannot be read with the customer App's token; {}",
            stage.nothing_done()
        ))
    })?;
    if Some(facts.id) != p.repo_id {
        return Err(Error::refused(format!(
            "{repo} is repository {} on GitHub, not the dispatch's {}; {}",
            facts.id,
            p.repo_id.unwrap_or_default(),
            stage.nothing_done()
        )));
    }
    if p.git_ref != format!("refs/heads/{}", facts.default_branch) {
        // Another branch: planned, never applied.
        dispatched.event_type = EVENT_PLAN.to_string();
        return Ok(());
    }
    let title = gh.commit_title(&repo, &p.sha).await.map_err(gh_err)?;
    dispatched.payload.pr = pr_from_commit_message(&title);
    Ok(())
}
