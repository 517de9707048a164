//! The folds below the impact's head: each distinct plan, what differs
//! apart from the change, the changed pairs' list and the customers'
//! problems, each a `<details>` cut between its items.

use std::fmt::Write as _;

use serde_json::Value;

use super::{named, who, word, COLUMNS, PAIRS_NAMED};
use crate::data::summary::Action;
use crate::report::comment::{thousands, GROUPS};
use crate::report::impact::{Broken, Impact, PairImpact, PlanGroup, Plans};
use crate::report::markdown::{html_escape, md_code, md_escape};

/// Longest list of changed keys shown per pair in its line.
const KEYS_SHOWN: usize = 5;
/// Members and resources listed in one plan group's fold at most.
const GROUP_LISTED: usize = 50;
/// Changed attribute paths shown per resource (the rest counted).
const ATTRS_SHOWN: usize = 8;

/// A section below the head: a `<details>` holding items, cut between
/// items.
pub(super) struct Fold {
    /// What it is, for the notice of what was cut (`the changed pairs' list`).
    name: String,
    /// The `<details><summary>` line (HTML-escaped) and what precedes the items.
    open: String,
    items: Vec<String>,
    /// Item kind, plural, for the notice (`pairs`).
    unit: &'static str,
    /// The number of the distinct plan it details, if it does one.
    plan: Option<usize>,
}

/// Room for the line that says how many items a cut fold left out.
const MORE_ROOM: usize = 80;

impl Fold {
    pub(super) fn whole(&self) -> String {
        self.fitting(usize::MAX).0
    }

    /// The fold with the longest prefix of its items that fits in `room`
    /// bytes (with its opening and closing), and how many items it holds.
    pub(super) fn fitting(&self, room: usize) -> (String, usize) {
        const CLOSE: &str = "\n</details>\n\n";
        let mut out = self.open.clone();
        let mut kept = 0;
        let total: usize = out.len() + self.items.iter().map(String::len).sum::<usize>();
        let room = match total + CLOSE.len() <= room {
            true => room,
            false => room.saturating_sub(MORE_ROOM),
        };
        for item in &self.items {
            if out.len() + item.len() + CLOSE.len() > room {
                break;
            }
            out.push_str(item);
            kept += 1;
        }
        if out.len() + CLOSE.len() > room {
            return (String::new(), 0);
        }
        if kept < self.items.len() {
            let _ = write!(
                out,
                "\n… {} more {} (cut, see below)\n",
                self.items.len() - kept,
                self.unit
            );
        }
        out.push_str(CLOSE);
        (out, kept)
    }

    fn cut_note(&self, kept: usize) -> String {
        match kept {
            0 => self.name.clone(),
            _ => format!(
                "{} of {} {} of {}",
                thousands(self.items.len() - kept),
                thousands(self.items.len()),
                self.unit,
                self.name
            ),
        }
    }
}

