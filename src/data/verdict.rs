//! The verdict of the gates on one plan: plain data, kept with the plan
//! summary and read by the reports. Imports nothing of fleetform's.

use serde::{Deserialize, Serialize};

/// One gate's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    /// Failed, but waived by label.
    pub waived: bool,
    /// Not applicable here (e.g. no pull request).
    pub skipped: bool,
    pub detail: String,
    /// Failed, but only advisory (a tool with `required: false`): shown,
    /// never blocking.
    #[serde(default, skip_serializing_if = "is_false")]
    pub advisory: bool,
    /// What a policy tool found (at most [`crate::policy::tools::MAX_FINDINGS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// The gate of a policy tool (`tools:`), recorded at plan time.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tool: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One finding of a policy tool, its text cleaned to one short line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The check's id (`CKV_AWS_20`), or conftest's namespace.
    pub check: String,
    /// The resource address, when the tool names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub title: String,
}

impl GateResult {
    /// True when this gate holds nothing up.
    pub fn lets_through(&self) -> bool {
        self.passed || self.waived || self.skipped || self.advisory
    }
}

/// All gates of one plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub results: Vec<GateResult>,
    /// The waiver label that applied, if any.
    pub waiver: Option<String>,
}

impl Verdict {
    /// True when nothing blocks: every gate passed, was waived or
    /// skipped, or is only advisory.
    pub fn allows(&self) -> bool {
        self.results.iter().all(GateResult::lets_through)
    }

    pub fn blocking(&self) -> Vec<&GateResult> {
        self.results.iter().filter(|r| !r.lets_through()).collect()
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
            let advisory = self
                .results
                .iter()
                .filter(|r| r.advisory && !r.passed)
                .count();
            if advisory > 0 {
                format!("gates {}/{n}, {advisory} advisory failed", n - advisory)
            } else {
                format!("gates {n}/{n}")
            }
        }
    }
}
