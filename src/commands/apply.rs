//! `fleetform apply`: apply a saved plan, only if its SHA-256 matches the
//! recorded (or given) digest and the customer is still active. With
//! `--dispatch` the manager side of the GitHub loop applies
//! ([`crate::flows::github_loop::apply`]); without it, a local plan folder.

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::flows::github_loop::apply::ApplySettings;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The customer (not with --dispatch, which takes it from the event).
    #[arg(long, env = "FLEETFORM_CUSTOMER", required_unless_present = "dispatch")]
    pub customer: Option<String>,
    /// The environment.
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
    pub environment: String,
    /// The product (a manager with `products:`; not with --dispatch).
    #[arg(long, env = "FLEETFORM_PRODUCT", conflicts_with = "dispatch")]
    pub product: Option<String>,
    /// Results folder the plan was written to.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Folder holding this plan (default: OUT/CUSTOMER/ENV, or
    /// OUT/CUSTOMER/PRODUCT/ENV).
    #[arg(long, env = "FLEETFORM_PLAN_DIR")]
    pub plan_dir: Option<PathBuf>,
    /// Digest the plan must have (the plan job's `plan_sha256` output).
    #[arg(long, env = "FLEETFORM_PLAN_SHA256")]
    pub plan_sha256: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// Apply for the repository_dispatch event: checks the customer, that
    /// the default branch did not move past the plan, and reports back.
    #[arg(long, env = "FLEETFORM_DISPATCH", requires = "plan_sha256")]
    pub dispatch: bool,
    /// With --dispatch: print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN", requires = "dispatch")]
    pub dry_run: bool,
    /// A targeted plan's apply: report on the customer's repo too.
    #[arg(long, env = "FLEETFORM_REPORT_GITHUB", conflicts_with = "dispatch")]
    pub github: bool,
    /// In a run another operator started to confirm the plan of run RUN
    /// (where environments cannot have required reviewers).
    #[arg(long, value_name = "RUN", conflicts_with = "dispatch")]
    pub confirms: Option<u64>,
    /// A targeted plan's apply on a workstation with no second person; the
    /// audit log records it as unreviewed. Refused on GitHub Actions.
    #[arg(long, conflicts_with = "dispatch")]
    pub unreviewed: bool,
}

pub fn run(args: &ApplyArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    check_digest(args.plan_sha256.as_deref())?;
    if args.dispatch {
        return crate::flows::github_loop::apply::apply(dispatch_settings(args)?, manager_dir, cx);
    }
    apply_local(args, manager_dir, cx)
}

/// `--plan-sha256`, when given, is a SHA-256 in hex.
fn check_digest(digest: Option<&str>) -> Result<()> {
    match digest {
        Some(d) => crate::util::fs::check_sha256_hex("--plan-sha256", d).map_err(Error::usage),
        None => Ok(()),
    }
}

/// The settings of `apply --dispatch`: the customer comes from the event,
/// the plan from the downloaded artifact.
fn dispatch_settings(args: &ApplyArgs) -> Result<ApplySettings> {
    if args.customer.is_some() {
        return Err(Error::usage(
            Say::new("--dispatch takes the customer from the event").help("drop --customer"),
        ));
    }
    let Some(plan_dir) = args.plan_dir.clone() else {
        return Err(Error::usage(
            "--dispatch needs --plan-dir (where the plan artifact was downloaded)",
        ));
    };
    Ok(ApplySettings {
        environment: args.environment.clone(),
        plan_dir,
        plan_sha256: args.plan_sha256.clone().expect("clap requires it"),
        dry_run: args.dry_run,
        json: args.json,
        terraform: args.terraform.clone(),
    })
}

/// Applies a local plan folder ([`crate::flows::local::apply`]).
fn apply_local(args: &ApplyArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = crate::flows::local::apply::LocalApply {
        customer: args
            .customer
            .clone()
            .expect("clap requires it without --dispatch"),
        environment: args.environment.clone(),
        product: args.product.clone(),
        out: args.out.clone(),
        plan_dir: args.plan_dir.clone(),
        plan_sha256: args.plan_sha256.clone(),
        json: args.json,
        terraform: args.terraform.clone(),
        github: args.github,
        confirms: args.confirms,
        unreviewed: args.unreviewed,
        show: true,
    };
    crate::flows::local::apply::apply_local(&settings, manager_dir, cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_digest_is_64_hex_characters() {
        assert!(check_digest(None).is_ok());
        assert!(check_digest(Some(&"aB".repeat(32))).is_ok());
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(
                matches!(check_digest(Some(bad)), Err(Error::Usage(_))),
                "{bad}"
            );
        }
    }
}
