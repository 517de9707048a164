//! Writing a rollout's events: each one create-only (the next number is
//! the lock), then its audit line and, for what people must act on, a
//! notice.
//!
//! A rollout's apply is an audit line like any apply (`apply`, `ok` or
//! `failed`, with the approver as its actor), so `audit report`, the
//! dashboard's grid and its weekly chart count it.

use crate::audit::Entry;
use crate::config::Manager;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::records::RecordsError;

use super::records_err;
use super::settings::Fleet;
use super::state::{append, load, Event, State};

/// Appends the event and writes its audit line.
pub(super) fn record(f: &Fleet<'_>, s: &mut State, event: Event, cx: &Context) -> Result<()> {
    record_if(f, s, event, cx, &|_| true).map(drop)
}

/// Appends the event while `still` holds for the state: when another job
/// wrote the next event first, the state is read again and `still` asked
/// again (so a stage is never marked done twice, nor after a halt). Whether
/// it was written.
pub(super) fn record_if(
    f: &Fleet<'_>,
    s: &mut State,
    event: Event,
    cx: &Context,
    still: &dyn Fn(&State) -> bool,
) -> Result<bool> {
    for _ in 0..50 {
        if !still(s) {
            return Ok(false);
        }
        match append(f.store, s, event.clone()) {
            Ok(()) => {
                audit(cx, s, &event);
                notify(f.manager, cx, &s.id, &event);
                return Ok(true);
            }
            Err(RecordsError::Exists { .. }) => {
                *s = load(f.store, &s.id).map_err(records_err)?;
            }
            Err(e) => return Err(records_err(e)),
        }
    }
    Err(Error::failed(
        Say::new("rollout records: too many jobs writing at once").help("run the tick again"),
    ))
}

/// How a rollout's apply was let through: on a workstation, by hand; on
/// GitHub Actions, approved when the wave's approver is not who ran the
/// tick (the gate never takes the runner's own approval), else automatic.
fn approval_of(e: &Entry, applied_by: &str, unreviewed: bool) -> crate::audit::Approval {
    use crate::audit::Approval;
    if unreviewed {
        Approval::Unreviewed
    } else if e.run_url.is_none() {
        Approval::Local
    } else if !applied_by.is_empty() && !applied_by.eq_ignore_ascii_case(&e.actor) {
        Approval::Approved
    } else {
        Approval::Automatic
    }
}

/// One audit line per event.
pub(super) fn audit(cx: &Context, s: &State, event: &Event) {
    let id = s.id.as_str();
    let what = match &s.rollback_of {
        Some(of) => format!("rollback {id} of {of}"),
        None => format!("rollout {id}"),
    };
    let e = match event {
        Event::Started { stages, .. } => Entry::now("rollout", "started").detail(format!(
            "{id}: {}",
            crate::util::text::count(stages.len(), "stage", "stages")
        )),
        Event::TickStarted { stage, .. } => {
            Entry::now("rollout", "tick").detail(format!("{id}: stage {}", stage + 1))
        }
        Event::Applied {
            unit,
            changed: true,
            plan_sha256,
            actor,
            unreviewed,
            ..
        } => {
            let e = Entry::now("apply", "ok");
            let approval = approval_of(&e, actor, *unreviewed);
            e.unit(unit)
                .plan(Some(plan_sha256))
                .approved_by(Some(actor.as_str()).filter(|a| !a.is_empty()))
                .approval(approval)
                .detail(what)
        }
        Event::Applied {
            unit, plan_sha256, ..
        } => Entry::now("rollout", "no-changes")
            .unit(unit)
            .plan(Some(plan_sha256))
            .detail(id.to_string()),
        Event::Failed { unit, reason, .. } if crate::audit::is_apply_failure(reason) => {
            Entry::now("apply", "failed")
                .unit(unit)
                .detail(format!("{what}: {reason}"))
        }
        Event::Failed { unit, reason, .. } => Entry::now("rollout", "failed")
            .unit(unit)
            .detail(format!("{id}: {reason}")),
        Event::Skipped { unit, reason, .. } => Entry::now("rollout", "skipped")
            .unit(unit)
            .detail(format!("{id}: {reason}")),
        Event::ApprovalWanted { stage, reason, .. } => Entry::now("rollout", "approval-wanted")
            .detail(format!("{id}: stage {}: {reason}", stage + 1)),
        Event::Planned {
            unit, plan_sha256, ..
        } => Entry::now("rollout", "planned")
            .unit(unit)
            .plan(Some(plan_sha256))
            .detail(id.to_string()),
        Event::StageDone { stage, .. } => {
            Entry::now("rollout", "stage-done").detail(format!("{id}: stage {}", stage + 1))
        }
        Event::Halted { reason, .. } => {
            Entry::now("rollout", "halted").detail(format!("{id}: {reason}"))
        }
        Event::Resumed { .. } => Entry::now("rollout", "resumed").detail(id.to_string()),
        Event::Finished { .. } => Entry::now("rollout", "finished").detail(id.to_string()),
        Event::Superseded { by, .. } => {
            Entry::now("rollout", "superseded").detail(format!("{id}: by {by}"))
        }
        Event::RollbackStarted { .. }
        | Event::RolledBack { .. }
        | Event::RollbackFailed { .. }
        | Event::RollbackDone { .. }
        | Event::DeploymentOwed { .. }
        | Event::DeploymentsSent { .. } => rollback_or_deployment(id, event),
    };
    cx.record(e);
}

