//! `fleetform trigger` (customer side): reads the flags and hands them to
//! `crate::flows::github_loop::trigger` (or `trigger_via_relay` behind the provider's
//! relay), which checks the values and dispatches them to the manager.

use crate::cli::TriggerArgs;
use crate::config::is_repo;
use crate::context::Context;
use crate::dispatch::auth::DispatchKey;
use crate::error::{Error, Result};
use crate::flows::github_loop::trigger::Settings;
use crate::flows::github_loop::trigger_relay::RelaySettings;
use crate::github::Token;

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
        return Err(Error::Usage(format!(
            "--relay-url `{relay}` is not an https:// address"
        )));
    }
    if !args.overrides.contains("{environment}") {
        return Err(Error::Usage(
            "--overrides must contain `{environment}`".into(),
        ));
    }
    Ok(RelaySettings {
        relay: relay.to_string(),
        audience: args.relay_audience.clone(),
        variables: args.variables.clone(),
        overrides: args.overrides.clone(),
        json: args.json,
    })
}

fn resolve(args: &TriggerArgs) -> Result<Settings> {
    let manager_repo = args.manager_repo.clone().unwrap_or_default();
    if !is_repo(&manager_repo) {
        return Err(Error::Usage(format!(
            "--manager-repo `{manager_repo}` is not owner/name (set MANAGER_REPO_OWNER and MANAGER_REPO_NAME)"
        )));
    }
    if !args.overrides.contains("{environment}") {
        return Err(Error::Usage(
            "--overrides must contain `{environment}`".into(),
        ));
    }
    let token = Token::from_env().ok_or_else(|| {
        Error::Usage(
            "no token: set FLEETFORM_TOKEN (the MANAGER_REPO_PAT secret) or GITHUB_TOKEN".into(),
        )
    })?;
    let status_token = Token::from_var("FLEETFORM_STATUS_TOKEN");
    let key = DispatchKey::from_env().map_err(|e| Error::Usage(e.to_string()))?;
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
