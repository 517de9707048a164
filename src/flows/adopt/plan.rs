//! One pair's adoption plan: its mapping as import blocks in the working
//! copy, `terraform plan`, the plan read as an adoption diff and kept
//! beside the plan ([`super::ADOPTION_FILE`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AdoptError, Mapping, Target};
use crate::config::{Customer, Manager, Registry, Unit};
use crate::data::adoption::AdoptionDiff;
use crate::engine::{Engine, PlanRequest};
use crate::error::{Error, Result};
use crate::output::Output;

/// A pair's adoption plan, made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    pub unit: Unit,
    /// The mapping file, relative to the manager repo.
    pub mapping: PathBuf,
    pub plan_sha256: String,
    pub diff: AdoptionDiff,
}

/// Plans the adoption of `t`'s pair from its mapping file; `seal`: its
/// folder sealed for the ops workflow's artifact (`plan --seal`), with
/// the job outputs `plan_sha256` and `plan_dir`; `accept_updates`: the
/// operator accepts in-place updates, a choice kept with the plan.
pub fn plan(
    t: &Target,
    (seal, accept_updates): (bool, bool),
    manager_dir: &Path,
    out: &Output,
) -> Result<Planned> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let (view, customer) = super::resolve(&manager, &registry, t)?;
    let scratch = super::scratch()?;
    let pinned = super::at_pin(&manager, &view, customer, scratch.path())?;
    let module = pinned.as_ref().unwrap_or(&view);
    let planned = plan_pair((&view, module), &registry, customer, t, out)?;
    let dir = t.out.join(planned.unit.rel_dir());
    // The operator's choice, kept (and sealed) with the plan it is for.
    let choices = serde_json::json!({ "accept_updates": accept_updates });
    crate::util::fs::write_atomic(
        &dir.join(crate::flows::github_loop::artifact::CHOICES_FILE),
        choices.to_string().as_bytes(),
    )
    .map_err(|e| Error::failed(e.to_string()))?;
    if seal {
        crate::flows::github_loop::artifact::seal_local(&planned.unit, &dir)?;
        let ctx = crate::ci::RunContext::from_env();
        if let Err(e) = ctx.set_outputs(&[
            ("plan_sha256", planned.plan_sha256.clone()),
            ("plan_dir", dir.display().to_string()),
        ]) {
            out.note(&format!("could not set the job outputs: {e}"));
        }
    }
    Ok(planned)
}

/// Plans one pair of `view` (its customer checked already) with
/// `module`'s root module and values (`view` itself, or at the
/// customer's pin).
pub(super) fn plan_pair(
    (view, module): (&Manager, &Manager),
    registry: &Registry,
    customer: &Customer,
    t: &Target,
    out: &Output,
) -> Result<Planned> {
    let unit = view.unit(&customer.slug, &t.environment);
    let mapping = Mapping::read(view, &unit)?.ok_or_else(|| AdoptError::Mapping {
        at: super::mapping_path(&unit).display().to_string(),
        message: format!(
            "no mapping file for {unit}: write it in the manager repo, `imports:` mapping each resource address to the id of the object that exists"
        ),
    })?;
    let mut engine = Engine::with_terraform(module, t.terraform.as_deref())?;
    engine.imports = mapping.imports.clone();
    let docs = read_docs(&engine, registry, customer, t)?;
    let dir = t.out.join(unit.rel_dir());
    out.note(&format!(
        "{unit}: planning the adoption of {} from {}",
        crate::util::text::count(mapping.imports.len(), "object", "objects"),
        mapping.shown.display()
    ));
    let ctx = crate::ci::RunContext::from_env();
    let outcome = engine
        .plan(&PlanRequest {
            customer,
            environment: &t.environment,
            docs: &docs,
            out_dir: dir.clone(),
            sha: None,
            run_url: ctx.run_url(),
            refresh_only: false,
            pull: None,
            awaiting: Vec::new(),
            policy_tools: true,
            // An adoption changes no cost Infracost would see twice.
            cost_baseline: None,
        })
        .map_err(|e| match mapping.missing_target(&e) {
            Some(m) => Error::from(m),
            None => crate::flows::local::state_preview::run_error(e),
        })?;
    let planned = Planned {
        unit,
        mapping: mapping.shown,
        plan_sha256: outcome.summary.plan_sha256.clone(),
        diff: AdoptionDiff::from_show_json(&outcome.json),
    };
    let bytes = serde_json::to_vec_pretty(&planned).expect("serialisable");
    crate::util::fs::write_atomic(&dir.join(super::ADOPTION_FILE), &bytes)
        .map_err(|e| Error::failed(e.to_string()))?;
    Ok(planned)
}

/// The adoption plan kept in `dir`, if its digest is the plan's there.
pub(super) fn kept(dir: &Path) -> Option<Planned> {
    let bytes = crate::util::fs::read_input(dir.join(super::ADOPTION_FILE)).ok()?;
    let planned: Planned = serde_json::from_slice(&bytes).ok()?;
    let summary = crate::engine::read_summary(dir).ok()?;
    (summary.plan_sha256 == planned.plan_sha256).then_some(planned)
}

/// The customer's values for `t`'s environment from its checkout
/// (`--customer-dir`, else the registry's `path`), checked.
fn read_docs(
    engine: &Engine<'_>,
    registry: &Registry,
    customer: &Customer,
    t: &Target,
) -> Result<crate::values::customer::CustomerDocs> {
    use crate::values::customer::CustomerSource;
    let envs = [t.environment.clone()];
    let read = match &t.customer_dir {
        Some(dir) => CustomerSource::from_dir(engine.manager, dir, &envs).map_err(|d| vec![d]),
        None => crate::fleet::local_source(engine.manager, registry)(customer, &envs),
    };
    read.and_then(|src| crate::values::customer::check(&src, &engine.schema))
        .map_err(Error::Values)
}
