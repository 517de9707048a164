//! `fleetform relay serve`: the dispatch relay (see [`crate::relay`]).

use std::sync::Arc;

use crate::cli::{RelayArgs, RelayCommand};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::relay::serve::{self, Handled, Limits};
use crate::relay::{pending, redeliver};
use crate::relay::{Relay, Settings, WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_PREVIOUS_ENV};

use crate::config::BATCH_WORKFLOW;

pub fn run(args: &RelayArgs, manager_dir: &std::path::Path, cx: &Context) -> Result<()> {
    let RelayCommand::Serve {
        listen,
        concurrency,
        timeout,
        per_client,
        grace,
        batch,
        redeliver_every,
    } = &args.command;
    let settings = Settings::load(manager_dir, cx.net.clone())?;
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
        .map_err(|e| Error::Failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let listener = serve::bind(*listen)
            .await
            .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Failed(e.to_string()))?;
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
        let (batch, said) = batch_size(&settings, *batch);
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

/// The batch size (`--batch`, else `relay.batch`), 1 without the batch
/// workflow in the manager checkout, and what to say of it at start.
fn batch_size(settings: &Settings, flag: Option<usize>) -> (usize, String) {
    let wanted = flag
        .unwrap_or(settings.relay.batch)
        .clamp(1, crate::config::MAX_RELAY_BATCH);
    let present = settings
        .manager
        .path(std::path::Path::new(BATCH_WORKFLOW))
        .is_file();
    match (wanted, present) {
        (n, true) if n > 1 => (
            n,
            format!("up to {n} events per dispatch (the manager's {BATCH_WORKFLOW} fans them out)"),
        ),
        (1, _) => (1, "one event per dispatch (`relay.batch: 1`): GitHub's write limits cap the relay near 80 events a minute and 500 an hour".into()),
        _ => (1, format!("warning: one event per dispatch: batches of {wanted} are configured but the manager checkout has no {BATCH_WORKFLOW} (`fleetform doctor` fails on it; copy it from fleetform's workflows/, or set `relay.batch: 1`); GitHub's write limits cap the relay near 80 events a minute and 500 an hour")),
    }
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
