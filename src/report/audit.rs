//! The audit report: what the audit log records since a time, summed up
//! (applies per customer, approved applies, refusals, failures, waivers,
//! registry changes) and rendered as Markdown. Records are read from a
//! file: any text renders without breaking the tables.

use std::collections::BTreeMap;

use serde::Serialize;

use super::markdown::{md_code_cell, md_escape};
use crate::audit::Entry;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
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
    v.as_deref().map(md_escape).unwrap_or_else(|| "-".into())
}

/// The first 12 characters of a digest as a code span (records are read
/// from a file: any text, any length).
fn short_digest(v: &Option<String>) -> String {
    v.as_deref()
        .map(|s| md_code_cell(&s.chars().take(12).collect::<String>()))
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
            Some(t) => format!("{} (run by {})", md_escape(&e.actor), md_escape(t)),
            None => md_escape(&e.actor),
        };
        let _ = writeln!(
            m,
            "| {} | {who} | {} | {} | {} | {} | {} |",
            md_escape(&e.time),
            cell(&e.customer),
            cell(&e.environment),
            short_digest(&e.sha),
            short_digest(&e.plan_sha256),
            cell(&e.detail)
        );
    }
}

pub fn markdown(s: &Summary) -> String {
    markdown_with(s, "")
}

/// The report with `header` (Markdown, e.g. the evidence's) right after
/// the title.
pub fn markdown_with(s: &Summary, header: &str) -> String {
    use std::fmt::Write as _;
    let mut m = format!(
        "# fleetform audit report{}{}\n\n{header}{}{} records.\n\n## Applies per customer\n\n",
        s.since
            .as_deref()
            .map(|t| format!(" since {t}"))
            .unwrap_or_default(),
        s.until
            .as_deref()
            .map(|t| format!(" until {t}"))
            .unwrap_or_default(),
        if header.is_empty() { "" } else { "\n\n" },
        s.records
    );
    if s.applies_per_customer.is_empty() {
        m.push_str("None.\n");
    } else {
        m.push_str("| customer | applies |\n|---|---|\n");
        for (c, n) in &s.applies_per_customer {
            let _ = writeln!(m, "| {} | {n} |", md_code_cell(c));
        }
    }
    section(&mut m, "Approved applies (who approved what)", &s.applies);
    section(&mut m, "Refusals", &s.refusals);
    section(&mut m, "Failures", &s.failures);
    section(&mut m, "Waivers", &s.waivers);
    section(&mut m, "Registry changes", &s.registry_changes);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

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
