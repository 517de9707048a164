//! `fleetform audit report`: applies per customer, refusals, who approved
//! what (the actor of each apply job, which GitHub records as the person
//! who approved the environment deployment when reviewers are required),
//! and failures, since a date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{self, Entry};
use crate::cli::{AuditArgs, AuditCommand};
use crate::config::is_date;
use crate::error::{Error, Result};
use crate::output::Output;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub since: Option<String>,
    pub records: usize,
    pub applies_per_customer: BTreeMap<String, usize>,
    pub applies: Vec<Entry>,
    pub refusals: Vec<Entry>,
    pub failures: Vec<Entry>,
    pub waivers: Vec<Entry>,
    pub registry_changes: Vec<Entry>,
}

impl Summary {
    /// An empty summary of the records since `since` (a UTC time as
    /// `YYYY-MM-DDTHH:MM:SSZ`, compared as text like the log's times).
    pub fn new(since: Option<&str>) -> Self {
        Summary {
            since: since.map(str::to_string),
            ..Summary::default()
        }
    }

    /// Counts one record in; only what the report shows is kept.
    pub fn add(&mut self, e: Entry) {
        if self.since.as_deref().is_some_and(|t| e.time.as_str() < t) {
            return;
        }
        self.records += 1;
        match (e.action.as_str(), e.result.as_str()) {
            ("apply", "ok") => {
                *self
                    .applies_per_customer
                    .entry(e.customer.clone().unwrap_or_default())
                    .or_default() += 1;
                self.applies.push(e);
            }
            ("refusal", _) => self.refusals.push(e),
            ("waiver", _) => self.waivers.push(e),
            ("registry", _) => self.registry_changes.push(e),
            (_, "failed") => self.failures.push(e),
            _ => {}
        }
    }
}

/// Summarises records already in memory (see [`Summary::add`]).
pub fn summarise(entries: Vec<Entry>, since: Option<&str>) -> Summary {
    let mut s = Summary::new(since);
    for e in entries {
        s.add(e);
    }
    s
}

/// Optional text as escaped Markdown prose, `-` when absent.
fn cell(v: &Option<String>) -> String {
    v.as_deref()
        .map(crate::report::markdown::md_escape)
        .unwrap_or_else(|| "-".into())
}

/// The first 12 characters of a digest as a code span (records are read
/// from a file: any text, any length).
fn short_digest(v: &Option<String>) -> String {
    v.as_deref()
        .map(|s| crate::report::markdown::md_code_cell(&s.chars().take(12).collect::<String>()))
        .unwrap_or_else(|| "-".into())
}

/// One section's table of records.
fn section(m: &mut String, title: &str, rows: &[Entry]) {
    use std::fmt::Write as _;
    let _ = write!(m, "\n## {title}\n\n");
    if rows.is_empty() {
        m.push_str("None.\n");
        return;
    }
    m.push_str("| time | actor | customer | environment | sha | plan | detail |\n|---|---|---|---|---|---|---|\n");
    for e in rows {
        let who = match &e.triggering_actor {
            Some(t) => format!(
                "{} (run by {})",
                crate::report::markdown::md_escape(&e.actor),
                crate::report::markdown::md_escape(t)
            ),
            None => crate::report::markdown::md_escape(&e.actor),
        };
        let _ = writeln!(
            m,
            "| {} | {who} | {} | {} | {} | {} | {} |",
            crate::report::markdown::md_escape(&e.time),
            cell(&e.customer),
            cell(&e.environment),
            short_digest(&e.sha),
            short_digest(&e.plan_sha256),
            cell(&e.detail)
        );
    }
}

pub fn markdown(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut m = format!(
        "# fleetform audit report{}\n\n{} records.\n\n## Applies per customer\n\n",
        s.since
            .as_deref()
            .map(|t| format!(" since {t}"))
            .unwrap_or_default(),
        s.records
    );
    if s.applies_per_customer.is_empty() {
        m.push_str("None.\n");
    } else {
        m.push_str("| customer | applies |\n|---|---|\n");
        for (c, n) in &s.applies_per_customer {
            let _ = writeln!(m, "| {} | {n} |", crate::report::markdown::md_code_cell(c));
        }
    }
    section(&mut m, "Approved applies (who approved what)", &s.applies);
    section(&mut m, "Refusals", &s.refusals);
    section(&mut m, "Failures", &s.failures);
    section(&mut m, "Waivers", &s.waivers);
    section(&mut m, "Registry changes", &s.registry_changes);
    m
}

/// Checked flags.
struct Settings {
    since: Option<String>,
    log: PathBuf,
    json: bool,
}

fn resolve(args: &AuditArgs) -> Result<Settings> {
    let AuditCommand::Report { since, log, json } = &args.command;
    Ok(Settings {
        since: since.as_deref().map(parse_since).transpose()?,
        log: log.clone().unwrap_or_else(audit::log_path),
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

pub fn run(args: &AuditArgs, _manager_dir: &Path, out: &Output) -> Result<()> {
    let settings = resolve(args)?;
    let mut s = Summary::new(settings.since.as_deref());
    audit::read_each(&settings.log, |e| s.add(e)).map_err(|e| Error::Failed(e.to_string()))?;
    if settings.json {
        let json = serde_json::to_string_pretty(&s)
            .map_err(|e| Error::Failed(format!("serialising the report: {e}")))?;
        out.result(&json);
    } else {
        out.result(markdown(&s).trim_end());
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

    /// Records come from a file: multi-byte shas and any text render
    /// without a panic and without breaking the table.
    #[test]
    fn hostile_records_render() {
        let e = Entry {
            time: "2026-11-01T00:00:00Z".into(),
            action: "apply".into(),
            actor: "a|b\n# x".into(),
            customer: Some("c`|d".into()),
            result: "ok".into(),
            sha: Some(format!("a{}", "é".repeat(30))),
            plan_sha256: Some("`|\n".repeat(10)),
            ..Entry::default()
        };
        let m = markdown(&summarise(vec![e], None));
        assert!(m.contains("`aééééééééééé`"), "{m}");
        // Cell borders: `|` not escaped by a backslash.
        let borders = |l: &str| {
            let b = l.as_bytes();
            (0..b.len())
                .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
                .count()
        };
        let rows: Vec<&str> = m.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 6, "{m}");
        assert!(rows[..3].iter().all(|l| borders(l) == 3), "{m}");
        assert!(rows[3..].iter().all(|l| borders(l) == 8), "{m}");
    }
}
