//! What the loop leaves on the manager: audit lines (refusals, waivers,
//! each plan and apply) and step summaries. Both are readable by everyone
//! with access to the manager repo, so nothing here quotes the customer's
//! values or Terraform's output.

use crate::audit::Entry;
use crate::ci::RunContext;
use crate::context::Context;
use crate::data::verdict::Verdict;
use crate::dispatch::Payload;
use crate::error::Error;
use crate::error::Result;
use crate::output::Output;
use crate::policy::PullFacts;

use super::event::read_event;

/// Records a refusal (with the payload's customer when it could be read):
/// keyed by the registry's slug of the sending repo, as every other
/// record is, so the audit report counts it with the customer's; a repo
/// the registry does not have stays its `owner/name`.
pub fn audit_refusal(r: &Result<()>, what: &str, manager_dir: &std::path::Path, cx: &Context) {
    if let Err(Error::Refused(m)) = r {
        let ctx = RunContext::from_env();
        let payload = read_event(&ctx).ok().map(|d| d.payload);
        let mut e = Entry::now("refusal", "refused").detail(format!("{what}: {m}"));
        let mut customer = None;
        if let Some(p) = payload {
            let slug = crate::config::load(manager_dir)
                .ok()
                .and_then(|(_, registry)| {
                    // The relay's id before the name, as `authorise` finds it.
                    p.repo_id
                        .and_then(|id| registry.by_repo_id(id))
                        .or_else(|| registry.by_repo(&p.customer_repo))
                        .map(|c| c.slug.clone())
                });
            let who = slug.unwrap_or_else(|| p.customer_repo.clone());
            e = e
                .customer(&who)
                .sha(Some(&p.sha))
                .dispatch(Some(&p.dispatch_id));
            customer = Some(who);
        }
        cx.record(e);
        // The run's summary says it was refused (an empty one says nothing).
        let _ = ctx.append_summary(&crate::report::summary::refused(
            what,
            m,
            customer.as_deref(),
        ));
    }
}

/// An audit entry about `customer`/`env` at the dispatch's sha.
pub(super) fn entry(
    action: &str,
    result: &str,
    customer: &str,
    env: &str,
    payload: &Payload,
) -> Entry {
    Entry::now(action, result)
        .customer(customer)
        .environment(env)
        .sha(Some(&payload.sha))
        .dispatch(Some(&payload.dispatch_id))
}

/// One audit line per waived gate: who waived (the PR author who carries
/// the label, and the actor of this run) and why.
pub(super) fn audit_waivers(
    cx: &Context,
    verdict: &Verdict,
    pull: Option<&PullFacts>,
    customer: &str,
    env: &str,
    payload: &Payload,
    stage: &str,
) {
    let Some(label) = &verdict.waiver else { return };
    for r in verdict.results.iter().filter(|r| r.waived) {
        cx.record(entry("waiver", "waived", customer, env, payload).detail(format!(
                "{stage}: gate `{}` waived by label `{label}` on PR #{} (author {}): {}",
                r.gate,
                pull.map(|p| p.number).unwrap_or_default(),
                pull.and_then(|p| p.author.clone()).unwrap_or_else(|| "unknown".into()),
                pull.and_then(|p| p.waiver_reason.clone()).unwrap_or_else(|| "no reason given (add a `fleetform-waiver: <reason>` line to the PR description)".into())
            )),
        );
    }
}

/// A run error without the customer's values or Terraform's output, for
/// the manager's log: those go to the customer's pull request.
pub(super) fn values_free(e: &Error) -> String {
    match e {
        Error::Values(d) => format!(
            "{} in the customer's variables (listed on the customer's pull request)",
            crate::util::text::count(d.len(), "problem", "problems")
        ),
        Error::Terraform(_) => format!("{} (the log is in the sealed bundle)", e.short()),
        Error::Refused(m) | Error::Waiting(m) | Error::Withheld(m) => {
            format!("refused: {}", m.one_line())
        }
        other => other.short(),
    }
}

/// What a run sent to GitHub, for its log: each request a dry run
/// withheld (a note), and how many were sent (verbose).
pub(super) fn note_requests(
    out: &Output,
    requests: usize,
    withheld: &[crate::github::PlannedRequest],
) {
    for r in withheld {
        out.note(&format!(
            "dry run: would send {} {} {}",
            r.method,
            r.path,
            r.body.as_ref().map(|b| b.to_string()).unwrap_or_default()
        ));
    }
    out.verbose(&crate::util::text::count(
        requests,
        "GitHub API request",
        "GitHub API requests",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_errors_reach_the_manager_log_without_values() {
        assert_eq!(
            values_free(&Error::Values(Vec::new())),
            "0 problems in the customer's variables (listed on the customer's pull request)"
        );
        assert_eq!(
            values_free(&Error::refused("plan digest differs")),
            "refused: plan digest differs"
        );
    }
}
