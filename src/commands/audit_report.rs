//! `fleetform audit report`: applies per customer, refusals, who approved
//! what (the actor of each apply job, which GitHub records as the person
//! who approved the environment deployment when reviewers are required),
//! and failures, since a date.

use std::collections::BTreeMap;
use std::path::Path;

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

pub fn summarise(entries: Vec<Entry>, since: Option<&str>) -> Summary {
    let mut s = Summary {
        since: since.map(str::to_string),
        ..Summary::default()
    };
    for e in entries
        .into_iter()
        .filter(|e| since.is_none_or(|t| e.time.as_str() >= t))
    {
        s.records += 1;
        match (e.action.as_str(), e.result.as_str()) {
            ("apply", "ok") => {
                *s.applies_per_customer
                    .entry(e.customer.clone().unwrap_or_default())
                    .or_default() += 1;
                s.applies.push(e);
            }
            ("refusal", _) => s.refusals.push(e),
            ("waiver", _) => s.waivers.push(e),
            ("registry", _) => s.registry_changes.push(e),
            (_, "failed") => s.failures.push(e),
            _ => {}
        }
    }
    s
}

fn cell(v: &Option<String>) -> String {
    v.as_deref()
        .map(crate::plan::md_escape)
        .unwrap_or_else(|| "-".into())
}

pub fn markdown(s: &Summary) -> String {
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
            m.push_str(&format!("| `{c}` | {n} |\n"));
        }
    }
    let section = |m: &mut String, title: &str, rows: &[Entry]| {
        m.push_str(&format!("\n## {title}\n\n"));
        if rows.is_empty() {
            m.push_str("None.\n");
            return;
        }
        m.push_str("| time | actor | customer | environment | sha | plan | detail |\n|---|---|---|---|---|---|---|\n");
        for e in rows {
            let who = match &e.triggering_actor {
                Some(t) => format!(
                    "{} (run by {})",
                    crate::plan::md_escape(&e.actor),
                    crate::plan::md_escape(t)
                ),
                None => crate::plan::md_escape(&e.actor),
            };
            m.push_str(&format!(
                "| {} | {who} | {} | {} | {} | {} | {} |\n",
                e.time,
                cell(&e.customer),
                cell(&e.environment),
                e.sha
                    .as_deref()
                    .map(|s| format!("`{}`", &s[..s.len().min(12)]))
                    .unwrap_or_else(|| "-".into()),
                e.plan_sha256
                    .as_deref()
                    .map(|s| format!("`{}`", &s[..s.len().min(12)]))
                    .unwrap_or_else(|| "-".into()),
                cell(&e.detail)
            ));
        }
    };
    section(&mut m, "Approved applies (who approved what)", &s.applies);
    section(&mut m, "Refusals", &s.refusals);
    section(&mut m, "Failures", &s.failures);
    section(&mut m, "Waivers", &s.waivers);
    section(&mut m, "Registry changes", &s.registry_changes);
    m
}

pub fn run(args: &AuditArgs, _manager_dir: &Path, out: &Output) -> Result<()> {
    match &args.command {
        AuditCommand::Report { since, log, json } => {
            let since = match since {
                None => None,
                Some(d) if is_date(d) => Some(format!("{d}T00:00:00Z")),
                Some(t) if t.len() == 20 && is_date(&t[..10]) && t.ends_with('Z') => {
                    Some(t.clone())
                }
                Some(other) => {
                    return Err(Error::Usage(format!(
                        "--since `{other}` is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
                    )))
                }
            };
            let path = log.clone().unwrap_or_else(audit::log_path);
            let entries = audit::read(&path).map_err(Error::Failed)?;
            let s = summarise(entries, since.as_deref());
            if *json {
                out.result(&serde_json::to_string_pretty(&s).expect("serialisable"));
            } else {
                out.result(markdown(&s).trim_end());
            }
            Ok(())
        }
    }
}
