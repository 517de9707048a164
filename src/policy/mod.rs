//! Policy gates, evaluated from the plan after every plan and again at
//! apply time (an apply re-checks: a gate that fails then refuses it).
//!
//! ```yaml
//! policies:
//!   default:                      # every environment
//!     forbidden_resource_types: ["aws_iam_*"]
//!     require_tags: [customer, environment]   # on what takes tags
//!   environments:
//!     production:
//!       max_destroy: 0            # production's default when unset
//!       max_replace: 2
//!       required_labels: [infra-approved]
//!       required_approvals: 1
//!       apply_windows:
//!         - { days: [mon, tue, wed, thu], hours: "09:00-16:00", time_zone: Europe/Berlin }
//!       waiver_label: fleetform-override
//!       tools:                    # policy tools on the plan JSON
//!         - { name: checkov, kind: checkov, args: ["--check", "CKV_AWS_20"] }
//! ```
//!
//! Gates that need the pull request (labels, approvals) are "not
//! applicable" without one (local mode, default-branch pushes without a
//! known PR). A waiver label, when the environment names one, waives every
//! failing gate; each waiver is audited with who and why (a
//! `fleetform-waiver: <reason>` line in the PR description).
//!
//! Here: the gates' evaluation (`mod.rs`; the settings, as written in
//! fleetform.yml and checked, are `crate::config::policies`, and the
//! verdict is plain data in `crate::data::verdict`), the policy tools'
//! gates (`tools`: the engine runs them and hands their outcomes in), how
//! their reports read, strictly (`tool_reports`), and the check that
//! someone other than the dispatcher approved an apply (`approval`).
//!
//! May import: `config` (the gate settings), `data` (the plan it judges,
//! the verdict it gives) and `util`. Never the engine, GitHub, the
//! commands or the reports.

use serde::{Deserialize, Serialize};

use crate::data::summary::{Action, PlanSummary};

pub mod approval;
pub mod tool_reports;
pub mod tools;

use crate::config::policies::{parse_hours, weekday, Gates, Window};
use crate::data::verdict::{GateResult, Verdict};

/// What the pull request says, when there is one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullFacts {
    pub number: u64,
    pub labels: Vec<String>,
    /// Distinct reviewers whose latest review approves.
    pub approvals: Vec<String>,
    pub author: Option<String>,
    /// The `fleetform-waiver: <reason>` line of the description, if any.
    pub waiver_reason: Option<String>,
}

