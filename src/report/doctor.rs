//! What `fleetform doctor` shows: the checklist as a text table (with the
//! fixes listed under it, one line each) and as Markdown for the step
//! summary (fixes in their own column). Names GitHub answered (environment,
//! secret and ruleset names) are escaped like every foreign text.

use crate::doctor::{Check, Level, Report, Verdict};
use crate::output::table;

use super::markdown::md_escape;

fn level(c: &Check) -> &'static str {
    match c.level {
        Level::Must => "must",
        Level::Should => "should",
    }
}

fn result(c: &Check) -> &'static str {
    match c.result {
        Verdict::Pass => "pass",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
        Verdict::Unknown => "could not check",
    }
}

/// The one-line tally.
pub fn tally(r: &Report) -> String {
    let unknown = if r.unknown > 0 {
        format!(", {} could not be checked", r.unknown)
    } else {
        String::new()
    };
    format!(
        "{}: {}, {} passed, {}, {} failed{unknown} ({} must)",
        r.repo,
        crate::util::text::count(r.checks.len(), "check", "checks"),
        r.passed,
        crate::util::text::count(r.warnings, "warning", "warnings"),
        r.failed,
        r.must_failed
    )
}

/// The text checklist: LEVEL, RESULT, CHECK, FOUND; then how to fix each
/// row that did not pass.
pub fn text(r: &Report) -> String {
    let rows: Vec<Vec<String>> = r
        .checks
        .iter()
        .map(|c| {
            vec![
                level(c).to_string(),
                result(c).to_string(),
                c.what.clone(),
                c.found.clone(),
            ]
        })
        .collect();
    let mut out = table(&["LEVEL", "RESULT", "CHECK", "FOUND"], &rows);
    let fixes: Vec<String> = r
        .checks
        .iter()
        .filter(|c| c.result != Verdict::Pass && !c.fix.is_empty())
        .map(|c| format!("  {}: {}", c.what, c.fix))
        .collect();
    if !fixes.is_empty() {
        out.push_str("\nHow to fix:\n");
        out.push_str(&fixes.join("\n"));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&tally(r));
    out
}

/// The Markdown checklist for the step summary.
pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "## fleetform doctor: {}\n\n| level | result | check | found | how to fix |\n|---|---|---|---|---|\n",
        md_escape(&r.repo)
    );
    for c in &r.checks {
        let icon = match c.result {
            Verdict::Pass => "✅ pass",
            Verdict::Warn => "⚠️ warn",
            Verdict::Fail => "❌ fail",
            Verdict::Unknown => "❔ could not check",
        };
        out.push_str(&format!(
            "| {} | {icon} | {} | {} | {} |\n",
            level(c),
            md_escape(&c.what),
            md_escape(&c.found),
            md_escape(&c.fix)
        ));
    }
    out.push_str(&format!("\n{}\n", md_escape(&tally(r))));
    out
}
