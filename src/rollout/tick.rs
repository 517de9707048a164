//! `rollout tick`: advance whatever may advance now. A tick takes the
//! current stage (an event written create-only, so two ticks never take
//! the same one; a shard of a stage takes nothing), leaves out the pairs
//! the registry no longer has active, asks the [`ApprovalGate`] whether
//! the stage may be applied and as whom, applies each pair's plan behind
//! its digest and gates (one event per pair), then halts the rollout or
//! marks the stage done (its bake time starts). With no bake time it goes
//! on to the next stage.

use crate::config::Activity;
use crate::config::{Manager, Unit};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::Outcome;
use crate::records::RecordsError;

use super::apply::{apply_by_product, plan_by_product, ApplyCtx};
use super::record::record_if;
pub use super::settings::{Fleet, TickSettings};
use super::state::{append, load, Event, Stage, State};
use super::{now, records_err};

/// Advances the rollout `id` as far as it may go now; what it did, as
/// lines for the log. A refused approval is an error ([`Error::Refused`]),
/// after its event.
pub fn tick(
    f: &Fleet<'_>,
    id: &str,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    loop {
        let mut s = load(f.store, id).map_err(records_err)?;
        if let Some(stop) = why_not_now(&s) {
            said.push(stop);
            return Ok(said);
        }
        if let Some(ahead) = super::queued_behind(f.store, &s)? {
            said.push(format!(
                "rollout {id} is queued behind rollout {ahead}; it begins when that one ends"
            ));
            return Ok(said);
        }
        if s.current >= s.stages.len() {
            if finish(f, &mut s, cx)? {
                said.push(format!("rollout {id} finished"));
            }
            return Ok(said);
        }
        let index = s.current;
        let stage = s.stages[index].clone();
        skip_gone(f, &mut s, &stage, settings, cx)?;
        let approver = approval(f, &mut s, index, &stage, settings, cx)?;
        if settings.shard.is_none() && !claim(f, &mut s, settings)? {
            said.push("another tick took this stage first; nothing to do".into());
            return Ok(said);
        }
        if let Some(reason) = drift_before(f, &s, &stage, settings, cx)? {
            halt(f, &mut s, index, &reason, cx)?;
            said.push(format!("halted: {reason}"));
            return Ok(said);
        }
        said.push(format!(
            "stage {} of {}: {} in {} ({})",
            index + 1,
            s.stages.len(),
            stage.wave,
            stage.environment,
            crate::util::text::count(stage.units.len(), "pair", "pairs")
        ));
        if let Some(who) = &approver {
            said.push(format!("approved by {who}"));
        }
        let ctx = ApplyCtx {
            actor: approver.as_deref().unwrap_or(&settings.actor),
            wave: &stage.wave,
            observer: settings.observer,
            unreviewed: settings.gate.is_some_and(|g| g.unreviewed(&stage)),
        };
        let todo = pending(&s, &stage, settings);
        apply_by_product(f, &mut s, &todo, settings, &ctx, cx)?;
        let line = settle(f, &mut s, index, &stage, settings, cx)?;
        let go_on = matches!(line, Settled::Done { bake: 0, .. });
        said.push(line.to_string());
        if !go_on || settings.one_stage || settings.shard.is_some() {
            return Ok(said);
        }
    }
}

/// The stage's pairs this tick works on: not applied, failed (a shard
/// leaves what another shard decided) or skipped, and in its shard.
fn pending(s: &State, stage: &Stage, settings: &TickSettings<'_>) -> Vec<Unit> {
    stage
        .units
        .iter()
        .filter(|u| !s.applied.contains(u) && !s.skipped.contains_key(u))
        .filter(|u| match &settings.shard {
            Some(shard) => shard.contains(u) && !s.failed.contains_key(u),
            None => true,
        })
        .cloned()
        .collect()
}

/// Every stage done: the rollout is finished, and a rollback's rollout is
/// rolled back. Whether this tick wrote it.
fn finish(f: &Fleet<'_>, s: &mut State, cx: &Context) -> Result<bool> {
    let done = record_if(f, s, Event::Finished { at: now() }, cx, &|s| !s.finished)?;
    if let Some(of) = s.rollback_of.clone() {
        let mut old = load(f.store, &of).map_err(records_err)?;
        record_if(f, &mut old, Event::RollbackDone { at: now() }, cx, &|s| {
            !s.rollback_done
        })?;
    }
    Ok(done)
}