/// Glob with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// True when `now` falls in one of the windows.
pub fn in_window(windows: &[Window], now: jiff::Timestamp) -> Result<bool, String> {
    for w in windows {
        let tz = jiff::tz::TimeZone::get(&w.time_zone)
            .map_err(|_| format!("unknown time zone `{}`", w.time_zone))?;
        let local = now.to_zoned(tz);
        let (start, end) = parse_hours(&w.hours)?;
        let minute = local.hour() as u32 * 60 + local.minute() as u32;
        let day_ok =
            w.days.is_empty() || w.days.iter().any(|d| weekday(d) == Some(local.weekday()));
        if day_ok && minute >= start && minute < end {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where the gates run: after the plan, or right before the apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Plan,
    Apply,
}

/// Evaluates the gates of `gates` for `summary`; `tools` are the policy
/// tools' gate results ([`tools::gate_result`] at plan time,
/// [`tools::recorded`] at apply time), checked after the others.
pub fn evaluate(
    gates: &Gates,
    summary: &PlanSummary,
    pull: Option<&PullFacts>,
    now: jiff::Timestamp,
    stage: Stage,
    tools: Vec<GateResult>,
) -> Verdict {
    let results = [
        max_destroy(gates, summary),
        max_replace(gates, summary),
        forbidden_types(gates, summary),
        require_tags(gates, summary),
        required_labels(gates, pull),
        required_approvals(gates, pull),
        apply_windows(gates, now, stage),
        stale_secrets(gates, summary),
    ]
    .into_iter()
    .flatten()
    .chain(tools)
    .collect();
    waive(
        Verdict {
            results,
            waiver: None,
        },
        gates,
        pull,
    )
}

fn gate(name: &str, passed: bool, skipped: bool, detail: String) -> GateResult {
    GateResult {
        gate: name.into(),
        passed,
        waived: false,
        skipped,
        detail,
        ..GateResult::default()
    }
}

fn max_destroy(gates: &Gates, summary: &PlanSummary) -> Option<GateResult> {
    let max = gates.max_destroy?;
    let n = summary.delete + summary.replace;
    Some(gate(
        "max_destroy",
        n <= max,
        false,
        format!("{n} destroyed (replacements included), at most {max}"),
    ))
}

fn max_replace(gates: &Gates, summary: &PlanSummary) -> Option<GateResult> {
    let max = gates.max_replace?;
    Some(gate(
        "max_replace",
        summary.replace <= max,
        false,
        format!("{} replaced, at most {max}", summary.replace),
    ))
}

/// `refuse_stale_secrets`: no secret of the plan is due for rotation.
fn stale_secrets(gates: &Gates, summary: &PlanSummary) -> Option<GateResult> {
    if gates.refuse_stale_secrets != Some(true) {
        return None;
    }
    let stale: Vec<&str> = summary
        .secrets
        .iter()
        .filter(|s| s.stale)
        .map(|s| s.source.as_str())
        .collect();
    let detail = match stale.as_slice() {
        [] => "no secret due for rotation".to_string(),
        _ => format!(
            "due for rotation (`secrets.max_age_days`): {}; the customer sets each value again with a new `updated:` date",
            stale.join(", ")
        ),
    };
    Some(gate(
        "refuse_stale_secrets",
        stale.is_empty(),
        false,
        detail,
    ))
}

fn forbidden_types(gates: &Gates, summary: &PlanSummary) -> Option<GateResult> {
    let pats = gates
        .forbidden_resource_types
        .as_ref()
        .filter(|p| !p.is_empty())?;
    let hits: Vec<&str> = summary
        .resources
        .iter()
        .filter(|r| r.action != Action::Read)
        .filter(|r| pats.iter().any(|p| glob(p, r.resource_type())))
        .map(|r| r.address.as_str())
        .collect();
    let detail = if hits.is_empty() {
        format!("no change to {}", pats.join(", "))
    } else {
        format!("changes forbidden types: {}", hits.join(", "))
    };
    Some(gate(
        "forbidden_resource_types",
        hits.is_empty(),
        false,
        detail,
    ))
}

/// Resources named in a failing `require_tags` detail.
const TAG_HITS_SHOWN: usize = 5;

/// `require_tags`: every resource the plan creates or updates that takes
/// tags has each required key (resources that take none are not counted).
fn require_tags(gates: &Gates, summary: &PlanSummary) -> Option<GateResult> {
    let required = gates.require_tags.as_ref().filter(|t| !t.is_empty())?;
    let mut counted = 0;
    let mut hits: Vec<String> = Vec::new();
    for r in summary
        .resources
        .iter()
        .filter(|r| matches!(r.action, Action::Create | Action::Update | Action::Replace))
    {
        let Some(keys) = &r.tags else { continue };
        counted += 1;
        let missing: Vec<&str> = required
            .iter()
            .filter(|k| !keys.contains(k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            hits.push(format!("{} (no {})", r.address, missing.join(", ")));
        }
    }
    let detail = match hits.len() {
        0 => format!(
            "{} tagged {}",
            crate::util::text::count(counted, "resource", "resources"),
            required.join(", ")
        ),
        n => {
            let more = n.saturating_sub(TAG_HITS_SHOWN);
            let mut d = format!(
                "{} of {counted} lack tags: {}",
                crate::util::text::count(n, "resource", "resources"),
                hits.iter()
                    .take(TAG_HITS_SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if more > 0 {
                d.push_str(&format!("; and {more} more"));
            }
            d
        }
    };
    Some(gate("require_tags", hits.is_empty(), false, detail))
}

fn required_labels(gates: &Gates, pull: Option<&PullFacts>) -> Option<GateResult> {
    let labels = gates.required_labels.as_ref().filter(|l| !l.is_empty())?;
    let Some(p) = pull else {
        let detail = format!("needs labels {} on the pull request", labels.join(", "));
        return Some(gate("required_labels", false, true, detail));
    };
    let missing: Vec<&str> = labels
        .iter()
        .filter(|l| !p.labels.contains(l))
        .map(String::as_str)
        .collect();
    let detail = if missing.is_empty() {
        format!("labels present: {}", labels.join(", "))
    } else {
        format!("missing labels: {}", missing.join(", "))
    };
    Some(gate("required_labels", missing.is_empty(), false, detail))
}

fn required_approvals(gates: &Gates, pull: Option<&PullFacts>) -> Option<GateResult> {
    let n = gates.required_approvals.filter(|n| *n > 0)?;
    Some(match pull {
        None => gate(
            "required_approvals",
            false,
            true,
            format!(
                "needs {}",
                crate::util::text::count(n, "approving review", "approving reviews")
            ),
        ),
        Some(p) => gate(
            "required_approvals",
            p.approvals.len() >= n,
            false,
            format!(
                "{} of {}",
                p.approvals.len(),
                crate::util::text::count(n, "approving review", "approving reviews")
            ),
        ),
    })
}

fn apply_windows(gates: &Gates, now: jiff::Timestamp, stage: Stage) -> Option<GateResult> {
    let ws = gates.apply_windows.as_ref().filter(|w| !w.is_empty())?;
    let desc = ws
        .iter()
        .map(|w| {
            let days = if w.days.is_empty() {
                "daily".into()
            } else {
                w.days.join(",")
            };
            format!("{days} {} {}", w.hours, w.time_zone)
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(match stage {
        // At plan time the window is informational: the apply decides.
        Stage::Plan => gate(
            "apply_windows",
            true,
            false,
            format!("applies run within: {desc}"),
        ),
        Stage::Apply => match in_window(ws, now) {
            Ok(true) => gate("apply_windows", true, false, format!("inside {desc}")),
            Ok(false) => gate("apply_windows", false, false, format!("outside {desc}")),
            Err(e) => gate("apply_windows", false, false, e),
        },
    })
}

/// The waiver label on the pull request waives every gate that failed.
fn waive(mut verdict: Verdict, gates: &Gates, pull: Option<&PullFacts>) -> Verdict {
    if let (Some(label), Some(p)) = (&gates.waiver_label, pull) {
        if p.labels.contains(label) && !verdict.allows() {
            for r in &mut verdict.results {
                if !r.lets_through() {
                    r.waived = true;
                }
            }
            verdict.waiver = Some(label.clone());
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::policies::Policies;
    use crate::data::summary::ResourceChange;

    fn summary(delete: usize, replace: usize, types: &[&str]) -> PlanSummary {
        PlanSummary {
            delete,
            replace,
            resources: types
                .iter()
                .map(|t| ResourceChange {
                    address: format!("{t}.x"),
                    action: Action::Create,
                    resource_type: Some(t.to_string()),
                    changed: Vec::new(),
                    kinds: Vec::new(),
                    tags: None,
                })
                .collect(),
            has_changes: true,
            ..PlanSummary::of("c", "production")
        }
    }

    fn now(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn production_defaults_to_no_destroy() {
        let p = Policies::default();
        let v = evaluate(
            &p.for_environment("production"),
            &summary(1, 0, &[]),
            None,
            now("2026-11-23T10:00:00Z"),
            Stage::Plan,
            Vec::new(),
        );
        assert!(!v.allows());
        assert_eq!(v.short(), "blocked by max_destroy");
        let v = evaluate(
            &p.for_environment("staging"),
            &summary(1, 0, &[]),
            None,
            now("2026-11-23T10:00:00Z"),
            Stage::Plan,
            Vec::new(),
        );
        assert!(v.allows());
    }

    #[test]
    fn globs_labels_waivers_and_windows() {
        assert!(glob("aws_iam_*", "aws_iam_role"));
        assert!(!glob("aws_iam_*", "aws_s3_bucket"));
        assert!(glob("*_data", "terraform_data"));
        let gates = Gates {
            forbidden_resource_types: Some(vec!["aws_iam_*".into()]),
            required_labels: Some(vec!["infra-approved".into()]),
            required_approvals: Some(1),
            apply_windows: Some(vec![Window {
                days: vec!["mon".into(), "tue".into()],
                hours: "09:00-17:00".into(),
                time_zone: "Europe/Berlin".into(),
            }]),
            waiver_label: Some("fleetform-override".into()),
            ..Gates::default()
        };
        let s = summary(0, 0, &["aws_iam_role"]);
        let mut pr = PullFacts {
            number: 1,
            labels: vec!["infra-approved".into()],
            approvals: vec!["bob".into()],
            ..PullFacts::default()
        };
        // Monday 2026-11-23 10:00 UTC = 11:00 Berlin: inside.
        let v = evaluate(
            &gates,
            &s,
            Some(&pr),
            now("2026-11-23T10:00:00Z"),
            Stage::Apply,
            Vec::new(),
        );
        assert_eq!(
            v.blocking()
                .iter()
                .map(|r| r.gate.as_str())
                .collect::<Vec<_>>(),
            ["forbidden_resource_types"]
        );
        // Monday 17:30 Berlin: outside.
        let v = evaluate(
            &gates,
            &summary(0, 0, &[]),
            Some(&pr),
            now("2026-11-23T16:30:00Z"),
            Stage::Apply,
            Vec::new(),
        );
        assert_eq!(v.short(), "blocked by apply_windows");
        // Waived by label.
        pr.labels.push("fleetform-override".into());
        let v = evaluate(
            &gates,
            &s,
            Some(&pr),
            now("2026-11-23T16:30:00Z"),
            Stage::Apply,
            Vec::new(),
        );
        assert!(v.allows());
        assert!(v.short().starts_with("gates waived"));
        assert!(crate::report::comment::gates(&v).contains("(waived by `fleetform-override`)"));
    }

    #[test]
    fn tool_gates_block_unless_advisory_and_the_waiver_label_waives_them() {
        use crate::config::policy_tools::{Tool, ToolKind};
        use tools::{gate_result, ToolOutcome};
        let tool = |name: &str, required| Tool {
            name: name.into(),
            kind: ToolKind::Checkov,
            run: None,
            args: Vec::new(),
            timeout: None,
            required,
            policy: None,
            max_monthly_increase: None,
        };
        let found = ToolOutcome::Ran {
            findings: Vec::new(),
            failed: 1,
            passed: 0,
        };
        let results = vec![
            gate_result(&tool("strict", true), &found),
            gate_result(&tool("hint", false), &found),
        ];
        let gates = Gates {
            waiver_label: Some("fleetform-override".into()),
            ..Gates::default()
        };
        let s = summary(0, 0, &[]);
        let t = now("2026-11-23T10:00:00Z");
        let v = evaluate(&gates, &s, None, t, Stage::Plan, results.clone());
        assert_eq!(v.short(), "blocked by strict");
        let v = evaluate(&gates, &s, None, t, Stage::Plan, results[1..].to_vec());
        assert!(v.allows());
        assert_eq!(v.short(), "gates 0/1, 1 advisory failed");
        let pr = PullFacts {
            labels: vec!["fleetform-override".into()],
            ..PullFacts::default()
        };
        let v = evaluate(&gates, &s, Some(&pr), t, Stage::Apply, results);
        assert!(v.allows());
        assert!(v.results[0].waived && !v.results[1].waived, "{v:?}");
    }
}
