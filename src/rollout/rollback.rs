//! `rollout rollback`: a rollback is itself a rollout. It goes back to the
//! rolled-back rollout's base (its manager commit), over the pairs that
//! rollout changed, newest stage first, and is planned, reviewed, approved
//! and applied by ticks like any other (on GitHub, in each stage's
//! `<env>-apply`). The rolled-back rollout is never ticked again; the
//! rollouts queued behind it, built on its change, are superseded.
//!
//! Refused while a tick holds the rollout (halt it first), while it runs
//! unhalted, and when a later rollout that is not queued behind it came
//! after it (roll that one back first).

use crate::context::Context;
use crate::error::{Error, Result};

use super::record::record;
use super::settings::Fleet;
use super::start::{every_rollout, new_id};
use super::state::{load, Event, Stage, State};
use super::{now, records_err};

/// Starts rolling the rollout `id` back; what it did.
pub fn rollback(f: &Fleet<'_>, id: &str, actor: &str, cx: &Context) -> Result<Vec<String>> {
    let mut s = load(f.store, id).map_err(records_err)?;
    if s.rollback_done {
        return Ok(vec![format!("rollout {id} is rolled back already")]);
    }
    if let Some(by) = &s.rolled_back_by {
        return Ok(vec![format!(
            "rollout {id} is being rolled back by rollout {by}; `fleetform rollout tick` goes on with it"
        )]);
    }
    if s.lease_until.is_some_and(|l| l > now()) && s.is_open() {
        return Err(Error::refused(format!(
            "a tick holds rollout {id}; halt it and let the tick end first"
        )));
    }
    if s.is_open() && s.halted.is_none() {
        return Err(Error::refused(format!(
            "rollout {id} is running; halt it first (`fleetform rollout halt --reason ...`)"
        )));
    }
    let all = every_rollout(f.store)?;
    let later: Vec<&State> = all.iter().filter(|o| o.id > s.id).collect();
    let queued: Vec<&State> = later
        .iter()
        .copied()
        .filter(|o| o.is_open() && s.is_open())
        .collect();
    if let Some(in_the_way) = later.iter().find(|o| {
        let undone = o.rolling_back || o.superseded_by.is_some();
        !undone && !queued.iter().any(|q| q.id == o.id)
    }) {
        return Err(Error::refused(format!(
            "rollout {} came after rollout {id} ({}); roll it back first",
            in_the_way.id,
            super::describe(in_the_way)
        )));
    }
    let stages = undo_stages(&s);
    let mut said = Vec::new();
    let by = match stages.is_empty() {
        true => None,
        false => {
            let newest = all.last().map(|n| n.id.as_str());
            let rid = new_id(&s.base, newest);
            let mut r = State::of(&rid, &[]);
            let started = Event::Started {
                manager_sha: s.base.clone(),
                base: s.manager_sha.clone(),
                stages: stages.clone(),
                at: now(),
                actor: actor.to_string(),
                rollback_of: Some(id.to_string()),
            };
            record(f, &mut r, started, cx)?;
            said.push(format!(
                "rollback {rid}: {} back to {}, newest first; ticks plan and apply them",
                crate::util::text::count(stages.len(), "stage", "stages"),
                crate::dispatch::short_sha(&s.base)
            ));
            Some(rid)
        }
    };
    let e = Event::RollbackStarted {
        at: now(),
        actor: actor.to_string(),
        by: by.clone(),
    };
    record(f, &mut s, e, cx)?;
    for q in queued {
        let mut q = q.clone();
        let e = Event::Superseded {
            by: format!("the rollback of {id}"),
            at: now(),
        };
        record(f, &mut q, e, cx)?;
        said.push(format!(
            "rollout {} (queued behind {id}, built on its change) superseded",
            q.id
        ));
    }
    if by.is_none() {
        record(f, &mut s, Event::RollbackDone { at: now() }, cx)?;
        said.push(format!("rollout {id} changed nothing; rolled back"));
    }
    Ok(said)
}

/// The stages of the rollback: the rollout's stages that changed pairs,
/// newest first, each with only those pairs and no bake time.
fn undo_stages(s: &State) -> Vec<Stage> {
    let last = s.current.min(s.stages.len().saturating_sub(1));
    s.stages
        .iter()
        .take(last + 1)
        .rev()
        .filter_map(|st| {
            let units: Vec<_> = st
                .units
                .iter()
                .filter(|u| s.changed.contains(u))
                .cloned()
                .collect();
            (!units.is_empty()).then(|| Stage {
                units,
                bake: 0,
                ..st.clone()
            })
        })
        .collect()
}
