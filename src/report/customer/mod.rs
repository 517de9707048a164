//! Every text fleetform writes where a customer reads it, in the
//! customer's repo: the commit status descriptions of its context
//! (`infra/terraform-deploy`, here), the pull request comments
//! (`comments`: the plan comment as [`super::comment`] renders it from
//! `templates/plan_comment.md.j2`, invalid values, a product waiting, the
//! applied note, a comment command's refusal, a state operation's reply),
//! the descriptions of the GitHub deployments on its repo (`deployments`)
//! and what the customer's trigger run says in its log (`trigger`).
//! Callers pass what happened ([`Status`], [`Comment`], [`Deployment`],
//! [`Trigger`]) and get text back; the wording, the "what to do next /
//! contact the provider" hints, the escaping of customer values and the
//! cap to GitHub's limits ([`STATUS_LIMIT`], [`COMMENT_LIMIT`]) live here.
//!
//! What goes to GitHub is a [`CustomerText`], which only this module (and
//! its files) can build, and the writers on the customer's repo take
//! nothing else: `flows::github_loop::status` and `flows::github_loop::comment` for statuses and
//! comments, `github::NewDeployment` and the deployment statuses for
//! deployments. So a call site cannot word its own text;
//! `tests/views/customer_text.rs` checks that no other file of `deploy` or the
//! commands calls GitHub's status or comment writes itself. The relay's
//! answers about the customer's own run (`relay`: [`Refusal`]) are worded
//! here too; its HTTP protocol errors stay with the server.
//!
//! Every text is neutralised for a runner's log too (a trigger run with
//! `--wait` prints the manager's status description): no line starts with
//! a workflow command (`::`), and no `##[` anywhere. Customer values in
//! comments are Markdown-escaped or inside code spans (`report::markdown`).
//!
//! May import: `data` (plan summaries, diagnostics), `util::text`, and
//! `report::markdown` and `report::comment` beside it.

use std::fmt;

use crate::data::summary::PlanSummary;
use crate::util::text::count;

pub use super::comment::COMMENT_LIMIT;

mod comments;
mod deployments;
mod relay;
#[cfg(test)]
mod tests;
mod trigger;

pub use comments::{comment, Comment, Done, StateOp, REQUEST_MARKER};
pub use deployments::{deployment, Deployment};
pub use relay::{Refusal, CONTACT_PROVIDER};
pub use trigger::{trigger_line, Idle, Trigger};

/// GitHub's limit on a commit status's and a deployment's description.
pub const STATUS_LIMIT: usize = 140;
/// A relay answer's message, at most (a name of GitHub's is at most 100
/// characters: no real refusal comes near it).
pub const ANSWER_LIMIT: usize = 1_000;

/// What an apply dispatch's plan says while its apply is still to come.
pub const WAITING_FOR_APPLY: &str = "planned, waiting for apply";

/// Text for the customer's repo, worded, neutralised and capped here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerText(String);

impl CustomerText {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// One line for a status or a deployment: line breaks and control
    /// characters become spaces; capped to [`STATUS_LIMIT`] characters.
    fn line(s: &str) -> Self {
        let flat: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        CustomerText(cap(&neutralise(&flat), STATUS_LIMIT))
    }

    /// One line of an answer printed in the customer's log (the relay's
    /// refusals): as [`CustomerText::line`], capped to [`ANSWER_LIMIT`].
    fn answer(s: &str) -> Self {
        let flat: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        CustomerText(cap(&neutralise(&flat), ANSWER_LIMIT))
    }

    /// A comment body, capped to [`COMMENT_LIMIT`] characters.
    fn body(s: &str) -> Self {
        CustomerText(cap(&neutralise(s), COMMENT_LIMIT))
    }
}

impl fmt::Display for CustomerText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// No workflow command: a line that starts (after blanks) with `::` gets a
/// backslash before it, `##[` becomes `#\#[` (both read the same in
/// Markdown).
fn neutralise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        let lead = &line[..line.len() - body.len()];
        out.push_str(lead);
        if body.starts_with("::") {
            out.push('\\');
        }
        out.push_str(body);
    }
    // The replacement cannot form a new `##[`: one pass is enough.
    out.replace("##[", "#\\#[")
}

