//! The applies of a stage: each pair's plan (the reviewed one from `rollout
//! plan`, or, for a tick run by hand without `--plans-from`, one made
//! here), applied behind its digest and gates, one event per pair.

use std::path::Path;

use crate::config::{Customer, Unit};
use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;
use crate::fleet::{Outcome, Row};
use crate::records::{RecordsError, Store};

use super::record::record;
use super::settings::{ApplyObserver, Fleet, TickSettings};

use super::state::{load, Event, OwedDeployment, State};
use super::{now, records_err};

/// What an apply in a stage knows besides the row.
pub(super) struct ApplyCtx<'a> {
    /// Who the applies are recorded as: the wave's approver, else who ran
    /// the tick.
    pub actor: &'a str,
    pub wave: &'a str,
    pub observer: Option<&'a dyn ApplyObserver>,
    /// No second person saw these applies (a workstation's `--unreviewed`).
    pub unreviewed: bool,
}

/// `units` product by product in dependency order (a product's plans are
/// made once the products it needs are applied, so they read the new
/// outputs): plan (or open the reviewed plan), apply, one event per unit.
/// A unit whose needed product failed in this rollout is not planned; a
/// halt, or the rollout ending, stops the applies.
pub(super) fn apply_by_product(
    f: &Fleet<'_>,
    s: &mut State,
    units: &[Unit],
    settings: &TickSettings<'_>,
    ctx: &ApplyCtx<'_>,
    cx: &Context,
) -> Result<()> {
    let mut failed: Vec<Unit> = s.failed.keys().cloned().collect();
    for view in f.manager.products() {
        let mut ready = Vec::new();
        for u in units.iter().filter(|u| u.product == view.product) {
            let dep = view
                .needs()
                .into_keys()
                .find(|d| failed.contains(&Unit::new(&u.customer, Some(d), &u.environment)));
            match dep {
                Some(d) => {
                    let e = Event::Failed {
                        unit: u.clone(),
                        reason: format!("needs `{d}`, whose apply failed in this rollout"),
                        at: now(),
                    };
                    failed.push(u.clone());
                    record(f, s, e, cx)?;
                }
                None => ready.push(u.clone()),
            }
        }
        if ready.is_empty() {
            continue;
        }
        let pf = Fleet {
            manager: &view,
            registry: f.registry,
            store: f.store,
        };
        let (engine, rows) = plans_of(&pf, s, &ready, settings, cx)?;
        for (unit, row) in rows {
            // A halt written meanwhile (`rollout halt`), or the rollout
            // superseded or rolled back, stops the applies.
            *s = load(f.store, &s.id).map_err(records_err)?;
            if s.halted.is_some() || !s.is_open() {
                return Ok(());
            }
            let (event, owed) = match row {
                Ok(row) => apply_row(&pf, &engine, s, &row, ctx),
                Err(reason) => (
                    Event::Failed {
                        unit: unit.clone(),
                        reason,
                        at: now(),
                    },
                    None,
                ),
            };
            if let Event::Failed { unit, .. } = &event {
                failed.push(unit.clone());
            }
            // The owed deployment first: a tick that dies between the two
            // writes leaves the pair undecided (applied again), never an
            // apply nobody will show.
            if let Some(deployment) = owed {
                let at = deployment.applied_at;
                let owed = Event::DeploymentOwed {
                    unit: unit.clone(),
                    deployment,
                    at,
                };
                record(f, s, owed, cx)?;
            }
            record(f, s, event, cx)?;
        }
    }
    Ok(())
}

/// Each unit's plan, in `units`' order: with `--plans-from` only the
/// reviewed ones (a unit without one is a failed pair, never planned
/// here), else planned now. The engine applies them.
type Plans = Vec<(Unit, std::result::Result<Row, String>)>;

