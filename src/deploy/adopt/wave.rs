//! Adoption in waves: the customers of one environment in order (those
//! named, else the rollout's waves from fleetform.yml, pilot first), each
//! pair planned and, with `--apply --unreviewed` on a workstation,
//! adopted when its plan only imports; the first pair that is not ready
//! halts the wave, and nothing after it is planned.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{ApplyTarget, Target};
use crate::data::adoption::Verdict;
use crate::error::{Error, Result};
use crate::output::Output;
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
}

/// Runs the wave; the report says where it halted, if it did.
pub fn wave(s: &WaveSettings, manager_dir: &Path, out: &Output) -> Result<WaveReport> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    if s.apply.is_some() && crate::ci::in_actions() {
        return Err(Error::Refused(
            "on GitHub Actions each pair's adoption is applied from its reviewed digest (`adopt apply --plan-sha256`); `adopt wave --apply` runs on a workstation only; nothing was applied".into(),
        ));
    }
    let waves = order(&manager, &registry, s)?;
    let mut report = WaveReport::default();
    for (name, customers) in waves {
        let mut rows = Vec::new();
        for slug in customers {
            let t = Target {
                customer: slug,
                environment: s.environment.clone(),
                product: s.product.clone(),
                out: s.out.clone(),
                terraform: s.terraform.clone(),
            };
            let (row, halt) = one_pair(&manager, &registry, &t, s.apply.as_deref(), out)?;
            rows.push(row);
            if let Some(why) = halt {
                report.halted = Some(why);
                break;
            }
        }
        report.waves.push((name, rows));
        if report.halted.is_some() {
            break;
        }
    }
    Ok(report)
}

/// Plans (and, asked, adopts) one pair; the halt reason when it is not
/// ready. An adopted pair is skipped.
fn one_pair(
    manager: &crate::config::Manager,
    registry: &crate::config::Registry,
    t: &Target,
    apply: Option<&str>,
    out: &Output,
) -> Result<(PairStatus, Option<String>)> {
    let (view, customer) = super::resolve(manager, registry, t)?;
    let unit = view.unit(&customer.slug, &t.environment);
    let store = crate::records::Store::for_manager(&view);
    let before = super::status::pair_status(&view, &store, &unit, &t.out)?;
    if before.stage == Stage::Adopted {
        return Ok((before, None));
    }
    let scratch = super::scratch()?;
    let pinned = super::at_pin(manager, &view, customer, scratch.path())?;
    let module = pinned.as_ref().unwrap_or(&view);
    let planned = match super::plan::plan_pair((&view, module), registry, customer, t, out) {
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
        };
        if let Err(e) = super::apply::apply_pair((&view, module), customer, &a, out) {
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
/// the active customers in the environment (the rest last), else all of
/// them as one.
fn order(
    manager: &crate::config::Manager,
    registry: &crate::config::Registry,
    s: &WaveSettings,
) -> Result<Vec<(String, Vec<String>)>> {
    if !s.customers.is_empty() {
        return Ok(vec![("named".to_string(), s.customers.clone())]);
    }
    let within: BTreeSet<String> = registry
        .customers
        .iter()
        .filter(|c| c.is_active() && c.environments.contains(&s.environment))
        .map(|c| c.slug.clone())
        .collect();
    if within.is_empty() {
        return Err(Error::Usage(format!(
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
        return Ok(vec![("all".to_string(), within.into_iter().collect())]);
    };
    let (waves, left) = crate::rollout::waves::assign(rollout, &registry.customers, &within);
    let mut out: Vec<(String, Vec<String>)> = rollout
        .waves
        .iter()
        .map(|w| w.name.clone())
        .zip(waves)
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if !left.is_empty() {
        out.push(("no wave".to_string(), left));
    }
    Ok(out)
}
