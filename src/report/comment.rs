//! The PR comment for a plan: the sticky marker, the gate checklist and the
//! body, kept under GitHub's comment limit.

use serde::Serialize;

use super::markdown::{defuse_markers, fence_for, md_escape};
use crate::policy::verdict::Verdict;
use crate::terraform::summary::PlanSummary;

/// GitHub's limit on an issue comment body.
pub const COMMENT_LIMIT: usize = 65_536;

/// The hidden marker that identifies a sticky comment.
pub fn comment_marker(customer: &str, environment: &str) -> String {
    // Slugs are `[a-z0-9-]` already; keep it so even if that ever changes,
    // so nothing can end the HTML comment (`-->`) early.
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    format!(
        "<!-- fleetform:plan customer={} environment={} -->",
        safe(customer),
        safe(environment)
    )
}

/// Inputs of the plan comment besides the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CommentContext<'a> {
    pub summary: &'a PlanSummary,
    /// Where the full plan can be read (a run URL or a path).
    pub full_plan_at: &'a str,
    /// A link to the run that planned, if any.
    pub run_url: Option<&'a str>,
}

/// Renders the PR comment for a plan. If the full text would exceed
/// [`COMMENT_LIMIT`], keeps the head and the tail of the plan output and
/// says where the full plan is.
pub fn render_comment(
    ctx: &CommentContext<'_>,
    plan_text: &str,
) -> Result<String, minijinja::Error> {
    let plan_text: &str = &defuse_markers(plan_text);
    let render = |text: &str, omitted: usize| -> Result<String, minijinja::Error> {
        let env = super::markdown::environment();
        let t = env.get_template("plan_comment.md")?;
        t.render(minijinja::context! {
            marker => comment_marker(&ctx.summary.customer, &ctx.summary.environment),
            s => minijinja::Value::from(minijinja::value::Serde(ctx.summary)),
            counts => ctx.summary.counts(),
            gates => ctx.summary.gates.as_ref().map(checklist).unwrap_or_default(),
            full_plan_at => md_escape(ctx.full_plan_at),
            run_url => ctx.run_url,
            fence => fence_for(text),
            plan_text => text,
            omitted => omitted,
        })
    };
    let full = render(plan_text, 0)?;
    if full.len() <= COMMENT_LIMIT {
        return Ok(full);
    }
    let lines: Vec<&str> = plan_text.lines().collect();
    let overhead = full.len().saturating_sub(plan_text.len()) + 200;
    let budget = COMMENT_LIMIT.saturating_sub(overhead);
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let (mut used, mut i, mut j) = (0usize, 0usize, lines.len());
    // Take lines alternately from the head (2/3) and the tail (1/3).
    while i < j {
        let take_head = head.len() <= tail.len() * 2;
        let line = if take_head { lines[i] } else { lines[j - 1] };
        let cost = line.len() + 1;
        if used + cost > budget {
            break;
        }
        used += cost;
        if take_head {
            head.push(line);
            i += 1;
        } else {
            tail.push(line);
            j -= 1;
        }
    }
    tail.reverse();
    let omitted = j - i;
    let text = format!(
        "{}\n... {omitted} lines omitted ...\n{}",
        head.join("\n"),
        tail.join("\n")
    );
    let out = render(&text, omitted)?;
    debug_assert!(out.len() <= COMMENT_LIMIT);
    Ok(out)
}

/// The gates as a Markdown checklist for the PR comment and the step summary.
pub fn checklist(v: &Verdict) -> String {
    if v.results.is_empty() {
        return String::new();
    }
    let mut s = String::from("**Policy gates**\n\n");
    for r in &v.results {
        let (mark, note) = match (r.passed, r.waived, r.skipped) {
            (true, _, _) => ("- [x]", String::new()),
            (_, true, _) => (
                "- [x]",
                format!(" (waived by `{}`)", v.waiver.as_deref().unwrap_or("label")),
            ),
            (_, _, true) => ("- [ ]", " (not applicable)".to_string()),
            _ => ("- [ ]", " **blocked**".to_string()),
        };
        s.push_str(&format!(
            "{mark} `{}`: {}{note}\n",
            r.gate,
            md_escape(&r.detail)
        ));
    }
    s
}
