//! `rollout start`: a new rollout of the manager's checkout, in waves.
//!
//! Rollouts follow each other in the records store, oldest first; the
//! oldest open one is the current one, the others wait behind it:
//! - while the current one runs, a start is **queued** behind it and covers
//!   what changed since the current one's commit; it begins when every
//!   rollout before it ended (finished, rolled back or superseded);
//! - a halted current rollout is queued behind like a running one: only an
//!   operator ends it (resume, rollback, or `--supersede`, which the
//!   command accepts only from `rollout.operators` on GitHub), never a
//!   push to the default branch;
//! - with `--supersede` every open rollout is **superseded**: the new
//!   rollout covers what changed since the oldest superseded one's base,
//!   so no pair misses a change it never got;
//! - a start covers from where the newest rollout left off (its commit,
//!   or its base when it was rolled back or superseded), not only from
//!   `--base`: a change whose own start never ran (GitHub keeps one pending
//!   run per concurrency group) is rolled out by the next start;
//! - a start of a commit the newest rollout already covers (a re-run of an
//!   old start job) is refused, so an older configuration is never queued
//!   after a newer one.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::config::{Manager, Registry, Unit};
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::output::Output;
use crate::records::Store;

use super::record::record;
use super::settings::Fleet;
use super::state::{self, Event, Stage, State};
use super::{now, records_err, waves};

/// What `start` needs to know about the change.
pub struct StartSettings<'a> {
    pub manager_dir: &'a Path,
    /// Where the change starts; optional once a rollout exists (it then
    /// starts where the newest rollout left off).
    pub base: Option<&'a str>,
    pub manager_sha: String,
    pub jobs: usize,
    pub actor: String,
    /// Supersede every open rollout, running or not.
    pub supersede: bool,
}

/// What `start` made: the rollout's id and stages, and customers whose
/// pairs change but whom no wave selects.
#[derive(Debug, Serialize)]
pub struct Started {
    pub id: String,
    /// The commit the change is measured from.
    pub base: String,
    pub stages: Vec<Stage>,
    pub unassigned: Vec<String>,
    /// The rollout it waits behind, when queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_behind: Option<String>,
    /// The reason the rollout it waits behind is halted: it begins only
    /// once an operator resumes, rolls back or supersedes that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind_halted: Option<String>,
    /// The rollouts it superseded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// Pairs the change affects but left out: their customer is pinned
    /// for that product (the registry's `pins:`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<Pinned>,
}

/// A pair a rollout leaves out because its customer is pinned.
#[derive(Debug, Serialize)]
pub struct Pinned {
    pub unit: Unit,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub until: String,
}

/// Splits the affected pairs: those a rollout takes, and those whose
/// customer is held at a pin for that product.
fn without_pinned(registry: &Registry, affected: BTreeSet<Unit>) -> (BTreeSet<Unit>, Vec<Pinned>) {
    let mut pinned = Vec::new();
    let mut taken = BTreeSet::new();
    for u in affected {
        let pin = registry
            .get(&u.customer)
            .and_then(|c| c.pin_for(u.product.as_deref()));
        match pin {
            Some(p) => pinned.push(Pinned {
                git_ref: p.git_ref.clone(),
                until: p.until.clone(),
                unit: u,
            }),
            None => {
                taken.insert(u);
            }
        }
    }
    (taken, pinned)
}

