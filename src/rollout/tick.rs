//! `rollout tick`: advance whatever may advance now. A tick takes the
//! current stage (an event written create-only, so two ticks never take
//! the same one), plans its pairs that are not applied yet with today's
//! manager, applies each plan behind its digest and gates, writes one event
//! per pair, then halts the rollout or marks the stage done (its bake time
//! starts). With no bake time it goes on to the next stage.

use std::path::Path;

use crate::config::{Customer, Manager, Registry, Unit};
use crate::error::Result;
use crate::fleet::{Outcome, Row};
use crate::output::Output;
use crate::records::{RecordsError, Store};
use crate::terraform::engine::Engine;

use super::state::{append, load, Event, Stage, State};
use super::{now, records_err};

/// How a tick runs.
pub struct TickSettings<'a> {
    pub jobs: usize,
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    pub actor: String,
    /// How long a tick holds its stage (another tick waits that long
    /// when this one dies).
    pub lease_secs: u64,
    /// At most one stage per tick (on GitHub, one approval per wave).
    pub one_stage: bool,
    /// Plans made for review (`rollout plan`), sealed: a pair with a plan
    /// there is applied from it (its digest the recorded one), not planned
    /// again. With the key that opens them.
    pub plans_from: Option<(&'a Path, &'a crate::dispatch::seal::ArtifactKey)>,
    /// Only these pairs of the current stage (a matrix job of the stage):
    /// no claim is taken, the stage's shards run together, and whichever
    /// finishes last settles the stage.
    pub shard: Option<Vec<Unit>>,
    /// Told about each apply (the customer's GitHub deployment), if any.
    pub observer: Option<&'a dyn ApplyObserver>,
}

/// Told when a rollout applies a pair and how it ended: the commands layer
/// records it as a deployment on the customer's repo.
pub trait ApplyObserver {
    /// The apply of `unit` starts; `deployed` is the pair's last deployment
    /// record (the customer's repo and commit); `wave` names the stage.
    /// Returns a handle for [`ApplyObserver::ended`].
    fn started(
        &self,
        unit: &Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
    ) -> Option<u64>;
    fn ended(&self, handle: u64, deployed: &crate::records::Deployment, ok: bool, detail: &str);
}

/// The manager, its registry and store, as a tick needs them.
pub struct Fleet<'a> {
    pub manager: &'a Manager,
    pub registry: &'a Registry,
    pub store: &'a Store,
}

