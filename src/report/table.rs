//! The end-of-run table of a fleet run, and the plain data it reads: what
//! happened to each customer × environment (`plan`, `drift`).

use std::path::PathBuf;

use serde::Serialize;

use crate::data::summary::PlanSummary;
use crate::data::Diagnostic;
use crate::output::table;

/// What happened to one customer × environment.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Planned {
        summary: Box<PlanSummary>,
        dir: PathBuf,
    },
    Failed {
        error: String,
        problems: Vec<Diagnostic>,
    },
    Skipped {
        reason: String,
    },
}

/// One customer × environment of a fleet run and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub customer: String,
    /// The product, for a manager with `products:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Row {
    /// The row's cells; `drift`: a pair never applied says so instead of
    /// "changes" (it has nothing to drift from), and a changed pair says
    /// whether the cloud drifted or only edits are not applied yet.
    fn cells(&self, drift: bool) -> Vec<String> {
        let (counts, result) = match &self.outcome {
            Outcome::Planned { summary, .. }
                if drift && summary.has_changes && summary.never_applied =>
            {
                (summary.counts(), "never applied".to_string())
            }
            // Drift is the cloud's doing; a plan that only applies edits
            // is not drift (issue #52).
            Outcome::Planned { summary, .. } if drift && summary.has_changes => (
                summary.counts(),
                match summary.cloud_drift.is_empty() {
                    true => "edits not applied yet (no drift)".to_string(),
                    false => "drift: changed outside Terraform".to_string(),
                },
            ),
            Outcome::Planned { summary, .. } => (
                summary.counts(),
                match summary.product.as_ref().map(|p| &p.awaiting) {
                    Some(a) if !a.is_empty() => {
                        format!("changes; plan again after {} is applied", a.join(", "))
                    }
                    _ if summary.has_changes => "changes".to_string(),
                    _ => "no changes".to_string(),
                },
            ),
            Outcome::Failed { error, .. } => ("-".into(), format!("FAILED: {error}")),
            Outcome::Skipped { reason } => ("-".into(), format!("skipped ({reason})")),
        };
        let mut cells = vec![self.customer.clone()];
        if let Some(p) = &self.product {
            cells.push(p.clone());
        }
        cells.extend([self.environment.clone(), counts, result]);
        cells
    }

    /// The unit this row is about.
    pub fn unit(&self) -> crate::config::Unit {
        crate::config::Unit::new(&self.customer, self.product.as_deref(), &self.environment)
    }
}

/// Renders the end-of-run table (with a PRODUCT column when the rows are
/// of products).
pub fn summary_table(rows: &[Row]) -> String {
    table_of(rows, false)
}

/// The end-of-run table of a drift check: pairs never applied say so.
pub fn drift_table(rows: &[Row]) -> String {
    table_of(rows, true)
}

fn table_of(rows: &[Row], drift: bool) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(drift)).collect();
    if rows.iter().any(|r| r.product.is_some()) {
        table(
            &["CUSTOMER", "PRODUCT", "ENVIRONMENT", "+/~/-", "RESULT"],
            &cells,
        )
    } else {
        table(&["CUSTOMER", "ENVIRONMENT", "+/~/-", "RESULT"], &cells)
    }
}
