//! `fleetform records compact`: the audit events of every closed span in
//! one segment each, beside the events themselves
//! ([`crate::records::compact`]); what the scheduled jobs run so that the
//! dashboard, `audit report` and `report sla` read one object per day.

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
    /// hour) into one segment each and a manifest naming them; create-only,
    /// nothing is deleted. Run it from a schedule; two at once, or one
    /// stopped half way, leave every event read once.
    Compact(CompactArgs),
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// What was done as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &RecordsArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let RecordsCommand::Compact(compact) = &args.command;
    let manager = crate::config::Manager::load(manager_dir)?;
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let cache = crate::records::segments::cache_dir(&manager);
    let now = crate::rollout::now() as i64;
    let done = crate::records::compact::compact(&store, now, Some(&cache))
        .map_err(|e| Error::failed(format!("{}: {e}", store.describe())))?;
    if compact.json {
        let value = serde_json::json!({
            "bound": done.bound,
            "written": done.written.iter().map(|s| &s.key).collect::<Vec<_>>(),
            "kept": done.kept,
            "events": done.events,
            "manifest": done.manifest,
        });
        return cx
            .out
            .json(&value)
            .map_err(|e| Error::failed(format!("writing the answer: {e}")));
    }
    cx.out.result(&format!(
        "{} events before {} in {} segments ({} written now, {} kept); {}",
        done.events,
        done.bound,
        done.written.len() + done.kept,
        done.written.len(),
        done.kept,
        match &done.manifest {
            Some(m) => format!("manifest {m}"),
            None => "the last manifest says it all".to_string(),
        }
    ));
    Ok(())
}