/// Advances the rollout `id` as far as it may go now; what it did, as
/// lines for the log.
pub fn tick(
    f: &Fleet<'_>,
    id: &str,
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    loop {
        let mut s = load(f.store, id).map_err(records_err)?;
        if let Some(stop) = why_not_now(&s) {
            said.push(stop);
            return Ok(said);
        }
        if s.current >= s.stages.len() {
            let done = record_if(f, &mut s, Event::Finished { at: now() }, out, &|s| {
                !s.finished
            })?;
            if done {
                said.push(format!("rollout {id} finished"));
            }
            return Ok(said);
        }
        if settings.shard.is_none() && !claim(f, &mut s, settings)? {
            said.push("another tick took this stage first; nothing to do".into());
            return Ok(said);
        }
        let index = s.current;
        let stage = s.stages[index].clone();
        if let Some(reason) = drift_before(f, &s, &stage, settings, out)? {
            halt(f, &mut s, index, &reason, out)?;
            said.push(format!("halted: {reason}"));
            return Ok(said);
        }
        said.push(format!(
            "stage {} of {}: {} in {} ({} pair(s))",
            index + 1,
            s.stages.len(),
            stage.wave,
            stage.environment,
            stage.units.len()
        ));
        run_stage(f, &mut s, &stage, settings, out)?;
        let line = settle(f, &mut s, index, &stage, out)?;
        let go_on = matches!(line, Settled::Done { bake: 0 });
        said.push(line.to_string());
        if !go_on || settings.one_stage || settings.shard.is_some() {
            return Ok(said);
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

fn halt(f: &Fleet<'_>, s: &mut State, index: usize, reason: &str, out: &Output) -> Result<()> {
    let halt = Event::Halted {
        reason: reason.to_string(),
        at: now(),
        actor: "fleetform".into(),
    };
    record_if(f, s, halt, out, &|s| {
        s.halted.is_none() && s.current == index
    })
    .map(drop)
}

/// How a stage stands after a tick's work on it.
enum Settled {
    /// Other jobs (shards) still work on it.
    Open,
    Halted(String),
    Done {
        bake: u64,
    },
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Settled::Open => write!(
                f,
                "this shard is done; the stage's other pairs are still running"
            ),
            Settled::Halted(reason) => write!(f, "halted: {reason}"),
            Settled::Done { bake: 0 } => write!(f, "stage done"),
            Settled::Done { bake } => write!(f, "stage done; baking for {bake} s"),
        }
    }
}

/// Once every pair of the stage is applied or failed: halt (see
/// [`halt_reason`]) or mark the stage done, whichever job gets there.
fn settle(
    f: &Fleet<'_>,
    s: &mut State,
    index: usize,
    stage: &Stage,
    out: &Output,
) -> Result<Settled> {
    *s = load(f.store, &s.id).map_err(records_err)?;
    if let Some(reason) = &s.halted {
        return Ok(Settled::Halted(reason.clone()));
    }
    let decided = |s: &State| {
        stage
            .units
            .iter()
            .all(|u| s.applied.contains(u) || s.failed.contains_key(u))
    };
    if !decided(s) {
        return Ok(Settled::Open);
    }
    if let Some(reason) = halt_reason(f.manager, s, stage) {
        halt(f, s, index, &reason, out)?;
        return Ok(Settled::Halted(reason));
    }
    let done = Event::StageDone {
        stage: index,
        at: now(),
        bake_until: now() + stage.bake,
    };
    record_if(f, s, done, out, &|s| {
        s.current == index && s.halted.is_none()
    })?;
    Ok(Settled::Done { bake: stage.bake })
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
        return Some(format!(
            "rollout {} is rolled back{}",
            s.id,
            if s.rollback_done {
                ""
            } else {
                " (in progress: `fleetform rollout rollback` again)"
            }
        ));
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
    match (s.lease_until, s.bake_until) {
        (Some(l), _) if l > at => Some(format!(
            "another tick holds stage {} until {l}",
            s.current + 1
        )),
        (_, Some(b)) if b > at => Some(format!("baking until {b} (unix seconds)")),
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
    out: &Output,
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
        .any(|u| s.applied.contains(u) || s.failed.contains_key(u));
    let rolled: Vec<Unit> = s
        .changed
        .iter()
        .filter(|u| !stage.units.contains(u))
        .cloned()
        .collect();
    if !check || started || rolled.is_empty() {
        return Ok(None);
    }
    let rows = plan_by_product(f, &rolled, settings, out)?;
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
            "{gates} pair(s) blocked by policy gates in wave {}",
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
            "{ungated} pair(s) failed in wave {} (more than {}), first {first}",
            stage.wave, halt.max_failures
        ));
    }
    None
}

