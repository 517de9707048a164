//! The times plans and applies are measured by against `sla:` (see
//! `fleet::sla`), from GitHub's own timestamps: when GitHub made the run
//! for the customer's event (the workflow run's `created_at`, read here:
//! the plan's dispatch, or the apply's — the customer's go-ahead, a merge
//! or `/fleetform apply`), when it wrote the plan comment (the comment
//! write's answer, see `comment`) and the apply's final deployment status
//! (its answer, see `deployments`). The runner's clock measures nothing.

use crate::audit::Entry;
use crate::ci::RunContext;
use crate::config::Manager;
use crate::context::Context;
use crate::error::Result;
use crate::github::GitHub;
use crate::output::Output;

/// The manager's client to read this run by, when `sla:` promises a plan
/// time in some environment (else nothing is read). Made before the
/// async part, as the re-run check's.
pub(super) fn client(
    rt: &tokio::runtime::Runtime,
    manager: &Manager,
    ctx: &RunContext,
    cx: &Context,
) -> Result<Option<(GitHub, String)>> {
    if !manager.config.sla.values().any(|t| t.plan_within.is_some()) {
        return Ok(None);
    }
    super::session::manager_client(rt, ctx, cx).map(Some)
}

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
