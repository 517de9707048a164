//! A local fleet plan (`fleetform plan` without `--dispatch`): every
//! selected active customer × enabled environment planned with bounded
//! concurrency from the customers' checkouts, pinned customers at their
//! pin, one failing pair never stopping the others; a targeted plan
//! (`--replace`/`--target`) of one pair at the manager's head, sealed for
//! the ops workflow with `--seal`.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::fleet::{Outcome, Row};
use crate::output::Output;
use crate::report::table::summary_table;

pub struct LocalPlan {
    pub customers: Option<Vec<String>>,
    pub environments: Option<Vec<String>>,
    pub jobs: usize,
    pub out: PathBuf,
    pub json: bool,
    pub terraform: Option<PathBuf>,
    /// The one customer's checkout, instead of the registry's `path`.
    pub customer_dir: Option<PathBuf>,
    /// `--replace`/`--target` with the reason.
    pub targeting: Option<crate::data::summary::Targeting>,
    /// The product `--replace`/`--target` act on.
    pub product: Option<String>,
    /// `--seal`: the targeted plan's folder sealed for its artifact.
    pub seal: bool,
}

/// Plans, shows the rows, and fails when any plan did.
pub fn plan_local(settings: &LocalPlan, manager_dir: &Path, cx: &Context) -> Result<()> {
    let rows = plan_fleet(settings, manager_dir, cx)?;
    show(settings, &rows, &cx.out);
    let failed = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        return Err(Error::failed(format!(
            "{failed} of {} failed",
            crate::util::text::count(rows.len(), "plan", "plans")
        )));
    }
    Ok(())
}

/// Plans the selected customers × environments from their local checkouts.
fn plan_fleet(settings: &LocalPlan, manager_dir: &Path, cx: &Context) -> Result<Vec<Row>> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    if settings.targeting.is_some() {
        crate::flows::local::ops::check_operator(&manager, cx)?;
    }
    let customers = crate::fleet::select(&registry, settings.customers.as_deref())?;
    let envs = settings.environments.as_deref();
    crate::fleet::check_environments(&manager, envs)?;
    let selected = crate::fleet::pairs(&manager, customers, envs);
    if settings.customers.is_some() {
        for gap in crate::fleet::select::check_named("plan", &selected, envs)? {
            cx.out.note(&format!("{gap}: not planned"));
        }
    }
    if manager.has_products() && settings.customer_dir.is_some() {
        return Err(Error::usage(
            Say::new("--customer-dir is not yet supported with `products:`")
                .help("plan from the registry's `path` instead"),
        ));
    }
    // A targeted plan or one of a customer's own folder (one customer ×
    // environment, on request) runs at the manager's head.
    if settings.targeting.is_some() || settings.customer_dir.is_some() {
        let view = match &settings.targeting {
            Some(_) => targeted_view(&manager, &registry, &selected, settings.product.as_deref())?,
            None => manager.clone(),
        };
        // A pinned customer's targeted plan runs at its pin, as its apply
        // does, and says so.
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::failed(format!("a scratch folder for a pinned view: {e}")))?;
        let pinned = match (&settings.targeting, selected.first()) {
            (Some(_), Some((customer, _))) => {
                crate::config::pins::pinned_view(&manager, &view, customer, scratch.path())
                    .map_err(|e| Error::refused(format!("{e}; nothing was planned")))?
            }
            _ => None,
        };
        let view = pinned.as_ref().unwrap_or(&view);
        let rows = plan_one(settings, view, &registry, &selected, cx)?;
        let failed = rows
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
        if settings.seal && !failed {
            seal_targeted(view, &selected, &settings.out, &cx.out)?;
        }
        return Ok(rows);
    }
    let run = crate::fleet::products::RunSettings {
        jobs: settings.jobs,
        out_dir: &settings.out,
        refresh_only: false,
        action: "plan",
        terraform: settings.terraform.as_deref(),
        withhold_secrets: false,
    };
    let products_file = crate::fleet::local_products_file(&registry);
    let sources = crate::fleet::local_sources(&registry);
    crate::fleet::products::run_views(&manager, &selected, &products_file, &sources, &run, cx)
}