/// Plans the stage's pairs not applied yet and applies each; one event per
/// pair.
fn run_stage(
    f: &Fleet<'_>,
    s: &mut State,
    stage: &Stage,
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<()> {
    let todo: Vec<Unit> = stage
        .units
        .iter()
        .filter(|u| !s.applied.contains(u))
        .filter(|u| match &settings.shard {
            // A shard leaves what another shard decided.
            Some(shard) => shard.contains(u) && !s.failed.contains_key(u),
            None => true,
        })
        .cloned()
        .collect();
    let ctx = ApplyCtx {
        actor: &settings.actor,
        wave: &stage.wave,
        observer: settings.observer,
        stop_on_halt: true,
    };
    apply_by_product(f, s, &todo, settings, &ctx, out, &|e| e)
}

/// `units` product by product in dependency order (a product's plans are
/// made once the products it needs are applied, so they read the new
/// outputs): plan, apply, one event per unit (`map` turns an apply's event
/// into the caller's, e.g. a rollback's). A unit whose needed product
/// failed here is not planned.
pub(super) fn apply_by_product(
    f: &Fleet<'_>,
    s: &mut State,
    units: &[Unit],
    settings: &TickSettings<'_>,
    ctx: &ApplyCtx<'_>,
    out: &Output,
    map: &dyn Fn(Event) -> Event,
) -> Result<()> {
    let mut failed: Vec<Unit> = Vec::new();
    for view in f.manager.products() {
        let (mut ready, mut blocked) = (Vec::new(), Vec::new());
        for u in units.iter().filter(|u| u.product == view.product) {
            let dep = view
                .needs()
                .into_keys()
                .find(|d| failed.contains(&Unit::new(&u.customer, Some(d), &u.environment)));
            match dep {
                Some(d) => blocked.push((u.clone(), d)),
                None => ready.push(u.clone()),
            }
        }
        for (u, d) in blocked {
            let e = Event::Failed {
                unit: u.clone(),
                reason: format!("needs `{d}`, whose apply failed here"),
                at: now(),
            };
            failed.push(u);
            record(f, s, map(e), out)?;
        }
        if ready.is_empty() {
            continue;
        }
        let pf = Fleet {
            manager: &view,
            registry: f.registry,
            store: f.store,
        };
        let (reviewed, ready) = reviewed_plans(s, &ready, settings);
        let mut rows = Vec::new();
        for (unit, r) in reviewed {
            match r {
                Ok(row) => rows.push(row),
                Err(reason) => {
                    failed.push(unit.clone());
                    let e = Event::Failed {
                        unit,
                        reason,
                        at: now(),
                    };
                    record(f, s, map(e), out)?;
                }
            }
        }
        let (engine, planned) = match (ready.is_empty(), rows.is_empty()) {
            (true, false) => (
                crate::terraform::engine::build(&view, true, settings.terraform)?,
                Vec::new(),
            ),
            _ => plan_units(&pf, &ready, settings, out)?,
        };
        rows.extend(planned);
        for row in rows {
            // A halt written meanwhile (`rollout halt`) stops the applies.
            *s = load(f.store, &s.id).map_err(records_err)?;
            if ctx.stop_on_halt && s.halted.is_some() {
                return Ok(());
            }
            let event = apply_row(&pf, &engine, s, &row, ctx);
            if let Event::Failed { unit, .. } = &event {
                failed.push(unit.clone());
            }
            record(f, s, map(event), out)?;
        }
    }
    Ok(())
}

/// The units with a plan made for review (opened and checked), and the
/// units the tick plans itself.
type Reviewed = Vec<(Unit, std::result::Result<Row, String>)>;

fn reviewed_plans(s: &State, units: &[Unit], settings: &TickSettings<'_>) -> (Reviewed, Vec<Unit>) {
    let Some((plans, key)) = settings.plans_from else {
        return (Vec::new(), units.to_vec());
    };
    let mut reviewed = Vec::new();
    let mut rest = Vec::new();
    for u in units {
        match super::sealed::reviewed(s, key, plans, u) {
            Ok(Some(row)) => reviewed.push((u.clone(), Ok(row))),
            Ok(None) => rest.push(u.clone()),
            Err(reason) => reviewed.push((u.clone(), Err(reason))),
        }
    }
    (reviewed, rest)
}

/// Plans `units` (nothing applied), each product's with its own engine,
/// products in dependency order; every row.
pub(super) fn plan_by_product(
    f: &Fleet<'_>,
    units: &[Unit],
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for view in f.manager.products() {
        let mine: Vec<Unit> = units
            .iter()
            .filter(|u| u.product == view.product)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let pf = Fleet {
            manager: &view,
            registry: f.registry,
            store: f.store,
        };
        rows.extend(plan_units(&pf, &mine, settings, out)?.1);
    }
    Ok(rows)
}

/// Plans `units` with `f`'s manager, in parallel; the engine (to apply
/// with) and the rows.
pub(super) fn plan_units<'m>(
    f: &Fleet<'m>,
    units: &[Unit],
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<(Engine<'m>, Vec<Row>)> {
    let selected: Vec<(&Customer, Vec<String>)> = units
        .iter()
        .filter_map(|u| {
            f.registry
                .get(&u.customer)
                .map(|c| (c, vec![u.environment.clone()]))
        })
        .collect();
    let mut engine = crate::terraform::engine::build(f.manager, true, settings.terraform)?;
    // What is deployed: the files of each pair's last deployment record,
    // else the customer's checkout.
    let source = crate::fleet::impact::deployed_or_local(f.manager, f.registry, f.store);
    let fleet = crate::fleet::prepare(&engine, &selected, &source, out);
    let jobs = settings.jobs.max(1);
    let rows = crate::fleet::execute(
        &mut engine,
        fleet,
        jobs,
        settings.out_dir,
        false,
        "plan",
        out,
    );
    Ok((engine, rows))
}

/// One planned pair: applied (or nothing to apply), or why not.
pub(super) fn apply_row(
    f: &Fleet<'_>,
    engine: &Engine<'_>,
    s: &State,
    row: &Row,
    ctx: &ApplyCtx<'_>,
) -> Event {
    let unit = Unit::new(&row.customer, row.product.as_deref(), &row.environment);
    let at = now();
    let failed = |reason: String| Event::Failed {
        unit: unit.clone(),
        reason,
        at,
    };
    let (summary, dir) = match &row.outcome {
        Outcome::Planned { summary, dir } => (summary, dir),
        Outcome::Failed { error, .. } => return failed(format!("plan: {error}")),
        Outcome::Skipped { reason } => return failed(format!("plan: skipped ({reason})")),
    };
    if let Some(v) = summary.gates.as_ref().filter(|v| !v.allows()) {
        return failed(format!("gate: {}", v.short()));
    }
    let applied = |changed| Event::Applied {
        unit: unit.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        changed,
        at,
    };
    if !summary.has_changes {
        return applied(false);
    }
    let Some(customer) = f.registry.get(&row.customer) else {
        return failed("not registered".into());
    };
    let before = crate::records::last_deployment(f.store, &unit)
        .ok()
        .flatten();
    let watch = ctx.observer.zip(before.as_ref());
    let handle = watch.and_then(|(o, d)| o.started(&unit, d, &s.id, ctx.wave));
    let result = engine.apply(
        customer,
        &row.environment,
        dir,
        Some(&summary.plan_sha256),
        None,
    );
    let event = match result {
        Ok(_) => {
            let kept = keep_deployment(
                f,
                s,
                &unit,
                dir,
                before.as_ref(),
                &summary.plan_sha256,
                ctx.actor,
            );
            match kept {
                Ok(()) => applied(true),
                Err(e) => failed(format!(
                    "applied, but the deployment record was not kept: {e}"
                )),
            }
        }
        Err(e) => failed(format!("apply: {}", e.short())),
    };
    if let (Some((o, d)), Some(h)) = (watch, handle) {
        match &event {
            Event::Failed { reason, .. } => o.ended(h, d, false, reason),
            _ => o.ended(
                h,
                d,
                true,
                &format!("applied plan sha256:{}", &summary.plan_sha256[..12]),
            ),
        }
    }
    event
}

/// What an apply in a stage knows besides the row.
pub(super) struct ApplyCtx<'a> {
    pub actor: &'a str,
    pub wave: &'a str,
    pub observer: Option<&'a dyn ApplyObserver>,
    /// Stop before the next apply once the rollout is halted (a tick; a
    /// rollback runs on a halted rollout).
    pub stop_on_halt: bool,
}

