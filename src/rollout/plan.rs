//! `rollout plan`: the current stage's plans made before anyone approves
//! the wave, so the reviewer sees them (grouped, with their digests) in the
//! job summary; each is sealed into its folder's bundle (the artifact the
//! tick job downloads) and its digest kept as an event. `rollout tick
//! --plans-from DIR` then applies exactly those plans: a plan whose digest
//! is not the recorded one is refused.

use crate::config::Unit;
use crate::context::Context;
use crate::data::summary::PlanSummary;
use crate::dispatch::seal::{self, ArtifactKey};
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};

use super::apply::plan_by_product;
use super::record::record;
use super::sealed::{BUNDLE, BUNDLED};
use super::settings::{Fleet, TickSettings};
use super::state::{load, Event, State};
use super::tick::{skip_gone, why_not_now};
use super::{now, records_err};

/// A pair planned for review: its unit, plan summary and folder.
pub type PlannedPair = (Unit, PlanSummary, String);

/// Plans the current stage's pending pairs (of the shard), seals each plan
/// and records its digest; the pairs planned, with their summaries and
/// folders.
pub fn plan_stage(
    f: &Fleet<'_>,
    id: &str,
    key: &ArtifactKey,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<(State, Vec<PlannedPair>)> {
    let mut s = load(f.store, id).map_err(records_err)?;
    if let Some(why) = why_not_now(&s) {
        return Err(Error::refused(format!("nothing to plan: {why}")));
    }
    if let Some(ahead) = super::queued_behind(f.store, &s)? {
        return Err(Error::refused(format!(
            "nothing to plan: rollout {id} is queued behind rollout {ahead}"
        )));
    }
    let Some(stage) = s.stages.get(s.current).cloned() else {
        return Err(Error::refused(format!("rollout {id}: every stage is done")));
    };
    skip_gone(f, &mut s, &stage, settings, cx)?;
    let todo: Vec<Unit> = stage
        .units
        .iter()
        .filter(|u| {
            !s.applied.contains(u) && !s.failed.contains_key(u) && !s.skipped.contains_key(u)
        })
        .filter(|u| settings.shard.as_ref().is_none_or(|sh| sh.contains(u)))
        .cloned()
        .collect();
    let mut planned = Vec::new();
    for row in plan_by_product(f, &todo, settings, cx)? {
        if let Some(p) = seal_row(f, &mut s, key, &row, cx)? {
            planned.push(p);
        }
    }
    Ok((s, planned))
}

/// One planned pair sealed and recorded; a pair that failed to plan is a
/// failed pair of the stage.
fn seal_row(
    f: &Fleet<'_>,
    s: &mut State,
    key: &ArtifactKey,
    row: &Row,
    cx: &Context,
) -> Result<Option<PlannedPair>> {
    let unit = Unit::new(&row.customer, row.product.as_deref(), &row.environment);
    let (summary, dir) = match &row.outcome {
        Outcome::Planned { summary, dir } => (summary, dir),
        Outcome::Failed { error, .. } => {
            let e = Event::Failed {
                unit,
                reason: format!("plan: {error}"),
                at: now(),
            };
            record(f, s, e, cx)?;
            return Ok(None);
        }
        Outcome::Skipped { reason } => {
            let e = Event::Skipped {
                unit,
                reason: reason.clone(),
                at: now(),
            };
            record(f, s, e, cx)?;
            return Ok(None);
        }
    };
    // Infracost's JSON, when it estimated the plan: the apply keeps it as
    // the next plan's baseline.
    let names: Vec<&str> = BUNDLED
        .iter()
        .copied()
        .chain(
            [crate::engine::INFRACOST_FILE]
                .into_iter()
                .filter(|n| dir.join(n).is_file()),
        )
        .collect();
    let bundle = seal::seal_dir(key, &unit.customer, &unit.place(), dir, &names)
        .map_err(|e| Error::failed(e.to_string()))?;
    crate::util::fs::write_atomic(&dir.join(BUNDLE), &bundle)
        .map_err(|e| Error::failed(e.to_string()))?;
    let e = Event::Planned {
        unit: unit.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        at: now(),
    };
    record(f, s, e, cx)?;
    Ok(Some((unit, (**summary).clone(), dir.display().to_string())))
}
