//! `fleetform doctor`: the flags and tokens checked into
//! [`crate::flows::doctor::Settings`], then the checks
//! ([`crate::flows::doctor`]: what it reads, its API budget, exit 5).

use clap::Args;
use std::path::Path;

use crate::config::{is_login, is_repo};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::doctor::register_app::Register;
use crate::flows::doctor::Settings;
use crate::github::Token;
use crate::util::apps::AppRole;

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
    /// API (environments and their branch policies, the secrets fleetform
    /// generates, rulesets, workflow permissions, secret scanning, the
    /// variables fleetform.yml pins, "prevent self-review"), each line
    /// naming the doctor row it answers; nothing changes without --yes.
    /// Needs a repository admin's token.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: apply the plan.
    #[arg(long, requires = "fix")]
    pub yes: bool,
    /// With --fix: replace the artifact key of this environment in all
    /// its environments at once (plan, apply and its customers' key
    /// environments; repeatable), e.g. after a customer's key environment
    /// was added: GitHub never gives the old one back. Plans waiting for
    /// approval there then need planning again.
    #[arg(long, value_name = "ENV", requires = "fix")]
    pub rotate_artifact_key: Vec<String>,
    /// Register one of the provider's GitHub Apps (customer, manager or
    /// sync) through GitHub's manifest flow, from a page on 127.0.0.1,
    /// and store its id and key where the manager's jobs read them.
    /// Needs a repository admin's token.
    #[arg(long, value_name = "APP", value_parser = ["customer", "manager", "sync"], conflicts_with = "fix")]
    pub register_app: Option<String>,
    /// With --register-app: the organisation that owns the App (default:
    /// the manager repo's owner, as a personal account).
    #[arg(long, value_name = "ORG", requires = "register_app")]
    pub org: Option<String>,
    /// With --register-app customer: the relay's webhook address
    /// (https://<relay>/webhook), where GitHub posts the App's events.
    #[arg(long, value_name = "URL", requires = "register_app")]
    pub hook_url: Option<String>,
    /// With --register-app: a new file, readable by its owner alone, for
    /// the relay's share of the App's credentials (its id, key and webhook
    /// secret, as JSON), to move into the relay's secret store.
    #[arg(long, value_name = "FILE", requires = "register_app")]
    pub relay_secrets: Option<std::path::PathBuf>,
    /// With --register-app: minutes to wait for the browser to come back
    /// from GitHub (1 to 60).
    #[arg(
        long,
        value_name = "MINUTES",
        requires = "register_app",
        default_value_t = 10
    )]
    pub wait_minutes: u64,
}

pub fn run(args: &DoctorArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    if let Some(register) = register(args)? {
        return crate::flows::doctor::register_app::run(&settings, &register, manager_dir, cx);
    }
    if args.fix {
        return crate::flows::doctor::fix::run(
            &settings,
            manager_dir,
            args.yes,
            &args.rotate_artifact_key,
            cx,
        );
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

/// `--register-app` and its flags, checked.
fn register(args: &DoctorArgs) -> Result<Option<Register>> {
    let Some(app) = &args.register_app else {
        return Ok(None);
    };
    let app = match app.as_str() {
        "customer" => AppRole::Customer,
        "manager" => AppRole::Manager,
        _ => AppRole::Sync,
    };
    if let Some(org) = args.org.as_deref().filter(|o| !is_login(o)) {
        return Err(Error::usage(format!(
            "--org `{org}` is not a GitHub account name"
        )));
    }
    if let Some(hook) = &args.hook_url {
        let ok = url::Url::parse(hook).is_ok_and(|u| match u.scheme() {
            "https" => u.host().is_some(),
            "http" => matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
            _ => false,
        });
        if !ok {
            return Err(Error::usage(format!(
                "--hook-url `{hook}`: give the relay's https address (https://<relay>/webhook)"
            )));
        }
    }
    if !(1..=60).contains(&args.wait_minutes) {
        return Err(Error::usage(
            "--wait-minutes: from 1 to 60 (GitHub's code lives an hour)",
        ));
    }
    Ok(Some(Register {
        app,
        org: args.org.clone(),
        server_url: crate::github::GitHub::web_url_from_env(),
        hook_url: args.hook_url.clone(),
        relay_secrets: args.relay_secrets.clone(),
        wait: std::time::Duration::from_secs(args.wait_minutes * 60),
    }))
}
