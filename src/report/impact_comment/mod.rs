//! What people read of a manager change's impact: the terminal's Markdown,
//! the step summary (within GitHub's 1 MiB) and the sticky comment on the
//! manager's pull request (within GitHub's 65,536 characters).
//!
//! One shape for all three. First what a reviewer decides on, never cut:
//! the counts, a CAUTION naming destroys and replacements with the pairs
//! they hit (capped, with a count, as in the plan comment), the pairs the
//! gates block or that failed to plan, the customers that would break, a
//! line per product × environment (pairs changed; destroys, replaces,
//! updates, creates; blocked, failed, breaking) and how many pairs share
//! each identical plan. Then the folds (each plan group, the pairs' list,
//! what differs apart from the change, the schema problems), kept whole
//! while they fit; what does not fit is named exactly, with where the
//! full report is. Text inside raw HTML (`<summary>`) is HTML-escaped,
//! never Markdown-escaped.
//!
//! May import: the impact's data (`report::impact`), the comment's limits
//! and escapes (`report::comment`, `report::markdown`), `config::Unit` and
//! plain data (`data`), and `util` (counts). Nothing imports it but the commands that show it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::comment::{COMMENT_LIMIT, GROUPS};
use super::impact::{Broken, Impact};
use super::markdown::{link, md_code, md_escape};
use crate::config::Unit;
use crate::data::summary::Action;

mod folds;

use folds::folds;

/// The marker of the sticky impact comment on a manager pull request.
pub const MARKER: &str = "<!-- fleetform:impact -->";

/// Pairs named per destroyed or replaced address (the rest counted).
pub(super) const PAIRS_NAMED: usize = 5;
/// Blocked, failed and broken pairs listed above the folds at most.
const LISTED: usize = 20;
/// Product × environment rows at most (a manager has few).
const ROWS: usize = 60;
/// Distinct plans whose sharing is spelled out at most.
const SHARES_LISTED: usize = 10;
/// Longest failure reason shown, in characters.
const REASON_CHARS: usize = 300;
/// A fold within 1/8 of the room is kept before the big ones.
const SMALL_FOLD: usize = 8;
/// Room kept for the notice of what was cut.
const NOTICE_ROOM: usize = 1024;

/// The impact as Markdown, whole (the terminal). The values themselves
/// (old → new) only with `values`: a customer's values are the
/// customer's, and the comment, the step summary and the log of a manager
/// repo are read by everyone who can read that repo.
pub fn markdown(i: &Impact, values: bool) -> String {
    render(i, values, (usize::MAX, ""), "")
}

/// The step summary: at most `limit` bytes (GitHub's 1 MiB, less what
/// the summary holds already), never values.
pub fn summary(i: &Impact, limit: usize) -> String {
    render(
        i,
        false,
        (limit, "of 1 MiB on a step summary"),
        "The whole answer, without values, is the job's artifact `fleetform-impact`.\n",
    )
}

/// The sticky comment on the manager pull request: always within
/// GitHub's 65,536 characters, never values.
pub fn comment(i: &Impact, run_url: Option<&str>) -> String {
    let full = match run_url {
        Some(u) => format!(
            "The full report is in the {} and its artifact `fleetform-impact`.\n",
            link("run's summary", u)
        ),
        None => {
            "The full report is in the job's summary and its artifact `fleetform-impact`.\n".into()
        }
    };
    let body = render(
        i,
        false,
        (
            COMMENT_LIMIT - MARKER.len() - 1,
            "of 65,536 characters on a comment",
        ),
        &full,
    );
    format!("{MARKER}\n{body}")
}

/// Head, then as many folds as fit in `limit` bytes with `tail`, then
/// what was cut and `tail`.
fn render(i: &Impact, values: bool, limit: (usize, &str), tail: &str) -> String {
    let (limit, limit_name) = limit;
    let mut out = head(i);
    let folds = folds(i, values);
    let budget = limit.saturating_sub(out.len() + tail.len() + NOTICE_ROOM);
    // A fold small beside the room is kept before the big ones (a short
    // table is not lost to one plan's long list); otherwise in order.
    let (mut ordered, big): (Vec<&folds::Fold>, Vec<&folds::Fold>) = folds
        .iter()
        .partition(|f| f.whole().len() <= budget / SMALL_FOLD);
    ordered.extend(big);
    let mut used = 0;
    let mut cut: Vec<(&folds::Fold, usize)> = Vec::new();
    for fold in ordered {
        if !cut.is_empty() {
            cut.push((fold, 0));
            continue;
        }
        let whole = fold.whole();
        if used + whole.len() <= budget {
            used += whole.len();
            out.push_str(&whole);
            continue;
        }
        // The first fold that does not fit keeps the items that do (a
        // prefix); every fold after it is left out.
        let (text, kept) = fold.fitting(budget.saturating_sub(used));
        used += text.len();
        out.push_str(&text);
        cut.push((fold, kept));
    }
    if !cut.is_empty() {
        let _ = write!(
            out,
            "> [!NOTE]\n> **Cut to fit GitHub's limit {limit_name}**: left out {}.\n\n",
            folds::cut_notice(&cut)
        );
    }
    if !cut.is_empty() || !tail.is_empty() {
        out.push_str(tail);
    }
    out
}

