//! What `sync` shows people: the per-customer results table, the pull
//! request body, and the diff a dry run prints.

use serde::Serialize;

use crate::output::table;

/// What happened to one customer.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub customer: String,
    pub result: String,
    pub pr: Option<String>,
    pub ok: bool,
    /// Not synced in this run: a request did not fit GitHub's budget or
    /// the deadline; the next run carries on (not a failure).
    pub deferred: bool,
    pub requests: usize,
}

/// The end-of-run table: customer, result, pull request.
pub fn results_table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.customer.clone(),
                r.result.clone(),
                r.pr.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["CUSTOMER", "RESULT", "PR"], &cells)
}

/// The title of the sync pull request.
pub const PR_TITLE: &str = "fleetform: update the customer template";

/// The body of the sync pull request, listing the files it changes.
pub fn pr_body(paths: &[&str]) -> String {
    format!(
        "This pull request brings the provider's customer template up to date:\n\n{}\n\nOnly these files are changed. Review and merge when ready.\n\n<!-- fleetform:sync -->",
        paths.iter().map(|p| format!("- `{p}`")).collect::<Vec<_>>().join("\n")
    )
}

/// A unified diff (3 lines of context) of one file, `a/PATH` to `b/PATH`.
pub fn file_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