fn plans_of<'m>(
    f: &Fleet<'m>,
    s: &State,
    units: &[Unit],
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<(Engine<'m>, Plans)> {
    if let Some((plans, key)) = settings.plans_from {
        // No plan is made here. The providers are installed once for the
        // applies, as for a fleet run's plans, not once per pair.
        let mut engine = crate::engine::Engine::with_terraform(f.manager, settings.terraform)?;
        let rows: Plans = units
            .iter()
            .map(|u| (u.clone(), reviewed(s, u, plans, key)))
            .collect();
        if rows.iter().filter(|(_, r)| r.is_ok()).count() > 1 {
            let cache = settings.out_dir.join(crate::fleet::run::PROVIDERS_DIR);
            if let Err(e) = engine.install_providers(&cache) {
                cx.out.note(&format!(
                    "could not install the providers once for the applies ({}); each pair installs its own",
                    e.short()
                ));
            }
        }
        return Ok((engine, rows));
    }
    let (engine, rows) = plan_units(f, units, settings, cx)?;
    let by_unit = units
        .iter()
        .map(|u| {
            let row = rows
                .iter()
                .find(|r| Unit::new(&r.customer, r.product.as_deref(), &r.environment) == *u)
                .cloned()
                .ok_or_else(|| "plan: no plan was made (see the log)".to_string());
            (u.clone(), row)
        })
        .collect();
    Ok((engine, by_unit))
}

/// The reviewed plan of `unit` in `plans`, or why there is none.
fn reviewed(
    s: &State,
    unit: &Unit,
    plans: &Path,
    key: &crate::dispatch::seal::ArtifactKey,
) -> std::result::Result<Row, String> {
    match super::sealed::reviewed(s, key, plans, unit)? {
        Some(row) => Ok(row),
        None => Err(format!(
            "no reviewed plan in {}: the plan job made none for it (see its log); nothing was applied",
            plans.join(unit.rel_dir()).display()
        )),
    }
}

/// Plans `units` (nothing applied), each product's with its own engine,
/// products in dependency order; every row.
pub(super) fn plan_by_product(
    f: &Fleet<'_>,
    units: &[Unit],
    settings: &TickSettings<'_>,
    cx: &Context,
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
        rows.extend(plan_units(&pf, &mine, settings, cx)?.1);
    }
    Ok(rows)
}

/// Plans `units` with `f`'s manager, in parallel; the engine (to apply
/// with) and the rows. Units whose customer the registry does not have
/// are left out (the tick skipped them before).
fn plan_units<'m>(
    f: &Fleet<'m>,
    units: &[Unit],
    settings: &TickSettings<'_>,
    cx: &Context,
) -> Result<(Engine<'m>, Vec<Row>)> {
    let selected: Vec<(&Customer, Vec<String>)> = units
        .iter()
        .filter_map(|u| {
            f.registry
                .get(&u.customer)
                .map(|c| (c, vec![u.environment.clone()]))
        })
        .collect();
    let mut engine = crate::engine::Engine::with_terraform(f.manager, settings.terraform)?;
    // What is deployed: the files of each pair's last deployment record,
    // else the customer's checkout.
    let source = crate::fleet::impact::deployed_or_local(f.manager, f.registry, f.store);
    let fleet = crate::fleet::prepare(&engine, &selected, &source, &cx.out);
    let jobs = settings.jobs.max(1);
    let rows = crate::fleet::execute(
        &mut engine,
        fleet,
        jobs,
        settings.out_dir,
        false,
        "plan",
        cx,
    );
    Ok((engine, rows))
}