/// Everything above the folds: never cut, bounded by the caps above.
fn head(i: &Impact) -> String {
    let mut out = format!(
        "### fleetform impact: {} → {}\n\n",
        md_code(&i.base),
        md_code(&i.head)
    );
    out.push_str(&counts_line(i));
    out.push_str(&caution(i));
    out.push_str(&blocked_and_failed(i));
    out.push_str(&broken_list(&i.broken, "would stop validating at the head"));
    out.push_str(&table(i));
    out.push_str(&shares(i));
    out.push_str(&apart_note(i));
    out
}

/// `**3 of 40 pairs change**: 3 by their variables, 0 by their module.`
fn counts_line(i: &Impact) -> String {
    let by_values = i.changed.iter().filter(|p| !p.values.is_empty()).count();
    let by_module = i.changed.iter().filter(|p| p.module).count();
    let mut out = format!(
        "**{} of {} pairs change**: {by_values} by their variables, {by_module} by their module{}.",
        i.changed.len(),
        i.pairs,
        match i.modules.is_empty() {
            true => String::new(),
            false => format!(
                " ({})",
                i.modules
                    .iter()
                    .map(|m| match m.is_empty() {
                        true => "the root module".to_string(),
                        false => md_code(m),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    );
    if !i.broken.is_empty() {
        let _ = write!(
            out,
            " **{} would stop validating.**",
            crate::util::text::count(i.broken.len(), "customer", "customers")
        );
    }
    if !i.unreadable.is_empty() {
        let _ = write!(
            out,
            " {} could not be read.",
            crate::util::text::count(i.unreadable.len(), "customer", "customers")
        );
    }
    if !i.pinned.is_empty() {
        let units: Vec<&Unit> = i.pinned.iter().map(|p| &p.unit).collect();
        let _ = write!(
            out,
            " Held at an earlier manager version (`customers pin`), so a rollout leaves out {}: {}.",
            crate::util::text::count(i.pinned.len(), "changed pair", "changed pairs"),
            named(&units, 5)
        );
    }
    out.push_str("\n\n");
    out
}

/// The action words of the plan comment, destroy first.
pub(super) fn word(a: Action) -> &'static str {
    GROUPS
        .iter()
        .find(|(g, _)| *g == a)
        .map_or("read", |(_, w)| w)
}

/// `a/b`, `c/d` and 3 more.
pub(super) fn named(units: &[&Unit], at_most: usize) -> String {
    let mut s: Vec<String> = units
        .iter()
        .take(at_most)
        .map(|u| md_code(&u.to_string()))
        .collect();
    if units.len() > at_most {
        s.push(format!("and {} more", units.len() - at_most));
    }
    s.join(", ")
}

/// The CAUTION naming every destroyed and replaced address (capped) with
/// the pairs whose plans do it (capped, counted).
fn caution(i: &Impact) -> String {
    let Some(p) = &i.plans else {
        return String::new();
    };
    let mut lost: Vec<(Action, &str, Vec<&Unit>)> = Vec::new();
    for action in [Action::Delete, Action::Replace] {
        for g in &p.groups {
            for r in g.resources.iter().filter(|r| r.action == action) {
                match lost
                    .iter_mut()
                    .find(|(a, addr, _)| *a == action && *addr == r.address)
                {
                    Some((_, _, who)) => who.extend(&g.members),
                    None => lost.push((action, &r.address, g.members.iter().collect())),
                }
            }
        }
    }
    if lost.is_empty() {
        return String::new();
    }
    let pairs = |a: Action| {
        p.groups
            .iter()
            .filter(|g| g.resources.iter().any(|r| r.action == a))
            .map(|g| g.members.len())
            .sum::<usize>()
    };
    let mut what = Vec::new();
    for (a, verb) in [(Action::Delete, "destroy"), (Action::Replace, "replace")] {
        let n = pairs(a);
        if n > 0 {
            what.push(format!(
                "**{verb} resources in {}**",
                crate::util::text::count(n, "pair", "pairs")
            ));
        }
    }
    let mut out = format!("> [!CAUTION]\n> The plans {}:\n", what.join(" and "));
    // About ten lines: all of them when they fit, else one fewer and the
    // rest counted.
    let shown = if lost.len() > super::lists::LIST_LINES {
        super::lists::LIST_LINES - 1
    } else {
        lost.len()
    };
    for (a, addr, who) in lost.iter().take(shown) {
        let _ = writeln!(
            out,
            "> - {} {} in {}: {}",
            word(*a),
            md_code(addr),
            crate::util::text::count(who.len(), "pair", "pairs"),
            named(who, PAIRS_NAMED)
        );
    }
    if lost.len() > shown {
        let _ = writeln!(
            out,
            "> - and {} more destroyed or replaced",
            crate::util::text::count(lost.len() - shown, "address", "addresses")
        );
    }
    out.push('\n');
    out
}

/// A failure reason on one line, capped.
fn reason(why: &str) -> String {
    let mut s: String = why.chars().take(REASON_CHARS).collect();
    if why.chars().count() > REASON_CHARS {
        s.push('…');
    }
    md_escape(&s)
}

/// The pairs the gates block and those whose plan failed (listed, capped).
fn blocked_and_failed(i: &Impact) -> String {
    let Some(p) = &i.plans else {
        return String::new();
    };
    let mut out = String::new();
    let blocked: Vec<&(Unit, String)> = p.groups.iter().flat_map(|g| &g.blocked).collect();
    if !blocked.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **The gates block {}**:",
            crate::util::text::count(blocked.len(), "pair", "pairs")
        );
        for (u, v) in blocked.iter().take(LISTED) {
            let _ = writeln!(out, "> - {}: {}", md_code(&u.to_string()), md_escape(v));
        }
        if blocked.len() > LISTED {
            let _ = writeln!(out, "> - and {} more", blocked.len() - LISTED);
        }
        out.push('\n');
    }
    if !p.withheld.is_empty() {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> **{} not previewed**: they have secrets, which a plan of an unreviewed change never receives; their plans come with the reviewed rollout or deploy.",
            crate::util::text::count(p.withheld.len(), "pair", "pairs")
        );
        for (u, _) in p.withheld.iter().take(LISTED) {
            let _ = writeln!(out, "> - {}", md_code(&u.to_string()));
        }
        if p.withheld.len() > LISTED {
            let _ = writeln!(out, "> - and {} more", p.withheld.len() - LISTED);
        }
        out.push('\n');
    }
    if !p.failed.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{} to plan** (the other plans are below):",
            crate::util::text::count(p.failed.len(), "pair failed", "pairs failed")
        );
        for (u, why) in p.failed.iter().take(LISTED) {
            let _ = writeln!(out, "> - {}: {}", md_code(&u.to_string()), reason(why));
        }
        if p.failed.len() > LISTED {
            let _ = writeln!(out, "> - and {} more", p.failed.len() - LISTED);
        }
        out.push('\n');
    }
    out
}

