//! `fleetform audit report`: applies per customer, refusals, who approved
//! what (the actor of each apply job, which GitHub records as the person
//! who approved the environment deployment when reviewers are required),
//! and failures, in a period (`--since`, `--until`), with the compliance
//! evidence of [`crate::report::evidence`] (md, json or html). The summary and its Markdown are
//! [`crate::report::audit`]'s; this reads the flags and the log.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

use crate::audit;

use crate::config::is_date;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::report::audit::{markdown_with, Summary};
use crate::report::evidence::{self, Format, Header, Row};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Summarise the audit log: applies per customer, refusals, approvals, failures.
    Report {
        /// Only records since this date (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long)]
        since: Option<String>,
        /// The log file (default: FLEETFORM_AUDIT_LOG or .fleetform/audit.jsonl).
        #[arg(long, conflicts_with = "records")]
        log: Option<PathBuf>,
        /// Read the records store `fleetform.yml` names (`records:`, a
        /// folder or an S3 bucket) instead of the log file.
        #[arg(long)]
        records: bool,
        /// Only records until this date (YYYY-MM-DD, inclusive: the whole
        /// day) or UTC time (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long)]
        until: Option<String>,
        /// Markdown, JSON or one self-contained HTML file (evidence to
        /// attach: period, source, count and digest of the events).
        #[arg(long, value_enum, conflicts_with = "json")]
        format: Option<ReportFormat>,
        /// The same as `--format json`.
        #[arg(long)]
        json: bool,
    },
}

/// `audit report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Html,
}

/// Checked flags.
struct Settings {
    since: Option<String>,
    until: Option<String>,
    log: PathBuf,
    /// `--log` was given (not the default or FLEETFORM_AUDIT_LOG).
    log_given: bool,
    records: bool,
    format: Format,
}

fn resolve(args: &AuditArgs) -> Result<Settings> {
    let AuditCommand::Report {
        since,
        log,
        records,
        until,
        format,
        json,
    } = &args.command;
    let since = since.as_deref().map(parse_since).transpose()?;
    let until = until.as_deref().map(parse_until).transpose()?;
    if let (Some(s), Some(u)) = (&since, &until) {
        if u < s {
            return Err(Error::Usage(
                Say::new(format!(
                    "--until {u} is before --since {s}: the period is empty"
                ))
                .help("give an --until on or after --since"),
            ));
        }
    }
    let format = match (format, json) {
        (Some(ReportFormat::Json), _) | (None, true) => Format::Json,
        (Some(ReportFormat::Html), _) => Format::Html,
        (Some(ReportFormat::Md), _) | (None, false) => Format::Markdown,
    };
    Ok(Settings {
        since,
        until,
        log: log.clone().unwrap_or_else(audit::log_path),
        log_given: log.is_some(),
        records: *records,
        format,
    })
}

/// `--since`: a date (`YYYY-MM-DD`, midnight UTC) or a UTC time
/// (`YYYY-MM-DDTHH:MM:SSZ`), the form the log's times have, which are
/// compared as text.
pub fn parse_since(text: &str) -> Result<String> {
    parse_bound(text, "--since", "00:00:00Z")
}

/// `--until`: a date (inclusive: up to its last second, a leap second
/// too) or a UTC time (inclusive).
pub fn parse_until(text: &str) -> Result<String> {
    parse_bound(text, "--until", "23:59:60Z")
}

