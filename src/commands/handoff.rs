//! `fleetform handoff` (manager side, the deploy workflow's key job): hands
//! a customer's secrets identity for one environment to the plan and apply
//! jobs of the run, sealed for that customer × environment and that run.
//!
//! The identity is the secret `FLEETFORM_SECRETS_KEY` of the customer's
//! own GitHub environment for its secrets (`<env>-secrets-<slug>`), read by
//! a static reference; the job holds nothing else but the artifact key, so
//! no plan job ever receives another customer's identity. The sealed text
//! is the step output `sealed_key`; the plan and apply actions take it as
//! `handed-secrets-key`. The decision is
//! [`crate::flows::github_loop::handoff`]'s.

use clap::Args;
use std::path::Path;

use crate::ci::RunContext;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::github_loop::handoff::{hand_over, HandoffSettings};

#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// The customer, as the authorise job output it (`customer`).
    #[arg(long, env = "FLEETFORM_HANDOFF_CUSTOMER", value_name = "SLUG")]
    pub customer: String,
    /// The environment whose identity this job holds.
    #[arg(long, env = "FLEETFORM_HANDOFF_ENVIRONMENT", value_name = "ENV")]
    pub environment: String,
}

pub fn run(args: &HandoffArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = HandoffSettings {
        customer: args.customer.clone(),
        environment: args.environment.clone(),
    };
    let ctx = RunContext::from_env();
    let (manager, registry) = crate::config::load(manager_dir)?;
    let sealed = hand_over(&settings, &manager, &registry, &ctx)?;
    ctx.set_outputs(&[("sealed_key", sealed)])
        .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    cx.out.result(&format!(
        "handed {}'s secrets key for `{}` to the plan and apply jobs of this run, sealed for them",
        settings.customer, settings.environment
    ));
    Ok(())
}
