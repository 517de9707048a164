//! The verdict of the gates on one plan: plain data, kept with the plan
//! summary and read by the reports. Imports nothing of fleetform's.

use serde::{Deserialize, Serialize};

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    /// Failed, but waived by label.
    pub waived: bool,
    /// Not applicable here (e.g. no pull request).
    pub skipped: bool,
    pub detail: String,
}

/// All gates of one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub results: Vec<GateResult>,
    /// The waiver label that applied, if any.
    pub waiver: Option<String>,
}

impl Verdict {
    /// True when nothing blocks: every gate passed, was waived or skipped.
    pub fn allows(&self) -> bool {
        self.results
            .iter()
            .all(|r| r.passed || r.waived || r.skipped)
    }

    pub fn blocking(&self) -> Vec<&GateResult> {
        self.results
            .iter()
            .filter(|r| !(r.passed || r.waived || r.skipped))
            .collect()
    }

    /// `gates 5/5` or `blocked: max_destroy` for a commit status.
    pub fn short(&self) -> String {
        let blocking = self.blocking();
        if let Some(first) = blocking.first() {
            format!("blocked by {}", first.gate)
        } else if self.results.iter().any(|r| r.waived) {
            format!(
                "gates waived ({})",
                self.waiver.as_deref().unwrap_or("label")
            )
        } else {
            let n = self.results.iter().filter(|r| !r.skipped).count();
            format!("gates {n}/{n}")
        }
    }
}