/// Pairs whose customer is no longer registered, is revoked, is pinned for
/// the pair's product (a pin added after the start), or no longer has the
/// environment, in the registry the tick reads (on GitHub the
/// default branch's): skipped, named, and decided, so the stage settles.
pub(super) fn skip_gone(
    f: &Fleet<'_>,
    s: &mut State,
    stage: &Stage,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<()> {
    for u in pending(s, stage, settings) {
        let reason = match f.registry.get(&u.customer) {
            None => format!(
                "customer `{}` is no longer in {}",
                u.customer,
                f.registry.source()
            ),
            Some(c) if !c.takes_part(Activity::Rollout) => format!(
                "customer `{}` is revoked in {}",
                u.customer,
                f.registry.source()
            ),
            Some(c) if c.pin_for(u.product.as_deref()).is_some() => format!(
                "customer `{}` is pinned in {} (held at `{}`)",
                u.customer,
                f.registry.source(),
                c.pin_for(u.product.as_deref())
                    .map(|p| p.git_ref.as_str())
                    .unwrap_or_default()
            ),
            Some(c) if !c.environments.contains(&u.environment) => format!(
                "customer `{}` no longer has `{}` in {}",
                u.customer,
                u.environment,
                f.registry.source()
            ),
            Some(_) => continue,
        };
        let e = Event::Skipped {
            unit: u.clone(),
            reason,
            at: now(),
        };
        record_if(f, s, e, cx, &|s| !s.skipped.contains_key(&u))?;
    }
    Ok(())
}

/// The gate's answer for the stage, when anything of it is left to apply;
/// a refusal is recorded (once per digest) and returned as the error.
fn approval(
    f: &Fleet<'_>,
    s: &mut State,
    index: usize,
    stage: &Stage,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<Option<String>> {
    let Some(gate) = settings.gate else {
        return Ok(None);
    };
    if pending(s, stage, settings).is_empty() {
        return Ok(None);
    }
    match gate.approve(s, stage) {
        Ok(who) => Ok(who),
        Err(refusal) => {
            if let Some(digest) = refusal.wanted {
                let e = Event::ApprovalWanted {
                    stage: index,
                    digest: digest.clone(),
                    reason: refusal.reason.clone(),
                    at: now(),
                };
                let want = (index, digest);
                record_if(f, s, e, cx, &|s| s.approval_wanted.as_ref() != Some(&want))?;
            }
            Err(Error::refused(refusal.reason))
        }
    }
}

/// Takes the current stage for this tick (an event only one job can
/// write); false when another tick took it first.
fn claim(f: &Fleet<'_>, s: &mut State, settings: &TickSettings<'_>) -> Result<bool> {
    let at = now();
    let claim = Event::TickStarted {
        stage: s.current,
        at,
        lease_until: at + settings.lease_secs,
    };
    match append(f.store, s, claim) {
        Err(RecordsError::Exists { .. }) => Ok(false),
        other => other.map(|()| true).map_err(records_err),
    }
}

fn halt(f: &Fleet<'_>, s: &mut State, index: usize, reason: &str, cx: &Context) -> Result<()> {
    let halt = Event::Halted {
        reason: reason.to_string(),
        at: now(),
        actor: "fleetform".into(),
    };
    record_if(f, s, halt, cx, &|s| {
        s.halted.is_none() && s.current == index
    })
    .map(drop)
}

/// How a stage stands after a tick's work on it.
enum Settled {
    /// Other jobs (shards) still work on it.
    ShardDone,
    /// Pairs without an event yet (the applies stopped).
    Open(Vec<Unit>),
    Halted(String),
    Done {
        bake: u64,
        skipped: Vec<String>,
    },
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Settled::ShardDone => write!(
                f,
                "this shard is done; the stage's other pairs are still running"
            ),
            Settled::Open(left) => write!(
                f,
                "the stage is not settled: {} left (first {}); the next tick goes on",
                crate::util::text::count(left.len(), "pair", "pairs"),
                left.first().map(|u| u.to_string()).unwrap_or_default()
            ),
            Settled::Halted(reason) => write!(f, "halted: {reason}"),
            Settled::Done { bake, skipped } => {
                write!(f, "stage done")?;
                if *bake > 0 {
                    write!(f, "; baking for {bake} s")?;
                }
                if !skipped.is_empty() {
                    write!(f, "; skipped {}", skipped.join("; "))?;
                }
                Ok(())
            }
        }
    }
}

