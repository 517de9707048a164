//! `fleetform plan`: the flags checked into [`crate::flows::local::plan::LocalPlan`]
//! and the local fleet plan (`flows::local::plan`), or, with
//! `--dispatch`, the manager side of the GitHub loop.

use std::path::Path;

use crate::cli::PlanArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::local::plan::LocalPlan as Settings;

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
    let targeting = targeting(args)?;
    if args.customer_dir.is_some() && args.customers.len() != 1 {
        return Err(Error::Usage(
            "--customer-dir holds one customer's files: give one --customer".into(),
        ));
    }
    if args.seal && targeting.is_none() {
        return Err(Error::Usage(
            "--seal goes with --replace or --target (the ops workflow's plan)".into(),
        ));
    }
    if args.product.is_some() && targeting.is_none() {
        return Err(Error::Usage(
            "--product goes with --replace or --target (a plan of a customer plans each of its products)".into(),
        ));
    }
    Ok(Settings {
        seal: args.seal,
        product: args.product.clone(),
        customer_dir: args.customer_dir.clone(),
        targeting,
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
        jobs,
        out: args.out.clone(),
        json: args.json,
        terraform: args.terraform.clone(),
    })
}

/// `--replace`/`--target`: one customer and environment, addresses that
/// are not flags, and a reason; the actor as the audit log names it.
fn targeting(args: &PlanArgs) -> Result<Option<crate::data::summary::Targeting>> {
    if args.replace.is_empty() && args.target.is_empty() {
        return Ok(None);
    }
    if args.customers.len() != 1 || args.environments.len() != 1 {
        return Err(Error::Usage(
            "--replace and --target plan one customer × environment: give one --customer and one --env".into(),
        ));
    }
    for a in args.replace.iter().chain(&args.target) {
        crate::engine::ops::check_operand("--replace/--target", a).map_err(Error::Usage)?;
    }
    let reason = crate::flows::local::ops::require_reason(args.reason.as_deref())?;
    Ok(Some(crate::data::summary::Targeting {
        replace: args.replace.clone(),
        target: args.target.clone(),
        destroy: false,
        reason,
        actor: crate::audit::Entry::now("plan", "").actor,
    }))
}

pub fn run(args: &PlanArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    if args.dispatch {
        return crate::flows::github_loop::plan::plan(
            crate::flows::github_loop::plan::PlanSettings {
                environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
                out: args.out.clone(),
                dry_run: args.dry_run,
                json: args.json,
                terraform: args.terraform.clone(),
            },
            manager_dir,
            cx,
        );
    }
    crate::flows::local::plan::plan_local(&resolve(args)?, manager_dir, cx)
}
