//! `fleetform repair`: drift repairs by policy ([`crate::flows::drift::repair`]).
//! `--from DRIFT_OUT` seals a plan that puts each drifted pair back;
//! `--apply PLANS` applies the ones still marked `repair`.

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::drift::repair::{RepairApply, RepairPlan};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("step").required(true).args(["from", "apply"])))]
pub struct RepairArgs {
    /// Step 1: the drift run's results folder (its drift-report.json):
    /// seal a repair plan for each pair it marks `repair` or `propose`.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Step 1: only the pairs of this environment (a job per environment,
    /// each with that environment's plan credentials).
    #[arg(long = "env", value_name = "ENV", requires = "from")]
    pub environment: Option<String>,
    /// Step 1: where the repair plans and repairs.json go.
    #[arg(long, default_value = ".fleetform/repairs", value_name = "DIR")]
    pub out: PathBuf,
    /// Step 2: the folder step 1 wrote: apply each pair still marked
    /// `repair`.
    #[arg(long, value_name = "DIR")]
    pub apply: Option<PathBuf>,
    /// Step 2: report each repair on the customer's repo (a deployment, a
    /// PR comment).
    #[arg(long, requires = "apply")]
    pub github: bool,
    /// Step 2: in a run another operator started to confirm the repair
    /// plans of run RUN (where environments cannot have required reviewers).
    #[arg(long, value_name = "RUN", requires = "apply")]
    pub confirms: Option<u64>,
    /// Step 2: the digest of repairs.json that step 1 printed (its
    /// `list_sha256`): refused when the list is not that one. Required with
    /// --confirms, so the confirming operator applies the list they read.
    #[arg(long, value_name = "SHA256", requires = "apply")]
    pub list_sha256: Option<String>,
    /// Step 2 on a workstation with no second person; the audit log
    /// records each repair as unreviewed. Refused on GitHub Actions.
    #[arg(long, requires = "apply")]
    pub unreviewed: bool,
    /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM", value_name = "PATH")]
    pub terraform: Option<PathBuf>,
    /// The repairs as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
}

pub fn run(args: &RepairArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    match (&args.from, &args.apply) {
        (Some(from), None) => {
            let settings = RepairPlan {
                from: from.clone(),
                environment: args.environment.clone(),
                token: crate::github::Token::from_env(),
                out: args.out.clone(),
                terraform: args.terraform.clone(),
                json: args.json,
            };
            crate::flows::drift::repair::plan_repairs(&settings, manager_dir, cx)
        }
        (None, Some(plans)) => {
            if args.confirms.is_some() && args.list_sha256.is_none() {
                return Err(Error::usage(
                    "--confirms needs --list-sha256: the digest of the repair list the confirmed run printed, so what is applied is the list you read"));
            }
            if let Some(d) = &args.list_sha256 {
                crate::util::fs::check_sha256_hex("--list-sha256", d).map_err(Error::usage)?;
            }
            let settings = RepairApply {
                plans: plans.clone(),
                terraform: args.terraform.clone(),
                github: args.github,
                confirms: args.confirms,
                list_sha256: args.list_sha256.clone(),
                unreviewed: args.unreviewed,
                json: args.json,
            };
            crate::flows::drift::repair::apply_repairs(&settings, manager_dir, cx)
        }
        _ => Err(Error::usage(
            "say which step: --from DRIFT_OUT (seal the repair plans) or --apply PLANS (apply them)")),
    }
}
