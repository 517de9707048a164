//! `fleetform report sla`: response times against `sla:` per customer and
//! environment over a window, from the audit events (the local log, or the
//! records store with `--records`). The measuring is
//! [`crate::fleet::sla`]'s, the text [`crate::report::sla`]'s.

use clap::Args;
use std::path::{Path, PathBuf};

use crate::audit::Entry;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::sla::Window;

#[derive(Debug, Args)]
pub struct SlaArgs {
    /// From this date (YYYY-MM-DD, midnight UTC) or UTC time
    /// (YYYY-MM-DDTHH:MM:SSZ); default: `--days` before `--until`.
    #[arg(long, conflicts_with = "days")]
    pub since: Option<String>,
    /// Until this date (YYYY-MM-DD, the whole day) or UTC time; default:
    /// now.
    #[arg(long)]
    pub until: Option<String>,
    /// The window's length in days, ending at `--until`.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Markdown (the default), CSV (one row per measured plan or apply)
    /// or JSON.
    #[arg(long, value_enum, conflicts_with = "json")]
    pub format: Option<SlaFormat>,
    /// The same as `--format json`.
    #[arg(long)]
    pub json: bool,
    /// The local audit log (relative to the manager repo).
    #[arg(long, default_value = crate::audit::DEFAULT_LOG)]
    pub log: PathBuf,
    /// Read the audit events from the records store of fleetform.yml
    /// instead of the local log.
    #[arg(long)]
    pub records: bool,
}

/// `report sla --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SlaFormat {
    Md,
    Csv,
    Json,
}

pub fn run(args: &SlaArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let window = window(args, crate::rollout::now() as i64)?;
    let format = match (args.format, args.json) {
        (_, true) => SlaFormat::Json,
        (f, false) => f.unwrap_or(SlaFormat::Md),
    };
    let manager = crate::config::Manager::load(manager_dir)?;
    if manager.config.sla.is_empty() {
        cx.out
            .note("fleetform.yml promises no `sla:`: the times are shown without targets");
    }
    let events = read_events(args, &manager, cx)?;
    let (samples, unmeasured) = crate::fleet::sla::samples(&events, &manager.config.sla, window);
    let report = crate::fleet::sla::report(&samples, unmeasured, window);
    match format {
        // The printer ends the document's last line.
        SlaFormat::Md => cx
            .out
            .document(crate::report::sla::markdown(&report).trim_end()),
        SlaFormat::Csv => cx
            .out
            .document(crate::report::sla::csv(&samples).trim_end()),
        SlaFormat::Json => cx
            .out
            .json(&report)
            .map_err(|e| Error::failed(format!("writing the report: {e}")))?,
    }
    Ok(())
}

/// The window the flags name.
fn window(args: &SlaArgs, now: i64) -> Result<Window> {
    let until = match &args.until {
        Some(t) => bound(t, "--until", true)?,
        // What happened this second is in.
        None => now + 1,
    };
    let since = match &args.since {
        Some(t) => bound(t, "--since", false)?,
        None => until - i64::from(args.days) * 86_400,
    };
    if until <= since {
        return Err(Error::usage(format!(
            "the window from {} to {} is empty: give an --until after --since",
            crate::audit::rfc3339(since.max(0) as u64),
            crate::audit::rfc3339(until.max(0) as u64)
        )));
    }
    Ok(Window { since, until })
}

/// A date (`YYYY-MM-DD`: its start, or with `end` the next day's) or an
/// RFC 3339 time, in Unix seconds.
fn bound(text: &str, flag: &str, end: bool) -> Result<i64> {
    let date = (text.len() == 10).then(|| text.parse::<jiff::civil::Date>().ok());
    if let Some(d) = date.flatten() {
        let day = match end {
            true => d.tomorrow().ok(),
            false => Some(d),
        };
        if let Some(t) = day.and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok()) {
            return Ok(t.timestamp().as_second());
        }
    }
    crate::fleet::sla::seconds(text).ok_or_else(|| {
        let shown: String = text.chars().take(40).flat_map(char::escape_debug).collect();
        Error::usage(format!(
            "{flag} `{shown}` is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
        ))
    })
}

/// Every audit event, from the log or the records store.
fn read_events(
    args: &SlaArgs,
    manager: &crate::config::Manager,
    cx: &Context,
) -> Result<Vec<Entry>> {
    let mut events = Vec::new();
    if args.records {
        let store = crate::records::Store::for_manager(manager, &cx.net);
        let cache = crate::records::segments::cache_dir(manager);
        crate::audit::read_store(&store, None, None, Some(&cache), |e, _, _| events.push(e))
            .map_err(Error::failed)?;
    } else {
        let path = manager.root.join(&args.log);
        if path.exists() {
            crate::audit::read_each(&path, |e| events.push(e))
                .map_err(|e| Error::failed(e.to_string()))?;
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_bound_the_window() {
        assert_eq!(bound("1970-01-02", "--since", false).unwrap(), 86_400);
        assert_eq!(bound("1970-01-01", "--until", true).unwrap(), 86_400);
        assert_eq!(bound("1970-01-01T00:01:00Z", "--since", false).unwrap(), 60);
        assert!(bound("yesterday", "--since", false).is_err());
    }
}