/// The deployment record of a rollout's apply: the customer's repo and
/// commit carried over from the record its files came from, if any.
fn keep_deployment(
    f: &Fleet<'_>,
    s: &State,
    unit: &Unit,
    dir: &Path,
    before: Option<&crate::records::Deployment>,
    plan_sha256: &str,
    actor: &str,
) -> std::result::Result<(), RecordsError> {
    let ctx = crate::ci::RunContext::from_env();
    let summary_sha = crate::terraform::engine::read_summary(dir)
        .ok()
        .and_then(|s| s.sha);
    let customer = f.registry.get(&unit.customer);
    crate::records::record_deployment(
        f.store,
        unit,
        dir,
        crate::records::DeploymentFacts {
            customer_repo: before
                .and_then(|d| d.customer_repo.clone())
                .or_else(|| customer.and_then(|c| c.repo.clone())),
            customer_sha: summary_sha.or_else(|| before.and_then(|d| d.customer_sha.clone())),
            manager_sha: Some(s.manager_sha.clone()),
            plan_sha256: plan_sha256.to_string(),
            actor: actor.to_string(),
            run_url: ctx.run_url(),
        },
    )
    .map(drop)
}

/// Appends the event and writes its audit line.
pub(super) fn record(f: &Fleet<'_>, s: &mut State, event: Event, out: &Output) -> Result<()> {
    record_if(f, s, event, out, &|_| true).map(drop)
}

/// Appends the event while `still` holds for the state: when another job
/// wrote the next event first, the state is read again and `still` asked
/// again (so a stage is never marked done twice, nor after a halt). Whether
/// it was written.
pub(super) fn record_if(
    f: &Fleet<'_>,
    s: &mut State,
    event: Event,
    out: &Output,
    still: &dyn Fn(&State) -> bool,
) -> Result<bool> {
    for _ in 0..50 {
        if !still(s) {
            return Ok(false);
        }
        match append(f.store, s, event.clone()) {
            Ok(()) => {
                super::audit(out, &s.id, &event);
                super::notify(f.manager, out, &s.id, &event);
                return Ok(true);
            }
            Err(RecordsError::Exists { .. }) => {
                *s = load(f.store, &s.id).map_err(records_err)?;
            }
            Err(e) => return Err(records_err(e)),
        }
    }
    Err(crate::error::Error::Failed(
        "rollout records: too many jobs writing at once; run the tick again".into(),
    ))
}