/// What the folds `cut` (each with the items it kept) left out, in a
/// few words: whole plans' details left out in a row are one range.
pub(super) fn cut_notice(cut: &[(&Fold, usize)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut plans: Option<(usize, usize)> = None;
    let flush = |plans: &mut Option<(usize, usize)>, parts: &mut Vec<String>| match plans.take() {
        Some((a, b)) if a == b => parts.push(format!("plan {a}'s details")),
        Some((a, b)) => parts.push(format!("the details of plans {a}–{b}")),
        None => {}
    };
    for (fold, kept) in cut {
        match (fold.plan, kept) {
            (Some(n), 0) => match &mut plans {
                Some((_, b)) => *b = n,
                None => plans = Some((n, n)),
            },
            _ => {
                flush(&mut plans, &mut parts);
                parts.push(fold.cut_note(*kept));
            }
        }
    }
    flush(&mut plans, &mut parts);
    parts.join("; ")
}

/// Everything below the head, in the order it is kept.
pub(super) fn folds(i: &Impact, values: bool) -> Vec<Fold> {
    let mut out: Vec<Fold> = i.plans.as_ref().and_then(apart_fold).into_iter().collect();
    for (list, what) in [
        (&i.broken, "would stop validating"),
        (&i.unreadable, "could not be read"),
    ] {
        if !list.is_empty() {
            out.push(Fold {
                name: format!("the problems of the customers that {what}"),
                open: format!(
                    "<details><summary>Why {} {what}</summary>\n\n",
                    crate::util::text::count(list.len(), "customer", "customers")
                ),
                items: list.iter().map(|b| problems(b, values)).collect(),
                unit: "customers",
                plan: None,
            });
        }
    }
    if let Some(p) = &i.plans {
        out.extend(
            p.groups
                .iter()
                .enumerate()
                .map(|(n, g)| group_fold(n + 1, g)),
        );
    }
    if !i.changed.is_empty() {
        out.push(Fold {
            name: "the changed pairs' list".into(),
            open: format!(
                "<details><summary>The {}, key by key</summary>\n\n",
                crate::util::text::count(i.changed.len(), "changed pair", "changed pairs")
            ),
            items: i
                .changed
                .iter()
                .map(|p| {
                    format!(
                        "- {}: {}\n",
                        md_code(&p.unit.to_string()),
                        changes(p, values)
                    )
                })
                .collect(),
            unit: "pairs",
            plan: None,
        });
    }
    out
}

/// One distinct plan: its pairs and what it does, destroys first.
fn group_fold(n: usize, g: &PlanGroup) -> Fold {
    let count = |a: Action| g.resources.iter().filter(|r| r.action == a).count();
    let counts: Vec<String> = COLUMNS
        .iter()
        .filter(|a| count(**a) > 0)
        .map(|a| format!("{} {}", word(*a), count(*a)))
        .collect();
    let listed = match g.resources.len() > GROUP_LISTED {
        true => format!(
            "The first {GROUP_LISTED} of {} resource changes, destroys first (the full report has them all):\n\n",
            thousands(g.resources.len())
        ),
        false => String::new(),
    };
    // The group's total change per month, Infracost's estimate summed
    // over its pairs.
    let cost = g.cost.as_ref().map_or(String::new(), |c| {
        format!("; {} in all (Infracost)", html_escape(&c.text()))
    });
    let open = format!(
        "<details><summary>Plan {n}: {}; {}; {}{cost}</summary>\n\nPairs: {}\n\n{listed}",
        crate::util::text::count(g.members.len(), "pair", "pairs"),
        html_escape(&match counts.is_empty() {
            true => "no resource changes".to_string(),
            false => counts.join(", "),
        }),
        html_escape(&g.gates_phrase()),
        named(&g.members.iter().collect::<Vec<_>>(), GROUP_LISTED)
    );
    let mut sorted: Vec<&crate::data::summary::ResourceChange> = Vec::new();
    for (a, _) in GROUPS {
        sorted.extend(g.resources.iter().filter(|r| r.action == a));
    }
    let items: Vec<String> = sorted
        .iter()
        .take(GROUP_LISTED)
        .map(|r| {
            let mut changed = match r.changed.is_empty() {
                true => String::new(),
                false => md_code(
                    &r.changed
                        .iter()
                        .take(ATTRS_SHOWN)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            if r.changed.len() > ATTRS_SHOWN {
                changed.push_str(&format!(" and {} more", r.changed.len() - ATTRS_SHOWN));
            }
            let changed = match changed.is_empty() {
                true => changed,
                false => format!(": {changed}"),
            };
            format!("- {} {}{changed}\n", word(r.action), md_code(&r.address))
        })
        .collect();
    Fold {
        name: format!("plan {n}'s details"),
        open,
        items,
        unit: "resource changes",
        plan: Some(n),
    }
}

/// Resources as `update \`address\``, the first few, and how many more.
fn resources_named(rs: &[crate::data::summary::ResourceChange]) -> String {
    let what: Vec<String> = rs
        .iter()
        .take(PAIRS_NAMED)
        .map(|r| format!("{} {}", word(r.action), md_code(&r.address)))
        .collect();
    let more = rs.len().saturating_sub(PAIRS_NAMED);
    match more {
        0 => what.join(", "),
        n => format!("{} and {n} more", what.join(", ")),
    }
}

/// What differs apart from the change, pair by pair, labelled.
fn apart_fold(p: &Plans) -> Option<Fold> {
    if p.apart.is_empty() {
        return None;
    }
    let items = p
        .apart
        .iter()
        .map(|a| {
            // Each kind said apart (issue #52): only the first is drift.
            let mut parts = Vec::new();
            if !a.drift.is_empty() {
                parts.push(format!(
                    "drift, changed outside Terraform since the last apply (the base's own plan puts it back: {})",
                    resources_named(&a.drift)
                ));
            }
            if !a.behind.is_empty() {
                parts.push(format!(
                    "not applied yet, no drift (the base's own plan already would: {})",
                    resources_named(&a.behind)
                ));
            }
            if !a.pending.is_empty() {
                let files: Vec<String> = a.pending.iter().map(|f| md_code(f)).collect();
                parts.push(format!(
                    "the customer's own change, not applied and not planned here ({})",
                    files.join(", ")
                ));
            }
            let mut s = format!("- {}: {}", md_code(&a.unit.to_string()), parts.join("; "));
            s.push('\n');
            s
        })
        .collect();
    Some(Fold {
        name: "what differs apart from the change".into(),
        open: format!(
            "<details><summary>Apart from this change: {} on their own</summary>\n\n",
            crate::util::text::count(p.apart.len(), "pair differs", "pairs differ")
        ),
        items,
        unit: "pairs",
        plan: None,
    })
}

/// One customer's problems; the messages (which may quote a value) only
/// with values.
fn problems(b: &Broken, values: bool) -> String {
    let mut out = format!("- {}:\n", md_code(&who(b)));
    for d in &b.problems {
        let shown = match values {
            true => d.to_string(),
            false => match &d.pointer {
                Some(p) if !p.is_empty() => format!("{}: {p}", d.location),
                _ => d.location.to_string(),
            },
        };
        let _ = writeln!(out, "  - {}", md_escape(&shown));
    }
    out
}

/// One pair's changes, for its line.
fn changes(p: &PairImpact, values: bool) -> String {
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or("(unset)".into())
    };
    let mut parts: Vec<String> = p
        .values
        .iter()
        .take(KEYS_SHOWN)
        .map(|c| {
            let file = c
                .file
                .as_deref()
                .map(|f| format!(" ({})", md_code(f)))
                .unwrap_or_default();
            match values {
                true => format!(
                    "{}: {} → {}{file}",
                    md_code(&c.key),
                    md_code(&show(&c.old)),
                    md_code(&show(&c.new)),
                ),
                false => format!("{}{file}", md_code(&c.key)),
            }
        })
        .collect();
    if p.values.len() > KEYS_SHOWN {
        parts.push(format!("and {} more", p.values.len() - KEYS_SHOWN));
    }
    if p.new {
        parts.insert(0, "new pair".into());
    }
    if p.module {
        parts.push("module changed".into());
    }
    parts.join("; ")
}