/// Seals the targeted plan's folder for the ops workflow's artifact and
/// sets the job outputs the applying job reads.
fn seal_targeted(
    view: &crate::config::Manager,
    selected: &[(&crate::config::Customer, Vec<String>)],
    out_dir: &Path,
    out: &Output,
) -> Result<()> {
    let Some((customer, envs)) = selected.first() else {
        return Ok(());
    };
    let Some(env) = envs.first() else {
        return Ok(());
    };
    let dir = out_dir.join(view.unit(&customer.slug, env).rel_dir());
    let summary = crate::engine::read_summary(&dir)
        .map_err(|e| Error::failed(format!("nothing to seal in {}: {e}", dir.display())))?;
    crate::flows::github_loop::artifact::seal_local(&view.unit(&customer.slug, env), &dir)?;
    let ctx = crate::ci::RunContext::from_env();
    if let Err(e) = ctx.set_outputs(&[
        ("plan_sha256", summary.plan_sha256.clone()),
        ("plan_dir", dir.display().to_string()),
    ]) {
        out.note(&format!("could not set the job outputs: {e}"));
    }
    Ok(())
}

/// The rows as JSON or as the summary table.
fn show(settings: &LocalPlan, rows: &[Row], out: &Output) {
    if settings.json {
        out.json(rows).expect("serialisable");
    } else {
        out.result(summary_table(rows).trim_end());
    }
}

/// One customer × environment of `view` with the targeting, from the
/// customer's own folder or the registry's `path`.
fn plan_one(
    settings: &LocalPlan,
    view: &crate::config::Manager,
    registry: &crate::config::Registry,
    selected: &[(&crate::config::Customer, Vec<String>)],
    cx: &Context,
) -> Result<Vec<Row>> {
    let mut engine = crate::engine::Engine::with_terraform(view, settings.terraform.as_deref())?;
    engine.targeting = settings.targeting.clone();
    let fleet = match &settings.customer_dir {
        Some(dir) => {
            let source = |_: &crate::config::Customer, envs: &[String]| {
                crate::values::customer::CustomerSource::from_dir(view, dir, envs)
                    .map_err(|d| vec![d])
            };
            crate::fleet::prepare(&engine, selected, &source, &cx.out)
        }
        None => {
            let source = crate::fleet::local_source(view, registry);
            crate::fleet::prepare(&engine, selected, &source, &cx.out)
        }
    };
    Ok(crate::fleet::execute(
        &mut engine,
        fleet,
        settings.jobs,
        &settings.out,
        false,
        "plan",
        cx,
    ))
}

/// The manager's view a targeted plan runs in (at the manager's head):
/// the manager itself, or with `products:` the one named by `--product`,
/// which the customer must have and which must exist in the environment.
fn targeted_view(
    manager: &crate::config::Manager,
    registry: &crate::config::Registry,
    selected: &[(&crate::config::Customer, Vec<String>)],
    product: Option<&str>,
) -> Result<crate::config::Manager> {
    let view = manager.select_product(product).map_err(|e| {
        Error::usage(format!(
            "--replace and --target act on one product's state: {e}"
        ))
    })?;
    let Some(name) = view.product.as_deref() else {
        return Ok(view);
    };
    for (c, envs) in selected {
        if let Some(enabled) = crate::fleet::products::missing_product(manager, registry, c, name)?
        {
            return Err(Error::usage(format!(
                "customer `{}` does not have product `{name}` (it has: {}); nothing was planned",
                c.slug,
                enabled.join(", ")
            )));
        }
        if let Some(e) = envs.iter().find(|e| view.environment(e).is_none()) {
            return Err(Error::usage(format!(
                "product `{name}` is not deployed to environment `{e}`; nothing was planned"
            )));
        }
    }
    Ok(view)
}
