//! `impact --plan`: the affected pairs planned twice with the same
//! customer inputs, the customer files (and products file) as last applied
//! (the pair's deployment record, else the checkout): once under the
//! manager's base, once under its head. What only the head's plan does is
//! the manager change's; what the base's plan already does is drift (the
//! cloud, the state or the manager's base moved since the apply), and a
//! checkout that differs from the record is the customer's own pending
//! change: both reported apart, labelled as such, never as the change's.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Customer, Manager, Registry, Unit};
use crate::context::Context;
use crate::data::summary::{Action, PlanSummary, ResourceChange};
use crate::report::impact::{Apart, Impact, Plans};
use crate::values::customer::{self, CustomerSource};

use super::Outcome;

/// How `--plan` plans.
pub struct PlanSettings<'a> {
    pub jobs: usize,
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    /// Only these pairs (a matrix shard: customer → its environments, or
    /// all of them when `None`).
    pub shard: Option<&'a BTreeMap<String, Option<Vec<String>>>>,
    /// The manager's repository and the base revision, planned beside the
    /// head.
    pub manager_dir: &'a Path,
    pub base: &'a str,
}

/// Plans the affected pairs at the base and at the head (the manager in
/// use), both with the customer files as last applied, and groups what
/// only the head does.
pub fn plan_affected(
    live: &Manager,
    registry: &Registry,
    impact: &Impact,
    settings: &PlanSettings<'_>,
    cx: &Context,
) -> crate::error::Result<Plans> {
    let affected = affected(impact, settings);
    // One entry per pair: a pair's record holds its own files.
    let mut selected: Vec<(&Customer, Vec<String>)> = Vec::new();
    for (u, _) in &affected {
        if let Some(c) = registry.get(&u.customer) {
            let pair = (c, vec![u.environment.clone()]);
            if !selected
                .iter()
                .any(|(s, e)| s.slug == c.slug && *e == pair.1)
            {
                selected.push(pair);
            }
        }
    }
    let store = crate::records::Store::for_manager(live, &cx.net);
    let head = plan_side(live, registry, &store, &selected, settings, "head", cx)?;
    let scratch = tempfile::tempdir()
        .map_err(|e| crate::error::Error::failed(format!("a scratch folder: {e}")))?;
    let root = crate::util::git::export(settings.manager_dir, settings.base, scratch.path())
        .map_err(|e| crate::error::Error::failed(format!("the base `{}`: {e}", settings.base)))?;
    // The base keeps state and records where the manager in use does.
    let base_manager = Manager::load(&root)?.with_state_of(live);
    let base = plan_side(
        &base_manager,
        registry,
        &store,
        &selected,
        settings,
        "base",
        cx,
    )?;
    let mut plans = Plans::default();
    let mut planned = Vec::new();
    for (unit, new) in affected {
        if let Some(why) = withheld(head.get(unit)) {
            plans.withheld.push((unit.clone(), why));
            continue;
        }
        let pending = pending(live, registry, &store, unit);
        match judge(head.get(unit), base.get(unit), new) {
            Ok((only_head, dir, (drift, behind))) => {
                planned.push((unit.clone(), only_head, dir));
                if !drift.is_empty() || !behind.is_empty() || !pending.is_empty() {
                    plans.apart.push(Apart {
                        unit: unit.clone(),
                        drift,
                        behind,
                        pending,
                    });
                }
            }
            Err(why) => plans.failed.push((unit.clone(), why)),
        }
    }
    plans.planned = planned.len();
    plans.groups = crate::report::impact::group_plans(planned);
    Ok(plans)
}

/// The changed pairs of the shard, each with whether it is new at the head.
fn affected<'i>(impact: &'i Impact, settings: &PlanSettings<'_>) -> Vec<(&'i Unit, bool)> {
    let in_shard = |u: &Unit| {
        settings.shard.is_none_or(|s| {
            s.get(&u.customer)
                .is_some_and(|envs| envs.as_ref().is_none_or(|e| e.contains(&u.environment)))
        })
    };
    impact
        .changed
        .iter()
        .filter(|p| in_shard(&p.unit))
        .map(|p| (&p.unit, p.new))
        .collect()
}

/// Why the head did not plan a pair with secrets (never decrypted for a
/// preview), if that is why.
fn withheld(head: Option<&Outcome>) -> Option<String> {
    match head {
        Some(Outcome::Skipped { reason }) if reason.contains(crate::engine::WITHHELD) => {
            Some(reason.clone())
        }
        _ => None,
    }
}

/// What the base's plan already does: drift (the cloud changed outside
/// Terraform) and the rest (the base not applied yet).
type BaseChanges = (Vec<ResourceChange>, Vec<ResourceChange>);

/// One pair's plans at both sides: what only the head does (and its plan
/// folder) and what the base's plan already does, or why it has no plan
/// to show.
fn judge(
    head: Option<&Outcome>,
    base: Option<&Outcome>,
    new: bool,
) -> Result<(PlanSummary, String, BaseChanges), String> {
    let (summary, dir) = match head {
        Some(Outcome::Planned { summary, dir }) => (summary, dir),
        Some(Outcome::Failed { error, .. }) => return Err(error.clone()),
        Some(Outcome::Skipped { reason }) => return Err(reason.clone()),
        None => return Err("not planned".into()),
    };
    // What the base's plan does too; drift unless the pair was never
    // applied (then it is a first apply at either side).
    let (both, drift) = match (base, new) {
        (Some(Outcome::Planned { summary: b, .. }), _) => (
            b.resources.clone(),
            match b.never_applied {
                true => (Vec::new(), Vec::new()),
                false => b
                    .resources
                    .iter()
                    .cloned()
                    .partition(|r| b.cloud_drift.iter().any(|d| d.address == r.address)),
            },
        ),
        (_, true) => (Vec::new(), (Vec::new(), Vec::new())),
        (b, false) => return Err(base_failure(b)),
    };
    let mut only = only_in_head(summary, &both);
    if let Some(Outcome::Planned { summary: b, .. }) = base {
        only.cost = change_of_head(summary.cost.as_ref(), b.cost.as_ref());
    }
    Ok((only, dir.display().to_string(), drift))
}

