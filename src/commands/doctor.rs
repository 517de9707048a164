//! `fleetform doctor`: the flags and tokens checked into
//! [`crate::flows::doctor::Settings`], then the checks
//! ([`crate::flows::doctor`]: what it reads, its API budget, exit 5).

use std::path::Path;

use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::doctor::Settings;
use crate::github::Token;

pub fn run(args: &crate::cli::DoctorArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    crate::flows::doctor::run(&settings, manager_dir, cx)
}

fn resolve(args: &crate::cli::DoctorArgs) -> Result<Settings> {
    let repo = args
        .repo
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            Error::Usage("name the manager repo: --repo owner/name (or GITHUB_REPOSITORY)".into())
        })?;
    if !is_repo(&repo) {
        return Err(Error::Usage(format!("--repo `{repo}` is not owner/name")));
    }
    let mut inbox: Vec<String> = Vec::new();
    for r in args
        .inbox
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
    {
        if !is_repo(r) {
            return Err(Error::Usage(format!("--inbox `{r}` is not owner/name")));
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
            return Err(Error::Usage(
                "no token: set FLEETFORM_MANAGER_TOKEN (the manager repo's settings) and FLEETFORM_TOKEN (the customer repos), or GITHUB_TOKEN".into(),
            ))
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
