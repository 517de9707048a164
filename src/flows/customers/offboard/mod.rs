//! Offboarding a revoked customer (`customers offboard`), in two halves
//! that a second person stands between:
//!
//! 1. **Preview** (no `--approve`): the destroy of every product ×
//!    environment the customer has, planned in reverse dependency order (a
//!    product before the products it needs), and sealed
//!    ([`sealed::Sealed`]): who asks, why, each plan's digest, what it
//!    destroys and the state it was made against. The preview's SHA-256
//!    is the offboarding's digest; on GitHub Actions it is the job output
//!    `digest`, and each plan folder is sealed for the artifact
//!    (`bundle.sealed`, with `FLEETFORM_ARTIFACT_KEY`).
//! 2. **Destroy** (`--approve DIGEST`): only the preview with that digest,
//!    only after someone other than who asked let it through
//!    ([`crate::flows::github_loop::second_person`]; on a workstation `--unreviewed`), and
//!    on GitHub Actions only the preview made in the run whose approval
//!    was read (this run, or the run `--confirms` names).
//!    Then, before anything is destroyed, the state of every pair (every
//!    resource in it) is archived in the records store, create-only, and
//!    read back ([`archive`]); a state that changed since the preview, or
//!    an archive not kept, destroys nothing. Then the plans apply in
//!    order; a destroy that fails is named with what is left in its state,
//!    and the others go on.
//!
//! May import what `flows` may (the engine, `records`, `dispatch`'s
//! seal, `report`, `audit`, `ci`) and `deploy`'s own `second_person`,
//! `state_preview` and `artifact`.

mod archive;
pub mod sealed;
pub mod step;

use std::path::Path;

use crate::audit::Entry;
use crate::config::Activity;
use crate::config::{Customer, Manager, Registry, Unit};
use crate::context::Context;
use crate::data::summary::Targeting;
use crate::dispatch::seal::{ArtifactKey, SealError};
use crate::engine::{Engine, PlanRequest};
use crate::error::{Error, Result, Say};
use crate::flows::github_loop::second_person::{self, Verdict};
use crate::output::Output;
use crate::values::customer;

use crate::flows::github_loop::artifact::BUNDLE_FILE;
pub use archive::Archived;
use sealed::{Sealed, SealedUnit};

/// The GitHub environment the destroy runs in; its reviewers (or a
/// confirming run) are the second person.
pub const ENVIRONMENT: &str = "fleetform-offboard";

/// Where the plans are and how Terraform runs.
pub struct Settings<'a> {
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    /// The customer's checkout, instead of the registry's `path` (the
    /// offboarding workflow checks the customer's repo out).
    pub customer_dir: Option<&'a Path>,
}

/// What `--approve` asks for.
pub struct Approve<'a> {
    /// The preview's digest (or a prefix of it).
    pub digest: &'a str,
    /// `--reason`, if given again: it must be the preview's.
    pub reason: Option<&'a str>,
    /// `--confirms RUN`: the preview's run, started by someone else.
    pub confirms: Option<u64>,
    /// `--unreviewed`: a workstation with no second person.
    pub unreviewed: bool,
}

/// A sealed preview and its digest.
pub struct Preview {
    pub sealed: Sealed,
    pub digest: String,
}

/// What a destroy did: the preview it ran, who let it through, the
/// states archived before it, the pairs destroyed and those that failed.
pub struct Destroyed {
    pub sealed: Sealed,
    pub digest: String,
    pub verdict: Verdict,
    pub archived: Vec<Archived>,
    pub destroyed: Vec<String>,
    pub failed: Vec<Failed>,
}

#[derive(Debug)]
pub struct Failed {
    pub unit: String,
    pub error: String,
    pub left: Vec<String>,
}

/// The order the units are destroyed in: the products reversed (the
/// dependents first), each over the customer's environments.
fn views(manager: &Manager, c: &Customer) -> Vec<(Manager, Vec<String>)> {
    let mut views = manager.products();
    views.reverse();
    views
        .into_iter()
        .map(|v| {
            let envs = c
                .environments
                .iter()
                .filter(|e| v.environment(e).is_some())
                .cloned()
                .collect();
            (v, envs)
        })
        .collect()
}

