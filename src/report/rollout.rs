//! The `rollout status` table.

use serde::Serialize;

/// One row of `status`: a stage and how far it got.
#[derive(Debug, Serialize)]
pub struct StageRow {
    pub stage: usize,
    pub environment: String,
    pub wave: String,
    pub pairs: usize,
    pub applied: usize,
    pub failed: usize,
    pub state: String,
}

/// The table, with the rollout's id and, when halted, why.
pub fn table(id: &str, rows: &[StageRow], halted: Option<&str>) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.stage.to_string(),
                r.environment.clone(),
                r.wave.clone(),
                r.pairs.to_string(),
                r.applied.to_string(),
                r.failed.to_string(),
                r.state.clone(),
            ]
        })
        .collect();
    let t = crate::output::table(
        &[
            "STAGE",
            "ENVIRONMENT",
            "WAVE",
            "PAIRS",
            "APPLIED",
            "FAILED",
            "STATE",
        ],
        &cells,
    );
    let mut s = format!("rollout {id}\n{t}");
    if let Some(reason) = halted {
        s.push_str(&format!("halted: {reason}\n"));
    }
    s
}
