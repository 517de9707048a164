//! Adoption in waves, as a rollout: the customers of one environment in
//! order (those named, else the rollout's waves from fleetform.yml, pilot
//! first), each pair planned and, with `--apply --unreviewed` on a
//! workstation, adopted when its plan only imports. Pairs adopted already
//! are skipped, so a second run goes on where the first stopped.
//!
//! - A wave starts once every pair of the wave before is adopted and
//!   the newest of those adoptions is older than that wave's bake time
//!   (`rollout.bake`, or the wave's own `bake`); until then the report
//!   says when it may start.
//! - The first pair that is not ready halts the wave, and nothing after
//!   it is planned; the halt is kept (`halt`) and holds every later run
//!   until the pair is ready or an operator resumes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::halt::{HaltEvent, HaltRecord};
use super::record::Event;
use super::{ApplyTarget, Target};
use crate::config::Activity;
use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::data::adoption::Verdict;
use crate::error::{Error, Result};
use crate::records::Store;
use crate::report::adopt::{PairStatus, Stage, WaveReport};

/// What a wave runs.
#[derive(Debug, Clone)]
pub struct WaveSettings {
    pub environment: String,
    pub product: Option<String>,
    /// In this order, as one wave; none: the rollout's waves.
    pub customers: Vec<String>,
    pub out: PathBuf,
    pub terraform: Option<PathBuf>,
    /// Adopt each ready pair (`--apply --unreviewed`), with this reason.
    pub apply: Option<String>,
    /// Lift the wave's halt (an operator's `--resume`): its pair is
    /// planned again.
    pub resume: bool,
}

/// One wave: its name, its customers in order, its bake time (s).
struct Step {
    name: String,
    customers: Vec<String>,
    bake: u64,
}

/// Runs the wave; the report says where it halted or waits, if it does.
pub fn wave(s: &WaveSettings, manager_dir: &Path, cx: &Context) -> Result<WaveReport> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    if s.apply.is_some() && crate::ci::in_actions() {
        return Err(Error::refused(
            "on GitHub Actions each pair's adoption is applied from its reviewed digest (`adopt apply --plan-sha256`); `adopt wave --apply` runs on a workstation only; nothing was applied"));
    }
    let view = manager
        .select_product(s.product.as_deref())
        .map_err(Error::usage)?;
    let store = Store::for_manager(&view, &cx.net);
    let steps = order(&manager, &registry, s)?;
    let mut report = WaveReport::default();
    match hold(&manager, &view, &store, s, cx)? {
        Held::Yes(why) => {
            report.held = Some(why);
            return Ok(report);
        }
        Held::Lifted(how) => report.resumed = Some(how),
        Held::No => {}
    }
    for (i, step) in steps.iter().enumerate() {
        if let Some(before) = i.checked_sub(1).map(|b| &steps[b]) {
            if let Some(wait) = not_yet(&view, &store, before, step, s)? {
                report.waiting = Some(wait);
                break;
            }
        }
        let mut rows = Vec::new();
        for slug in &step.customers {
            let t = Target {
                customer: slug.clone(),
                environment: s.environment.clone(),
                product: s.product.clone(),
                out: s.out.clone(),
                terraform: s.terraform.clone(),
                customer_dir: None,
            };
            let (row, halt) = one_pair(&manager, &registry, &t, s.apply.as_deref(), cx)?;
            let unit = row.unit.clone();
            rows.push(row);
            if let Some(why) = halt {
                let r = HaltRecord::new(HaltEvent::Halted, &unit, &why, &crate::ci::actor());
                super::halt::keep(&store, &r, cx)?;
                report.halted = Some(why);
                break;
            }
        }
        report.waves.push((step.name.clone(), rows));
        if report.halted.is_some() {
            break;
        }
    }
    Ok(report)
}

/// Whether an earlier halt holds the wave.
enum Held {
    No,
    /// Held: why, and what lifts it.
    Yes(String),
    /// It held, and was lifted now: how.
    Lifted(String),
}

/// The wave's kept halt: lifted (recorded) when an operator resumes or
/// its pair is ready now (zero-diff or adopted); else it holds.
fn hold(
    manager: &Manager,
    view: &Manager,
    store: &Store,
    s: &WaveSettings,
    cx: &Context,
) -> Result<Held> {
    let Some(h) = super::halt::current(store, &s.environment, s.product.as_deref())? else {
        if s.resume {
            cx.out.note(&format!(
                "the adoption wave of `{}` is not halted: nothing to resume",
                s.environment
            ));
        }
        return Ok(Held::No);
    };
    let now = super::status::pair_status(view, store, &h.unit, &s.out)?;
    let (how, who) = if s.resume {
        let who = crate::flows::rollout::operator(manager, "resumed", cx)?;
        (
            format!("resumed by {who}: {} is planned again", h.unit),
            who,
        )
    } else if matches!(now.stage, Stage::ZeroDiff | Stage::Adopted) {
        (
            format!("{} is {} now", h.unit, now.stage.word()),
            crate::ci::actor(),
        )
    } else {
        return Ok(Held::Yes(crate::report::adopt::held_text(
            &h.unit,
            (&h.time, &h.actor, &h.reason),
            &now,
        )));
    };
    let r = HaltRecord::new(HaltEvent::Resumed, &h.unit, &how, &who);
    super::halt::keep(store, &r, cx)?;
    Ok(Held::Lifted(format!(
        "The wave halted at {} on {} went on: {how}.",
        h.unit, h.time
    )))
}

