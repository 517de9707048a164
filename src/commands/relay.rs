//! `fleetform relay serve`: the dispatch relay (see [`crate::relay`]).

use std::sync::Arc;

use crate::cli::{RelayArgs, RelayCommand};
use crate::config::Manager;
use crate::error::{Error, Result};
use crate::github::{ApiRoot, AppKey};
use crate::output::Output;
use crate::relay::serve::{self, Handled, Limits};
use crate::relay::{Relay, Settings};

/// The variable holding the App's webhook secret.
pub const WEBHOOK_SECRET_ENV: &str = "FLEETFORM_WEBHOOK_SECRET";

/// The relay's settings from fleetform.yml and the environment (also
/// `fleetform poll`'s).
pub(crate) fn resolve(manager_dir: &std::path::Path) -> Result<Settings> {
    let manager = Manager::load(manager_dir)?;
    let relay = manager.config.relay.clone().ok_or_else(|| {
        Error::Usage(
            "fleetform.yml has no `relay:` section: name the relay's App (`app_slug`) and the manager repo (`manager_repo`); see README, \"The dispatch relay\"".into(),
        )
    })?;
    let app = AppKey::from_env()
        .map_err(|e| Error::Usage(e.to_string()))?
        .ok_or_else(|| {
            Error::Usage(
                "the relay acts as the provider's GitHub App: set FLEETFORM_APP_ID and FLEETFORM_APP_PRIVATE_KEY".into(),
            )
        })?;
    let api_root = ApiRoot::from_env().map_err(|e| Error::Usage(e.to_string()))?;
    let webhook_secret = match std::env::var(WEBHOOK_SECRET_ENV) {
        Ok(s) if s.len() >= 16 => Some(zeroize::Zeroizing::new(s.into_bytes())),
        Ok(s) if !s.is_empty() => {
            return Err(Error::Usage(format!(
                "{WEBHOOK_SECRET_ENV} is shorter than 16 characters; use the App's webhook secret (e.g. the output of `openssl rand -hex 32`)"
            )))
        }
        _ => None,
    };
    Ok(Settings {
        manager,
        relay,
        app,
        api_root,
        webhook_secret,
    })
}

pub fn run(args: &RelayArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    let RelayCommand::Serve {
        listen,
        concurrency,
        timeout,
    } = &args.command;
    let settings = resolve(manager_dir)?;
    let webhook = settings.webhook_secret.is_some();
    let limits = Limits {
        concurrency: (*concurrency).clamp(1, 10_000),
        header_timeout: std::time::Duration::from_secs((*timeout).clamp(1, 300)),
        body_timeout: std::time::Duration::from_secs((*timeout).clamp(1, 300)),
        ..Limits::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let listener = serve::bind(*listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Failed(e.to_string()))?;
        out.result(&format!("relay listening on http://{addr}"));
        if !webhook {
            out.note(&format!(
                "{WEBHOOK_SECRET_ENV} is not set: /webhook answers 404"
            ));
        }
        let log_out = out.clone();
        let log = Arc::new(move |h: &Handled| {
            log_out.note(&format!(
                "{} {} {} {} ({} ms)",
                h.method, h.path, h.status, h.what, h.millis
            ));
        });
        serve::serve(Arc::new(Relay::new(settings)), listener, limits, log).await;
        Ok(())
    })
}
