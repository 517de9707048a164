//! Apply approvals on the customer's pull request (`approvals:` in
//! fleetform.yml), which hold on every GitHub plan: required reviewers on
//! environments of private repositories need GitHub Enterprise.
//!
//! An approval is a comment `/fleetform approve <digest prefix>` (or an
//! approving review that says it) on the pull request the plan came from,
//! by a listed user or an active member of a listed team (checked through
//! the API), written after the plan and never edited, whose prefix matches
//! the digest of the plan being applied. The pull request's author counts
//! only with `allow_author: true`; bots never do.

use crate::config::ApprovalRule;
use crate::error::Result;
use crate::github::GitHub;
use crate::policy::approval::{approvers_of, APPROVE_COMMAND, MIN_DIGEST_PREFIX};

use super::session::gh_err;

/// What is being approved.
pub(crate) struct Ask<'a> {
    pub repo: &'a str,
    pub pr: Option<u64>,
    /// The digest of the plan being applied.
    pub digest: &'a str,
    pub planned_at: Option<&'a str>,
}

/// The approvers (oldest approval first), or why there are not enough.
/// `gh` reads the pull request; `teams` answers team membership (a token
/// that can read the teams' organisation).
/// The approvers, and when the plan was approved (the time of the
/// approval that completed the rule, see
/// [`crate::policy::approval::approved_at`]).
pub(super) async fn check(
    gh: &GitHub,
    teams: &GitHub,
    rule: &ApprovalRule,
    ask: &Ask<'_>,
) -> Result<std::result::Result<(Vec<String>, Option<String>), String>> {
    check_at(gh, teams, rule, ask, &[]).await
}

/// [`check`], where `authors` (of the change: a rollout's pull request
/// author and pusher) never count, whatever `allow_author` says.
pub(crate) async fn check_excluding(
    gh: &GitHub,
    teams: &GitHub,
    rule: &ApprovalRule,
    ask: &Ask<'_>,
    authors: &[String],
) -> Result<std::result::Result<Vec<String>, String>> {
    Ok(check_at(gh, teams, rule, ask, authors)
        .await?
        .map(|(approvers, _)| approvers))
}

/// [`check_excluding`], and when the plan was approved.
async fn check_at(
    gh: &GitHub,
    teams: &GitHub,
    rule: &ApprovalRule,
    ask: &Ask<'_>,
    authors: &[String],
) -> Result<std::result::Result<(Vec<String>, Option<String>), String>> {
    let Some(pr) = ask.pr else {
        return Ok(Err("approvals are required here and are given on the pull request the commit came from, but no pull request is known for it; merge changes through a pull request, then push again".to_string()));
    };
    let (author, mut notes) = gh.review_notes(ask.repo, pr).await.map_err(gh_err)?;
    notes.extend(gh.comment_notes(ask.repo, pr).await.map_err(gh_err)?);
    notes.sort_by(|a, b| a.at.cmp(&b.at));
    let planned_at = ask.planned_at.and_then(|t| t.parse().ok());
    let candidates = approvers_of(
        &notes,
        ask.digest,
        planned_at,
        author.as_deref(),
        rule.allow_author,
    );
    let is_author = |l: &str| authors.iter().any(|a| a.eq_ignore_ascii_case(l));
    let (own, candidates): (Vec<String>, Vec<String>) =
        candidates.into_iter().partition(|l| is_author(l));
    let mut approvers = Vec::new();
    for login in candidates {
        if may_approve(teams, rule, &login).await? {
            approvers.push(login);
        }
    }
    if approvers.len() >= rule.required {
        let at = crate::policy::approval::approved_at(
            &notes,
            (ask.digest, planned_at),
            (author.as_deref(), rule.allow_author),
            &approvers,
            rule.required,
        );
        return Ok(Ok((approvers, at)));
    }
    let mut refusal = waiting(rule, ask, pr, &approvers);
    if !own.is_empty() {
        let who: Vec<String> = own.iter().map(|l| format!("`{l}`")).collect();
        refusal.push_str(&format!(
            " ({} wrote or pushed the change, so their approval does not count)",
            who.join(" and ")
        ));
    }
    Ok(Err(refusal))
}

/// A listed user, or an active member of a listed team.
async fn may_approve(gh: &GitHub, rule: &ApprovalRule, login: &str) -> Result<bool> {
    if rule.users.iter().any(|u| u.eq_ignore_ascii_case(login)) {
        return Ok(true);
    }
    for team in &rule.teams {
        let (org, slug) = team.split_once('/').unwrap_or((team, ""));
        if gh.is_team_member(org, slug, login).await.map_err(gh_err)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The refusal: how many approved, who may, and what to write where.
pub(super) fn waiting(rule: &ApprovalRule, ask: &Ask<'_>, pr: u64, approvers: &[String]) -> String {
    let prefix = &ask.digest[..MIN_DIGEST_PREFIX.min(ask.digest.len())];
    let so_far = if approvers.is_empty() {
        "none".to_string()
    } else {
        approvers.join(", ")
    };
    format!(
        "waiting for approval: {} of {} approvals of this plan (so far: {so_far}); {} comment `{APPROVE_COMMAND} {prefix}` on {}#{pr}, then re-run this job",
        approvers.len(),
        rule.required,
        rule.approvers_shown(),
        ask.repo
    )
}
