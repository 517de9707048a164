//! Rollouts: a manager change reaches the fleet in waves (`rollout:` in
//! fleetform.yml), per environment in promotion order, with bake time
//! between waves, halting by itself when something goes wrong.
//!
//! A rollout is a list of events in the records store (`state`, written
//! by `record`, each also an audit line): `start` writes the stages the
//! impact preview found (`waves`), queued behind a running rollout or
//! superseding a halted one; `plan` makes a stage's plans for review;
//! `tick` advances, applying (`apply`) only what the [`ApprovalGate`]
//! lets through (`gate`), with `settings` saying how; `halt` and
//! `resume` say so; `rollback` starts a rollout of the base; `owed` sends
//! the customers' GitHub deployments that did not fit GitHub's write
//! budget when their pair was applied. The oldest open rollout is the
//! current one.
//!
//! May import: `config`, `fleet` (the impact preview, plans of a stage),
//! `engine` (a pair's apply), `data`, `records`, `report` (the status row), `dispatch` (sealed
//! plan bundles), `context` (the command's audit log and notifications),
//! `audit`, `notify`, `ci`, `error`, `output`, `util`. Never the
//! commands, `deploy` or `github`.

mod apply;
pub mod gate;
pub mod owed;
pub mod plan;
mod record;
pub mod rollback;
pub mod sealed;
mod settings;
pub mod start;
pub mod state;
pub mod tick;
pub mod trust;
pub mod waves;

use serde::Serialize;

use crate::config::Unit;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::records::{RecordsError, Store};

use state::{Event, State};

pub use crate::report::rollout::StageRow;

pub use gate::{ApprovalGate, Refusal, Workstation};
pub use rollback::rollback;
pub use settings::{ApplyObserver, Fleet, Late, LateDeployment, Owes, Shown, TickSettings};
pub use start::{start, StartSettings, Started};
pub use tick::tick;