/// `customer/product` of a broken customer.
pub(super) fn who(b: &Broken) -> String {
    match &b.product {
        Some(p) => format!("{}/{p}", b.customer),
        None => b.customer.clone(),
    }
}

/// The customers that would break (listed, capped; their problems fold).
fn broken_list(broken: &[Broken], what: &str) -> String {
    if broken.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "> [!WARNING]\n> **{} {what}**: ",
        crate::util::text::count(broken.len(), "customer", "customers")
    );
    let mut names: Vec<String> = broken
        .iter()
        .take(LISTED)
        .map(|b| md_code(&who(b)))
        .collect();
    if broken.len() > LISTED {
        names.push(format!("and {} more", broken.len() - LISTED));
    }
    out.push_str(&names.join(", "));
    out.push_str("\n\n");
    out
}

/// One product × environment's numbers.
#[derive(Default)]
struct Row {
    changed: usize,
    actions: [usize; 4],
    blocked: usize,
    failed: usize,
    breaking: usize,
}

/// The order of the action columns: destroy, replace, update, create.
pub(super) const COLUMNS: [Action; 4] = [
    Action::Delete,
    Action::Replace,
    Action::Update,
    Action::Create,
];

fn rows(i: &Impact) -> BTreeMap<(String, String), Row> {
    let key = |u: &Unit| (u.product.clone().unwrap_or_default(), u.environment.clone());
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for p in &i.changed {
        rows.entry(key(&p.unit)).or_default().changed += 1;
    }
    if let Some(p) = &i.plans {
        for g in &p.groups {
            for m in &g.members {
                let row = rows.entry(key(m)).or_default();
                for (n, a) in row.actions.iter_mut().zip(COLUMNS) {
                    *n += g.resources.iter().filter(|r| r.action == a).count();
                }
            }
            for (u, _) in &g.blocked {
                rows.entry(key(u)).or_default().blocked += 1;
            }
        }
        for (u, _) in &p.failed {
            rows.entry(key(u)).or_default().failed += 1;
        }
    }
    for b in &i.broken {
        for e in &b.environments {
            let k = (b.product.clone().unwrap_or_default(), e.clone());
            rows.entry(k).or_default().breaking += 1;
        }
    }
    rows
}

