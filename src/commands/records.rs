//! `fleetform records compact`: the audit events of every closed span in
//! one segment each, beside the events themselves
//! ([`crate::records::compact`]), and each customer's deployment records
//! of every closed month ([`crate::records::deploy_segments`]); what the
//! scheduled jobs run so that the dashboard, `audit report`, `report sla`
//! and `report cost` read one object per day or month. With
//! `--delete-covered`, the raw objects segments hold are then deleted
//! where nothing holds them ([`crate::records::delete`]).

use clap::{Args, Subcommand};
use std::path::Path;

use crate::context::Context;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct RecordsArgs {
    #[command(subcommand)]
    pub command: RecordsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Compact the audit events of every closed day (today: every closed
    /// hour), and each customer's deployment records of every closed month,
    /// into one segment each and manifests naming them; create-only,
    /// nothing is deleted unless `--delete-covered` asks. Run it from a
    /// schedule; two at once, or one stopped half way, leave every event
    /// read once.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// What was done as JSON.
    #[arg(long)]
    pub json: bool,
    /// Then delete the raw events and records the segments hold (read
    /// back and checked first) of spans that ended 7 days or more before,
    /// except what Object Lock still holds and each pair's newest
    /// deployment record; what is deleted is recorded first under
    /// `deletions/`.
    #[arg(long)]
    pub delete_covered: bool,
    /// List every deployment record again now (`deployments/` whole), to
    /// take in one that arrived late for a closed month; otherwise that
    /// is done when a month closed since the last such listing or it is
    /// 7 days old.
    #[arg(long)]
    pub relist: bool,
}

pub fn run(args: &RecordsArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let RecordsCommand::Compact(compact) = &args.command;
    let manager = crate::config::Manager::load(manager_dir)?;
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let cache = crate::records::segments::cache_dir(&manager);
    let now = crate::rollout::now() as i64;
    let failed =
        |e: crate::records::RecordsError| Error::failed(format!("{}: {e}", store.describe()));
    let done = crate::records::compact::compact(&store, now, Some(&cache)).map_err(failed)?;
    let deployed =
        crate::records::deploy_segments::compact(&store, now, Some(&cache), compact.relist)
            .map_err(failed)?;
    let deleted = match compact.delete_covered {
        true => Some(crate::records::delete::delete_covered(&store, now).map_err(failed)?),
        false => None,
    };
    if compact.json {
        let value = serde_json::json!({
            "bound": done.bound,
            "written": done.written.iter().map(|s| &s.key).collect::<Vec<_>>(),
            "kept": done.kept,
            "events": done.events,
            "manifest": done.manifest,
            "deployments": {
                "bound": deployed.bound,
                "written": deployed.written.iter().map(|s| &s.key).collect::<Vec<_>>(),
                "kept": deployed.kept,
                "records": deployed.records,
                "manifests": deployed.manifests,
                "listed": deployed.listed,
            },
            "deleted": deleted.as_ref().map(|d| serde_json::json!({
                "record": d.record,
                "keys": d.deleted,
                "kept": d.kept.iter().map(|(k, why)| serde_json::json!({"key": k, "why": why})).collect::<Vec<_>>(),
            })),
        });
        return cx
            .out
            .json(&value)
            .map_err(|e| Error::failed(format!("writing the answer: {e}")));
    }
    let mut lines = vec![
        summary(
            "events",
            (done.events, &done.bound),
            (done.written.len(), done.kept),
            match &done.manifest {
                Some(m) => format!("manifest {m}"),
                None => "the last manifest says it all".to_string(),
            },
        ),
        match deployed.listed {
            true => summary(
                "deployment records",
                (deployed.records, &deployed.bound),
                (deployed.written.len(), deployed.kept),
                format!("{} manifests written", deployed.manifests.len()),
            ),
            false => format!(
                "deployment records before {}: not listed again (listed whole for this bound within {} days; --relist lists them now)",
                deployed.bound,
                crate::records::deploy_segments::RELIST_DAYS
            ),
        },
    ];
    if let Some(d) = &deleted {
        lines.push(format!(
            "{} covered objects deleted{}; {} kept by Object Lock",
            d.deleted.len(),
            d.record
                .as_ref()
                .map(|r| format!(" (recorded in {r})"))
                .unwrap_or_default(),
            d.kept.len()
        ));
    }
    cx.out.result(&lines.join("\n"));
    Ok(())
}

/// One kind's line: `<count> <what> before <bound> in <n> segments (<w>
/// written now, <k> kept); <manifests>`.
fn summary(
    what: &str,
    (count, bound): (usize, &str),
    (written, kept): (usize, usize),
    manifests: String,
) -> String {
    format!(
        "{count} {what} before {bound} in {} segments ({written} written now, {kept} kept); {manifests}",
        written + kept
    )
}
