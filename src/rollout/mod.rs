//! Rollouts: a manager change reaches the fleet in waves (`rollout:` in
//! fleetform.yml), per environment in promotion order, with bake time
//! between waves, halting by itself when something goes wrong.
//!
//! A rollout is a list of events in the records store (`state`): `start`
//! writes the stages the impact preview found (`waves`), `tick` advances
//! (`tick`), `halt` and `resume` say so. Every event is also an audit line.
//!
//! May import: `config`, `fleet` (the impact preview, plans of a stage),
//! `terraform`, `records`, `report` (the status row), `dispatch` (sealed
//! plan bundles), `audit`, `notify`, `ci`, `error`, `output`, `util`. Never the
//! commands, `deploy` or `github`.

pub mod plan;
pub mod rollback;
pub mod sealed;
pub mod state;
pub mod tick;
pub mod waves;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::config::{Manager, Registry, Unit};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::records::{RecordsError, Store};

use state::{Event, State};

pub use crate::report::rollout::StageRow;

pub use rollback::rollback;
pub use tick::{tick, ApplyObserver, Fleet, TickSettings};

/// Now, in Unix seconds (`FLEETFORM_NOW` in tests, to pass bake times).
pub fn now() -> u64 {
    std::env::var("FLEETFORM_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| jiff::Timestamp::now().as_second().max(0) as u64)
}

pub fn records_err(e: RecordsError) -> Error {
    Error::Failed(format!("rollout records: {e}"))
}

/// One audit line per event.
fn audit(out: &Output, id: &str, event: &Event) {
    use crate::audit::Entry;
    let e = match event {
        Event::Started { stages, .. } => {
            Entry::now("rollout", "started").detail(format!("{id}: {} stage(s)", stages.len()))
        }
        Event::TickStarted { stage, .. } => {
            Entry::now("rollout", "tick").detail(format!("{id}: stage {}", stage + 1))
        }
        Event::Applied { unit, changed, .. } => Entry::now("rollout", "applied").unit(unit).detail(
            format!("{id}: {}", if *changed { "applied" } else { "no changes" }),
        ),
        Event::Failed { unit, reason, .. } => Entry::now("rollout", "failed")
            .unit(unit)
            .detail(format!("{id}: {reason}")),
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
        Event::RollbackStarted { .. } => {
            Entry::now("rollout", "rollback-started").detail(id.to_string())
        }
        Event::RolledBack { unit, .. } => Entry::now("rollout", "rolled-back")
            .unit(unit)
            .detail(id.to_string()),
        Event::RollbackFailed { unit, reason, .. } => Entry::now("rollout", "rollback-failed")
            .unit(unit)
            .detail(format!("{id}: {reason}")),
        Event::RollbackDone { .. } => {
            Entry::now("rollout", "rolled-back-all").detail(id.to_string())
        }
    };
    crate::audit::record(out, e);
}

/// A notice for the events people must act on: an apply that failed (the
/// reason stays in the run: it may quote Terraform) and a halt.
fn notify(manager: &Manager, out: &Output, id: &str, event: &Event) {
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
        _ => return,
    };
    crate::notify::send(manager, &notice, out);
}

/// What `start` needs to know about the change.
pub struct StartSettings<'a> {
    pub manager_dir: &'a Path,
    pub base: &'a str,
    pub manager_sha: String,
    pub jobs: usize,
    pub actor: String,
}

/// What `start` made: the rollout's id and stages, and customers whose
/// pairs change but whom no wave selects.
#[derive(Debug, Serialize)]
pub struct Started {
    pub id: String,
    pub stages: Vec<state::Stage>,
    pub unassigned: Vec<String>,
}

