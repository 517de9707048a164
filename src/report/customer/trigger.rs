//! What the customer's trigger run says in its log (printed through
//! `output`, which keeps workflow commands out): where the values went,
//! what the manager answered, and why a run has nothing to send.

use super::{short, status, Status};
use crate::util::text::count;

/// What happened in a trigger run.
#[derive(Debug, Clone)]
pub enum Trigger<'a> {
    /// The dispatch went to the manager (or a dry run would have sent it).
    Sent {
        dry_run: bool,
        event_type: &'a str,
        manager_repo: &'a str,
        customer_repo: &'a str,
        sha: &'a str,
        dispatch_id: &'a str,
    },
    /// The relay dispatched it.
    SentThroughRelay {
        event_type: &'a str,
        customer: &'a str,
        sha: &'a str,
    },
    /// The values are invalid: nothing was sent.
    Invalid { problems: usize },
    /// With `--wait`: the manager's status on the commit.
    Answered {
        state: &'a str,
        description: &'a str,
        link: &'a str,
    },
    /// With `--wait`: no answer in time.
    NeverAnswered {
        secs: u64,
        dispatch_id: &'a str,
        manager_repo: &'a str,
    },
    /// Nothing to run for this event (a note, not a failure).
    Idle(Idle<'a>),
}

/// Why a trigger run has nothing to send.
#[derive(Debug, Clone)]
pub enum Idle<'a> {
    /// A push that deleted its branch.
    BranchDeleted,
    /// A comment edited or deleted (`action`), not a new one.
    CommentNotNew { action: &'a str },
    /// A comment on an issue, not on a pull request.
    CommentOnIssue,
    /// A comment that is not a command.
    NotACommand,
    /// The comment's pull request is closed.
    PullRequestClosed { pr: u64 },
    /// The repository has no such pull request.
    NoPullRequest { repo: &'a str, pr: u64 },
}

/// The line (a result, or an error's message) for the trigger's log.
pub fn trigger_line(what: &Trigger<'_>) -> String {
    match what {
        Trigger::Sent {
            dry_run,
            event_type,
            manager_repo,
            customer_repo,
            sha,
            dispatch_id,
        } => format!(
            "{} {event_type} sent to {manager_repo} for {customer_repo}@{} (dispatch {dispatch_id})",
            if *dry_run { "would have" } else { "" },
            short(sha),
        )
        .trim()
        .to_string(),
        Trigger::SentThroughRelay {
            event_type,
            customer,
            sha,
        } => format!(
            "dispatched {event_type} for {customer} at {} through the relay",
            short(sha)
        ),
        Trigger::Invalid { problems } => format!(
            "{} in the variables; nothing was sent to the manager",
            count(problems, "problem", "problems")
        ),
        Trigger::Answered {
            state,
            description,
            link,
        } => {
            // What GitHub holds, as the customer's commit shows it.
            let description = status(&Status::Held { description });
            match *state {
                "success" => format!("the manager answered: {description} {link}")
                    .trim_end()
                    .to_string(),
                _ => format!("the manager answered `{state}`: {description} {link}"),
            }
        }
        Trigger::NeverAnswered {
            secs,
            dispatch_id,
            manager_repo,
        } => format!(
            "the manager never answered within {secs}s (dispatch {dispatch_id}): check the Actions runs of {manager_repo} and its SOURCE_REPOS_PAT"
        ),
        Trigger::Idle(why) => idle(why),
    }
}

fn idle(why: &Idle<'_>) -> String {
    match why {
        Idle::BranchDeleted => "the branch was deleted; nothing to plan".into(),
        Idle::CommentNotNew { action } => {
            format!("comment {action}: only a new comment runs a command; nothing to do")
        }
        Idle::CommentOnIssue => {
            "a comment on an issue, not on a pull request: nothing to do".into()
        }
        Idle::NotACommand => "the comment is not a fleetform command: nothing to do".into(),
        Idle::PullRequestClosed { pr } => format!("#{pr} is closed: nothing to do"),
        // Worded as the relay's refusal of the same.
        Idle::NoPullRequest { repo, pr } => super::Refusal::NoPullRequest { repo, pr: *pr }
            .message()
            .to_string(),
    }
}
