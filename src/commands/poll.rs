//! `fleetform poll`: see [`crate::relay::poll`].

use crate::cli::PollArgs;
use crate::config::Registry;
use crate::error::{Error, Result};
use crate::output::{table, Output};
use crate::relay::poll::{PollReport, PollState};
use crate::relay::Relay;

/// The largest state file read.
const MAX_STATE: u64 = 64 * 1024 * 1024;

fn load_state(path: &std::path::Path) -> Result<PollState> {
    match crate::util::fs::read_bounded(path, MAX_STATE) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::Usage(format!(
                "{}: not a poll state file ({e}); delete it to start over (the next run then records what it finds)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PollState::default()),
        Err(e) => Err(Error::Failed(e.to_string())),
    }
}

pub fn run(args: &PollArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    let settings = crate::relay::Settings::load(manager_dir)?;
    let registry = Registry::load(&settings.manager)?;
    let mut state = load_state(&args.state)?;
    let relay = Relay::new(settings);
    let rt = crate::github::runtime()?;
    let report = rt.block_on(relay.poll(&registry, &mut state, args.dry_run));
    if !args.dry_run {
        if let Some(dir) = args.state.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Failed(format!("{}: {e}", dir.display())))?;
        }
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| Error::Failed(e.to_string()))?;
        crate::util::fs::write_atomic(&args.state, &bytes)
            .map_err(|e| Error::Failed(e.to_string()))?;
    }
    print(&report, args.json, args.dry_run, out);
    let refused = report
        .dispatched
        .iter()
        .filter(|d| d.status != 202 && !args.dry_run)
        .count();
    if !report.failed.is_empty() || refused > 0 {
        return Err(Error::Failed(format!(
            "{} not polled and {} refused; the others were polled",
            crate::util::text::count(report.failed.len(), "customer", "customers"),
            crate::util::text::count(refused, "dispatch", "dispatches")
        )));
    }
    Ok(())
}

fn print(report: &PollReport, json: bool, dry_run: bool, out: &Output) {
    if json {
        if let Err(e) = out.json(report) {
            out.error(&format!("the report could not be written as JSON: {e}"));
        }
        return;
    }
    let rows: Vec<Vec<String>> = report
        .dispatched
        .iter()
        .map(|d| {
            vec![
                d.customer.clone(),
                d.event_type.to_string(),
                crate::dispatch::short_sha(&d.sha),
                d.pr.map_or("-".into(), |n| format!("#{n}")),
                if dry_run {
                    "would dispatch".into()
                } else {
                    d.status.to_string()
                },
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.result(&table(
            &["CUSTOMER", "DISPATCH", "SHA", "PR", "STATUS"],
            &rows,
        ));
    }
    out.note(&format!(
        "{} dispatched, {} unchanged (304), {} seen for the first time (recorded only), {} failed",
        report.dispatched.len(),
        report.not_modified,
        report.first_seen.len(),
        report.failed.len()
    ));
    for (slug, why) in &report.failed {
        out.error(&format!("{slug}: {why}"));
    }
}
