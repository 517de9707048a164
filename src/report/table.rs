//! The end-of-run table of a fleet run, and the plain data it reads: what
//! happened to each customer × environment (`plan`, `drift`).

use std::path::PathBuf;

use serde::Serialize;

use crate::output::table;
use crate::terraform::summary::PlanSummary;
use crate::values::customer::Diagnostic;

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
    pub environment: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Row {
    fn cells(&self) -> Vec<String> {
        let (counts, result) = match &self.outcome {
            Outcome::Planned { summary, .. } => (
                summary.counts(),
                if summary.has_changes {
                    "changes".to_string()
                } else {
                    "no changes".to_string()
                },
            ),
            Outcome::Failed { error, .. } => ("-".into(), format!("FAILED: {error}")),
            Outcome::Skipped { reason } => ("-".into(), format!("skipped ({reason})")),
        };
        vec![
            self.customer.clone(),
            self.environment.clone(),
            counts,
            result,
        ]
    }
}

/// Renders the end-of-run table.
pub fn summary_table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
    table(&["CUSTOMER", "ENVIRONMENT", "+/~/-", "RESULT"], &cells)
}