fn engine<'m>(view: &'m Manager, terraform: Option<&Path>, reason: &str) -> Result<Engine<'m>> {
    let mut engine = Engine::with_terraform(view, terraform)?;
    engine.targeting = Some(Targeting {
        destroy: true,
        reason: reason.to_string(),
        actor: Entry::now("offboard", "").actor,
        ..Targeting::default()
    });
    Ok(engine)
}

/// The customer must be revoked (dispatches refused) first.
pub fn check_revoked(c: &Customer) -> Result<()> {
    if !c.takes_part(Activity::Offboard) {
        return Err(Error::usage(format!(
            "`{}` is active: revoke it first, then offboard it",
            c.slug
        )));
    }
    if let Some(date) = &c.offboarded {
        return Err(Error::usage(format!(
            "`{}` was offboarded on {date}; nothing is left to destroy",
            c.slug
        )));
    }
    Ok(())
}

/// Plans the destroy of everything the customer has and seals it.
pub fn preview(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    s: &Settings<'_>,
    reason: &str,
    out: &Output,
) -> Result<Preview> {
    check_revoked(c)?;
    let key = artifact_key()?;
    let planned = plan_all(manager, registry, c, s, reason, out)?;
    let ctx = crate::ci::RunContext::from_env();
    let requested_by = Entry::now("offboard", "").actor;
    let mut sealed = Sealed::new(&c.slug, reason, &requested_by, &ctx);
    for (view, unit) in &planned {
        let dir = s.out_dir.join(unit.rel_dir());
        let summary = crate::engine::read_summary(&dir)
            .map_err(|e| Error::failed(format!("{unit}: {e}; nothing was sealed")))?;
        let engine = engine(view, s.terraform, reason)?;
        let (state, _) =
            crate::flows::local::state_preview::read_state(&engine, c, &unit.environment, &dir)?;
        if state.serial.is_none() && summary.resources.is_empty() {
            sealed.without_state.push(unit.to_string());
            continue;
        }
        sealed.units.push(SealedUnit {
            unit: unit.to_string(),
            product: unit.product.clone(),
            environment: unit.environment.clone(),
            plan_sha256: summary.plan_sha256,
            destroys: summary
                .resources
                .iter()
                .map(|r| r.address.clone())
                .collect(),
            state,
        });
        if key.is_some() {
            seal_plan(unit, &dir)?;
        }
    }
    let digest = sealed.write(s.out_dir)?;
    if let Err(e) = ctx.set_outputs(&[("digest", digest.clone())]) {
        out.note(&format!("could not set the job output `digest`: {e}"));
    }
    Ok(Preview { sealed, digest })
}

/// Plans each unit's destroy; the units planned, in destroy order (a
/// product whose needed product was never applied has nothing to
/// destroy).
fn plan_all(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    s: &Settings<'_>,
    reason: &str,
    out: &Output,
) -> Result<Vec<(Manager, Unit)>> {
    let mut planned = Vec::new();
    let views = views(manager, c);
    let progress = out.progress(views.iter().map(|(_, envs)| envs.len()).sum());
    for (view, envs) in views {
        if envs.is_empty() {
            continue;
        }
        let engine = engine(&view, s.terraform, reason)?;
        let source = match s.customer_dir {
            Some(dir) => customer::CustomerSource::from_dir(&view, dir, &envs).map_err(|d| vec![d]),
            None => crate::fleet::local_source(&view, registry)(c, &envs),
        };
        let docs = source
            .and_then(|src| customer::check(&src, &engine.schema))
            .map_err(Error::Values)?;
        let mut units = Vec::new();
        for env in &envs {
            let unit = view.unit(&c.slug, env);
            let req = PlanRequest {
                customer: c,
                environment: env,
                docs: &docs,
                out_dir: s.out_dir.join(unit.rel_dir()),
                sha: None,
                run_url: None,
                refresh_only: false,
                pull: None,
                awaiting: Vec::new(),
                policy_tools: false,
                cost_baseline: None,
            };
            progress.started(&unit.to_string());
            let result = engine.plan(&req);
            progress.counted();
            match result {
                Ok(_) => units.push(unit),
                Err(Error::Waiting(why)) => {
                    out.note(&format!("{unit}: nothing to destroy ({why})"))
                }
                Err(e) => {
                    return Err(Error::failed(format!(
                        "planning the destroy of {unit}: {}; nothing was sealed",
                        e.short()
                    )))
                }
            }
        }
        drop(engine);
        planned.extend(units.into_iter().map(|u| (view.clone(), u)));
    }
    Ok(planned)
}

