//! Offboarding a revoked customer (`customers offboard`): the destroy of
//! every product × environment it has, planned in reverse dependency
//! order (a product before the products it needs) and shown like any
//! plan; one digest over all of them is the approval. With that digest
//! the plans are applied in the same order, each one's final state
//! archived in the records store (create-only); a destroy that fails is
//! named with what is left in its state, and the others go on.

use std::path::{Path, PathBuf};

use crate::audit::Entry;
use crate::config::{Customer, Manager, Registry, Unit};
use crate::data::summary::Targeting;
use crate::engine::{Engine, PlanRequest, RunError};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::values::customer;

/// Where and why.
pub struct Settings<'a> {
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    pub reason: &'a str,
    /// The customer's checkout, instead of the registry's `path` (the
    /// offboarding workflow checks the customer's repo out).
    pub customer_dir: Option<&'a Path>,
}

/// One planned destroy.
#[derive(Debug, Clone)]
pub struct Planned {
    pub unit: Unit,
    pub plan_sha256: String,
    /// Addresses the plan destroys.
    pub destroys: Vec<String>,
    pub comment: String,
    pub dir: PathBuf,
}

/// The offboarding's plans, in the order they apply, and their digest.
#[derive(Debug, Clone)]
pub struct Plan {
    pub customer: String,
    pub units: Vec<Planned>,
    /// SHA-256 over each unit and its plan digest, in order.
    pub digest: String,
}

/// What the apply left: the units destroyed (their archived state's key)
/// and those that failed, with why and what their state still holds.
#[derive(Debug, Default)]
pub struct Applied {
    pub archived: Vec<(String, String)>,
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

fn engine<'m>(view: &'m Manager, s: &Settings<'_>) -> Result<Engine<'m>> {
    let mut engine = Engine::with_terraform(view, s.terraform)?;
    engine.targeting = Some(Targeting {
        destroy: true,
        reason: s.reason.to_string(),
        actor: Entry::now("offboard", "").actor,
        ..Targeting::default()
    });
    Ok(engine)
}

/// The customer must be revoked (dispatches refused) first.
pub fn check_revoked(c: &Customer) -> Result<()> {
    if c.is_active() {
        return Err(Error::Usage(format!(
            "`{}` is active: revoke it first, then offboard it",
            c.slug
        )));
    }
    if let Some(date) = &c.offboarded {
        return Err(Error::Usage(format!(
            "`{}` was offboarded on {date}; nothing is left to destroy",
            c.slug
        )));
    }
    Ok(())
}

/// Plans the destroy of everything the customer has.
pub fn plan(
    manager: &Manager,
    registry: &Registry,
    c: &Customer,
    s: &Settings<'_>,
    out: &Output,
) -> Result<Plan> {
    check_revoked(c)?;
    for (view, envs) in views(manager, c) {
        if envs.is_empty() {
            continue;
        }
        let engine = engine(&view, s)?;
        let source = match s.customer_dir {
            Some(dir) => customer::CustomerSource::from_dir(&view, dir, &envs).map_err(|d| vec![d]),
            None => crate::fleet::local_source(&view, registry)(c, &envs),
        };
        let docs = source
            .and_then(|src| customer::check(&src, &engine.schema))
            .map_err(Error::Values)?;
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
            };
            match engine.plan(&req) {
                Ok(_) => {}
                // A product whose needed product was never applied here
                // was never applied either: nothing to destroy.
                Err(RunError::Waiting(why)) => {
                    out.note(&format!("{unit}: nothing to destroy ({why})"))
                }
                Err(e) => {
                    return Err(Error::Failed(format!(
                        "planning the destroy of {unit}: {}",
                        e.short()
                    )))
                }
            }
        }
    }
    let mut plan = made(manager, c, s.out_dir)?;
    for u in &mut plan.units {
        u.comment = std::fs::read_to_string(u.dir.join("comment.md")).unwrap_or_default();
    }
    Ok(plan)
}

fn digest(units: &[Planned]) -> String {
    let text: String = units
        .iter()
        .map(|u| format!("{} {}\n", u.unit, u.plan_sha256))
        .collect();
    crate::util::fs::sha256_bytes(text.as_bytes())
}

/// The plans already made (their summaries), in order, for `--approve`.
pub fn made(manager: &Manager, c: &Customer, out_dir: &Path) -> Result<Plan> {
    check_revoked(c)?;
    let mut units = Vec::new();
    for (view, envs) in views(manager, c) {
        for env in envs {
            let unit = view.unit(&c.slug, &env);
            let dir = out_dir.join(unit.rel_dir());
            let Ok(summary) = crate::engine::read_summary(&dir) else {
                continue;
            };
            // Only this offboarding's destroy plans count (a plain plan
            // left in the folder is not one; the digest then differs).
            if !summary.targeting.as_ref().is_some_and(|t| t.destroy) {
                continue;
            }
            units.push(Planned {
                destroys: summary
                    .resources
                    .iter()
                    .map(|r| r.address.clone())
                    .collect(),
                plan_sha256: summary.plan_sha256,
                comment: String::new(),
                dir,
                unit,
            });
        }
    }
    let digest = digest(&units);
    Ok(Plan {
        customer: c.slug.clone(),
        units,
        digest,
    })
}

