//! The times plans and applies are measured by against `sla:` (see
//! `fleet::sla`), from GitHub's own timestamps: when the customer's job
//! asked the relay (its OIDC token's `iat`, carried in the relay's batch
//! entry, [`plan_start`]), else when GitHub made the run for the
//! customer's event (the workflow run's `created_at`, read here: the
//! plan's dispatch, or the apply's — the customer's go-ahead, a merge or
//! `/fleetform apply`), when it wrote the plan comment (the comment
//! write's answer, see `comment`), when the apply was approved
//! ([`approval_time`]) and the apply's final deployment status (its
//! answer, see `deployments`). The runner's clock measures nothing.

use super::event::Dispatched;
use crate::audit::Entry;
use crate::ci::RunContext;
use crate::config::Manager;
use crate::context::Context;
use crate::error::Result;
use crate::github::GitHub;
use crate::output::Output;

/// The manager's client to read this run by, when `sla:` promises a plan
/// time in some environment and the dispatch carries no time of the
/// customer's own (else nothing is read). Made before the async part, as
/// the re-run check's.
pub(super) fn client(
    rt: &tokio::runtime::Runtime,
    manager: &Manager,
    dispatched: &Dispatched,
    (ctx, cx): (&RunContext, &Context),
) -> Result<Option<(GitHub, String)>> {
    if dispatched.asked_at.is_some()
        || !manager.config.sla.values().any(|t| t.plan_within.is_some())
    {
        return Ok(None);
    }
    super::session::manager_client(rt, ctx, cx).map(Some)
}

/// Where a plan's time starts, and which time that is
/// (`audit::Times::event_from`): GitHub's time of the customer's ask,
/// which the relay verified and carried in its batch entry (only the
/// relay's entries carry one, `dispatch::Batch`): the customer job's OIDC
/// token's `iat` when a trigger asked (its payload names the trigger's
/// run), else GitHub's own time of the event (a signed webhook delivery's,
/// or a pull request's `updated_at` that `poll` read); else when GitHub
/// made this run ([`run_created`]), which a direct or single dispatch has
/// to go by. Nothing without `sla:`'s plan promise.
pub(super) async fn plan_start(
    manager: &Manager,
    dispatched: &Dispatched,
    client: Option<&(GitHub, String)>,
    ctx: &RunContext,
    out: &Output,
) -> (Option<String>, Option<String>) {
    if !manager.config.sla.values().any(|t| t.plan_within.is_some()) {
        return (None, None);
    }
    if let Some(at) = dispatched.asked_at {
        let from = match dispatched.payload.trigger_run_url {
            Some(_) => FROM_TOKEN,
            None => FROM_EVENT,
        };
        return (Some(crate::audit::rfc3339(at)), Some(from.into()));
    }
    match run_created(client, ctx, out).await {
        Some(at) => (Some(at), Some(FROM_RUN.into())),
        None => (None, None),
    }
}

/// `event_from` of a plan measured from the customer job's token.
pub const FROM_TOKEN: &str = "token";
/// `event_from` of a plan measured from GitHub's own time of the event,
/// which the relay carried: in its signed webhook delivery (a push's
/// `repository.pushed_at`, a pull request's `updated_at`, a comment's
/// `created_at`), or a pull request's `updated_at` as `poll` listed it.
pub const FROM_EVENT: &str = "event";
/// `event_from` of a plan measured from the manager run's creation.
pub const FROM_RUN: &str = "run";

/// When GitHub made this apply's run, when `sla:` promises an apply time
/// in `env` (else nothing is read).
pub(super) async fn apply_asked(
    manager: &Manager,
    env: &str,
    client: &(GitHub, String),
    ctx: &RunContext,
    out: &Output,
) -> Option<String> {
    manager.config.sla.get(env)?.apply_within.as_ref()?;
    run_created(Some(client), ctx, out).await
}

