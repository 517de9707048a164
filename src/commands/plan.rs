//! `fleetform plan`: the flags checked into [`crate::flows::local::plan::LocalPlan`]
//! and the local fleet plan (`flows::local::plan`), or, with
//! `--dispatch`, the manager side of the GitHub loop.

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::local::plan::LocalPlan as Settings;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan every active customer × enabled environment.
    #[arg(long, conflicts_with = "customers")]
    pub all: bool,
    /// Customers to plan.
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Environments to plan (default: each customer's enabled ones).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// Plans to run at once (default: four per core).
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Results folder (plan files, summaries, comments).
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Machine-readable results on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Terraform binary to use instead of the engine named in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// Plan the customer named by the repository_dispatch event
    /// (GITHUB_EVENT_PATH), fetching its files from GitHub.
    #[arg(long, env = "FLEETFORM_DISPATCH", conflicts_with_all = ["all", "customers"])]
    pub dispatch: bool,
    /// With --dispatch: print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN", requires = "dispatch")]
    pub dry_run: bool,
    /// Plan the replacement of this resource (`-replace`).
    #[arg(long, value_name = "ADDR", requires = "reason", conflicts_with_all = ["all", "dispatch"])]
    pub replace: Vec<String>,
    /// Plan only this resource (`-target`).
    #[arg(long, value_name = "ADDR", requires = "reason", conflicts_with_all = ["all", "dispatch"])]
    pub target: Vec<String>,
    /// Why (--replace, --target).
    #[arg(long)]
    pub reason: Option<String>,
    /// A targeted plan for the ops workflow: seal its folder into
    /// `bundle.sealed` with FLEETFORM_ARTIFACT_KEY (the only file to
    /// upload) and set the job outputs `plan_sha256` and `plan_dir`.
    #[arg(long, conflicts_with_all = ["all", "dispatch"])]
    pub seal: bool,
    /// The product --replace and --target act on (required with
    /// `products:` in fleetform.yml).
    #[arg(long, conflicts_with_all = ["all", "dispatch"])]
    pub product: Option<String>,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR", conflicts_with_all = ["all", "dispatch"])]
    pub customer_dir: Option<PathBuf>,
}

fn resolve(args: &PlanArgs) -> Result<Settings> {
    if !args.all && args.customers.is_empty() {
        return Err(Error::usage("say what to plan: --all, or --customer SLUG"));
    }
    let jobs = match args.jobs {
        Some(0) => return Err(Error::usage("--jobs must be at least 1")),
        Some(n) => n,
        None => crate::fleet::terraform_jobs(),
    };
    let targeting = targeting(args)?;
    if args.customer_dir.is_some() && args.customers.len() != 1 {
        return Err(Error::usage(
            "--customer-dir holds one customer's files: give one --customer",
        ));
    }
    if args.seal && targeting.is_none() {
        return Err(Error::usage(
            "--seal goes with --replace or --target (the ops workflow's plan)",
        ));
    }
    if args.product.is_some() && targeting.is_none() {
        return Err(Error::usage(
            "--product goes with --replace or --target (a plan of a customer plans each of its products)"));
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
        return Err(Error::usage(
            "--replace and --target plan one customer × environment: give one --customer and one --env"));
    }
    for a in args.replace.iter().chain(&args.target) {
        crate::engine::ops::check_operand("--replace/--target", a).map_err(Error::usage)?;
    }
    let reason = crate::flows::local::ops::require_reason(args.reason.as_deref())?;
    Ok(Some(crate::data::summary::Targeting {
        replace: args.replace.clone(),
        target: args.target.clone(),
        destroy: false,
        repair: false,
        restored: None,
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