/// `--approve` names the digest of the plans in `out_dir` (at least
/// [`crate::policy::approval::MIN_DIGEST_PREFIX`] hex digits of it).
pub fn check_approval(plan: &Plan, approve: &str, out_dir: &Path) -> Result<()> {
    let given = approve.trim().to_ascii_lowercase();
    if given.len() < crate::policy::approval::MIN_DIGEST_PREFIX || !plan.digest.starts_with(&given)
    {
        return Err(Error::Refused(format!(
            "--approve {given} is not the digest of the offboarding plans in {} ({}); nothing was destroyed",
            out_dir.display(),
            plan.digest
        )));
    }
    Ok(())
}

/// Applies the approved plans in order; each destroyed unit's final state
/// is archived, each failure named with what is left; the others go on.
pub fn apply(
    manager: &Manager,
    c: &Customer,
    plan: &Plan,
    s: &Settings<'_>,
    out: &Output,
) -> Result<Applied> {
    let store = crate::records::Store::for_manager(manager);
    let mut done = Applied::default();
    for (view, _) in views(manager, c) {
        let engine = engine(&view, s)?;
        for u in plan.units.iter().filter(|u| u.unit.product == view.product) {
            let env = &u.unit.environment;
            let result = engine.apply(c, env, &u.dir, Some(&u.plan_sha256), None);
            let entry = Entry::now("offboard", if result.is_ok() { "ok" } else { "failed" })
                .unit(&u.unit)
                .plan(Some(&u.plan_sha256))
                .reason(s.reason);
            match result {
                Ok(_) => {
                    let key = archive(&engine, &store, c, u)?;
                    crate::audit::record(
                        out,
                        entry.detail(format!("destroyed; final state archived at {key}")),
                    );
                    done.archived.push((u.unit.to_string(), key));
                }
                Err(e) => {
                    let left = engine
                        .state_read(c, env, &u.dir, "state list")
                        .map(|l| l.lines().map(str::to_string).collect())
                        .unwrap_or_else(|e| {
                            vec![format!("(the state could not be read: {})", e.short())]
                        });
                    crate::audit::record(
                        out,
                        entry.detail(format!("{}; left: {}", e.short(), left.join(", "))),
                    );
                    done.failed.push(Failed {
                        unit: u.unit.to_string(),
                        error: e.short(),
                        left,
                    });
                }
            }
        }
    }
    Ok(done)
}

/// The unit's final state, kept create-only at
/// `offboarded/<customer>/<product or _>/<env>/<time>.tfstate.json`.
fn archive(
    engine: &Engine<'_>,
    store: &crate::records::Store,
    c: &Customer,
    u: &Planned,
) -> Result<String> {
    let state = engine
        .state_read(c, &u.unit.environment, &u.dir, "state pull")
        .map_err(|e| {
            Error::Failed(format!(
                "{} was destroyed, but its final state could not be read: {}",
                u.unit,
                e.short()
            ))
        })?;
    let key = crate::records::final_state_key(&u.unit);
    store.create(&key, state.as_bytes()).map_err(|e| {
        Error::Failed(format!(
            "{} was destroyed, but its final state was not archived in {}: {e}",
            u.unit,
            store.describe()
        ))
    })?;
    Ok(key)
}

/// The plans as any plan is shown (each one's comment, with its CAUTION
/// listing what it destroys), then the digest and how to approve it.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    for u in &plan.units {
        s.push_str(&format!("## {}\n\n{}\n", u.unit, u.comment.trim_end()));
        s.push('\n');
    }
    let total: usize = plan.units.iter().map(|u| u.destroys.len()).sum();
    s.push_str(&format!(
        "Offboarding `{}`: {} destroyed in {}, in this order.\nOffboarding digest: {}\nTo destroy all of it: fleetform customers offboard {} --reason ... --approve {}\n",
        plan.customer,
        crate::util::text::count(total, "resource", "resources"),
        crate::util::text::count(plan.units.len(), "pair", "pairs"),
        plan.digest,
        plan.customer,
        plan.digest,
    ));
    s
}

/// The error of an offboarding that did not destroy everything.
pub fn what_is_left(slug: &str, applied: &Applied) -> String {
    let failed: Vec<String> = applied
        .failed
        .iter()
        .map(|f| format!("{} ({}): left {}", f.unit, f.error, f.left.join(", ")))
        .collect();
    format!(
        "`{slug}` stays revoked: {} of its destroys failed: {}. {} destroyed",
        failed.len(),
        failed.join("; "),
        crate::util::text::count(applied.archived.len(), "pair was", "pairs were"),
    )
}