/// Why `step` may not start yet: a pair of the wave `before` is not
/// adopted, or the newest of their adoptions is younger than `before`'s
/// bake time.
fn not_yet(
    view: &Manager,
    store: &Store,
    before: &Step,
    step: &Step,
    s: &WaveSettings,
) -> Result<Option<String>> {
    let mut newest: Option<(i64, crate::config::Unit)> = None;
    for slug in &before.customers {
        let unit = view.unit(slug, &s.environment);
        let adopted = super::record::newest(store, &unit)?
            .filter(|r| r.event == Event::Adopted)
            .and_then(|r| r.time.parse::<jiff::Timestamp>().ok());
        let Some(at) = adopted else {
            return Ok(Some(format!(
                "wave {} starts once every pair of wave {} is adopted, and {unit} is not: adopt it from its reviewed digest (`fleetform adopt status --env {}` shows where each pair stands)",
                step.name, before.name, s.environment
            )));
        };
        if newest.as_ref().is_none_or(|(t, _)| at.as_second() > *t) {
            newest = Some((at.as_second(), unit));
        }
    }
    let Some((last, unit)) = newest else {
        return Ok(None);
    };
    let until = u64::try_from(last).unwrap_or(0) + before.bake;
    let now = crate::rollout::now();
    Ok((now < until).then(|| {
        format!(
            "wave {} may start at {}: wave {} bakes {} s after its last adoption ({unit} at {}); run the wave again then",
            step.name,
            crate::report::rollout::when(until, now),
            before.name,
            before.bake,
            crate::audit::rfc3339(u64::try_from(last).unwrap_or(0))
        )
    }))
}

/// Plans (and, asked, adopts) one pair; the halt reason when it is not
/// ready. An adopted pair is skipped.
fn one_pair(
    manager: &Manager,
    registry: &Registry,
    t: &Target,
    apply: Option<&str>,
    cx: &Context,
) -> Result<(PairStatus, Option<String>)> {
    let (view, customer) = super::resolve(manager, registry, t)?;
    let unit = view.unit(&customer.slug, &t.environment);
    let store = Store::for_manager(&view, &cx.net);
    let before = super::status::pair_status(&view, &store, &unit, &t.out)?;
    if before.stage == Stage::Adopted {
        return Ok((before, None));
    }
    let scratch = super::scratch()?;
    let pinned = super::at_pin(manager, &view, customer, scratch.path())?;
    let module = pinned.as_ref().unwrap_or(&view);
    let planned = match super::plan::plan_pair((&view, module), registry, customer, t, &cx.out) {
        Ok(p) => p,
        Err(e) => {
            let row = super::status::pair_status(&view, &store, &unit, &t.out)?;
            return Ok((row, Some(format!("{unit}: {e}"))));
        }
    };
    let verdict = planned.diff.verdict();
    if verdict != Verdict::Ready || planned.diff.imported().is_empty() {
        let row = super::status::pair_status(&view, &store, &unit, &t.out)?;
        let why = crate::report::adopt::diff_text(
            &planned.unit,
            &planned.mapping,
            &planned.plan_sha256,
            &planned.diff,
        );
        return Ok((row, Some(why)));
    }
    if let Some(reason) = apply {
        let a = ApplyTarget {
            pair: t.clone(),
            plan_sha256: planned.plan_sha256.clone(),
            reason: reason.to_string(),
            accept_updates: false,
            confirms: None,
            unreviewed: true,
            github: false,
        };
        if let Err(e) = super::apply::apply_pair((&view, module), customer, &a, cx) {
            let row = super::status::pair_status(&view, &store, &unit, &t.out)?;
            return Ok((row, Some(format!("{unit}: {e}"))));
        }
    }
    Ok((
        super::status::pair_status(&view, &store, &unit, &t.out)?,
        None,
    ))
}

/// The waves: the named customers as one, else the rollout's waves over
/// the active customers in the environment (with the product, those that
/// may have it; the rest last), else all of them as one.
fn order(manager: &Manager, registry: &Registry, s: &WaveSettings) -> Result<Vec<Step>> {
    let one = |name: &str, customers: Vec<String>| Step {
        name: name.to_string(),
        customers,
        bake: 0,
    };
    if !s.customers.is_empty() {
        return Ok(vec![one("named", s.customers.clone())]);
    }
    let takes = |c: &crate::config::Customer| match (&s.product, &c.products) {
        (Some(p), Some(allowed)) => allowed.contains(p),
        _ => true,
    };
    let within: BTreeSet<String> = registry
        .customers
        .iter()
        .filter(|c| {
            c.takes_part(Activity::Adopt) && c.environments.contains(&s.environment) && takes(c)
        })
        .map(|c| c.slug.clone())
        .collect();
    if within.is_empty() {
        return Err(Error::usage(format!(
            "no active customer is in environment `{}`",
            s.environment
        )));
    }
    let Some(rollout) = manager
        .config
        .rollout
        .as_ref()
        .filter(|r| !r.waves.is_empty())
    else {
        return Ok(vec![one("all", within.into_iter().collect())]);
    };
    let (waves, left) = crate::rollout::waves::assign(rollout, &registry.customers, &within);
    let mut out: Vec<Step> = rollout
        .waves
        .iter()
        .zip(waves)
        .enumerate()
        .filter(|(_, (_, c))| !c.is_empty())
        .map(|(i, (w, customers))| Step {
            name: w.name.clone(),
            customers,
            bake: rollout.bake_after(i),
        })
        .collect();
    if !left.is_empty() {
        out.push(one("no wave", left));
    }
    Ok(out)
}