/// The artifact key: on GitHub Actions the plans leave the runner only
/// sealed, so it is required there; on a workstation the plans stay in
/// their folders.
fn artifact_key() -> Result<Option<ArtifactKey>> {
    match ArtifactKey::from_env() {
        Ok(k) => Ok(Some(k)),
        Err(SealError::NoKey) if !crate::ci::in_actions() => Ok(None),
        Err(e) => Err(Error::usage(format!(
            "FLEETFORM_ARTIFACT_KEY: {e}; on GitHub Actions the preview's plans reach the destroy job sealed with it: set it as a secret of both offboarding environments (fleetform-offboard-plan, fleetform-offboard)"
        ))),
    }
}

/// Seals the plan folder into `bundle.sealed`, the only file of it the
/// workflow uploads.
fn seal_plan(unit: &Unit, dir: &Path) -> Result<()> {
    crate::flows::github_loop::artifact::seal_local(unit, dir).map_err(|e| {
        Error::failed(format!(
            "sealing the plan of {unit}: {e}; nothing was sealed"
        ))
    })
}

/// Opens each unit's downloaded bundle into its folder (on GitHub
/// Actions, where the plans come from the preview job's artifact).
fn open_plans(manager: &Manager, sealed: &Sealed, out_dir: &Path) -> Result<()> {
    let Some(key) = artifact_key()? else {
        return Ok(());
    };
    for u in &sealed.units {
        let unit = unit_of(manager, &sealed.customer, u)?.1;
        let dir = out_dir.join(unit.rel_dir());
        let bundle = dir.join(BUNDLE_FILE);
        if !bundle.is_file() && !crate::ci::in_actions() {
            continue;
        }
        crate::flows::github_loop::artifact::open_plan(&key, &unit.customer, &unit.place(), &dir).map_err(
            |e| {
                let why = match e {
                    Error::Refused(m) | Error::Failed(m) => m,
                    other => other.to_string().into(),
                };
                Error::refused(format!(
                    "the sealed plan of {unit}: {why}; download the preview job's artifact into {}; nothing was destroyed",
                    out_dir.display()
                ))
            },
        )?;
    }
    Ok(())
}

/// The product view and unit of a sealed unit.
fn unit_of(manager: &Manager, customer: &str, u: &SealedUnit) -> Result<(Manager, Unit)> {
    let view = manager
        .select_product(u.product.as_deref())
        .map_err(|m| Error::refused(format!("the offboarding preview names {}: {m}", u.unit)))?;
    let unit = view.unit(customer, &u.environment);
    if unit.to_string() != u.unit {
        return Err(Error::refused(format!(
            "the offboarding preview names {} as {unit}; nothing was destroyed",
            u.unit
        )));
    }
    Ok((view, unit))
}

