//! `fleetform audit report`: applies per customer, refusals, who approved
//! what (the actor of each apply job, which GitHub records as the person
//! who approved the environment deployment when reviewers are required),
//! and failures, since a date. The summary and its Markdown are
//! [`crate::report::audit`]'s; this reads the flags and the log.

use std::path::{Path, PathBuf};

use crate::audit;
use crate::cli::{AuditArgs, AuditCommand};
use crate::config::is_date;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::audit::{markdown, Summary};

/// Checked flags.
struct Settings {
    since: Option<String>,
    log: PathBuf,
    records: bool,
    json: bool,
}

fn resolve(args: &AuditArgs) -> Result<Settings> {
    let AuditCommand::Report {
        since,
        log,
        records,
        json,
    } = &args.command;
    Ok(Settings {
        since: since.as_deref().map(parse_since).transpose()?,
        log: log.clone().unwrap_or_else(audit::log_path),
        records: *records,
        json: *json,
    })
}

/// `--since`: a date (`YYYY-MM-DD`, midnight UTC) or a UTC time
/// (`YYYY-MM-DDTHH:MM:SSZ`), the form the log's times have, which are
/// compared as text.
pub fn parse_since(text: &str) -> Result<String> {
    let refused = || {
        let shown: String = text.chars().take(40).flat_map(char::escape_debug).collect();
        Error::Usage(format!(
            "--since `{shown}` is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
        ))
    };
    let (date, time) = match text.split_once('T') {
        None => (text, "00:00:00Z"),
        Some((date, time)) => (date, time),
    };
    let num = |s: &str, max: u32| s.parse::<u32>().ok().filter(|n| *n <= max);
    let real_date = is_date(date)
        && jiff::civil::Date::new(
            date.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0),
            date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0),
            date.get(8..).and_then(|d| d.parse().ok()).unwrap_or(0),
        )
        .is_ok();
    let hms: Vec<&str> = time.strip_suffix('Z').unwrap_or("").split(':').collect();
    let real_time = matches!(hms.as_slice(), [h, m, s]
        if [h, m, s].iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            && num(h, 23).is_some() && num(m, 59).is_some() && num(s, 60).is_some());
    if real_date && real_time {
        Ok(format!("{date}T{time}"))
    } else {
        Err(refused())
    }
}

pub fn run(args: &AuditArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let settings = resolve(args)?;
    let mut s = Summary::new(settings.since.as_deref());
    if settings.records {
        let manager = crate::config::Manager::load(manager_dir)?;
        let store = crate::records::Store::for_manager(&manager);
        read_store(&store, settings.since.as_deref(), |e| s.add(e))?;
    } else {
        audit::read_each(&settings.log, |e| s.add(e)).map_err(|e| Error::Failed(e.to_string()))?;
    }
    if settings.json {
        let json = serde_json::to_string_pretty(&s)
            .map_err(|e| Error::Failed(format!("serialising the report: {e}")))?;
        out.result(&json);
    } else {
        out.result(markdown(&s).trim_end());
    }
    Ok(())
}

/// Every audit record in the store (one object each), oldest first; days
/// before `since` are not read.
fn read_store(
    store: &crate::records::Store,
    since: Option<&str>,
    mut each: impl FnMut(audit::Entry),
) -> Result<()> {
    let failed =
        |e: crate::records::RecordsError| Error::Failed(format!("{}: {e}", store.describe()));
    // `audit/YYYY/MM/DD/...`: a day before `since`'s day holds nothing newer.
    let since_day = since.map(|s| s[..10].replace('-', "/"));
    for key in store.list("audit/").map_err(failed)? {
        let day = key.get(6..16).unwrap_or_default();
        if since_day.as_deref().is_some_and(|d| day < d) {
            continue;
        }
        let bytes = store.read(&key).map_err(failed)?;
        let entry: audit::Entry = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Failed(format!(
                "{}/{key}: not an audit record: {e}",
                store.describe()
            ))
        })?;
        each(entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_and_times_and_refuses_the_rest() {
        assert_eq!(parse_since("2026-11-01").unwrap(), "2026-11-01T00:00:00Z");
        assert_eq!(
            parse_since("2026-11-01T10:20:30Z").unwrap(),
            "2026-11-01T10:20:30Z"
        );
        for bad in [
            "ééééééééééééééééééééé",
            "2026-11-01Tab:cd:efZ",
            "2026-02-30",
            "yesterday",
            "",
            "2026-11-0\u{e9}T00:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T10:20:30+02:00",
            "2026-11-01T1:2:3Z",
            "2026-11-01T",
        ] {
            let e = parse_since(bad).unwrap_err().to_string();
            assert!(e.contains("is not a date"), "{bad}: {e}");
        }
    }
}
