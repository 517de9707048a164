//! The PR comment for a plan, as a reviewer reads it: a warning naming
//! every destroy and replacement, Terraform's own counts, the digest the
//! approver matches, one verdict for the gates, resources grouped by
//! action and the plan as a coloured diff, cut at resource boundaries to
//! stay under GitHub's comment limit.

use serde::Serialize;

use super::markdown::{fence_for, link, md_block, md_code, md_escape};
use super::plan_text;
use crate::data::summary::Action;
use crate::data::summary::PlanSummary;
use crate::data::verdict::{GateResult, Verdict};

/// GitHub's limit on an issue comment body.
pub const COMMENT_LIMIT: usize = 65_536;

/// The hidden marker that identifies a sticky comment.
pub fn comment_marker(customer: &str, environment: &str) -> String {
    product_marker(customer, None, environment)
}

/// The marker of a product's sticky comment (`product=` only for a
/// manager with products, so existing comments keep theirs).
pub fn product_marker(customer: &str, product: Option<&str>, environment: &str) -> String {
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
    match product {
        None => format!(
            "<!-- fleetform:plan customer={} environment={} -->",
            safe(customer),
            safe(environment)
        ),
        Some(p) => format!(
            "<!-- fleetform:plan customer={} product={} environment={} -->",
            safe(customer),
            safe(p),
            safe(environment)
        ),
    }
}

/// Inputs of the plan comment besides the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CommentContext<'a> {
    pub summary: &'a PlanSummary,
    /// Where the full plan can be read (a run URL or a path).
    pub full_plan_at: &'a str,
    /// A link to the run that planned, if any.
    pub run_url: Option<&'a str>,
    /// Who must approve this plan on the pull request before its apply,
    /// and how (fleetform.yml's `approvals:`), already worded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve: Option<String>,
    /// When the plan is applied, already worded: on merge for an
    /// `auto_apply: true` environment, else after whose approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applies: Option<String>,
    /// The settings the pull request changes, each linked to its entry in
    /// the customer's reference (with `sync.form`).
    pub changed: &'a [SettingLink],
}

/// A setting the pull request changes, and where the customer's
/// reference says what it may be.
#[derive(Debug, Clone, Serialize)]
pub struct SettingLink {
    /// Its dotted path in the variables file.
    pub label: String,
    /// Its entry in the reference page (`…/README.md#anchor`).
    pub url: String,
}

/// Room kept for what the truncation notice adds.
const NOTICE_ROOM: usize = 8 * 1024;

/// The order resources are grouped in: what is lost first.
pub(super) const GROUPS: [(Action, &str); 5] = [
    (Action::Delete, "destroy"),
    (Action::Replace, "replace"),
    (Action::Update, "update"),
    (Action::Create, "create"),
    (Action::Read, "read"),
];

/// Renders the PR comment for a plan. If the full text would exceed
/// [`COMMENT_LIMIT`], the plan output is cut at resource boundaries, and
/// the visible part says how much is shown, which addresses were left out
/// and where the full plan is.
pub fn render_comment(
    ctx: &CommentContext<'_>,
    plan_text: &str,
) -> Result<String, minijinja::Error> {
    let cleaned = plan_text::without_chatter(&md_block(plan_text));
    let full = render_with(ctx, &plan_text::cut(&cleaned, usize::MAX))?;
    if full.len() <= COMMENT_LIMIT {
        return Ok(full);
    }
    let mut budget = COMMENT_LIMIT
        .saturating_sub(full.len() - cleaned.len())
        .saturating_sub(NOTICE_ROOM);
    loop {
        let out = render_with(ctx, &plan_text::cut(&cleaned, budget))?;
        if out.len() <= COMMENT_LIMIT || budget == 0 {
            return Ok(out);
        }
        budget = budget.saturating_sub(out.len() - COMMENT_LIMIT + 1024);
    }
}