/// A line per product × environment (it fits a phone, where a table of
/// eleven columns did not): what a reviewer weighs.
fn table(i: &Impact) -> String {
    let rows = rows(i);
    if rows.is_empty() {
        return String::new();
    }
    let planned = i.plans.is_some();
    let mut out = String::new();
    for ((product, env), r) in rows.iter().take(ROWS) {
        let place = match product.is_empty() {
            true => md_code(env),
            false => format!("{} / {}", md_code(product), md_code(env)),
        };
        let _ = write!(
            out,
            "- {place}: {} changed",
            crate::util::text::count(r.changed, "pair", "pairs")
        );
        if planned {
            let actions: Vec<String> = COLUMNS
                .iter()
                .zip(r.actions)
                .map(|(a, n)| format!("{} {n}", word(*a)))
                .collect();
            let _ = write!(
                out,
                "; {}; {} blocked, {} failed",
                actions.join(", "),
                r.blocked,
                r.failed
            );
        }
        let _ = writeln!(out, "; {} breaking", r.breaking);
    }
    if rows.len() > ROWS {
        let _ = writeln!(
            out,
            "\nand {} more product × environment lines.",
            rows.len() - ROWS
        );
    }
    if planned {
        out.push_str("\nResource changes per line are summed over its pairs.\n");
    }
    out.push('\n');
    out
}

/// How many pairs share each identical plan: one review covers a group.
fn shares(i: &Impact) -> String {
    let Some(p) = &i.plans else {
        return String::new();
    };
    let mut out = format!(
        "**{}, {} distinct**{}.",
        crate::util::text::count(p.planned, "plan", "plans"),
        p.groups.len(),
        match p.failed.is_empty() {
            true => String::new(),
            false => format!(", **{} failed**", p.failed.len()),
        }
    );
    if !p.groups.is_empty() {
        let listed: Vec<String> = p
            .groups
            .iter()
            .take(SHARES_LISTED)
            .enumerate()
            .map(|(n, g)| {
                format!(
                    "plan {} is shared by {}",
                    n + 1,
                    crate::util::text::count(g.members.len(), "pair", "pairs")
                )
            })
            .collect();
        let _ = write!(
            out,
            " Each distinct plan is reviewed once: {}",
            listed.join(", ")
        );
        if p.groups.len() > SHARES_LISTED {
            let rest: usize = p.groups[SHARES_LISTED..]
                .iter()
                .map(|g| g.members.len())
                .sum();
            let _ = write!(
                out,
                ", and {} more plans by {}",
                p.groups.len() - SHARES_LISTED,
                crate::util::text::count(rest, "pair", "pairs")
            );
        }
        out.push('.');
    }
    out.push_str("\n\n");
    out
}

/// The count of what differs apart from the manager's change.
fn apart_note(i: &Impact) -> String {
    let Some(p) = &i.plans else {
        return String::new();
    };
    let drift = p.apart.iter().filter(|a| !a.drift.is_empty()).count();
    let behind = p.apart.iter().filter(|a| !a.behind.is_empty()).count();
    let pending = p.apart.iter().filter(|a| !a.pending.is_empty()).count();
    if drift + behind + pending == 0 {
        return String::new();
    }
    // Drift is the cloud's doing only; a base not applied yet and the
    // customer's own edits are each said apart (issue #52).
    let behind = match behind {
        0 => String::new(),
        n => format!(
            "{} changes of the base not applied yet (no drift), ",
            crate::util::text::count(n, "pair has", "pairs have")
        ),
    };
    format!(
        "> [!NOTE]\n> **Not this change's doing**, and not counted above: {} drifted in the cloud (changed outside Terraform) since the last apply, {behind}{} customer files changed since the last apply (the customer's own change, not applied, not planned here).\n\n",
        crate::util::text::count(drift, "pair has", "pairs have"),
        crate::util::text::count(pending, "pair has", "pairs have")
    )
}
