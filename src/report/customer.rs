//! Every text fleetform writes where a customer reads it, in the
//! customer's repo: the commit status descriptions of its context
//! (`infra/terraform-deploy`), the pull request comments (the plan comment
//! as [`super::comment`] renders it, invalid values, a product waiting, the
//! applied note, a comment command's refusal, a state operation's reply)
//! and the descriptions of the GitHub deployments on its repo. Callers pass
//! what happened ([`Status`], [`Comment`], [`Deployment`]) and get a
//! [`CustomerText`] back; the wording, the "what to do next" hints, the
//! escaping of customer values and the cap to GitHub's limits
//! ([`STATUS_LIMIT`], [`COMMENT_LIMIT`]) live here and nowhere else.
//!
//! [`CustomerText`] can only be built in this file, and the writers on the
//! customer's repo take nothing else (`deploy::status` and
//! `deploy::comment` for statuses and comments, `github::NewDeployment`
//! and the deployment statuses), so a call site cannot write its own text;
//! `tests/layout.rs` checks that no other file in `src/deploy/` calls the
//! GitHub writes directly. The relay (`src/relay/`) writes its own replies
//! for now.
//!
//! Every text is neutralised for a runner's log too (a trigger run with
//! `--wait` prints the manager's status description): no line starts with
//! a workflow command (`::`), and no `##[` anywhere.

use std::fmt;

use super::markdown::{md_code, md_escape};
use crate::data::summary::PlanSummary;
use crate::data::Diagnostic;
use crate::util::text::count;

pub use super::comment::COMMENT_LIMIT;