/// Once every pair of the stage is applied, failed or skipped: halt (see
/// [`halt_reason`]) or mark the stage done, whichever job gets there.
fn settle(
    f: &Fleet<'_>,
    s: &mut State,
    index: usize,
    stage: &Stage,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<Settled> {
    *s = load(f.store, &s.id).map_err(records_err)?;
    if let Some(reason) = &s.halted {
        return Ok(Settled::Halted(reason.clone()));
    }
    if !s.decided(stage) {
        return Ok(match settings.shard {
            Some(_) => Settled::ShardDone,
            None => Settled::Open(pending(s, stage, settings)),
        });
    }
    if let Some(reason) = halt_reason(f.manager, s, stage) {
        halt(f, s, index, &reason, cx)?;
        return Ok(Settled::Halted(reason));
    }
    let done = Event::StageDone {
        stage: index,
        at: now(),
        bake_until: now() + stage.bake,
    };
    record_if(f, s, done, cx, &|s| {
        s.current == index && s.halted.is_none()
    })?;
    let skipped = stage
        .units
        .iter()
        .filter_map(|u| s.skipped.get(u).map(|why| format!("{u} ({why})")))
        .collect();
    Ok(Settled::Done {
        bake: stage.bake,
        skipped,
    })
}

/// Why nothing may advance now, if so.
pub(super) fn why_not_now(s: &State) -> Option<String> {
    let at = now();
    if s.stages.is_empty() && s.events == 0 {
        return Some(format!("no rollout `{}`", s.id));
    }
    if s.finished {
        return Some(format!("rollout {} is finished", s.id));
    }
    if s.rolling_back {
        return Some(format!("rollout {} is {}", s.id, super::describe(s)));
    }
    if let Some(by) = &s.superseded_by {
        return Some(format!("rollout {} was superseded by {by}", s.id));
    }
    if let Some(reason) = &s.halted {
        return Some(format!(
            "rollout {} is halted ({reason}); `fleetform rollout resume` after the fix",
            s.id
        ));
    }
    let when = |t| crate::report::rollout::when(t, at);
    match (s.lease_until, s.bake_until) {
        (Some(l), _) if l > at => Some(format!(
            "another tick holds stage {} until {}",
            s.current + 1,
            when(l)
        )),
        (_, Some(b)) if b > at => Some(format!("baking until {}", when(b))),
        _ => None,
    }
}

/// Before a stage starts (`halt.drift`, not the first stage): the pairs
/// this rollout changed are planned again; a plan with changes is drift
/// (someone changed the cloud after the rollout applied), and so is one
/// that no longer plans.
fn drift_before(
    f: &Fleet<'_>,
    s: &State,
    stage: &Stage,
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<Option<String>> {
    let check = f
        .manager
        .config
        .rollout
        .as_ref()
        .is_some_and(|r| r.halt.drift);
    let started = stage
        .units
        .iter()
        .any(|u| s.applied.contains(u) || s.failed.contains_key(u) || s.skipped.contains_key(u));
    let rolled: Vec<Unit> = s
        .changed
        .iter()
        .filter(|u| !stage.units.contains(u) && f.registry.get(&u.customer).is_some())
        .cloned()
        .collect();
    if !check || started || rolled.is_empty() {
        return Ok(None);
    }
    let rows = plan_by_product(f, &rolled, settings, cx)?;
    Ok(rows.iter().find_map(|r| {
        let unit = Unit::new(&r.customer, r.product.as_deref(), &r.environment);
        match &r.outcome {
            Outcome::Planned { summary, .. } if summary.has_changes => Some(format!(
                "drift in {unit}, rolled earlier by this rollout ({})",
                summary.counts()
            )),
            Outcome::Failed { error, .. } => Some(format!(
                "{unit}, rolled earlier by this rollout, no longer plans: {error}"
            )),
            _ => None,
        }
    }))
}

/// The halt conditions after a stage: too many failed pairs, or a gate
/// that blocked (unless `halt.gate_failed: false`).
fn halt_reason(manager: &Manager, s: &State, stage: &Stage) -> Option<String> {
    let halt = manager.config.rollout.as_ref()?.halt.clone();
    let failed: Vec<&Unit> = stage
        .units
        .iter()
        .filter(|u| s.failed.contains_key(u))
        .collect();
    let gates = failed
        .iter()
        .filter(|u| s.failed[**u].starts_with("gate"))
        .count();
    if halt.gate_failed && gates > 0 {
        return Some(format!(
            "{} blocked by policy gates in wave {}",
            crate::util::text::count(gates, "pair", "pairs"),
            stage.wave
        ));
    }
    let ungated = if halt.gate_failed {
        failed.len() - gates
    } else {
        failed.len()
    };
    if ungated > halt.max_failures {
        let first = failed.first().map(|u| u.to_string()).unwrap_or_default();
        return Some(format!(
            "{} failed in wave {} (more than {}), first {first}",
            crate::util::text::count(ungated, "pair", "pairs"),
            stage.wave,
            halt.max_failures
        ));
    }
    None
}
