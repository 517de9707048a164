//! `fleetform doctor`: the flags and tokens checked into
//! [`crate::flows::doctor::Settings`], then the checks
//! ([`crate::flows::doctor`]: what it reads, its API budget, exit 5).

use clap::Args;
use std::path::Path;

use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::doctor::Settings;
use crate::github::Token;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The manager repo, owner/name (default: GITHUB_REPOSITORY).
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub repo: Option<String>,
    /// The checklist as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// The schema lint's findings (as `validate` lints the manager's
    /// schema) fail the run instead of warning.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub cache: super::EtagCacheArgs,
    /// Also check a customer's inbox repo, owner/name: the settings the
    /// header of workflows/inbox-relay.yml asks for (repeatable, or
    /// comma-separated).
    #[arg(
        long = "inbox",
        value_name = "OWNER/NAME",
        env = "FLEETFORM_INBOX_REPOS",
        value_delimiter = ','
    )]
    pub inbox: Vec<String>,
    /// Plan what doctor finds that fleetform can set through GitHub's
    /// API (missing environments, environments every branch may deploy
    /// to), each line naming the doctor row it answers; nothing changes
    /// without --yes. Needs a repository admin's token.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: apply the plan.
    #[arg(long, requires = "fix")]
    pub yes: bool,
}

pub fn run(args: &DoctorArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    if args.fix {
        return crate::flows::doctor::fix::run(&settings, manager_dir, args.yes, cx);
    }
    crate::flows::doctor::run(&settings, manager_dir, cx)
}

fn resolve(args: &DoctorArgs) -> Result<Settings> {
    let repo = args
        .repo
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            Error::usage("name the manager repo: --repo owner/name (or GITHUB_REPOSITORY)")
        })?;
    if !is_repo(&repo) {
        return Err(Error::usage(format!("--repo `{repo}` is not owner/name")));
    }
    let mut inbox: Vec<String> = Vec::new();
    for r in args
        .inbox
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
    {
        if !is_repo(r) {
            return Err(Error::usage(format!("--inbox `{r}` is not owner/name")));
        }
        if !inbox.iter().any(|have| have.eq_ignore_ascii_case(r)) {
            inbox.push(r.to_string());
        }
    }
    let token = Token::from_env();
    let manager = Token::from_var("FLEETFORM_MANAGER_TOKEN");
    let (manager_token, customer_token) = match (manager, token) {
        (Some(m), t) => {
            let t = t.filter(|t| t.expose() != m.expose());
            (m, t)
        }
        (None, Some(t)) => (t, None),
        (None, None) => {
            return Err(Error::usage(
                "no token: set FLEETFORM_MANAGER_TOKEN (the manager repo's settings) and FLEETFORM_TOKEN (the customer repos), or GITHUB_TOKEN"))
        }
    };
    Ok(Settings {
        repo,
        inbox,
        json: args.json,
        strict: args.strict,
        manager_token,
        customer_token,
        etags: super::etag_cache(&args.cache, "doctor")?,
    })
}