/// Starts a rollout of the manager's working tree against `base`: the
/// pairs the impact preview finds affected, in waves. Refused while
/// another rollout is open and not halted; a halted one is superseded.
pub fn start(
    manager: &Manager,
    registry: &Registry,
    store: &Store,
    settings: &StartSettings<'_>,
    out: &Output,
) -> Result<Started> {
    let config = manager.config.rollout.as_ref().ok_or_else(|| {
        Error::Usage("fleetform.yml has no `rollout:`; declare its waves first".into())
    })?;
    let older = open_rollouts(store)?;
    if let Some(busy) = older.iter().find(|s| s.halted.is_none()) {
        return Err(Error::Refused(format!(
            "rollout {} is still running; halt it first (`fleetform rollout halt --id {} --reason ...`)",
            busy.id, busy.id
        )));
    }
    let impact = crate::fleet::impact::of_revisions(
        settings.manager_dir,
        manager,
        registry,
        settings.base,
        None,
        settings.jobs,
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let affected: BTreeSet<Unit> = impact.changed.iter().map(|p| p.unit.clone()).collect();
    let customers: BTreeSet<String> = affected.iter().map(|u| u.customer.clone()).collect();
    let (waves, unassigned) = waves::assign(config, &registry.customers, &customers);
    let stages = waves::stages(manager, config, &waves, &affected);
    if stages.is_empty() {
        // Nothing this change touches: no rollout.
        return Ok(Started {
            id: String::new(),
            stages,
            unassigned,
        });
    }
    let id = new_id(&settings.manager_sha);
    let mut s = State::of(&id, &[]);
    let f = Fleet {
        manager,
        registry,
        store,
    };
    let started = Event::Started {
        manager_sha: settings.manager_sha.clone(),
        base: settings.base.to_string(),
        stages: stages.clone(),
        at: now(),
        actor: settings.actor.clone(),
    };
    tick::record(&f, &mut s, started, out)?;
    for mut old in older {
        let superseded = Event::Superseded {
            by: id.clone(),
            at: now(),
        };
        tick::record(&f, &mut old, superseded, out)?;
    }
    Ok(Started {
        id,
        stages,
        unassigned,
    })
}

/// A new rollout's id: its start time (so ids sort by age), the manager
/// commit, and a random part (two starts in one second differ).
fn new_id(manager_sha: &str) -> String {
    let short: String = manager_sha.chars().take(12).collect();
    let mut random = [0u8; 3];
    // Without randomness the time and commit still tell most ids apart.
    let _ = getrandom::fill(&mut random);
    format!("{:012}-{short}-{}", now(), crate::util::fs::hex(&random))
}

/// Every rollout neither finished nor superseded, oldest first.
pub fn open_rollouts(store: &Store) -> Result<Vec<State>> {
    let mut open = Vec::new();
    for id in state::ids(store).map_err(records_err)? {
        let s = state::load(store, &id).map_err(records_err)?;
        if s.is_open() {
            open.push(s);
        }
    }
    Ok(open)
}

/// The rollout a command is about: `id`, else the only open one, else the
/// latest.
pub fn pick(store: &Store, id: Option<&str>) -> Result<State> {
    if let Some(id) = id {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !ok {
            return Err(Error::Usage(format!(
                "--id `{}` is not a rollout id (digits, hex and `-`, as `rollout status` shows them)",
                id.escape_debug()
            )));
        }
        let s = state::load(store, id).map_err(records_err)?;
        if s.events == 0 {
            return Err(Error::Usage(format!("no rollout `{id}`")));
        }
        return Ok(s);
    }
    let mut open = open_rollouts(store)?;
    match open.len() {
        0 => match state::ids(store).map_err(records_err)?.last() {
            // Nothing open: the latest one (finished, or superseded).
            Some(latest) => state::load(store, latest).map_err(records_err),
            None => Err(Error::Usage(
                "no rollout yet; `fleetform rollout start` makes one".into(),
            )),
        },
        1 => Ok(open.remove(0)),
        _ => Err(Error::Usage(format!(
            "{} open rollouts; say which: --id {}",
            open.len(),
            open.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        ))),
    }
}

/// Halts the rollout (nothing more is applied until `resume`).
pub fn halt(f: &Fleet<'_>, s: &mut State, reason: &str, actor: &str, out: &Output) -> Result<()> {
    if s.halted.is_some() || !s.is_open() {
        return Ok(()); // halting twice is halting once
    }
    let e = Event::Halted {
        reason: reason.to_string(),
        at: now(),
        actor: actor.to_string(),
    };
    tick::record(f, s, e, out)
}

/// Resumes a halted rollout: its failed pairs are tried again.
pub fn resume(f: &Fleet<'_>, s: &mut State, actor: &str, out: &Output) -> Result<()> {
    if s.halted.is_none() {
        return Ok(());
    }
    let e = Event::Resumed {
        at: now(),
        actor: actor.to_string(),
    };
    tick::record(f, s, e, out)
}

/// The stage the next tick runs, and whether it may run now.
#[derive(Debug, Serialize)]
pub struct Next {
    pub stage: usize,
    pub environment: String,
    pub wave: String,
    pub units: Vec<Unit>,
    /// `None`: a tick would run it now; else why not.
    pub waiting: Option<String>,
}

/// What the next tick would do (none when every stage is done).
pub fn next(s: &State) -> Option<Next> {
    let st = s.stages.get(s.current)?;
    Some(Next {
        stage: s.current + 1,
        environment: st.environment.clone(),
        wave: st.wave.clone(),
        units: st
            .units
            .iter()
            .filter(|u| !s.applied.contains(u))
            .cloned()
            .collect(),
        waiting: tick::why_not_now(s),
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
                    Some(b) if i + 1 == s.current && b > at => format!("baking until {b}"),
                    _ => "done".into(),
                },
                std::cmp::Ordering::Equal if s.halted.is_some() => "halted".into(),
                std::cmp::Ordering::Equal if s.finished => "done".into(),
                std::cmp::Ordering::Equal => {
                    let reviewed = st
                        .units
                        .iter()
                        .any(|u| s.planned.contains_key(u) && !s.applied.contains(u));
                    match reviewed {
                        // `rollout plan` made its plans; the apply job waits
                        // for the wave's approval.
                        true => "planned, waiting for approval".into(),
                        false => "next".into(),
                    }
                }
                std::cmp::Ordering::Greater => "waiting".into(),
            };
            StageRow {
                stage: i + 1,
                environment: st.environment.clone(),
                wave: st.wave.clone(),
                pairs: st.units.len(),
                applied: count(&|u| s.applied.contains(u)),
                failed: count(&|u| s.failed.contains_key(u)),
                state,
            }
        })
        .collect()
}
