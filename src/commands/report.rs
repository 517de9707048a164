//! `fleetform report --html OUT`: the fleet dashboard from the records.
//! What is deployed where comes from the deployment records, drift,
//! failures, approvals waiting and the history from the audit events (the
//! local log, or the records store with `--records`), the rollouts from
//! their events, the response times against `sla:` from the events
//! ([`crate::fleet::sla`]). The aggregation is [`crate::fleet::dashboard`]'s, the page
//! [`crate::report::dashboard`]'s.

use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use crate::audit::Entry;

use crate::config::{Manager, Unit};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::report::dashboard::{Dashboard, RolloutView};

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    /// Another report than the dashboard.
    #[command(subcommand)]
    pub command: Option<super::ReportCommand>,
    /// Where to write the dashboard (one HTML file).
    #[arg(long, value_name = "OUT", required = true)]
    pub html: Option<PathBuf>,
    /// The local audit log (relative to the manager repo).
    #[arg(long, default_value = crate::audit::DEFAULT_LOG)]
    pub log: PathBuf,
    /// Read the audit events from the records store of fleetform.yml
    /// instead of the local log.
    #[arg(long)]
    pub records: bool,
}

/// The kinds of record the dashboard reads per customer, pair or rollout:
/// each listed once for the whole fleet
/// ([`crate::records::Store::listing_once`]), not once per customer or
/// pair.
const LISTED_ONCE: [&str; 6] = [
    "deployments/",
    crate::records::deploy_segments::PREFIX,
    "adoptions/",
    "adoption-waves/",
    "rollouts/",
    crate::records::DRIFT_CAUSES_PREFIX,
];

/// The dashboard (a report subcommand is dispatched by `lib.rs`).
pub fn run(args: &ReportArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let Some(out) = &args.html else {
        return Err(Error::usage(
            "give --html OUT (where to write the dashboard), or a report: `report cost`, `report sla`",
        ));
    };
    let (manager, registry) = crate::config::load(manager_dir)?;
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let (events, source) = read_events(args, &manager, &store)?;
    let store = store
        .listing_once(&LISTED_ONCE)
        .map_err(|e| Error::failed(e.to_string()))?;
    let now = crate::rollout::now() as i64;
    let rollouts = crate::rollout::open_rollouts(&store)?;
    let wave_of = waves(&rollouts);
    let (customers, places) = crate::fleet::dashboard::customers(
        &manager,
        &registry,
        &store,
        &events,
        (&wave_of, &crate::github::GitHub::web_url_from_env()),
        now,
    )?;
    let d = Dashboard {
        generated_at: crate::audit::rfc3339(now as u64),
        source,
        places,
        customers,
        rollouts: rollouts
            .iter()
            .map(|s| RolloutView {
                id: s.id.clone(),
                manager_sha: s.manager_sha.chars().take(12).collect(),
                halted: s.halted.clone(),
                stages: crate::rollout::status(s),
            })
            .collect(),
        weeks: crate::fleet::dashboard::weeks(&events, now),
        adoptions: adoptions(manager_dir, &store, cx),
        adoption_halts: crate::flows::adopt::halts(manager_dir, &cx.net, Some(&store))
            .unwrap_or_else(|e| {
                cx.out
                    .note(&format!("the adoption waves' halts were not read: {e}"));
                Vec::new()
            }),
        sla: sla(&manager, &events, now),
        drift_causes: crate::fleet::drift_causes::previous(&store).unwrap_or_else(|e| {
            cx.out.note(&format!(
                "the drift causes were not read from the records: {e}"
            ));
            None
        }),
    };
    let html = crate::report::dashboard::html(&d)
        .map_err(|e| Error::failed(format!("rendering the dashboard: {e}")))?;
    crate::util::fs::write_atomic(out, html.as_bytes())
        .map_err(|e| Error::failed(format!("{}: {e}", out.display())))?;
    cx.out.result(&format!(
        "wrote {} ({}, {})",
        out.display(),
        crate::util::text::count(d.customers.len(), "customer", "customers"),
        crate::util::text::count(d.rollouts.len(), "rollout", "rollouts")
    ));
    Ok(())
}

/// Response times against `sla:` over the last 30 days, when it promises
/// any.
fn sla(manager: &Manager, events: &[Entry], now: i64) -> Option<crate::report::sla::SlaView> {
    if manager.config.sla.is_empty() {
        return None;
    }
    let window = crate::fleet::sla::Window {
        since: now - 30 * 86_400,
        until: now + 1,
    };
    let (samples, unmeasured) = crate::fleet::sla::samples(events, &manager.config.sla, window);
    let report = crate::fleet::sla::report(&samples, unmeasured, window);
    Some(crate::report::sla::view(&report))
}

/// The pairs with an adoption under way or done (with products, each
/// customer × product × environment).
fn adoptions(
    manager_dir: &Path,
    store: &crate::records::Store,
    cx: &Context,
) -> Vec<crate::report::adopt::PairStatus> {
    let filter = crate::flows::adopt::StatusFilter {
        out: ".fleetform/out".into(),
        ..Default::default()
    };
    match crate::flows::adopt::status(&filter, manager_dir, &cx.net, Some(store)) {
        Ok(rows) => rows
            .into_iter()
            .filter(|r| r.stage != crate::report::adopt::Stage::NotStarted)
            .collect(),
        Err(e) => {
            cx.out.note(&format!("the adoptions were not read: {e}"));
            Vec::new()
        }
    }
}

/// Every audit event, oldest first, and where they came from.
fn read_events(
    args: &ReportArgs,
    manager: &Manager,
    store: &crate::records::Store,
) -> Result<(Vec<Entry>, String)> {
    let mut events = Vec::new();
    let source = if args.records {
        let cache = crate::records::segments::cache_dir(manager);
        crate::audit::read_store(store, None, None, Some(&cache), |e, _, _| events.push(e))
            .map_err(Error::failed)?;
        format!("records store {}", store.describe())
    } else {
        let path = manager.root.join(&args.log);
        if path.exists() {
            crate::audit::read_each(&path, |e| events.push(e))
                .map_err(|e| Error::failed(e.to_string()))?;
        }
        format!("local log {}", args.log.display())
    };
    events.sort_by(|a, b| a.time.cmp(&b.time));
    Ok((events, source))
}

/// The wave of the first unfinished stage holding each pair, per open
/// rollout, and whether that rollout is halted.
fn waves(rollouts: &[crate::rollout::state::State]) -> BTreeMap<Unit, (String, bool)> {
    let mut out = BTreeMap::new();
    for s in rollouts {
        for stage in s.stages.iter().skip(s.current) {
            for u in &stage.units {
                out.entry(u.clone())
                    .or_insert_with(|| (format!("{} ({})", stage.wave, s.id), s.halted.is_some()));
            }
        }
    }
    out
}