/// GitHub's limit on a commit status's and a deployment's description.
pub const STATUS_LIMIT: usize = 140;

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
fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// What happened, for a commit status description on the customer's
/// commit. `place` is the environment (or `product/environment`).
#[derive(Debug, Clone)]
pub enum Status<'a> {
    /// The plan failed; its error is in the manager's run.
    PlanFailed { place: &'a str },
    /// A product waits for a product it needs to be applied first.
    NotPlannedYet { place: &'a str, reason: &'a str },
    /// The customer's values are invalid (listed on the pull request).
    Invalid { place: &'a str, problems: usize },
    /// Applied, with Terraform's counts.
    Applied { place: &'a str, counts: &'a str },
    ApplyFailed { place: &'a str },
    ApplyRefused { place: &'a str, reason: &'a str },
    /// A plan (`applying: false`) or an apply that was due and did not
    /// finish (`conclude`).
    NotFinished {
        place: &'a str,
        applying: bool,
        reason: &'a str,
    },
    /// The customer's access was revoked on `date`.
    Revoked { date: &'a str },
    /// The trigger found invalid variables; nothing was dispatched.
    TriggerInvalid { problems: usize },
    /// The trigger dispatched to the manager.
    Queued,
    /// The trigger waited `secs` for the manager's answer in vain.
    ManagerSilent { secs: u64 },
    /// An environment without a status yet, in the combined status.
    NoResultYet { place: &'a str },
    /// What GitHub holds for an environment, written again as the
    /// combined status.
    Held { description: &'a str },
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
            let what = if *applying { "not applied" } else { "not planned" };
            format!("{place}: {what}: {reason}")
        }
        Revoked { date } => format!("customer access revoked {date}; contact the provider"),
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
        Some(v) if !v.allows() => (
            "failure",
            format!("{} · {}", summary.headline(), v.short()),
        ),
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
}

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
    };
    CustomerText::body(&text)
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
    let what = match &op.done {
        Done::StateOp { name, operands: o } => format!("`{name}` {}", operands(o)),
        Done::TargetedApply { flags } => format!("apply of {}", operands(flags)),
    };
    format!(
        "**fleetform** on {}: {} {} by {} (`{}`).\n\nReason: {}{}\n",
        md_code(op.unit),
        what,
        if op.ok { "done" } else { "**failed**" },
        md_escape(op.actor),
        op.environment,
        md_escape(op.reason),
        op.run_url
            .map(|u| format!("\n\n[The run]({u})"))
            .unwrap_or_default(),
    )
}

/// What happened, for a GitHub deployment (or its status) on the
/// customer's repo.
#[derive(Debug, Clone)]
pub enum Deployment<'a> {
    /// A dispatched apply of `place` from the manager at `manager_sha`.
    Dispatched { place: &'a str, manager_sha: &'a str },
    /// A rollout's apply.
    Rollout {
        rollout: &'a str,
        wave: &'a str,
        manager_sha: &'a str,
    },
    /// The apply is running.
    Applying,
    /// Applied the plan with this digest.
    Applied { plan_sha256: &'a str },
    Refused,
    Failed,
    /// How a rollout's apply ended, in the rollout's words.
    RolloutEnded { detail: &'a str },
    /// A day-2 state operation.
    StateOp {
        operation: &'a str,
        actor: &'a str,
        reason: &'a str,
    },
    /// How a state operation ended.
    StateOpEnded { operation: &'a str, ok: bool },
}

/// The description of a deployment or a deployment status.
pub fn deployment(what: &Deployment<'_>) -> CustomerText {
    use Deployment::*;
    let text = match what {
        Dispatched { place, manager_sha } => {
            format!("fleetform: {place} from manager {manager_sha}")
        }
        Rollout {
            rollout,
            wave,
            manager_sha,
        } => format!("fleetform rollout {rollout}, wave {wave}: manager {manager_sha}"),
        Applying => "applying".to_string(),
        Applied { plan_sha256 } => format!("applied plan sha256:{}", short(plan_sha256)),
        Refused => "refused; nothing was applied".to_string(),
        Failed => "the apply failed; see the run".to_string(),
        RolloutEnded { detail } => detail.to_string(),
        StateOp {
            operation,
            actor,
            reason,
        } => format!("fleetform {operation} by {actor}: {reason}"),
        StateOpEnded { operation, ok } => {
            format!("{operation} {}", if *ok { "success" } else { "failure" })
        }
    };
    CustomerText::line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::verdict::{GateResult, Verdict};
    use crate::yaml::{Location, Pos};

    /// A hostile value: long, several lines, workflow commands, Markdown,
    /// HTML, a mention and a hidden marker.
    fn hostile() -> String {
        let bad = "::error::x\n##[group]y\n  ::set-output name=a::b <b>@team</b> [l](http://x) <!-- m -->\r\n";
        bad.repeat(2_000)
    }

    fn statuses(h: &str) -> Vec<CustomerText> {
        let all = [
            Status::PlanFailed { place: h },
            Status::NotPlannedYet {
                place: h,
                reason: h,
            },
            Status::Invalid {
                place: h,
                problems: usize::MAX,
            },
            Status::Applied {
                place: h,
                counts: h,
            },
            Status::ApplyFailed { place: h },
            Status::ApplyRefused {
                place: h,
                reason: h,
            },
            Status::NotFinished {
                place: h,
                applying: true,
                reason: h,
            },
            Status::Revoked { date: h },
            Status::TriggerInvalid {
                problems: usize::MAX,
            },
            Status::Queued,
            Status::ManagerSilent { secs: u64::MAX },
            Status::NoResultYet { place: h },
            Status::Held { description: h },
        ];
        all.iter().map(status).collect()
    }

    fn deployments(h: &str) -> Vec<CustomerText> {
        let all = [
            Deployment::Dispatched {
                place: h,
                manager_sha: h,
            },
            Deployment::Rollout {
                rollout: h,
                wave: h,
                manager_sha: h,
            },
            Deployment::Applying,
            Deployment::Applied { plan_sha256: h },
            Deployment::Refused,
            Deployment::Failed,
            Deployment::RolloutEnded { detail: h },
            Deployment::StateOp {
                operation: h,
                actor: h,
                reason: h,
            },
            Deployment::StateOpEnded {
                operation: h,
                ok: false,
            },
        ];
        all.iter().map(deployment).collect()
    }

    fn problems(h: &str) -> Vec<Diagnostic> {
        let location = Location {
            file: h.into(),
            pos: Pos { line: 1, col: 1 },
        };
        let one = Diagnostic {
            location,
            pointer: Some(h.to_string()),
            message: h.to_string(),
        };
        vec![one; 50]
    }

    fn comments(h: &str) -> Vec<CustomerText> {
        let problems = problems(h);
        let ops = vec![h.to_string(); 20];
        let state_op = StateOp {
            unit: h,
            environment: h,
            done: Done::StateOp {
                name: h,
                operands: &ops,
            },
            operation: h,
            actor: h,
            reason: h,
            ok: false,
            run_url: Some(h),
        };
        let all = [
            Comment::Plan { rendered: h },
            Comment::Applied {
                plan_comment: h,
                place: h,
                run_url: Some(h),
            },
            Comment::Invalid {
                marker: "<!-- m -->",
                place: h,
                slug: h,
                sha: h,
                problems: &problems,
            },
            Comment::Waiting {
                marker: "<!-- m -->",
                label: h,
                sha: h,
                reason: h,
            },
            Comment::Refused {
                comment_id: u64::MAX,
                why: h,
            },
            Comment::StateOp(&state_op),
        ];
        all.iter().map(comment).collect()
    }

    /// What a runner would take for a workflow command.
    fn commands_in(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
            .collect()
    }

    #[test]
    fn every_message_fits_githubs_limits_and_holds_no_workflow_command() {
        let h = hostile();
        let lines = statuses(&h).into_iter().chain(deployments(&h));
        for t in lines {
            let t = t.as_str();
            assert!(t.chars().count() <= STATUS_LIMIT, "{t}");
            assert!(!t.contains(['\n', '\r']), "{t:?}");
            assert!(commands_in(t).is_empty(), "{t}");
        }
        for t in comments(&h) {
            let t = t.as_str();
            assert!(t.chars().count() <= COMMENT_LIMIT, "{}", t.len());
            assert!(commands_in(t).is_empty(), "{:?}", commands_in(t));
        }
        // Short values are kept whole: the cap cuts only what is too long.
        assert_eq!(
            status(&Status::ApplyRefused {
                place: "staging",
                reason: "no approval"
            })
            .as_str(),
            "staging: apply refused: no approval"
        );
        let cut = status(&Status::Held { description: &h });
        assert!(cut.as_str().ends_with('…'), "{cut}");
    }

    #[test]
    fn workflow_commands_are_neutralised_where_they_start_a_line() {
        assert_eq!(neutralise("::error::x"), "\\::error::x");
        assert_eq!(neutralise("a\n  ::warning::y"), "a\n  \\::warning::y");
        assert_eq!(neutralise("x ##[group] ###[z"), "x #\\#[group] ##\\#[z");
        // Mid-line `::` is plain text (a Terraform address, a time).
        assert_eq!(neutralise("aws_s3::x at 10:00"), "aws_s3::x at 10:00");
        // Already neutral text stays as it is.
        let once = neutralise("::a\n##[b");
        assert_eq!(neutralise(&once), once);
    }

    #[test]
    fn customer_values_in_comments_are_escaped() {
        // Values shown as escaped text; a code span (`md_code`) keeps
        // them inert as they are, so the places here are plain.
        let h = "<b>@team</b> [l](http://x) `code`";
        let problems = vec![Diagnostic {
            location: Location {
                file: "values/staging.yml".into(),
                pos: Pos { line: 3, col: 1 },
            },
            pointer: Some("/size".into()),
            message: h.to_string(),
        }];
        let invalid = comment(&Comment::Invalid {
            marker: "<!-- m -->",
            place: "staging",
            slug: "acme",
            sha: "0123456789abcdef",
            problems: &problems,
        });
        let waiting = comment(&Comment::Waiting {
            marker: "<!-- m -->",
            label: "net / staging",
            sha: "0123456789abcdef",
            reason: h,
        });
        let ops = vec!["aws_s3_bucket.logs".to_string()];
        let op = StateOp {
            unit: "acme/staging",
            environment: "staging",
            done: Done::StateOp {
                name: "rm",
                operands: &ops,
            },
            operation: "rm",
            actor: h,
            reason: h,
            ok: true,
            run_url: None,
        };
        let state_op = comment(&Comment::StateOp(&op));
        for body in [&invalid, &waiting, &state_op] {
            let body = body.as_str();
            assert!(!body.contains("<b>"), "{body}");
            assert!(!body.contains("@team"), "{body}");
            assert!(!body.contains("[l](http"), "{body}");
            assert!(body.contains("&lt;b&gt;"), "{body}");
        }
        assert!(invalid.as_str().contains("at `0123456789ab`"), "{invalid}");
        assert!(state_op.as_str().starts_with("**fleetform** on `acme/staging`: `rm` "));
    }

    fn summary(gates: Option<Verdict>) -> PlanSummary {
        PlanSummary {
            customer: "acme".into(),
            environment: "staging".into(),
            create: 1,
            update: 0,
            delete: 0,
            replace: 0,
            resources: Vec::new(),
            outputs: Vec::new(),
            has_changes: true,
            plan_sha256: "0".repeat(64),
            state_key: "acme/staging".into(),
            sha: None,
            gates,
            product: None,
            identity: None,
            lock_checksums_dropped: false,
            pin: None,
            never_applied: false,
            cloud_drift: Vec::new(),
            targeting: None,
        }
    }

    fn gate(passed: bool, waived: bool) -> Verdict {
        Verdict {
            results: vec![GateResult {
                gate: "max_deletes".into(),
                passed,
                waived,
                skipped: false,
                detail: String::new(),
                ..GateResult::default()
            }],
            waiver: waived.then(|| "fleetform-waive".to_string()),
        }
    }

    #[test]
    fn a_plan_whose_gates_block_is_a_failure() {
        let plain = summary(None);
        let (state, description) = plan_status(&plain, false);
        assert_eq!((state, description.as_str()), ("success", &*plain.headline()));
        let (state, description) = plan_status(&summary(Some(gate(false, false))), false);
        assert_eq!(state, "failure");
        assert!(
            description.as_str().ends_with(" · blocked by max_deletes"),
            "{description}"
        );
        let (state, description) = plan_status(&summary(Some(gate(false, true))), false);
        assert_eq!(state, "success");
        assert!(description.as_str().contains("waived"), "{description}");
    }

    #[test]
    fn an_apply_dispatchs_plan_with_changes_is_pending_until_the_apply() {
        let mut changed = summary(None);
        changed.has_changes = true;
        let (state, description) = plan_status(&changed, true);
        assert_eq!(state, "pending");
        assert!(
            description.as_str().ends_with(" · planned, waiting for apply"),
            "{description}"
        );
        // A pull request's plan, or nothing to apply: the plan is the result.
        assert_eq!(plan_status(&changed, false).0, "success");
        let mut same = summary(None);
        same.has_changes = false;
        assert_eq!(plan_status(&same, true).0, "success");
        // Blocked gates stay a failure: no apply follows.
        let mut blocked = summary(Some(gate(false, false)));
        blocked.has_changes = true;
        assert_eq!(plan_status(&blocked, true).0, "failure");
    }

    #[test]
    fn conclude_reads_the_applied_status_it_is_given() {
        let applied = status(&Status::Applied {
            place: "net/staging",
            counts: "+1 ~0 -0",
        });
        assert!(says_applied(applied.as_str(), "net/staging"));
        assert!(!says_applied(applied.as_str(), "db/staging"));
        let failed = status(&Status::ApplyFailed {
            place: "net/staging",
        });
        assert!(!says_applied(failed.as_str(), "net/staging"));
    }
}