/// The audit line of a rollback's event or an owed deployment's.
fn rollback_or_deployment(id: &str, event: &Event) -> Entry {
    match event {
        Event::RollbackStarted { by, .. } => {
            Entry::now("rollout", "rollback-started").detail(match by {
                Some(by) => format!("{id}: by {by}"),
                None => id.to_string(),
            })
        }
        // Rollbacks made before they were rollouts of their own.
        Event::RolledBack {
            unit, plan_sha256, ..
        } => Entry::now("apply", "ok")
            .unit(unit)
            .plan(Some(plan_sha256))
            .detail(format!("rollback of rollout {id}")),
        Event::RollbackFailed { unit, reason, .. } => Entry::now("apply", "failed")
            .unit(unit)
            .detail(format!("rollback of rollout {id}: {reason}")),
        Event::RollbackDone { .. } => {
            Entry::now("rollout", "rolled-back-all").detail(id.to_string())
        }
        Event::DeploymentOwed { unit, .. } => Entry::now("rollout", "deployment-owed")
            .unit(unit)
            .detail(format!("{id}: GitHub's write budget; sent later")),
        Event::DeploymentsSent { sent, dropped, .. } => Entry::now("rollout", "deployments-sent")
            .detail(format!(
                "{id}: {} sent late, {} dropped",
                sent.len(),
                dropped.len()
            )),
        _ => Entry::now("rollout", "event").detail(id.to_string()),
    }
}

/// A notice for the events people must act on: an apply that failed (the
/// reason stays in the run: it may quote Terraform), a halt, and plans
/// that wait for an approval.
fn notify(manager: &Manager, cx: &Context, id: &str, event: &Event) {
    use crate::config::NotifyEvent;
    use crate::notify::Notice;
    let notice = match event {
        Event::Failed { unit, .. } => Notice::new(
            NotifyEvent::ApplyFailed,
            format!("rollout {id}: the apply failed; see the run"),
        )
        .unit(&unit.customer, &unit.environment, unit.product.as_deref()),
        Event::Halted { .. } => Notice::new(
            NotifyEvent::RolloutHalted,
            format!("rollout {id} halted; see the run, then `fleetform rollout resume`"),
        ),
        Event::ApprovalWanted { stage, digest, .. } => Notice::new(
            NotifyEvent::ApprovalWaiting,
            format!(
                "rollout {id}: the plans of stage {} wait for approval (sha256:{})",
                stage + 1,
                crate::dispatch::short_sha(digest)
            ),
        ),
        _ => return,
    };
    cx.notify(manager, &notice);
}
