//! `rollout rollback`: the base's configuration (the manager as it was
//! before the rollout) goes back to every pair the rollout changed, last
//! stage first, planned and applied with the same checks (digest, gates).
//! Once started, nothing is ticked any more; running it again finishes
//! what a failed run left.

use crate::error::{Error, Result};
use crate::output::Output;

use super::state::{load, Event};
use super::tick::{apply_by_product, record, ApplyCtx, Fleet, TickSettings};
use super::{now, records_err};

/// Rolls the rollout `id` back with `base` (the manager at the rollout's
/// base, keeping state and records where the live one does); what it did.
pub fn rollback(
    live: &Fleet<'_>,
    base: &Fleet<'_>,
    id: &str,
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<Vec<String>> {
    let mut s = load(live.store, id).map_err(records_err)?;
    if s.rollback_done {
        return Ok(vec![format!("rollout {id} is rolled back already")]);
    }
    if !s.rolling_back {
        if s.lease_until.is_some_and(|l| l > now()) {
            return Err(Error::Refused(format!(
                "a tick holds rollout {id}; halt it and let the tick end first"
            )));
        }
        if s.halted.is_none() && !s.finished {
            return Err(Error::Refused(format!(
                "rollout {id} is running; halt it first (`fleetform rollout halt --reason ...`)"
            )));
        }
        let started = Event::RollbackStarted {
            at: now(),
            actor: settings.actor.clone(),
        };
        record(live, &mut s, started, out)?;
    }
    let mut said = Vec::new();
    let last = s.current.min(s.stages.len().saturating_sub(1));
    for i in (0..=last).rev() {
        let Some(stage) = s.stages.get(i).cloned() else {
            continue;
        };
        let todo: Vec<_> = stage
            .units
            .iter()
            .filter(|u| s.changed.contains(u) && !s.rolled_back.contains(u))
            .cloned()
            .collect();
        if todo.is_empty() {
            continue;
        }
        said.push(format!(
            "rolling back {} / {}: {} pair(s)",
            stage.environment,
            stage.wave,
            todo.len()
        ));
        let ctx = ApplyCtx {
            actor: &settings.actor,
            wave: "rollback",
            observer: settings.observer,
            stop_on_halt: false,
        };
        let as_rollback = |e: Event| match e {
            Event::Applied {
                unit, plan_sha256, ..
            } => Event::RolledBack {
                unit,
                plan_sha256,
                at: now(),
            },
            Event::Failed { unit, reason, .. } => Event::RollbackFailed {
                unit,
                reason,
                at: now(),
            },
            other => other,
        };
        // Planned and applied with the base's products, writing to the
        // live store.
        let both = Fleet {
            manager: base.manager,
            registry: live.registry,
            store: live.store,
        };
        apply_by_product(&both, &mut s, &todo, settings, &ctx, out, &as_rollback)?;
    }
    if !s.rollback_failed.is_empty() {
        return Err(Error::Failed(format!(
            "{} pair(s) could not be rolled back (first: {}); fix and run `fleetform rollout rollback` again",
            s.rollback_failed.len(),
            s.rollback_failed.keys().next().map(|u| u.to_string()).unwrap_or_default()
        )));
    }
    record(live, &mut s, Event::RollbackDone { at: now() }, out)?;
    said.push(format!("rollout {id} rolled back"));
    Ok(said)
}