/// One planned pair: applied (or nothing to apply), skipped, or why not;
/// and its GitHub deployment, when that is owed.
fn apply_row(
    f: &Fleet<'_>,
    engine: &Engine<'_>,
    s: &State,
    row: &Row,
    ctx: &ApplyCtx<'_>,
) -> (Event, Option<OwedDeployment>) {
    let unit = Unit::new(&row.customer, row.product.as_deref(), &row.environment);
    let at = now();
    let failed = |reason: String| Event::Failed {
        unit: unit.clone(),
        reason,
        at,
    };
    let (summary, dir) = match &row.outcome {
        Outcome::Planned { summary, dir } => (summary, dir),
        Outcome::Failed { error, .. } => return (failed(format!("plan: {error}")), None),
        Outcome::Skipped { reason } => {
            let skipped = Event::Skipped {
                unit: unit.clone(),
                reason: reason.clone(),
                at,
            };
            return (skipped, None);
        }
    };
    if let Some(v) = summary.gates.as_ref().filter(|v| !v.allows()) {
        return (failed(format!("gate: {}", v.short())), None);
    }
    let applied = |changed| Event::Applied {
        unit: unit.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        changed,
        at,
        actor: ctx.actor.to_string(),
        unreviewed: ctx.unreviewed,
    };
    if !summary.has_changes {
        return (applied(false), None);
    }
    let Some(customer) = f.registry.get(&row.customer) else {
        return (failed("not registered".into()), None);
    };
    let before = crate::records::last_deployment(f.store, &unit)
        .ok()
        .flatten();
    let watch = ctx.observer.zip(before.as_ref());
    let marker = format!("{}/{unit}/{at}", s.id);
    let handle = watch.and_then(|(o, d)| o.started(&unit, d, &s.id, ctx.wave, &marker));
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
                f.store,
                s,
                (&unit, customer),
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
    let owed = watch.zip(handle).and_then(|((o, d), shown)| {
        deployment_ended(
            o,
            shown,
            d,
            &event,
            &summary.plan_sha256,
            (&unit, ctx.wave, &marker),
        )
    });
    (event, owed)
}

/// Tells the observer how the apply ended; the deployment owed, if its
/// writes did not fit.
fn deployment_ended(
    o: &dyn ApplyObserver,
    shown: super::settings::Shown,
    deployed: &crate::records::Deployment,
    event: &Event,
    plan_sha256: &str,
    (unit, wave, marker): (&Unit, &str, &str),
) -> Option<OwedDeployment> {
    let (ok, detail) = match event {
        Event::Failed { reason, .. } => (false, reason.clone()),
        _ => (
            true,
            format!(
                "applied plan sha256:{}",
                crate::dispatch::short_sha(plan_sha256)
            ),
        ),
    };
    let owes = o.ended(shown, deployed, ok, &detail)?;
    owed_deployment(unit, deployed, (wave, marker), owes.id, (ok, detail))
}

/// A deployment owed on the customer's repo (its writes did not fit
/// GitHub's budget), as the rollout records it.
fn owed_deployment(
    unit: &Unit,
    deployed: &crate::records::Deployment,
    (wave, marker): (&str, &str),
    id: Option<u64>,
    (ok, detail): (bool, String),
) -> Option<OwedDeployment> {
    Some(OwedDeployment {
        repo: deployed.customer_repo.clone()?,
        sha: deployed.customer_sha.clone()?,
        environment: unit.environment.clone(),
        wave: wave.to_string(),
        id,
        ok,
        detail,
        applied_at: now(),
        run_url: crate::ci::RunContext::from_env().run_url(),
        marker: marker.to_string(),
    })
}

/// The deployment record of a rollout's apply: the customer's repo and
/// commit carried over from the record its files came from, if any; the
/// actor is the wave's approver.
fn keep_deployment(
    store: &Store,
    s: &State,
    (unit, customer): (&Unit, &Customer),
    dir: &Path,
    before: Option<&crate::records::Deployment>,
    plan_sha256: &str,
    actor: &str,
) -> std::result::Result<(), RecordsError> {
    let ctx = crate::ci::RunContext::from_env();
    let summary_sha = crate::engine::read_summary(dir).ok().and_then(|s| s.sha);
    crate::records::record_deployment(
        store,
        unit,
        dir,
        crate::records::DeploymentFacts {
            customer_repo: before
                .and_then(|d| d.customer_repo.clone())
                .or_else(|| customer.repo.clone()),
            customer_sha: summary_sha.or_else(|| before.and_then(|d| d.customer_sha.clone())),
            manager_sha: Some(s.manager_sha.clone()),
            plan_sha256: plan_sha256.to_string(),
            actor: actor.to_string(),
            run_url: ctx.run_url(),
            pr: None,
        },
    )
    .map(drop)
}
