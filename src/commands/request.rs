//! `fleetform request` (customer side, `customer-form.yml`): the flags
//! checked into [`crate::flows::github_loop::request::Settings`], then an
//! issue from the provider's form made into a pull request
//! ([`crate::flows::github_loop::request`]).

use clap::Args;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::github_loop::request::Settings;
use crate::github::Token;

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The trigger workflow's file name under .github/workflows/, run for
    /// the pull request (a pull request the job's GITHUB_TOKEN opens
    /// starts no run by itself). Empty: none.
    #[arg(
        long,
        env = "FLEETFORM_TRIGGER_WORKFLOW",
        default_value = "customer-trigger.yml"
    )]
    pub trigger_workflow: String,
    /// Print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
}

pub fn run(args: &RequestArgs, cx: &Context) -> Result<()> {
    crate::flows::github_loop::request::request(&resolve(args)?, cx)
}

fn resolve(args: &RequestArgs) -> Result<Settings> {
    let token = Token::from_env().ok_or_else(|| {
        Error::usage("fleetform request needs the job's token: set FLEETFORM_TOKEN (the action passes GITHUB_TOKEN)")
    })?;
    let workflow = args.trigger_workflow.trim();
    let plain = workflow
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !workflow.is_empty()
        && !(plain && (workflow.ends_with(".yml") || workflow.ends_with(".yaml")))
    {
        return Err(Error::usage(format!(
            "--trigger-workflow `{}`: a workflow file name under .github/workflows/ (e.g. customer-trigger.yml)",
            crate::util::text::shown(workflow)
        )));
    }
    Ok(Settings {
        token,
        trigger_workflow: (!workflow.is_empty()).then(|| workflow.to_string()),
        dry_run: args.dry_run,
    })
}
