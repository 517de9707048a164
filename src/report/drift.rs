//! The drift report: the tally of a drift run (`drift-report.json`), its
//! Markdown (`drift-report.md`, also the job's step summary) and the text
//! of the sticky drift issues.

use serde::Serialize;

use super::markdown::md_escape;
use super::table::{Outcome, Row};

/// What a drift run found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub checked: usize,
    pub drifted: Vec<Row>,
    pub errors: Vec<Row>,
    pub clean: usize,
    pub skipped: usize,
    /// GitHub API requests the run sent (filled in by the caller).
    pub requests: usize,
}

impl Report {
    /// Sorts a fleet run's rows: planned with changes is drift, planned
    /// without is clean, failed is an error; skipped pairs are not checked.
    pub fn tally(rows: &[Row]) -> Report {
        let mut report = Report {
            checked: 0,
            drifted: Vec::new(),
            errors: Vec::new(),
            clean: 0,
            skipped: 0,
            requests: 0,
        };
        for r in rows {
            match &r.outcome {
                Outcome::Planned { summary, .. } => {
                    report.checked += 1;
                    if summary.has_changes {
                        report.drifted.push(r.clone());
                    } else {
                        report.clean += 1;
                    }
                }
                Outcome::Failed { .. } => {
                    report.checked += 1;
                    report.errors.push(r.clone());
                }
                Outcome::Skipped { .. } => report.skipped += 1,
            }
        }
        report
    }
}

/// The hidden marker that finds a customer's drift issue.
pub fn marker(customer: &str) -> String {
    format!("<!-- fleetform:drift customer={customer} -->")
}

/// The report as Markdown (`drift-report.md` and the step summary).
pub fn markdown(report: &Report) -> String {
    let mut s = String::from("## fleetform drift\n\n");
    s.push_str(&format!(
        "{} checked · **{} drifted** · {} failed · {} clean · {} skipped\n\n",
        report.checked,
        report.drifted.len(),
        report.errors.len(),
        report.clean,
        report.skipped
    ));
    if !report.drifted.is_empty() || !report.errors.is_empty() {
        s.push_str("| customer | environment | +/~/- | result |\n|---|---|---|---|\n");
        for r in report.drifted.iter().chain(&report.errors) {
            let (counts, what) = match &r.outcome {
                Outcome::Planned { summary, .. } => (summary.counts(), "drift".to_string()),
                Outcome::Failed { error, .. } => {
                    ("-".into(), format!("error: {}", md_escape(error)))
                }
                Outcome::Skipped { reason } => ("-".into(), md_escape(reason)),
            };
            s.push_str(&format!(
                "| `{}` | `{}` | {counts} | {what} |\n",
                r.customer, r.environment
            ));
        }
    }
    s
}

/// The title of a customer's drift issue.
pub fn issue_title(customer: &str) -> String {
    format!("Drift: {customer}")
}

/// The body of a customer's drift issue: its drifted environments.
pub fn issue_body(customer: &str, rows: &[&Row], run_url: Option<&str>) -> String {
    let mut s = format!("{}\nfleetform found drift for `{customer}`: applying the default branch would change infrastructure.\n\n", marker(customer));
    s.push_str("| environment | +/~/- | resources |\n|---|---|---|\n");
    for r in rows {
        if let Outcome::Planned { summary, .. } = &r.outcome {
            let res: Vec<String> = summary
                .resources
                .iter()
                .take(20)
                .map(|x| format!("`{}` {}", x.address.replace('`', "'"), x.action.symbol()))
                .collect();
            s.push_str(&format!(
                "| `{}` | {} | {} |\n",
                r.environment,
                summary.counts(),
                res.join("<br>")
            ));
        }
    }
    if let Some(u) = run_url {
        s.push_str(&format!("\nDetected by [this run]({u}).\n"));
    }
    s
}

/// The comment that closes a customer's drift issue.
pub fn gone_note(customer: &str, run_url: Option<&str>) -> String {
    format!(
        "The drift is gone: every environment of `{customer}` plans without changes{}.",
        run_url
            .map(|u| format!(" ([run]({u}))"))
            .unwrap_or_default()
    )
}