/// At most `n` characters, an ellipsis where it was cut.
fn cap(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first 12 characters of a commit sha.
pub(super) fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// What happened, for a commit status description on the customer's
/// commit. `place` is the environment (or `product/environment`).
#[derive(Debug, Clone)]
pub enum Status<'a> {
    /// The plan failed; its error is in the manager's run.
    PlanFailed {
        place: &'a str,
    },
    /// A product waits for a product it needs to be applied first.
    NotPlannedYet {
        place: &'a str,
        reason: &'a str,
    },
    /// The customer's values are invalid (listed on the pull request).
    Invalid {
        place: &'a str,
        problems: usize,
    },
    /// Applied, with Terraform's counts.
    Applied {
        place: &'a str,
        counts: &'a str,
    },
    ApplyFailed {
        place: &'a str,
    },
    ApplyRefused {
        place: &'a str,
        reason: &'a str,
    },
    /// A plan (`applying: false`) or an apply that was due and did not
    /// finish (`conclude`).
    NotFinished {
        place: &'a str,
        applying: bool,
        reason: &'a str,
    },
    /// The customer's access was revoked on `date`.
    Revoked {
        date: &'a str,
    },
    /// The trigger found invalid variables; nothing was dispatched.
    TriggerInvalid {
        problems: usize,
    },
    /// The trigger dispatched to the manager.
    Queued,
    /// The trigger waited `secs` for the manager's answer in vain.
    ManagerSilent {
        secs: u64,
    },
    /// An environment without a status yet, in the combined status.
    NoResultYet {
        place: &'a str,
    },
    /// What GitHub holds for an environment, written again as the
    /// combined status.
    Held {
        description: &'a str,
    },
}

/// The description of a status on the customer's commit.
pub fn status(what: &Status<'_>) -> CustomerText {
    use Status::*;
    let text = match what {
        PlanFailed { place } => format!("{place}: plan failed, see the run"),
        NotPlannedYet { place, reason } => format!("{place}: not planned yet, {reason}"),
        Invalid { place, problems } => format!(
            "{place}: invalid variables: {}",
            count(problems, "problem", "problems")
        ),
        Applied { place, counts } => format!("{place}: applied {counts}"),
        ApplyFailed { place } => format!("{place}: apply failed, see the run"),
        ApplyRefused { place, reason } => format!("{place}: apply refused: {reason}"),
        NotFinished {
            place,
            applying,
            reason,
        } => {
            let what = if *applying {
                "not applied"
            } else {
                "not planned"
            };
            format!("{place}: {what}: {reason}")
        }
        Revoked { date } => format!("customer access revoked {date}; {CONTACT_PROVIDER}"),
        TriggerInvalid { problems } => format!(
            "invalid variables: {}, see the trigger run",
            count(problems, "problem", "problems")
        ),
        Queued => "queued in manager".to_string(),
        ManagerSilent { secs } => format!("the manager never answered within {secs}s"),
        NoResultYet { place } => format!("{place}: no result yet"),
        Held { description } => description.to_string(),
    };
    CustomerText::line(&text)
}

/// Whether a status description GitHub holds is [`Status::Applied`]'s for
/// `place` (how `conclude` knows an apply reported).
pub fn says_applied(description: &str, place: &str) -> bool {
    description.starts_with(&format!("{place}: applied"))
}

/// The state and description of a finished plan: `failure` when its gates
/// block, with the verdict after the headline when there are gates. On an
/// apply dispatch (`apply_follows`) a plan with changes that its gates let
/// through is `pending`, [`WAITING_FOR_APPLY`]: nothing is applied yet, and
/// the apply (or `conclude`) writes the final state.
pub fn plan_status(summary: &PlanSummary, apply_follows: bool) -> (&'static str, CustomerText) {
    let (state, description) = match &summary.gates {
        Some(v) if !v.allows() => ("failure", format!("{} · {}", summary.headline(), v.short())),
        Some(v) => ("success", format!("{} · {}", summary.headline(), v.short())),
        None => ("success", summary.headline()),
    };
    let (state, description) = if state == "success" && apply_follows && summary.has_changes {
        ("pending", format!("{description} · {WAITING_FOR_APPLY}"))
    } else {
        (state, description)
    };
    (state, CustomerText::line(&description))
}