/// The manager change's estimate: what the head's plan leaves per month
/// against what the base's plan leaves (both plan the same customer
/// files against the same state, so drift and a pending customer edit
/// cost the same on both sides and cancel out). Without the base's
/// monthly total, the head's own change (against what is deployed).
fn change_of_head(
    head: Option<&crate::data::cost::CostEstimate>,
    base: Option<&crate::data::cost::CostEstimate>,
) -> Option<crate::data::cost::CostEstimate> {
    let head = head?;
    match (head.monthly_cents(), base) {
        (Some(now), Some(b)) if b.currency == head.currency => match b.monthly_cents() {
            Some(before) => Some(crate::data::cost::CostEstimate {
                currency: head.currency.clone(),
                monthly: head.monthly.clone(),
                past_monthly: b.monthly.clone(),
                diff_monthly: Some(crate::data::cost::from_cents(now - before)),
                basis: None,
            }),
            None => Some(head.clone()),
        },
        _ => Some(head.clone()),
    }
}

/// Why a pair's base could not be planned: without it, drift and the
/// change cannot be told apart, so the pair is not shown as either.
fn base_failure(b: Option<&Outcome>) -> String {
    let why = match b {
        Some(Outcome::Failed { error, .. }) => error.clone(),
        Some(Outcome::Skipped { reason }) => reason.clone(),
        _ => "not planned".into(),
    };
    format!("the base's plan failed, so drift cannot be told apart from the change: {why}")
}

/// The head's plan without what the base's plan does as well (the same
/// action on the same address touching the same attributes).
fn only_in_head(head: &PlanSummary, base: &[ResourceChange]) -> PlanSummary {
    let mut s = head.clone();
    s.resources.retain(|r| !base.contains(r));
    let count = |a: Action| s.resources.iter().filter(|r| r.action == a).count();
    s.create = count(Action::Create);
    s.update = count(Action::Update);
    s.delete = count(Action::Delete);
    s.replace = count(Action::Replace);
    s.has_changes = !s.resources.is_empty();
    s
}

/// One side planned: every selected pair, its customer files as last
/// applied (the record) or the checkout, plans under `out_dir/<side>`.
fn plan_side<'r>(
    manager: &Manager,
    registry: &'r Registry,
    store: &'r crate::records::Store,
    selected: &[(&Customer, Vec<String>)],
    settings: &PlanSettings<'_>,
    side: &str,
    cx: &Context,
) -> crate::error::Result<BTreeMap<Unit, Outcome>> {
    let out_dir = settings.out_dir.join(side);
    let rows = if manager.has_products() {
        let run = super::products::RunSettings {
            jobs: settings.jobs,
            out_dir: &out_dir,
            refresh_only: false,
            action: "impact-plan",
            terraform: settings.terraform,
            withhold_secrets: true,
        };
        let source_for = move |view: &Manager| -> Box<super::run::SourceFn<'r>> {
            let view = view.clone();
            Box::new(move |c: &Customer, envs: &[String]| {
                super::impact::deployed_or_local(&view, registry, store)(c, envs)
            })
        };
        super::products::run(
            manager,
            selected,
            &super::local_products_file(registry),
            &source_for,
            &run,
            cx,
        )?
    } else {
        let mut engine = crate::engine::Engine::with_terraform(manager, settings.terraform)?;
        engine.withhold_secrets = true;
        let source = super::impact::deployed_or_local(manager, registry, store);
        let fleet = super::prepare(&engine, selected, &source, &cx.out);
        super::execute(
            &mut engine,
            fleet,
            settings.jobs,
            &out_dir,
            false,
            "impact-plan",
            cx,
        )
    };
    Ok(rows.into_iter().map(|r| (r.unit(), r.outcome)).collect())
}

/// The customer files of `unit` whose checkout differs from what was
/// last applied (its record): the customer's own change, not applied and
/// not planned here. None without a record or a readable checkout.
fn pending(
    live: &Manager,
    registry: &Registry,
    store: &crate::records::Store,
    unit: &Unit,
) -> Vec<String> {
    let Some(view) = live
        .products()
        .into_iter()
        .find(|v| v.product == unit.product)
    else {
        return Vec::new();
    };
    let env = &unit.environment;
    let Some(recorded) = crate::records::last_deployment(store, unit)
        .ok()
        .flatten()
        .and_then(|d| super::impact::from_record(&d, &view, env))
    else {
        return Vec::new();
    };
    let Some(local) = registry
        .get(&unit.customer)
        .and_then(|c| registry.customer_dir(c))
        .and_then(|dir| CustomerSource::from_dir(&view, &dir, std::slice::from_ref(env)).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if recorded.variables.1 != local.variables.1 {
        out.push(view.config.customer.variables.clone());
    }
    let bytes = |s: &CustomerSource| s.overrides.get(env).map(|(_, b)| b.clone());
    if bytes(&recorded) != bytes(&local) {
        out.push(customer::override_path(&view, env));
    }
    out
}