fn parse_bound(text: &str, flag: &str, day_time: &str) -> Result<String> {
    let refused = || {
        let shown: String = text.chars().take(40).flat_map(char::escape_debug).collect();
        Error::usage(format!(
            "{flag} `{shown}` is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
        ))
    };
    let (date, time) = match text.split_once('T') {
        None => (text, day_time),
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

/// Where the records come from: the log (read twice, streaming) or the
/// records store (read once, kept for the second pass).
enum Source {
    Log(PathBuf),
    Store {
        describe: String,
        rows: Vec<(audit::Entry, Vec<u8>, String)>,
    },
}

impl Source {
    fn open(settings: &Settings, manager_dir: &Path, net: &crate::net::Settings) -> Result<Source> {
        if !settings.records {
            return Ok(Source::Log(settings.log.clone()));
        }
        let manager = crate::config::Manager::load(manager_dir)?;
        let store = crate::records::Store::for_manager(&manager, net);
        let mut rows = Vec::new();
        let cache = crate::records::segments::cache_dir(&manager);
        audit::read_store(
            &store,
            settings.since.as_deref(),
            settings.until.as_deref(),
            Some(&cache),
            |e, bytes, key| rows.push((e, bytes, key)),
        )
        .map_err(Error::failed)?;
        Ok(Source::Store {
            describe: store.describe(),
            rows,
        })
    }

    fn describe(&self) -> String {
        match self {
            Source::Log(p) => format!("local log {}", p.display()),
            Source::Store { describe, .. } => format!("records store {describe}"),
        }
    }

    /// Every record with its bytes and, from the store, its key.
    fn each(&self, mut each: impl FnMut(audit::Entry, &[u8], Option<&str>)) -> Result<()> {
        match self {
            Source::Log(path) => {
                audit::read_each_line(path, |e, line| each(e, line, None))
                    .map_err(|e| Error::failed(e.to_string()))?;
            }
            Source::Store { rows, .. } => {
                for (e, bytes, key) in rows {
                    each(e.clone(), bytes, Some(key.as_str()));
                }
            }
        }
        Ok(())
    }
}

pub fn run(args: &AuditArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    if !settings.records && !settings.log.exists() {
        let shown = settings.log.display();
        if settings.log_given {
            return Err(Error::Usage(Say::new(format!("--log {shown}: no such file")).help(format!("name an audit log that exists (fleetform writes {} in the manager repo), or use --records for the records store", audit::DEFAULT_LOG))));
        }
        cx.out.note(&format!(
            "no audit log at {shown}: nothing was recorded here yet, so the report is empty (--log FILE names another log, --records reads the records store)"
        ));
    }
    let source = Source::open(&settings, manager_dir, &cx.net)?;
    let mut s = Summary::new(settings.since.as_deref());
    s.until.clone_from(&settings.until);
    let mut h = Header::new(
        settings.since.as_deref(),
        settings.until.as_deref(),
        source.describe(),
    );
    source.each(|e, bytes, key| {
        if h.covers(&e.time) {
            h.add(&Row::new(e.clone(), bytes, key));
            s.add(e);
        }
    })?;
    h.finish();
    let head = match settings.format {
        Format::Markdown => format!(
            "{}\n{}",
            markdown_with(&s, evidence::markdown_head(&h).trim_end()),
            evidence::markdown_events_head(&h)
        ),
        Format::Json => evidence::json_head(&s, &h),
        Format::Html => evidence::html_head(&h)
            .map_err(|e| Error::failed(format!("rendering the HTML report: {e}")))?,
    };
    let print = |text: &str| match settings.format {
        Format::Json => cx.out.json_text(text),
        Format::Markdown | Format::Html => cx.out.document(text),
    };
    print(head.trim_end());
    let mut first = true;
    let mut failed = None;
    source.each(|e, bytes, key| {
        if !h.covers(&e.time) || failed.is_some() {
            return;
        }
        let row = Row::new(e, bytes, key);
        match settings.format {
            Format::Markdown => print(&evidence::markdown_row(&row)),
            Format::Json => print(&evidence::json_row(&row, first)),
            Format::Html => match evidence::html_row(&row) {
                Ok(r) => print(r.trim_end()),
                Err(e) => failed = Some(e),
            },
        }
        first = false;
    })?;
    if let Some(e) = failed {
        return Err(Error::failed(format!("rendering the HTML report: {e}")));
    }
    match settings.format {
        Format::Markdown => {}
        Format::Json => print(evidence::JSON_FOOT),
        Format::Html => print(evidence::HTML_FOOT),
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
        assert_eq!(parse_until("2026-11-30").unwrap(), "2026-11-30T23:59:60Z");
        assert!(parse_until("2026-11-31").is_err());
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
