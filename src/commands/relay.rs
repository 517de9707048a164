//! `fleetform relay serve`: the dispatch relay (see [`crate::relay`]).

use std::sync::Arc;

use crate::cli::{RelayArgs, RelayCommand};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::relay::serve::{self, Handled, Limits};
use crate::relay::{Relay, Settings, WEBHOOK_SECRET_ENV};

pub fn run(args: &RelayArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    let RelayCommand::Serve {
        listen,
        concurrency,
        timeout,
    } = &args.command;
    let settings = Settings::load(manager_dir)?;
    if let Some(said) = settings.relay.deprecated_audience() {
        out.note(&format!("warning: {said}"));
    }
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
