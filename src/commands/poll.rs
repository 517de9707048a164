//! `fleetform poll`: see [`crate::relay::poll`]; the state file is
//! [`crate::relay::poll::state`].

use crate::config::Registry;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{table, Output};
use crate::relay::poll::state::{Lost, StateFile};
use crate::relay::poll::{PollReport, PollState};
use crate::relay::Relay;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Where what was seen is kept between runs (ETags, heads, pull
    /// request heads), sealed with FLEETFORM_ARTIFACT_KEY when it is set:
    /// restore it from a cache before the run. A missing or unopenable
    /// state is recovered from the commits' fleetform statuses.
    #[arg(
        long,
        env = "FLEETFORM_POLL_STATE",
        default_value = ".fleetform/poll-state.json"
    )]
    pub state: PathBuf,
    /// Show what would be dispatched; dispatch nothing, keep no state.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
}

/// The state kept by the last run, or an empty one (every repo is then
/// checked against its commit statuses) with a warning saying why.
fn load_state(file: &StateFile, report: &mut PollReport, out: &Output) -> PollState {
    let shown = file.shown();
    if !file.sealed() {
        out.warn(&format!(
            "the poll state {shown} is kept unsealed: whoever can read the manager repo's Actions cache reads the heads and ETags in it, and whoever can write it can make poll skip a push. Set FLEETFORM_ARTIFACT_KEY (the manager's artifact secret, at least 32 random characters) in the poll step to seal it"
        ));
    }
    match file.read() {
        Ok(state) => state,
        Err(lost) => {
            report.state_lost = Some(lost_code(&lost));
            match lost.warning(&shown) {
                Some(w) => out.warn(&w),
                None => out.note(&format!(
                    "no poll state at {shown} (the first run, or the Actions cache lost it): every customer repo is read, and each head without a fleetform commit status is dispatched"
                )),
            }
            PollState::default()
        }
    }
}

fn lost_code(lost: &Lost) -> &'static str {
    match lost {
        Lost::Missing => "missing",
        Lost::NotSealed => "not_sealed",
        Lost::Forged => "forged",
        Lost::NoKey => "no_key",
        Lost::Unreadable(_) => "unreadable",
    }
}

pub fn run(args: &PollArgs, manager_dir: &std::path::Path, cx: &Context) -> Result<()> {
    let settings = crate::relay::Settings::load(
        manager_dir,
        cx.net.clone(),
        &crate::util::shares::Shares::default(),
    )?;
    let registry = Registry::load(&settings.manager)?;
    let file = StateFile::from_env(&args.state, &settings.relay.manager_repo)
        .map_err(|e| Error::usage(e.to_string()))?;
    let mut loaded = PollReport::default();
    let mut state = load_state(&file, &mut loaded, &cx.out);
    // Batches as the relay does (the manager's batch workflow): a pull
    // request's dispatch then carries GitHub's time of it (`asked_at`).
    let (batch, _) = crate::relay::batch_size(&settings, None);
    let relay = Relay::new(settings)
        .with_events_in_memory()
        .with_batch(batch);
    let rt = crate::github::runtime()?;
    let mut report = rt.block_on(relay.poll(&registry, &mut state, args.dry_run));
    report.state_lost = loaded.state_lost;
    report.state_sealed = file.sealed();
    let kept = if args.dry_run {
        Ok(())
    } else {
        file.write(&state)
    };
    print(&report, args.json, args.dry_run, &cx.out);
    if let Err(e) = kept {
        return Err(Error::failed(format!(
            "{e} ({}); the state from before was removed, so the next run reads every repo again and dispatches only the heads that carry no fleetform commit status yet. Check that the folder is writable",
            file.shown()
        )));
    }
    let refused = report.dispatched.iter().filter(|d| !d.accepted()).count();
    if !report.failed.is_empty() || refused > 0 {
        return Err(Error::failed(format!(
            "{} not polled and {} refused (tried again next run); the others were polled",
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
        "{} dispatched, {} unchanged (304), {} read without state (heads checked against their commit statuses, {} found dispatched already), {} failed",
        report.dispatched.len(),
        report.not_modified,
        report.first_seen.len(),
        report.already_dispatched.len(),
        report.failed.len()
    ));
    for (slug, why) in &report.failed {
        out.error(&format!("{slug}: {why}"));
    }
}