/// Starts a rollout of the manager's working tree (see the module docs
/// for queueing and superseding).
pub fn start(
    manager: &Manager,
    registry: &Registry,
    store: &Store,
    settings: &StartSettings<'_>,
    cx: &Context,
) -> Result<Started> {
    let config = manager.config.rollout.as_ref().ok_or_else(|| {
        Error::Usage(Say::new("fleetform.yml has no `rollout:`").help("declare its waves first"))
    })?;
    let all = every_rollout(store)?;
    let open: Vec<&State> = all.iter().filter(|s| s.is_open()).collect();
    let dir = settings.manager_dir;
    if let Some(newest) = all.last() {
        already_covered(dir, newest, settings)?;
    }
    let supersede: Vec<State> = match open.first() {
        Some(_) if settings.supersede => open.iter().map(|s| (*s).clone()).collect(),
        _ => Vec::new(),
    };
    let base = match supersede.first() {
        Some(oldest) => oldest.base.clone(),
        None => covered_base(dir, all.last(), settings, &cx.out)?,
    };
    let impact = impact_since(dir, manager, registry, &base, settings, cx)?;
    let affected: BTreeSet<Unit> = impact.changed.iter().map(|p| p.unit.clone()).collect();
    let (affected, pinned) = without_pinned(registry, affected);
    let customers: BTreeSet<String> = affected.iter().map(|u| u.customer.clone()).collect();
    let (waves, unassigned) = waves::assign(config, &registry.customers, &customers);
    let stages = waves::stages(manager, config, &waves, &affected);
    let f = Fleet {
        manager,
        registry,
        store,
    };
    let id = if stages.is_empty() {
        String::new()
    } else {
        new_id(&settings.manager_sha, all.last().map(|s| s.id.as_str()))
    };
    if !id.is_empty() {
        let mut s = State::of(&id, &[]);
        let started = Event::Started {
            manager_sha: settings.manager_sha.clone(),
            base: base.clone(),
            stages: stages.clone(),
            at: now(),
            actor: settings.actor.clone(),
            rollback_of: None,
        };
        record(&f, &mut s, started, cx)?;
    }
    let by = match id.is_empty() {
        true => format!(
            "the start of {} (nothing to roll out since {})",
            short(&settings.manager_sha),
            short(&base)
        ),
        false => id.clone(),
    };
    let mut superseded = Vec::new();
    for mut old in supersede {
        let e = Event::Superseded {
            by: by.clone(),
            at: now(),
        };
        record(&f, &mut old, e, cx)?;
        superseded.push(old.id);
    }
    let behind = match (id.is_empty(), superseded.is_empty(), open.first()) {
        (false, true, Some(current)) => Some(*current),
        _ => None,
    };
    Ok(Started {
        id,
        base,
        stages,
        unassigned,
        queued_behind: behind.map(|c| c.id.clone()),
        behind_halted: behind.and_then(|c| c.halted.clone()),
        superseded,
        pinned,
    })
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Every rollout, oldest first.
pub fn every_rollout(store: &Store) -> Result<Vec<State>> {
    state::ids(store)
        .map_err(records_err)?
        .iter()
        .map(|id| state::load(store, id).map_err(records_err))
        .collect()
}

/// Refuses to start a commit the newest rollout already rolls out (or
/// rolled out): a re-run of an old start would queue an older
/// configuration after a newer one. Only `--supersede` (an operator's)
/// starts it over, also when that rollout is halted.
fn already_covered(dir: &Path, newest: &State, settings: &StartSettings<'_>) -> Result<()> {
    if settings.supersede || newest.manager_sha.is_empty() {
        return Ok(());
    }
    let covered = crate::util::git::is_ancestor(dir, &settings.manager_sha, &newest.manager_sha)
        .map_err(|e| Error::failed(format!("comparing with rollout {}: {e}", newest.id)))?;
    if covered {
        return Err(Error::refused(format!(
            "rollout {} already rolls out {} (it is {}); nothing was started (to start over, an operator runs `fleetform rollout start --supersede`: the workflow's `supersede` action)",
            newest.id,
            short(&settings.manager_sha),
            super::describe(newest)
        )));
    }
    Ok(())
}

/// The pairs the manager's working tree changes since `base`.
fn impact_since(
    dir: &Path,
    manager: &Manager,
    registry: &Registry,
    base: &str,
    settings: &StartSettings<'_>,
    cx: &Context,
) -> Result<crate::fleet::impact::Impact> {
    crate::fleet::impact::of_revisions(dir, manager, registry, base, None, settings.jobs, &cx.net)
        .map_err(|e| Error::usage(e.to_string()))
}

/// Where the change starts: where the newest rollout left off (its commit,
/// or its base when it was rolled back or superseded) when that commit is
/// in this checkout's history, else `--base`.
fn covered_base(
    dir: &Path,
    newest: Option<&State>,
    settings: &StartSettings<'_>,
    out: &Output,
) -> Result<String> {
    let given = settings
        .base
        .map(|b| commit_of(dir, "--base", b))
        .transpose()?;
    let left_off = newest.map(|n| match n.rolling_back || n.superseded_by.is_some() {
        true => (n.base.clone(), n),
        false => (n.manager_sha.clone(), n),
    });
    if let Some((from, n)) = left_off.filter(|(c, _)| !c.is_empty()) {
        let in_history =
            crate::util::git::is_ancestor(dir, &from, &settings.manager_sha).unwrap_or(false);
        if in_history {
            if given.as_deref().is_some_and(|g| g != from) {
                out.note(&format!(
                    "measuring the change from {}, where rollout {} left off (not --base): changes whose own start never ran are rolled out too",
                    short(&from),
                    n.id
                ));
            }
            return Ok(from);
        }
    }
    given.ok_or_else(|| {
        Error::usage("no rollout yet to continue from: give --base (the commit before the change)")
    })
}

/// The commit a revision names.
pub fn commit_of(dir: &Path, flag: &str, rev: &str) -> Result<String> {
    crate::util::git::check_revision(flag, rev).map_err(Error::usage)?;
    crate::util::git::run(
        dir,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )
    .map(|s| s.trim().to_string())
    .map_err(|e| Error::usage(format!("{flag} {rev}: {e}")))
}

/// A new rollout's id: its start time (so ids sort by age, and after the
/// newest one even when started in the same second), the manager commit,
/// and a random part.
pub(super) fn new_id(manager_sha: &str, newest: Option<&str>) -> String {
    let after = newest
        .and_then(|id| id.split('-').next())
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(0, |t| t + 1);
    let mut random = [0u8; 3];
    // Without randomness the time and commit still tell most ids apart.
    let _ = getrandom::fill(&mut random);
    format!(
        "{:012}-{}-{}",
        now().max(after),
        short(manager_sha),
        crate::util::fs::hex(&random)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_sorts_after_the_newest_even_in_the_same_second() {
        let first = new_id("abc", None);
        let second = new_id("abc", Some(&first));
        let third = new_id("abc", Some(&second));
        assert!(first < second && second < third, "{first} {second} {third}");
    }
}