/// Destroys what the preview with `a.digest` seals, once a second person
/// let it through and every state is archived and read back.
pub fn destroy(
    manager: &Manager,
    c: &Customer,
    s: &Settings<'_>,
    a: &Approve<'_>,
    cx: &Context,
) -> Result<Destroyed> {
    check_revoked(c)?;
    let (sealed, digest) = Sealed::open(s.out_dir, &c.slug, a.digest)?;
    if let Some(given) = a.reason.map(str::trim).filter(|r| !r.is_empty()) {
        if given != sealed.reason {
            return Err(Error::usage(
                Say::new(format!(
                    "--reason differs from the preview's ({:?}): the destroy keeps the reason the approver read; nothing was destroyed",
                    sealed.reason
                ))
                .help("leave --reason out"),
            ));
        }
    }
    let verdict = second_person::check(
        &second_person::Ask {
            environment: ENVIRONMENT,
            confirms: a.confirms,
            unreviewed: a.unreviewed,
            done: "destroyed",
        },
        cx,
    )?;
    // The approval read is of the run the preview was made in.
    let this_run = crate::ci::RunContext::from_env().run_id;
    let this_run = this_run.filter(|_| crate::ci::in_actions());
    sealed.check_run(a.confirms, this_run.as_deref())?;
    open_plans(manager, &sealed, s.out_dir)?;
    let store = crate::records::Store::for_customer_role(manager, &cx.net);
    let archived = archive::all(manager, &store, c, &sealed, s)?;
    archive::record(&store, &sealed, &digest, &verdict, &archived)?;
    let mut done = Destroyed {
        sealed,
        digest,
        verdict,
        archived,
        destroyed: Vec::new(),
        failed: Vec::new(),
    };
    apply_all(manager, c, s, &mut done, cx)?;
    Ok(done)
}

/// Applies the sealed plans in order, each recorded; a failure is named
/// with what its state still holds, and the others go on.
fn apply_all(
    manager: &Manager,
    c: &Customer,
    s: &Settings<'_>,
    done: &mut Destroyed,
    cx: &Context,
) -> Result<()> {
    let approvers: Vec<String> = done.verdict.approver.iter().cloned().collect();
    let progress = cx.out.progress(done.sealed.units.len());
    for (u, kept) in done.sealed.units.iter().zip(&done.archived) {
        let (view, unit) = unit_of(manager, &c.slug, u)?;
        let engine = engine(&view, s.terraform, &done.sealed.reason)?;
        let dir = s.out_dir.join(unit.rel_dir());
        progress.started(&unit.to_string());
        let result = engine.apply(c, &u.environment, &dir, Some(&u.plan_sha256), None);
        progress.counted();
        let entry = Entry::now("offboard", if result.is_ok() { "ok" } else { "failed" })
            .unit(&unit)
            .plan(Some(&u.plan_sha256))
            .reason(&done.sealed.reason)
            .approval(done.verdict.approval)
            .approvers(&approvers);
        let before = format!(
            "the state before it ({}) is archived at {}; offboarding {}; {}",
            crate::util::text::count(kept.resources, "address", "addresses"),
            kept.key,
            done.digest,
            done.verdict.describe()
        );
        match result {
            Ok(_) => {
                cx.record(entry.detail(format!(
                    "destroyed {}; {before}",
                    crate::util::text::count(u.destroys.len(), "resource", "resources")
                )));
                done.destroyed.push(u.unit.clone());
            }
            Err(e) => {
                let left = left_in(&engine, c, &u.environment, &dir);
                cx.record(entry.detail(format!(
                    "{}; left: {}; {before}",
                    e.short(),
                    left.join(", ")
                )));
                done.failed.push(Failed {
                    unit: u.unit.clone(),
                    error: e.short(),
                    left,
                });
            }
        }
    }
    Ok(())
}

/// What a unit's state still holds after a failed destroy.
fn left_in(engine: &Engine<'_>, c: &Customer, env: &str, dir: &Path) -> Vec<String> {
    engine
        .state_read(c, env, dir, &["state list"])
        .map(|l| l.concat().lines().map(str::to_string).collect())
        .unwrap_or_else(|e| vec![format!("(the state could not be read: {})", e.short())])
}

/// The error of an offboarding that did not destroy everything.
pub fn what_is_left(slug: &str, d: &Destroyed) -> String {
    let failed: Vec<String> = d
        .failed
        .iter()
        .map(|f| format!("{} ({}): left {}", f.unit, f.error, f.left.join(", ")))
        .collect();
    format!(
        "`{slug}` stays revoked: {} of its destroys failed: {}. {} destroyed; the state of each from before the destroy is archived",
        failed.len(),
        failed.join("; "),
        crate::util::text::count(d.destroyed.len(), "pair was", "pairs were"),
    )
}
