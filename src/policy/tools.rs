//! Gates that run policy tools on the plan JSON (`tools:` in a gate
//! setting): what a tool's run came to, and the gate result it makes.
//! What a tool is, as written in fleetform.yml, is
//! `crate::config::policy_tools`. Running the tool is
//! the engine's business (`engine::tools`), reading its report is
//! `tool_reports`'s; here everything is plain data, and all text a tool
//! printed is taken as untrusted: one line each, without control
//! characters, cut short ([`clean`]).

use crate::config::policy_tools::Tool;

use crate::data::verdict::{Finding, GateResult};

/// Findings kept per tool (the count says how many there were).
pub const MAX_FINDINGS: usize = 50;
/// Characters kept of one piece of a tool's text.
pub(super) const MAX_TEXT: usize = 200;

/// What one tool's run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolOutcome {
    /// It ran and reported: its findings (at most [`MAX_FINDINGS`]) and
    /// how many there were, and how many checks passed.
    Ran {
        findings: Vec<Finding>,
        failed: usize,
        passed: usize,
    },
    /// The program was not found.
    Missing { program: String },
    /// It was killed after its timeout.
    TimedOut { secs: u64 },
    /// It could not start, or exited without a report that reads.
    Failed { reason: String },
    /// The plan changes nothing: there is nothing to judge.
    NoChanges,
    /// A cost estimate of the plan (Infracost).
    Costed(crate::data::cost::CostEstimate),
}

/// The gate result of one tool. A required tool that did not report
/// fails; an advisory one that did not is marked advisory.
pub fn gate_result(tool: &Tool, outcome: &ToolOutcome) -> GateResult {
    let (passed, skipped, detail, findings) = match outcome {
        ToolOutcome::Ran {
            findings,
            failed,
            passed,
        } => {
            let detail = if *failed == 0 && *passed == 0 {
                "no check applied to this plan".to_string()
            } else if *failed == 0 {
                format!(
                    "{} passed, no findings",
                    crate::util::text::count(passed, "check", "checks")
                )
            } else {
                format!(
                    "{}, {} passed",
                    crate::util::text::count(failed, "finding", "findings"),
                    crate::util::text::count(passed, "check", "checks")
                )
            };
            (*failed == 0, false, detail, findings.clone())
        }
        ToolOutcome::Missing { program } => (
            false,
            false,
            format!(
                "`{}` is not installed (not found: {}); {}",
                tool.kind.as_str(),
                clean(program),
                tool.kind.install_hint()
            ),
            Vec::new(),
        ),
        ToolOutcome::TimedOut { secs } => (
            false,
            false,
            format!(
                "killed after its timeout of {secs}s; raise `timeout` or make the check faster"
            ),
            Vec::new(),
        ),
        ToolOutcome::Failed { reason } => (false, false, clean(reason), Vec::new()),
        ToolOutcome::NoChanges => (true, true, "no changes to check".into(), Vec::new()),
        ToolOutcome::Costed(estimate) => {
            let (passed, detail) = cost_gate(tool, estimate);
            (passed, false, detail, Vec::new())
        }
    };
    GateResult {
        gate: tool.name.clone(),
        passed,
        waived: false,
        skipped,
        detail,
        advisory: !tool.required && !passed && !skipped,
        findings,
        tool: true,
    }
}

/// Infracost's gate: whether the estimate's change is within
/// `max_monthly_increase` (always, without one), and what it says.
fn cost_gate(tool: &Tool, e: &crate::data::cost::CostEstimate) -> (bool, String) {
    use crate::config::policy_tools::MaxIncrease;
    use crate::data::cost::{money, signed};
    let currency = clean(&e.currency);
    let total = e.monthly_cents().map_or(String::new(), |c| {
        format!(" ({}/month in all)", money(c, &currency))
    });
    let Some(diff) = e.diff_cents() else {
        return (
            tool.max_monthly_increase.is_none(),
            "Infracost gave no change for this plan".into(),
        );
    };
    let change = format!("{}/month{total}", signed(diff, &currency));
    let max = tool
        .max_monthly_increase
        .as_deref()
        .and_then(MaxIncrease::parse);
    match max {
        None => (true, change),
        Some(MaxIncrease::Amount(limit)) => (
            diff <= limit,
            format!("{change}, at most {}", signed(limit, &currency)),
        ),
        Some(MaxIncrease::Percent(bp)) => {
            let past = e.past_cents().unwrap_or(0);
            // diff / past <= bp / 10000, without division (a plan that
            // adds cost to nothing exceeds any share).
            let within = diff <= 0 || (past > 0 && diff * 10_000 <= past * bp);
            (
                within,
                format!(
                    "{change}, at most {}.{:02}% of {}",
                    bp / 100,
                    bp % 100,
                    money(past, &currency)
                ),
            )
        }
    }
}

/// Untrusted text as one short line: control characters become spaces,
/// anything past [`MAX_TEXT`] characters is cut (marked with `…`).
pub fn clean(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// The tool gates at apply time: each tool's result recorded with the
/// plan (the plan file is the one judged: its digest was checked), or a
/// failed gate for a tool that did not run on it.
pub fn recorded(tools: &[Tool], at_plan: &[GateResult]) -> Vec<GateResult> {
    tools
        .iter()
        .map(
            |t| match at_plan.iter().find(|r| r.tool && r.gate == t.name) {
                Some(r) => GateResult {
                    waived: false,
                    advisory: !t.required && !r.passed && !r.skipped,
                    ..r.clone()
                },
                None => gate_result(
                    t,
                    &ToolOutcome::Failed {
                        reason: format!(
                            "`{}` did not run on this plan (added after it was made); plan again",
                            t.name
                        ),
                    },
                ),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policy_tools::{tool, ToolKind};

    #[test]
    fn outcomes_make_required_and_advisory_gates() {
        let ran = ToolOutcome::Ran {
            findings: vec![Finding {
                check: "C".into(),
                resource: None,
                title: String::new(),
            }],
            failed: 1,
            passed: 0,
        };
        let r = gate_result(&tool(ToolKind::Checkov, true), &ran);
        assert!(!r.passed && !r.advisory && r.tool);
        let r = gate_result(&tool(ToolKind::Checkov, false), &ran);
        assert!(!r.passed && r.advisory);
        let missing = ToolOutcome::Missing {
            program: "checkov".into(),
        };
        let r = gate_result(&tool(ToolKind::Checkov, true), &missing);
        assert!(
            !r.passed && r.detail.contains("pip install checkov"),
            "{}",
            r.detail
        );
        let r = gate_result(
            &tool(ToolKind::Conftest, true),
            &ToolOutcome::TimedOut { secs: 2 },
        );
        assert!(
            !r.passed && r.detail.contains("timeout of 2s"),
            "{}",
            r.detail
        );
        let r = gate_result(&tool(ToolKind::Conftest, true), &ToolOutcome::NoChanges);
        assert!(r.passed && r.skipped);
    }

    #[test]
    fn apply_uses_the_recorded_results_and_fails_unrun_tools() {
        let checkov = tool(ToolKind::Checkov, true);
        let at_plan = vec![gate_result(&checkov, &ToolOutcome::NoChanges)];
        let r = recorded(std::slice::from_ref(&checkov), &at_plan);
        assert!(r[0].passed);
        let r = recorded(&[checkov], &[]);
        assert!(!r[0].passed && r[0].detail.contains("plan again"));
    }
}
