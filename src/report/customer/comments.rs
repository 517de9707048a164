//! The customer's pull request: what a comment says.

use super::super::markdown::{md_code, md_escape};
use super::{short, CustomerText};
use crate::data::Diagnostic;

/// What happened, for a comment on the customer's pull request. `marker`
/// is the sticky comment's hidden marker (`super::comment::product_marker`).
#[derive(Debug, Clone)]
pub enum Comment<'a> {
    /// The plan comment as [`super::comment::render_comment`] wrote it
    /// (from `templates/plan_comment.md.j2`), carried in the plan folder.
    Plan { rendered: &'a str },
    /// The plan's comment with the apply noted under it.
    Applied {
        plan_comment: &'a str,
        place: &'a str,
        run_url: Option<&'a str>,
    },
    /// Values that failed validation; `place` is `env` or
    /// ``product` / `env`` (already inside the code span).
    Invalid {
        marker: &'a str,
        place: &'a str,
        slug: &'a str,
        sha: &'a str,
        problems: &'a [Diagnostic],
    },
    /// A product that cannot plan yet: a product it needs must be applied
    /// here first.
    Waiting {
        marker: &'a str,
        label: &'a str,
        sha: &'a str,
        reason: &'a str,
    },
    /// A comment command fleetform did not run, and why.
    Refused { comment_id: u64, why: &'a str },
    /// A day-2 state operation on one customer × environment.
    StateOp(&'a StateOp<'a>),
    /// The answer on an issue from the change form: the pull request
    /// that has its change (opened now or updated), and what it changes.
    RequestMade {
        number: u64,
        changed: &'a [String],
        new: bool,
    },
    /// The answer on an issue from the form whose answers match the file.
    RequestUnchanged { variables: &'a str },
    /// The answer on an issue from the form that could not be made into a
    /// pull request: each problem (the field and the line, or the
    /// file's place and the schema's rule).
    RequestRefused { problems: &'a [String] },
}

/// The first line of fleetform's answer on an issue from the form: the
/// one comment it keeps up to date there.
pub const REQUEST_MARKER: &str = "<!-- fleetform:request -->";

/// What a day-2 operation did.
#[derive(Debug, Clone)]
pub enum Done<'a> {
    /// A state operation (`rm`, `import`, ...) on these operands.
    StateOp {
        name: &'a str,
        operands: &'a [String],
    },
    /// The apply of a targeted plan, with its flags.
    TargetedApply { flags: &'a [String] },
    /// The apply of a drift repair: what changed outside Terraform put
    /// back (`fleetform repair`).
    Repair,
    /// An adoption (`fleetform adopt apply`): objects that exist imported
    /// into the state; `updated`: with in-place updates the operator
    /// accepted.
    Adopted {
        addresses: &'a [String],
        updated: bool,
    },
    /// A release of an adoption (`fleetform adopt release`): the adopted
    /// addresses taken out of the state.
    Released { addresses: &'a [String] },
}

/// A state operation as the customer's pull request is told of it.
#[derive(Debug, Clone)]
pub struct StateOp<'a> {
    /// The unit (`customer/environment`).
    pub unit: &'a str,
    pub environment: &'a str,
    /// What was done.
    pub done: Done<'a>,
    /// Plain: `rm`, `replace`, ...
    pub operation: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub ok: bool,
    pub run_url: Option<&'a str>,
}

/// The body of a comment on the customer's pull request.
pub fn comment(what: &Comment<'_>) -> CustomerText {
    let text = match what {
        Comment::Plan { rendered } => rendered.to_string(),
        Comment::Applied {
            plan_comment,
            place,
            run_url,
        } => format!(
            "{plan_comment}\n---\n**Applied** to `{place}`{}.\n",
            run_url
                .map(|u| format!(" in [this run]({u})"))
                .unwrap_or_default()
        ),
        Comment::Invalid {
            marker,
            place,
            slug,
            sha,
            problems,
        } => invalid(marker, place, slug, sha, problems),
        Comment::Waiting {
            marker,
            label,
            sha,
            reason,
        } => format!(
            "{marker}\n### fleetform plan: {}\n\n**Not planned yet** at `{}`: {}. It plans on the next push after that apply.\n",
            md_code(label),
            short(sha),
            md_escape(reason)
        ),
        Comment::Refused { comment_id, why } => format!(
            "fleetform did not run the command of [this comment](#issuecomment-{comment_id}): {why}."
        ),
        Comment::StateOp(op) => state_op(op),
        Comment::RequestMade {
            number,
            changed,
            new,
        } => format!(
            "{REQUEST_MARKER}\n{} pull request #{number}: it changes\n\n{}\n\nThe provider plans it there; edit this issue to change the request (the pull request follows).",
            if *new { "Opened" } else { "Updated" },
            changed
                .iter()
                .map(|c| format!("- {}", md_code(c)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Comment::RequestUnchanged { variables } => format!(
            "{REQUEST_MARKER}\nNothing to change: every answer matches {} already. Edit this issue to ask for another value.",
            md_code(variables)
        ),
        Comment::RequestRefused { problems } => request_refused(problems),
    };
    CustomerText::body(&text)
}

/// At most this many problems are listed on the issue.
const REQUEST_PROBLEMS_SHOWN: usize = 50;

fn request_refused(problems: &[String]) -> String {
    let mut s = format!("{REQUEST_MARKER}\nThis request was not made into a pull request:\n\n");
    for p in problems.iter().take(REQUEST_PROBLEMS_SHOWN) {
        s.push_str(&format!("- {}\n", md_escape(p)));
    }
    let more = problems.len().saturating_sub(REQUEST_PROBLEMS_SHOWN);
    if more > 0 {
        s.push_str(&format!("- and {more} more\n"));
    }
    s.push_str(&format!(
        "\nEdit the issue to fix {} and fleetform tries again.\n",
        if problems.len() == 1 { "it" } else { "them" }
    ));
    s
}

fn invalid(marker: &str, place: &str, slug: &str, sha: &str, problems: &[Diagnostic]) -> String {
    let mut s = format!(
        "{marker}\n### fleetform plan: `{slug}` / `{place}`\n\n**Invalid variables** at `{}`: nothing was planned. Fix these and push again:\n\n",
        short(sha)
    );
    for p in problems {
        s.push_str(&format!(
            "- {}{}: {}\n",
            md_code(&p.location.to_string()),
            p.pointer
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" {}", md_code(p)))
                .unwrap_or_default(),
            md_escape(&p.message)
        ));
    }
    s
}

/// Each operand as inline code.
fn operands(ops: &[String]) -> String {
    ops.iter().map(|o| md_code(o)).collect::<Vec<_>>().join(" ")
}

fn state_op(op: &StateOp<'_>) -> String {
    let (what, meaning) = match &op.done {
        Done::StateOp { name, operands: o } => (
            format!("`state {name}` {}", operands(o)),
            match (*name, op.ok) {
                (_, false) => String::new(),
                ("rm", true) => {
                    " Terraform forgot these objects; they keep running, no longer managed here."
                        .into()
                }
                ("import", true) => {
                    " Terraform now manages this existing object; it was not touched.".into()
                }
                ("mv", true) => {
                    " Terraform's record was renamed; the object was not touched.".into()
                }
                _ => " The state lock was released.".into(),
            },
        ),
        Done::TargetedApply { flags } => (format!("apply of {}", operands(flags)), String::new()),
        Done::Repair => ("a drift repair".to_string(), String::new()),
        Done::Adopted { addresses, .. } => (
            format!("the adoption of {}", operands(addresses)),
            " Terraform now manages these existing objects.".into(),
        ),
        Done::Released { addresses } => (
            format!("the release of {}", operands(addresses)),
            " Terraform forgot these adopted objects; they keep running, no longer managed here."
                .into(),
        ),
    };
    let result = match (&op.done, op.ok) {
        (_, false) => "**failed**".to_string(),
        (Done::StateOp { .. }, true)
        | (Done::Adopted { updated: false, .. }, true)
        | (Done::Released { .. }, true) => {
            format!("done: **state only, nothing in your cloud changed**.{meaning}")
        }
        (Done::Adopted { updated: true, .. }, true) => format!(
            "done: imported, and the in-place updates the operator accepted were applied to your cloud.{meaning}"
        ),
        (Done::TargetedApply { .. }, true) => "done".to_string(),
        (Done::Repair, true) => {
            "done: what changed in your cloud outside Terraform was put back".to_string()
        }
    };
    format!(
        "**fleetform** on {}: {} by {} (`{}`): {result}\n\nReason: {}{}\n",
        md_code(op.unit),
        what,
        md_escape(op.actor),
        op.environment,
        md_escape(op.reason),
        op.run_url
            .map(|u| format!("\n\n[The run]({u})"))
            .unwrap_or_default(),
    )
}