/// A targeted plan's flags, who asked, why, and the changes of
/// addresses none of its targets names (what it depends on).
fn targeted(s: &PlanSummary) -> Option<minijinja::Value> {
    let t = s
        .targeting
        .as_ref()
        .filter(|t| !t.destroy && !t.repair && t.restored.is_none())?;
    let targets: Vec<&String> = t.replace.iter().chain(&t.target).collect();
    let under = |address: &str, target: &str| {
        address == target
            || address
                .strip_prefix(target)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    let outside: Vec<String> = s
        .resources
        .iter()
        .map(|r| r.address.clone())
        .filter(|a| !targets.iter().any(|t| under(a, t)))
        .collect();
    Some(minijinja::context! {
        flags => t.flags(),
        actor => t.actor.clone(),
        reason => t.reason.clone(),
        outside => outside,
    })
}

fn render_with(ctx: &CommentContext<'_>, cut: &plan_text::Cut) -> Result<String, minijinja::Error> {
    let s = ctx.summary;
    let diff = plan_text::as_diff(&cut.text);
    let env = super::markdown::environment();
    env.get_template("plan_comment.md")?
        .render(minijinja::context! {
            marker => product_marker(&s.customer, s.product.as_ref().map(|p| p.name.as_str()), &s.environment),
            product => s.product.as_ref().map(|p| p.name.clone()),
            identity => s.identity.as_ref().map(|i| minijinja::Value::from(minijinja::value::Serde(i))),
            secrets => minijinja::Value::from(minijinja::value::Serde(&s.secrets)),
            stale_secrets => stale_secrets(s),
            stored_secrets => s.secrets.iter().filter(|a| a.stored).map(|a| a.name.clone()).collect::<Vec<_>>(),
            awaiting => s.product.as_ref().map(|p| p.awaiting.clone()).unwrap_or_default(),
            inputs => s.product.as_ref().map(|p| p.inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()).unwrap_or_default(),
            s => minijinja::Value::from(minijinja::value::Serde(s)),
            caution => caution(s),
            totals => totals_line(s),
            gates => s.gates.as_ref().map(gates).unwrap_or_default(),
            groups => groups(s),
            full_plan => full_plan(ctx.full_plan_at),
            // One link per place: the full plan is in the run when it is at its URL.
            run_link => ctx.run_url.filter(|u| *u != ctx.full_plan_at).map(|u| link("run", u)),
            // A plan without changes applies nothing: no "merging applies
            // this plan", no approval to give.
            applies => ctx.applies.clone().filter(|_| s.has_changes),
            changed => ctx.changed.iter().map(|c| format!("{} ({})", super::markdown::md_code(&c.label), link("what it may be", &c.url))).collect::<Vec<_>>(),
            approve => ctx.approve.clone().filter(|_| s.has_changes),
            pin => s.pin.as_ref().map(|p| minijinja::Value::from(minijinja::value::Serde(p))),
            targeted => targeted(s),
            // Each blocking gate and why, as Markdown (fleetform's code spans kept).
            blocked => s.gates.as_ref().map(|v| v.blocking().iter().map(|r| format!("{}: {}", md_code(&r.gate), super::markdown::md_cell_with_code(&r.detail))).collect::<Vec<_>>()).unwrap_or_default(),
            restored => s.targeting.as_ref().and_then(|t| t.restored.as_ref().map(|v| minijinja::context! {
                version => v.clone(),
                actor => t.actor.clone(),
                reason => t.reason.clone(),
            })),
            repair => s.targeting.as_ref().filter(|t| t.repair).map(|t| minijinja::context! {
                actor => t.actor.clone(),
                reason => t.reason.clone(),
            }),
            fence => fence_for(&diff),
            plan_text => diff,
            truncated => truncation(cut, ctx.full_plan_at),
        })
}

/// One escaped line per stale secret of the plan (its name, source, age
/// and the environment's limit), for the comment's rotation warning.
fn stale_secrets(s: &PlanSummary) -> Vec<String> {
    s.secrets
        .iter()
        .filter(|a| a.stale)
        .map(|a| {
            let age = match a.age_days {
                Some(d) => format!("last updated {d} days ago"),
                None => "age unknown (no `updated:` in the file)".into(),
            };
            let limit = a
                .max_age_days
                .map(|m| format!(", over {m} days"))
                .unwrap_or_default();
            format!("{} from {}: {age}{limit}; rotate it (a new value encrypted again, with a new `updated:`)", md_code(&a.name), md_code(&a.source))
        })
        .collect()
}

/// Terraform's own numbers (`Plan: 1 to add, 2 to change, 3 to destroy`),
/// replacements named as such, and changed outputs.
pub fn totals(s: &PlanSummary) -> String {
    let mut t = format!(
        "Plan: {} to add, {} to change, {} to destroy",
        s.create + s.replace,
        s.update,
        s.delete + s.replace
    );
    if s.replace > 0 {
        t.push_str(&format!(
            " ({} replacement{}: destroyed, then created again)",
            s.replace,
            if s.replace == 1 { "" } else { "s" }
        ));
    }
    t
}

/// The counts line: Terraform's totals and changed outputs, or no changes.
fn totals_line(s: &PlanSummary) -> String {
    if !s.has_changes {
        return "**No changes.** The infrastructure matches the configuration.".into();
    }
    let mut line = format!("**{}**", totals(s));
    let n = s.outputs.len();
    if n > 0 {
        line.push_str(&format!(
            " · {n} output{} changed",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Some(c) = &s.cost {
        line.push_str(&format!(" · {}", cost_text(c)));
    }
    line
}

/// The estimate on the first screen: `**+$142.00/month** ($1,361.31/month
/// in all, Infracost's estimate against the last applied plan)`.
pub fn cost_text(c: &crate::data::cost::CostEstimate) -> String {
    let total = c.monthly_cents().map_or(String::new(), |m| {
        format!(
            "{}/month in all, ",
            crate::data::cost::money(m, &c.currency)
        )
    });
    let basis = c.basis.map_or(String::new(), |b| format!(" {}", b.words()));
    format!(
        "**{}** ({total}Infracost's estimate{basis})",
        c.change_text()
    )
}

/// A GitHub alert naming every destroyed and replaced address (up to
/// [`super::lists::LIST_LINES`] lines, runs of indexes collapsed), or
/// nothing.
fn caution(s: &PlanSummary) -> String {
    caution_for(&s.resources, s.delete, s.replace)
}

/// The alert of [`caution`] for a list of resource changes with `delete`
/// destroys and `replace` replacements (also the rollout plan summary's,
/// per group of pairs whose plans do the same).
pub fn caution_for(
    resources: &[crate::data::summary::ResourceChange],
    delete: usize,
    replace: usize,
) -> String {
    let lost = super::lists::collapse(
        resources
            .iter()
            .filter(|r| matches!(r.action, Action::Delete | Action::Replace))
            .map(|r| (r.action, r.address.as_str(), 1)),
    );
    caution_lines(&lost, delete, replace)
}

/// The CAUTION of [`caution_for`] from items already collapsed (the
/// rollout's opaque lines too): a line each, at most
/// [`super::lists::LIST_LINES`], the rest counted.
pub(super) fn caution_lines(lost: &[super::lists::Item], delete: usize, replace: usize) -> String {
    if lost.is_empty() {
        return String::new();
    }
    let mut out = caution_head(delete, replace);
    let (shown, rest) = super::lists::capped(lost);
    for i in shown {
        out.push_str(&format!(
            "> - {} {}\n",
            i.action.word(),
            super::lists::label(i)
        ));
    }
    if rest > 0 {
        out.push_str(&format!("> - and {rest} more\n"));
    }
    out
}

/// The CAUTION's first lines: what the plan destroys and replaces.
pub(super) fn caution_head(delete: usize, replace: usize) -> String {
    let mut what = Vec::new();
    if delete > 0 {
        what.push(format!("**destroys {delete}**"));
    }
    if replace > 0 {
        what.push(format!("**replaces {replace}**"));
    }
    let plural = if delete + replace == 1 { "" } else { "s" };
    format!(
        "> [!CAUTION]\n> This plan {} resource{plural}:\n",
        what.join(" and ")
    )
}

/// Resources grouped by action, destroys first: `(label, count, rows)`,
/// runs of `count` indexes one row (`web[0..99]` (100)), about ten rows
/// per action and the rest counted (the plan output and the run name
/// every address), so the table alone never takes the comment past
/// GitHub's limit.
fn groups(s: &PlanSummary) -> Vec<(String, usize, Vec<String>)> {
    GROUPS
        .iter()
        .filter_map(|(action, label)| {
            let of_action = s.resources.iter().filter(|r| r.action == *action);
            let n = of_action.clone().count();
            let items =
                super::lists::collapse(of_action.map(|r| (r.action, r.address.as_str(), 1)));
            let (shown, rest) = super::lists::capped(&items);
            let mut rows: Vec<String> = shown
                .iter()
                .map(|i| {
                    let cell = super::markdown::md_code_cell(&i.address);
                    if i.count > 1 {
                        format!("{cell} ({})", i.count)
                    } else {
                        cell
                    }
                })
                .collect();
            if rest > 0 {
                rows.push(format!("and {rest} more"));
            }
            (n > 0).then(|| (label.to_string(), n, rows))
        })
        .collect()
}

/// A link when the full plan is at a URL (the run), else the path as code.
fn full_plan(at: &str) -> String {
    if at.starts_with("https://") || at.starts_with("http://") {
        link("full plan in the run", at)
    } else {
        format!("full plan: {}", md_code(at))
    }
}

/// The visible notice of a cut plan, or nothing.
fn truncation(cut: &plan_text::Cut, full_plan_at: &str) -> String {
    if cut.shown_lines >= cut.total_lines {
        return String::new();
    }
    let mut out = format!(
        "**Plan output truncated:** {} of {} lines shown, cut between resources ({}).",
        thousands(cut.shown_lines),
        thousands(cut.total_lines),
        full_plan(full_plan_at)
    );
    if !cut.omitted.is_empty() {
        out.push_str(&format!(
            " Left out: {}.",
            super::lists::inline(&cut.omitted)
        ));
    }
    out
}

/// `2518` → `2,518`.
pub(super) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The gates' verdict: `blocked by `a`, `b``, `failed gates waived by
/// `label``, or `all pass`.
pub fn verdict(v: &Verdict) -> String {
    let blocking = v.blocking();
    if !blocking.is_empty() {
        let names: Vec<String> = blocking.iter().map(|r| md_code(&r.gate)).collect();
        format!("blocked by {}", names.join(", "))
    } else {
        verdict_word(v)
    }
}

/// The gates' verdict without the names of the blocking gates, for a line
/// that lists every gate after it: `blocked`, `failed gates waived by
/// `label``, `all pass`, or the passes counted beside what was not
/// applicable or only advisory (`2 pass, 1 not applicable`).
pub fn verdict_word(v: &Verdict) -> String {
    if !v.blocking().is_empty() {
        return "blocked".into();
    }
    if v.results.iter().any(|r| r.waived) {
        return format!(
            "failed gates waived by {}",
            md_code(v.waiver.as_deref().unwrap_or("label"))
        );
    }
    let count = |f: &dyn Fn(&GateResult) -> bool| v.results.iter().filter(|r| f(r)).count();
    let passed = count(&|r| r.passed);
    let skipped = count(&|r| !r.passed && r.skipped);
    let advisory = count(&|r| !r.passed && !r.skipped && r.advisory);
    if passed == v.results.len() {
        return "all pass".into();
    }
    let mut parts = vec![format!("{passed} pass")];
    if skipped > 0 {
        parts.push(format!("{skipped} not applicable"));
    }
    if advisory > 0 {
        parts.push(format!("{advisory} advisory failed (does not block)"));
    }
    parts.join(", ")
}

/// One gate's mark: ✅ passed, ⚠️ failed but waived or only advisory,
/// ➖ not applicable, ❌ blocking.
pub fn mark(r: &GateResult) -> &'static str {
    match (r.passed, r.waived || r.advisory, r.skipped) {
        (true, _, _) => "✅",
        (_, true, _) => "⚠️",
        (_, _, true) => "➖",
        _ => "❌",
    }
}

/// One verdict for the gates, then a line per gate: its mark, name and
/// reason (a line wraps on a phone where a table's reason column is cut
/// off). Nothing for no gates.
pub fn gates(v: &Verdict) -> String {
    if v.results.is_empty() {
        return String::new();
    }
    let waiver = v.waiver.as_deref().unwrap_or("label");
    let mut s = format!("**Gates: {}**\n\n", verdict(v));
    for r in &v.results {
        let note = match (r.passed, r.waived, r.skipped) {
            (false, true, _) => format!(" (waived by {})", md_code(waiver)),
            (false, false, true) => " (not applicable)".to_string(),
            (false, false, false) if r.advisory => " (advisory: does not block)".to_string(),
            _ => String::new(),
        };
        s.push_str(&format!(
            "- {} {}: {}{note}\n",
            mark(r),
            super::markdown::md_code_cell(&r.gate),
            super::markdown::md_cell_with_code(&r.detail)
        ));
    }
    for r in v.results.iter().filter(|r| !r.findings.is_empty()) {
        s.push_str(&findings(r));
    }
    s
}

/// Findings listed per tool in the comment (the rest are counted), so a
/// noisy tool leaves room for the plan.
const FINDINGS_SHOWN: usize = 20;

/// A policy tool's findings under the gates' lines: check, resource and
/// title, all of it the tool's (untrusted) text, escaped.
fn findings(r: &GateResult) -> String {
    let mut s = format!("\n**{} findings**\n\n", md_code(&r.gate));
    for f in r.findings.iter().take(FINDINGS_SHOWN) {
        let on = f
            .resource
            .as_deref()
            .map(|a| format!(" on {}", md_code(a)))
            .unwrap_or_default();
        s.push_str(&format!(
            "- {}{on}: {}\n",
            md_code(&f.check),
            md_escape(&f.title)
        ));
    }
    if r.findings.len() > FINDINGS_SHOWN {
        s.push_str(&format!(
            "- … {} more listed in the plan's `summary.json`\n",
            r.findings.len() - FINDINGS_SHOWN
        ));
    }
    s
}
