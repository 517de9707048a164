//! `fleetform repair`: drift repairs by policy ([`crate::flows::drift::repair`]).
//! `--from DRIFT_OUT` seals a plan that puts each drifted pair back;
//! `--apply PLANS` applies the ones still marked `repair`.

use std::path::Path;

use crate::cli::RepairArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::drift::repair::{RepairApply, RepairPlan};

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
                return Err(Error::Usage(
                    "--confirms needs --list-sha256: the digest of the repair list the confirmed run printed, so what is applied is the list you read".into(),
                ));
            }
            if let Some(d) = &args.list_sha256 {
                crate::util::fs::check_sha256_hex("--list-sha256", d).map_err(Error::Usage)?;
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
        _ => Err(Error::Usage(
            "say which step: --from DRIFT_OUT (seal the repair plans) or --apply PLANS (apply them)".into(),
        )),
    }
}
