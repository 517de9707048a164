//! `fleetform relay serve`: the dispatch relay (see [`crate::relay`]).

use clap::{Args, Subcommand};
use std::sync::Arc;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::relay::serve::{self, Handled, Limits};
use crate::relay::{pending, redeliver};
use crate::relay::{Relay, Settings, WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_PREVIOUS_ENV};

#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(subcommand)]
    pub command: RelayCommand,
}

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Serve POST /dispatch, POST /webhook, GET /schema and GET /healthz.
    /// Needs the manager App (FLEETFORM_MANAGER_APP_ID,
    /// FLEETFORM_MANAGER_APP_PRIVATE_KEY), the customer App
    /// (FLEETFORM_CUSTOMER_APP_ID, FLEETFORM_CUSTOMER_APP_PRIVATE_KEY), and
    /// FLEETFORM_WEBHOOK_SECRET for /webhook, from the environment or the
    /// Apps' shares (--credentials FILE).
    Serve {
        /// Address to listen on (port 0: any free port; the address is
        /// printed first).
        #[arg(long, env = "FLEETFORM_RELAY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Requests handled at once; more wait up to 10 s, then get 503.
        #[arg(long, env = "FLEETFORM_RELAY_CONCURRENCY", default_value_t = 64)]
        concurrency: usize,
        /// Seconds a client has to send a request's head, and then its
        /// body (slow clients are cut off).
        #[arg(long, env = "FLEETFORM_RELAY_TIMEOUT", default_value_t = 10)]
        timeout: u64,
        /// Requests one client address may have in flight at once (more
        /// get 429 with Retry-After). Behind a proxy every client has the
        /// proxy's address: raise it there and limit clients at the proxy.
        #[arg(long, env = "FLEETFORM_RELAY_PER_CLIENT", default_value_t = 32)]
        per_client: usize,
        /// Most events one dispatch carries (1 to 32; default `relay.batch`
        /// in fleetform.yml, 32), when the manager checkout has the batch
        /// workflow (`.github/workflows/manager-batch.yml`); without it
        /// every event is a dispatch of its own.
        #[arg(long, env = "FLEETFORM_RELAY_BATCH")]
        batch: Option<usize>,
        /// Seconds requests in flight have to finish after SIGTERM.
        #[arg(long, env = "FLEETFORM_RELAY_GRACE", default_value_t = 25)]
        grace: u64,
        /// Seconds between sweeps that ask GitHub to redeliver the customer
        /// App's failed webhook deliveries (one sweep at start, then this
        /// long after each); 0: no sweeps. Needs FLEETFORM_WEBHOOK_SECRET.
        #[arg(long, env = "FLEETFORM_RELAY_REDELIVER_EVERY", default_value_t = 300)]
        redeliver_every: u64,
        /// An App's share as `doctor --register-app --relay-secrets FILE`
        /// wrote it (its id, key and webhook secret), read in place of
        /// those variables (repeatable: one per App).
        #[arg(long, value_name = "FILE")]
        credentials: Vec<std::path::PathBuf>,
    },
}

