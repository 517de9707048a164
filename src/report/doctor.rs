//! What `fleetform doctor` shows: the checklist as a text table (with the
//! fixes listed under it, one line each) and as Markdown for the step
//! summary (fixes in their own column). Names GitHub answered (environment,
//! secret and ruleset names) are escaped like every foreign text.

use crate::doctor::{Check, Level, Report, Verdict};
use crate::output::table;

use super::markdown::{md_code, md_escape};

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

/// Which part of the checklist a row goes in: what must be fixed (every
/// *must* that did not pass: a must-row is never under "Should fix"),
/// what should be (every *should* that did not pass), what passed.
fn part(c: &Check) -> u8 {
    match (c.level, c.result) {
        (_, Verdict::Pass) => 2,
        (Level::Must, _) => 0,
        (Level::Should, _) => 1,
    }
}

/// The rows in the order they are shown: must fix, should fix, passed
/// (each in the order the checks were made).
fn ordered(r: &Report) -> Vec<&Check> {
    let mut rows: Vec<&Check> = r.checks.iter().collect();
    rows.sort_by_key(|c| part(c));
    rows
}

/// The text checklist: the tally, then LEVEL, RESULT, CHECK, FOUND, what
/// failed first (must, then should); then how to fix each row that did
/// not pass, in the same order.
pub fn text(r: &Report) -> String {
    let rows = ordered(r);
    let cells: Vec<Vec<String>> = rows
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
    let mut out = tally(r);
    out.push_str("\n\n");
    out.push_str(&table(&["LEVEL", "RESULT", "CHECK", "FOUND"], &cells));
    let fixes: Vec<String> = rows
        .iter()
        .filter(|c| c.result != Verdict::Pass && !c.fix.is_empty())
        .map(|c| format!("  {} {}: {}", level(c), c.what, c.fix))
        .collect();
    if !fixes.is_empty() {
        out.push_str("\nHow to fix:\n");
        out.push_str(&fixes.join("\n"));
        out.push('\n');
    }
    out
}

/// fleetform's own text (which quotes names and settings in backticks) as
/// Markdown: the quoted parts as code spans, the rest escaped prose, so
/// nothing in a name GitHub answered can become markup either way.
pub fn md_text(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // An odd number of backticks: not fleetform's quoting.
        return md_escape(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 1 { md_code(p) } else { md_escape(p) })
        .collect()
}

/// One part's checks, a line each (it fits a phone): the result, the
/// level, the check, what was found and, with `fixes`, what to change and
/// where; nothing when it has no rows.
fn md_part(out: &mut String, title: &str, rows: &[&Check], fixes: bool) {
    use std::fmt::Write as _;
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "\n### {title}\n\n");
    for c in rows {
        let icon = match c.result {
            Verdict::Pass => "✅ pass",
            Verdict::Warn => "⚠️ warn",
            Verdict::Fail => "❌ fail",
            Verdict::Unknown => "❔ could not check",
        };
        let _ = write!(
            out,
            "- {icon} ({}) **{}**: {}",
            level(c),
            md_text(&c.what),
            md_text(&c.found)
        );
        if fixes && !c.fix.is_empty() {
            let _ = write!(out, "; what to change, and where: {}", md_text(&c.fix));
        }
        out.push('\n');
    }
}

/// The Markdown checklist for the step summary: the tally first, then
/// what must be fixed, what should be (each with what to change and
/// where), and what passed, folded.
pub fn markdown(r: &Report) -> String {
    let rows = ordered(r);
    let of = |p: u8| -> Vec<&Check> { rows.iter().copied().filter(|c| part(c) == p).collect() };
    let mut out = format!(
        "## fleetform doctor: {}\n\n**{}**\n",
        md_escape(&r.repo),
        md_escape(&tally(r))
    );
    md_part(
        &mut out,
        "Must fix (a failed must-row fails the run)",
        &of(0),
        true,
    );
    md_part(&mut out, "Should fix", &of(1), true);
    let passed = of(2);
    if !passed.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>{} passed</summary>\n",
            crate::util::text::count(passed.len(), "check", "checks")
        ));
        md_part(&mut out, "Passed", &passed, false);
        out.push_str("\n</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fleetform's quoting is code; the rest is escaped prose, and a name
    /// GitHub answered cannot become markup either way.
    #[test]
    fn own_backticks_are_code_and_the_rest_is_escaped() {
        assert_eq!(
            md_text("set `auto_apply: true` for *x*"),
            "set `auto_apply: true` for \\*x\\*"
        );
        assert_eq!(md_text("branch `a|<img>`"), "branch `a|<img>`");
        // An odd number of backticks is not fleetform's quoting.
        assert_eq!(md_text("a ` b"), "a \\` b");
    }

    /// Issue #52: a must-row that warns is under "Must fix", never under
    /// "Should fix".
    #[test]
    fn must_rows_are_never_under_should_fix() {
        let row = |level, result, what: &str| Check {
            level,
            result,
            what: what.into(),
            found: "x".into(),
            fix: "do y".into(),
        };
        let r = Report::new(
            "provider/manager",
            vec![
                row(Level::Should, Verdict::Warn, "should-warn"),
                row(Level::Must, Verdict::Warn, "must-warn"),
                row(Level::Must, Verdict::Fail, "must-fail"),
            ],
            0,
        );
        let md = markdown(&r);
        let must = md.split("### Must fix").nth(1).unwrap();
        let (must, should) = must.split_once("### Should fix").unwrap();
        assert!(
            must.contains("must-warn") && must.contains("must-fail"),
            "{md}"
        );
        assert!(!should.contains("must-"), "{md}");
        assert!(should.contains("should-warn"), "{md}");
    }
}