/// Now, in Unix seconds (`FLEETFORM_NOW` in tests, to pass bake times).
pub fn now() -> u64 {
    std::env::var("FLEETFORM_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_second().max(0) as u64)
}

pub fn records_err(e: RecordsError) -> Error {
    Error::failed(format!("rollout records: {e}"))
}

/// Every rollout neither finished, superseded nor rolled back, oldest
/// first: the first is the current one, the others are queued behind it.
pub fn open_rollouts(store: &Store) -> Result<Vec<State>> {
    Ok(start::every_rollout(store)?
        .into_iter()
        .filter(State::is_open)
        .collect())
}

/// The open rollout `s` waits behind, if any (an older open one).
pub fn queued_behind(store: &Store, s: &State) -> Result<Option<String>> {
    for id in state::ids(store).map_err(records_err)? {
        if id >= s.id {
            break;
        }
        if state::load(store, &id).map_err(records_err)?.is_open() {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Where a rollout stands, in a word or two.
pub fn describe(s: &State) -> String {
    match () {
        _ if s.rollback_done => "rolled back".into(),
        _ if s.rolling_back => match &s.rolled_back_by {
            Some(by) => format!("rolled back by {by}"),
            None => "being rolled back".into(),
        },
        _ if s.finished => "finished".into(),
        _ if s.superseded_by.is_some() => "superseded".into(),
        _ if s.halted.is_some() => "halted".into(),
        _ => "running".into(),
    }
}

/// The rollout a command is about: `id`, else the current one (the
/// oldest open one), else the latest.
pub fn pick(store: &Store, id: Option<&str>) -> Result<State> {
    if let Some(id) = id {
        if trust::id(id).is_err() {
            return Err(Error::usage(format!(
                "--id `{}` is not a rollout id (digits, hex and `-`, as `rollout status` shows them)",
                id.escape_debug()
            )));
        }
        let s = state::load(store, id).map_err(records_err)?;
        if s.events == 0 {
            return Err(Error::usage(format!("no rollout `{id}`")));
        }
        return Ok(s);
    }
    if let Some(current) = open_rollouts(store)?.into_iter().next() {
        return Ok(current);
    }
    match state::ids(store).map_err(records_err)?.last() {
        // Nothing open: the latest one (finished, rolled back or superseded).
        Some(latest) => state::load(store, latest).map_err(records_err),
        None => Err(Error::usage(
            "no rollout yet; `fleetform rollout start` makes one",
        )),
    }
}

/// Halts the rollout (nothing more is applied until `resume`).
pub fn halt(f: &Fleet<'_>, s: &mut State, reason: &str, actor: &str, cx: &Context) -> Result<()> {
    if s.halted.is_some() || !s.is_open() {
        return Ok(()); // halting twice is halting once
    }
    let e = Event::Halted {
        reason: reason.to_string(),
        at: now(),
        actor: actor.to_string(),
    };
    record::record_if(f, s, e, cx, &|s| s.halted.is_none() && s.is_open()).map(drop)
}

/// Resumes a halted rollout: its failed pairs are tried again.
pub fn resume(f: &Fleet<'_>, s: &mut State, actor: &str, cx: &Context) -> Result<()> {
    if s.halted.is_none() {
        return Ok(());
    }
    let e = Event::Resumed {
        at: now(),
        actor: actor.to_string(),
    };
    record::record_if(f, s, e, cx, &|s| s.halted.is_some()).map(drop)
}

/// The stage the next tick runs, and whether it may run now.
#[derive(Debug, Serialize)]
pub struct Next {
    pub stage: usize,
    pub environment: String,
    pub wave: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    pub units: Vec<Unit>,
    /// `None`: a tick would run it now; else why not.
    pub waiting: Option<String>,
}

/// What the next tick would do (none when every stage is done): not while
/// queued behind another rollout, and, unless `replan`, not while its
/// reviewed plans wait for an approval (a new plan would void them).
pub fn next(s: &State, queued_behind: Option<&str>, replan: bool) -> Option<Next> {
    let st = s.stages.get(s.current)?;
    let approval = s
        .approval_wanted
        .as_ref()
        .filter(|(stage, digest)| {
            *stage == s.current
                && !replan
                && s.stage_digest(st).is_some_and(|d| d.digest == *digest)
        })
        .map(|(_, digest)| {
            format!(
                "the plans of stage {} (sha256:{}) wait for approval: approve them, then re-run the failed tick jobs of the run that planned them (or run the workflow with `tick` to plan again)",
                s.current + 1,
                crate::dispatch::short_sha(digest)
            )
        });
    let waiting = queued_behind
        .map(|ahead| format!("queued behind rollout {ahead}; it begins when that one ends"))
        .or_else(|| tick::why_not_now(s))
        .or(approval);
    Some(Next {
        stage: s.current + 1,
        environment: st.environment.clone(),
        wave: st.wave.clone(),
        products: st.products.clone(),
        units: st
            .units
            .iter()
            .filter(|u| !s.applied.contains(u) && !s.skipped.contains_key(u))
            .cloned()
            .collect(),
        waiting,
    })
}

/// The stages of a rollout, with counts and where each stands.
pub fn status(s: &State) -> Vec<StageRow> {
    let at = now();
    s.stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let count = |f: &dyn Fn(&Unit) -> bool| st.units.iter().filter(|u| f(u)).count();
            let state = match i.cmp(&s.current) {
                // A rollback undid what the stages did: say so, not "done".
                _ if s.rollback_done && (i <= s.current) => "rolled back".into(),
                _ if s.rollback_done => "never started (rolled back)".into(),
                _ if s.rolling_back && i <= s.current => {
                    "rolling back (run `rollout rollback` again)".into()
                }
                std::cmp::Ordering::Less => match s.bake_until {
                    Some(b) if i + 1 == s.current && b > at => {
                        format!("baking until {}", crate::report::rollout::when(b, at))
                    }
                    _ => "done".into(),
                },
                std::cmp::Ordering::Equal if s.halted.is_some() => "halted".into(),
                std::cmp::Ordering::Equal if s.finished => "done".into(),
                std::cmp::Ordering::Equal => {
                    let reviewed = st
                        .units
                        .iter()
                        .any(|u| s.planned.contains_key(u) && !s.applied.contains(u));
                    match (reviewed, s.stage_digest(st)) {
                        // `rollout plan` made its plans; the apply job waits
                        // for the wave's approval.
                        (true, Some(d)) => {
                            format!(
                                "planned, waiting for approval (sha256:{})",
                                crate::dispatch::short_sha(&d.digest)
                            )
                        }
                        _ => "next".into(),
                    }
                }
                std::cmp::Ordering::Greater => "waiting".into(),
            };
            // A rollback's stage done is its pairs back where they were.
            let state = match s.rollback_of.is_some() && state == "done" {
                true => "rolled back".into(),
                false => state,
            };
            StageRow {
                stage: i + 1,
                environment: st.environment.clone(),
                wave: match st.products.is_empty() {
                    true => st.wave.clone(),
                    false => format!("{} ({})", st.wave, st.products.join(", ")),
                },
                pairs: st.units.len(),
                applied: count(&|u| s.applied.contains(u)),
                failed: count(&|u| s.failed.contains_key(u)),
                skipped: count(&|u| s.skipped.contains_key(u)),
                state,
            }
        })
        .collect()
}