pub fn run(args: &RelayArgs, manager_dir: &std::path::Path, cx: &Context) -> Result<()> {
    let RelayCommand::Serve {
        listen,
        concurrency,
        timeout,
        per_client,
        grace,
        batch,
        redeliver_every,
        credentials,
    } = &args.command;
    let shares = crate::util::shares::Shares::read(credentials)
        .map_err(|e| Error::usage(format!("--credentials {e}")))?;
    let settings = Settings::load(manager_dir, cx.net.clone(), &shares)?;
    drop(shares);
    let webhook = !settings.webhook_secrets.is_empty();
    let rotating = settings.webhook_secrets.len() > 1;
    let limits = Limits {
        concurrency: (*concurrency).clamp(1, 10_000),
        header_timeout: std::time::Duration::from_secs((*timeout).clamp(1, 300)),
        body_timeout: std::time::Duration::from_secs((*timeout).clamp(1, 300)),
        per_client: (*per_client).clamp(1, 100_000),
        grace: std::time::Duration::from_secs((*grace).min(3600)),
        ..Limits::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let listener = serve::bind(*listen)
            .await
            .map_err(|e| Error::usage(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::failed(e.to_string()))?;
        cx.out.result(&format!("relay listening on http://{addr}"));
        if !webhook {
            cx.out.note(&format!(
                "{WEBHOOK_SECRET_ENV} is not set: /webhook answers 404"
            ));
        }
        if rotating {
            cx.out.note(&format!(
                "{WEBHOOK_SECRET_PREVIOUS_ENV} is set: deliveries signed with the previous webhook secret are accepted too; unset it once the App's webhook has had the new secret for a few days (README, \"Rotating secrets\")"
            ));
        }
        let log_out = cx.out.clone();
        let log = Arc::new(move |h: &Handled| {
            log_out.note(&format!(
                "{} {} {} {} ({} ms)",
                h.method, h.path, h.status, h.what, h.millis
            ));
        });
        let (batch, said) = crate::relay::batch_size(&settings, *batch);
        let relay = Arc::new(Relay::new(settings).with_batch(batch));
        cx.out.note(&relay.events.describe());
        cx.out.note(&said);
        let _sweeps = start_sweeps(&relay, *redeliver_every, webhook, &cx.out);
        let _recovery = start_recovery(&relay, &cx.out);
        serve::serve(relay, listener, limits, log, serve::termination()).await;
        cx.out.result("relay stopped: requests in flight finished or the grace period ended");
        Ok(())
    })
}

/// With a records store, the sweeps that take over and dispatch the events
/// a stopped instance claimed and never finished
/// ([`crate::relay::pending`]): the last 2 hours at start, then the last
/// minutes every 30 s; each outcome logged.
fn start_recovery(relay: &Arc<Relay>, out: &Output) -> Option<tokio::task::JoinHandle<()>> {
    if !relay.events.shared() {
        return None;
    }
    let every = pending::every();
    out.note(&format!(
        "recover: events claimed and never dispatched (a stopped instance's) are taken over at start and every {} s",
        every.as_secs()
    ));
    let (relay, out) = (relay.clone(), out.clone());
    Some(tokio::spawn(async move {
        // This instance's own claims stay alive however slow their
        // dispatch (a sweep below may itself wait on GitHub's budget).
        let renewing = relay.clone();
        tokio::spawn(async move {
            loop {
                renewing.events.renew().await;
                tokio::time::sleep(every).await;
            }
        });
        let mut window = pending::START_WINDOW;
        loop {
            match relay.recover(window).await {
                Ok(answers) => {
                    for a in answers {
                        out.note(&format!("recover: {} {}", a.status, serve::summary(&a)));
                    }
                    relay
                        .sweeps
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => out.note(&format!(
                    "recover: the records store could not be swept ({e}); the next sweep tries again"
                )),
            }
            window = pending::window();
            tokio::time::sleep(every).await;
        }
    }))
}

/// The sweeps that have GitHub redeliver failed webhook deliveries
/// ([`redeliver`]), logged as the requests are; none with `every` 0 or
/// without a webhook secret. Dropped with the runtime.
fn start_sweeps(
    relay: &Arc<Relay>,
    every: u64,
    webhook: bool,
    out: &Output,
) -> Option<tokio::task::JoinHandle<()>> {
    if every == 0 || !webhook {
        return None;
    }
    out.note(&format!(
        "redeliver: failed webhook deliveries are redelivered at start and every {every} s"
    ));
    let log_out = out.clone();
    let log: redeliver::SweepLog = Arc::new(move |line: &str| log_out.note(line));
    let every = std::time::Duration::from_secs(every.min(7 * 24 * 3600));
    Some(tokio::spawn(redeliver::schedule(relay.clone(), every, log)))
}