/// When GitHub made this run (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`,
/// 1 request, `actions: read`): the dispatch's arrival, which the
/// customer's event sent. Unread (a note, no time) when the request fails:
/// a plan is never refused for its measurement.
pub(super) async fn run_created(
    client: Option<&(GitHub, String)>,
    ctx: &RunContext,
    out: &Output,
) -> Option<String> {
    let (gh, repo) = client?;
    let run_id: u64 = ctx.run_id.as_deref()?.parse().ok()?;
    match gh.workflow_run(repo, run_id).await {
        Ok(run) => run.created_at,
        Err(e) => {
            out.note(&format!(
                "run {run_id} was not read, so this plan is not measured against `sla:`: {e}"
            ));
            None
        }
    }
}

/// When the apply was approved, which `apply_within:` counts from (a
/// promise after approval: the reviewer's wait is not the provider's):
///
/// - approvals on the pull request (`approvals:`): when the last approval
///   needed was given (its review's or comment's time), or the go-ahead
///   (`go_ahead`: when GitHub made the apply's run) when that came later,
///   as the apply cannot start before it;
/// - reviewers on the environment (`env_reviewed`): GitHub's review
///   history of a run has no time, so when the apply began (`began`: the
///   `in_progress` status of its deployment, which GitHub writes once the
///   job runs, that is after the approval);
/// - no approval (`auto_apply`): the go-ahead.
pub(super) fn approval_time(
    go_ahead: Option<&str>,
    approved_at: Option<&str>,
    (env_reviewed, began): (bool, Option<&str>),
) -> Option<String> {
    let later = |a: &str, b: &str| match (seconds(a), seconds(b)) {
        (Some(x), Some(y)) if y > x => b.to_string(),
        _ => a.to_string(),
    };
    match (approved_at, env_reviewed) {
        (Some(at), _) => Some(match go_ahead {
            Some(g) => later(at, g),
            None => at.to_string(),
        }),
        (None, true) => began.map(str::to_string),
        (None, false) => go_ahead.map(str::to_string),
    }
}

fn seconds(t: &str) -> Option<i64> {
    crate::fleet::sla::seconds(t)
}

/// A plan or apply whose GitHub times, as `e` records them, exceed what
/// `sla:` promises: an `sla_breach` notice for the targets that asked.
pub(super) fn notify_breach(manager: &Manager, e: &Entry, cx: &Context) {
    let all = crate::fleet::sla::Window {
        since: i64::MIN / 2,
        until: i64::MAX / 2,
    };
    let (samples, _) =
        crate::fleet::sla::samples(std::slice::from_ref(e), &manager.config.sla, all);
    for s in samples.iter().filter(|s| s.breached()) {
        let target = s.target_secs.unwrap_or_default();
        let notice = crate::notify::Notice::new(
            crate::config::NotifyEvent::SlaBreach,
            format!(
                "{} ({}) took {}, {} promised",
                s.measure.as_str(),
                s.measure.span(),
                crate::report::sla::duration(s.secs),
                crate::report::sla::duration(target)
            ),
        )
        .unit(&s.customer, &s.environment, s.product.as_deref());
        cx.notify(manager, &notice);
    }
}

#[cfg(test)]
mod tests {
    use super::approval_time;

    #[test]
    fn an_apply_is_measured_from_its_approval() {
        let (merge, review, began) = (
            "2026-11-02T10:00:00Z",
            "2026-11-02T13:00:00Z",
            "2026-11-02T15:00:00Z",
        );
        // Approved on the pull request three hours after the merge.
        assert_eq!(
            approval_time(Some(merge), Some(review), (false, Some(began))).as_deref(),
            Some(review)
        );
        // Approved before the merge: the merge is the start.
        assert_eq!(
            approval_time(Some(review), Some(merge), (false, None)).as_deref(),
            Some(review)
        );
        // A reviewer on the environment: when the apply began.
        assert_eq!(
            approval_time(Some(merge), None, (true, Some(began))).as_deref(),
            Some(began)
        );
        assert_eq!(approval_time(Some(merge), None, (true, None)), None);
        // Nothing to approve: the go-ahead.
        assert_eq!(
            approval_time(Some(merge), None, (false, Some(began))).as_deref(),
            Some(merge)
        );
    }
}
