//! `fleetform trigger` (customer side): reads the flags and hands them to
//! `crate::flows::github_loop::trigger` (or `trigger_via_relay` behind the provider's
//! relay), which checks the values and dispatches them to the manager.

use crate::config::is_repo;
use crate::context::Context;
use crate::dispatch::auth::DispatchKey;
use crate::error::{Error, Result, Say};
use crate::flows::github_loop::trigger::Settings;
use crate::flows::github_loop::trigger_relay::RelaySettings;
use crate::github::Token;
use clap::Args;

use super::parse_duration;

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The manager repo, owner/name (the token path; not with --relay-url).
    #[arg(
        long,
        env = "FLEETFORM_MANAGER_REPO",
        required_unless_present = "relay_url"
    )]
    pub manager_repo: Option<String>,
    /// The provider's relay: the trigger proves who it is with the run's
    /// OIDC token (the job needs `id-token: write`) and holds no provider
    /// credential. Without it, the legacy token path (FLEETFORM_TOKEN and a
    /// dispatch key).
    #[arg(long, env = "FLEETFORM_RELAY_URL")]
    pub relay_url: Option<String>,
    /// The audience the OIDC token is asked for: the relay's `audience`,
    /// by default the provider's manager repo address
    /// (`https://github.com/<owner>/<repo>`; `customers instructions`
    /// gives it). Required with --relay-url: no relay accepts a token for
    /// any other audience (the old shared `fleetform` is refused by every
    /// relay), so a missing one is said before anything is sent.
    #[arg(long, env = "FLEETFORM_RELAY_AUDIENCE")]
    pub relay_audience: Option<String>,
    /// Path of the variables schema inside the manager repo.
    #[arg(
        long,
        env = "FLEETFORM_SCHEMA_PATH",
        default_value = "schema/variables.schema.json"
    )]
    pub schema_path: String,
    /// Manager ref to read the schema from (default: its default branch).
    #[arg(long, env = "FLEETFORM_SCHEMA_REF")]
    pub schema_ref: Option<String>,
    /// The customer's variables file.
    #[arg(
        long,
        env = "FLEETFORM_VARIABLES",
        default_value = "infra/variables.yml"
    )]
    pub variables: String,
    /// Per-environment override files; `{environment}` is replaced.
    #[arg(
        long,
        env = "FLEETFORM_OVERRIDES",
        default_value = "infra/variables.{environment}.yml"
    )]
    pub overrides: String,
    /// Commit status context.
    #[arg(
        long,
        env = "FLEETFORM_STATUS_CONTEXT",
        default_value = "infra/terraform-deploy"
    )]
    pub status_context: String,
    /// Print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Wait this long (e.g. 10m, 90s) for the manager to answer on the
    /// commit status; fail if it never does.
    #[arg(long, env = "FLEETFORM_WAIT", value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,
}

pub fn run(args: &TriggerArgs, cx: &Context) -> Result<()> {
    if let Some(relay) = &args.relay_url {
        return crate::flows::github_loop::trigger_relay::trigger_via_relay(
            &relay_settings(args, relay)?,
            cx,
        );
    }
    crate::flows::github_loop::trigger::trigger(&resolve(args)?, cx)
}

fn relay_settings(args: &TriggerArgs, relay: &str) -> Result<RelaySettings> {
    if !crate::config::is_web_url(relay) {
        return Err(Error::usage(format!(
            "--relay-url `{relay}` is not an https:// address"
        )));
    }
    if !args.overrides.contains("{environment}") {
        return Err(Error::usage("--overrides must contain `{environment}`"));
    }
    let audience = match args.relay_audience.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() && a != crate::config::DEPRECATED_AUDIENCE => a.to_string(),
        given => {
            return Err(Error::Usage(
                Say::new(match given {
                    Some(a) if !a.is_empty() => format!("--relay-audience `{a}` is the old shared audience, which no relay accepts any more"),
                    _ => "--relay-url is set but no --relay-audience: the relay accepts only OIDC tokens for its own audience".to_string(),
                })
                .help("set the repository variable FLEETFORM_RELAY_AUDIENCE to the value the provider's instructions give (`fleetform customers instructions`; by default https://github.com/<the provider's manager repo>)"),
            ))
        }
    };
    Ok(RelaySettings {
        relay: relay.to_string(),
        audience,
        variables: args.variables.clone(),
        overrides: args.overrides.clone(),
        json: args.json,
    })
}

fn resolve(args: &TriggerArgs) -> Result<Settings> {
    let manager_repo = args.manager_repo.clone().unwrap_or_default();
    if !is_repo(&manager_repo) {
        return Err(Error::usage(format!(
            "--manager-repo `{manager_repo}` is not owner/name (set MANAGER_REPO_OWNER and MANAGER_REPO_NAME)"
        )));
    }
    if !args.overrides.contains("{environment}") {
        return Err(Error::usage("--overrides must contain `{environment}`"));
    }
    let token = Token::from_env().ok_or_else(|| {
        Error::usage("no token: set FLEETFORM_TOKEN (the MANAGER_REPO_PAT secret) or GITHUB_TOKEN")
    })?;
    let status_token = Token::from_var("FLEETFORM_STATUS_TOKEN");
    let key = DispatchKey::from_env().map_err(|e| Error::usage(e.to_string()))?;
    Ok(Settings {
        manager_repo,
        schema_path: args.schema_path.clone(),
        schema_ref: args.schema_ref.clone(),
        variables: args.variables.clone(),
        overrides: args.overrides.clone(),
        status_context: args.status_context.clone(),
        dry_run: args.dry_run,
        json: args.json,
        token,
        status_token,
        key,
        wait: args.wait,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_never_overflow() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        for bad in [
            "99999999999999999999h",
            "18446744073709551615",
            "5124095576030432h",
            "7h",
            "21601",
            "6h1s",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(
                e.contains("at most 6h") || e.contains("not a duration"),
                "{bad}: {e}"
            );
        }
    }
}
