//! `fleetform plan`: local fleet mode. Plans every selected active customer ×
//! enabled environment with bounded concurrency; one failing customer never
//! stops the others.

use std::path::{Path, PathBuf};

use crate::cli::PlanArgs;
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};
use crate::output::Output;
use crate::report::table::summary_table;

struct Settings {
    customers: Option<Vec<String>>,
    environments: Option<Vec<String>>,
    jobs: usize,
    out: PathBuf,
    json: bool,
    terraform: Option<PathBuf>,
}

fn resolve(args: &PlanArgs) -> Result<Settings> {
    if !args.all && args.customers.is_empty() {
        return Err(Error::Usage(
            "say what to plan: --all, or --customer SLUG".into(),
        ));
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => crate::fleet::terraform_jobs(),
    };
    Ok(Settings {
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
        jobs,
        out: args.out.clone(),
        json: args.json,
        terraform: args.terraform.clone(),
    })
}

pub fn run(args: &PlanArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    if args.dispatch {
        return crate::deploy::plan(
            crate::deploy::PlanSettings {
                environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
                out: args.out.clone(),
                dry_run: args.dry_run,
                json: args.json,
                terraform: args.terraform.clone(),
            },
            manager_dir,
            out,
        );
    }
    let settings = resolve(args)?;
    let rows = plan_fleet(&settings, manager_dir, out)?;
    show(&settings, &rows, out);
    let failed = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} failed",
            crate::util::text::count(rows.len(), "plan", "plans")
        )));
    }
    Ok(())
}

/// Plans the selected customers × environments from their local checkouts.
fn plan_fleet(settings: &Settings, manager_dir: &Path, out: &Output) -> Result<Vec<Row>> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customers = crate::fleet::select(&registry, settings.customers.as_deref())?;
    let envs = settings.environments.as_deref();
    crate::fleet::check_environments(&manager, envs)?;
    let selected = crate::fleet::pairs(&manager, customers, envs);
    if settings.customers.is_some() {
        for gap in crate::fleet::select::check_named("plan", &selected, envs)? {
            out.note(&format!("{gap}: not planned"));
        }
    }
    if manager.has_products() {
        let settings = crate::fleet::products::RunSettings {
            jobs: settings.jobs,
            out_dir: &settings.out,
            refresh_only: false,
            action: "plan",
            terraform: settings.terraform.as_deref(),
        };
        return crate::fleet::products::run(
            &manager,
            &selected,
            &crate::fleet::local_products_file(&registry),
            &crate::fleet::local_sources(&registry),
            &settings,
            out,
        );
    }
    // Without products the manager is the one view; pinned customers run
    // at their pin.
    let run = crate::fleet::products::RunSettings {
        jobs: settings.jobs,
        out_dir: &settings.out,
        refresh_only: false,
        action: "plan",
        terraform: settings.terraform.as_deref(),
    };
    let mut rows = Vec::new();
    crate::fleet::products::run_at_pins(
        &manager,
        &manager,
        selected.clone(),
        &mut rows,
        &crate::fleet::local_sources(&registry),
        &run,
        out,
    )?;
    Ok(crate::fleet::products::ordered(&manager, &selected, rows))
}

/// The rows as JSON or as the summary table.
fn show(settings: &Settings, rows: &[Row], out: &Output) {
    if settings.json {
        out.json(rows).expect("serialisable");
    } else {
        out.result(summary_table(rows).trim_end());
    }
}
