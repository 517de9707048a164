//! The fleet-wide impact of a manager change, for people: the summary
//! line, the table of pairs and what changes for each, the customers that
//! would break. The data is filled by `fleet::impact`.

use serde::Serialize;
use serde_json::Value;

use crate::config::Unit;
use crate::data::Diagnostic;

use super::markdown::{md_code_cell, md_escape};

/// One variable that changes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValueChange {
    /// JSON pointer of the variable (`/instance_type`, `/tags/team`).
    pub key: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// The file (and position) that sets the new value, or set the old one.
    pub file: Option<String>,
}

/// What changes for one pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairImpact {
    #[serde(flatten)]
    pub unit: Unit,
    /// The pair does not exist at the base (new product, environment).
    pub new: bool,
    pub values: Vec<ValueChange>,
    /// The product's root module, lock file or backend changed.
    pub module: bool,
    /// Where the customer's files came from: `deployment record` or `local`.
    pub files_from: String,
}

/// A customer whose files would stop validating at the head.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub problems: Vec<Diagnostic>,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    pub base: String,
    pub head: String,
    /// Pairs looked at (active customers × their products × environments).
    pub pairs: usize,
    /// Pairs that change, in registry order.
    pub changed: Vec<PairImpact>,
    pub broken: Vec<Broken>,
    /// Products whose root module, lock file or backend changed.
    pub modules: Vec<String>,
    /// Customers whose files could not be read (not planned either way).
    pub unreadable: Vec<Broken>,
    /// With `--plan`: the affected pairs planned at the head, grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plans: Option<Plans>,
}

/// The affected pairs' plans, grouped by what they do.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct Plans {
    pub planned: usize,
    pub groups: Vec<PlanGroup>,
    /// Pairs whose plan failed, with why.
    pub failed: Vec<(Unit, String)>,
}

/// Pairs whose plans do the same: the same actions on the same resource
/// addresses touching the same attribute paths.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PlanGroup {
    pub members: Vec<Unit>,
    /// What each member's plan does.
    pub resources: Vec<crate::data::summary::ResourceChange>,
    /// The largest counts among the members.
    pub most_destroyed: usize,
    pub most_replaced: usize,
    /// The gates' verdicts among the members (`gates 3/3`, `blocked by max_destroy`).
    pub gates: Vec<String>,
    /// The representative member's plan folder.
    pub plan_dir: String,
}

/// Groups planned pairs by what their plans do; the biggest group first.
pub fn group_plans(
    planned: Vec<(Unit, crate::data::summary::PlanSummary, String)>,
) -> Vec<PlanGroup> {
    type Key = Vec<(String, String, Vec<String>)>;
    let mut groups: Vec<(Key, PlanGroup)> = Vec::new();
    for (unit, s, dir) in planned {
        let mut key: Key = s
            .resources
            .iter()
            .map(|r| {
                (
                    r.address.clone(),
                    format!("{:?}", r.action),
                    r.changed.clone(),
                )
            })
            .collect();
        key.sort();
        let verdict = s
            .gates
            .as_ref()
            .map(|v| v.short())
            .unwrap_or_else(|| "no gates".into());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => {
                g.members.push(unit);
                g.most_destroyed = g.most_destroyed.max(s.delete + s.replace);
                g.most_replaced = g.most_replaced.max(s.replace);
                if !g.gates.contains(&verdict) {
                    g.gates.push(verdict);
                }
            }
            None => groups.push((
                key,
                PlanGroup {
                    members: vec![unit],
                    resources: s.resources.clone(),
                    most_destroyed: s.delete + s.replace,
                    most_replaced: s.replace,
                    gates: vec![verdict],
                    plan_dir: dir,
                },
            )),
        }
    }
    let mut out: Vec<PlanGroup> = groups.into_iter().map(|(_, g)| g).collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    out
}

/// The plans of several shards as one: groups with the same resource
/// changes are merged (members joined, the largest counts, every verdict).
pub fn merge_plans(shards: Vec<Plans>) -> Plans {
    let mut out = Plans::default();
    for p in shards {
        out.planned += p.planned;
        out.failed.extend(p.failed);
        for g in p.groups {
            match out.groups.iter_mut().find(|o| o.resources == g.resources) {
                Some(o) => {
                    o.members.extend(g.members);
                    o.most_destroyed = o.most_destroyed.max(g.most_destroyed);
                    o.most_replaced = o.most_replaced.max(g.most_replaced);
                    for v in g.gates {
                        if !o.gates.contains(&v) {
                            o.gates.push(v);
                        }
                    }
                }
                None => out.groups.push(g),
            }
        }
    }
    out.groups
        .sort_by_key(|g| std::cmp::Reverse(g.members.len()));
    out
}

/// The plans section of the Markdown.
fn plans_markdown(p: &Plans) -> String {
    let mut out = format!(
        "**{}, {} distinct**{}.\n\n",
        crate::util::text::count(p.planned, "plan", "plans"),
        p.groups.len(),
        if p.failed.is_empty() {
            String::new()
        } else {
            format!(", **{} failed**", p.failed.len())
        }
    );
    for (i, g) in p.groups.iter().enumerate() {
        let members: Vec<String> = g
            .members
            .iter()
            .map(|u| md_code_cell(&u.to_string()))
            .collect();
        out.push_str(&format!(
            "<details><summary>Plan {} ({}): {}, at most {} destroyed, {} replaced; {}</summary>\n\n",
            i + 1,
            crate::util::text::count(g.members.len(), "pair", "pairs"),
            crate::util::text::count(g.resources.len(), "resource change", "resource changes"),
            g.most_destroyed,
            g.most_replaced,
            md_escape(&g.gates.join(", "))
        ));
        out.push_str(&format!("Pairs: {}\n\n", members.join(", ")));
        if !g.resources.is_empty() {
            out.push_str("| action | address | attributes |\n|---|---|---|\n");
            for r in &g.resources {
                out.push_str(&format!(
                    "| {:?} | {} | {} |\n",
                    r.action,
                    md_code_cell(&r.address),
                    md_code_cell(&r.changed.join(", "))
                ));
            }
            out.push('\n');
        }
        out.push_str("</details>\n\n");
    }
    for (u, why) in &p.failed {
        out.push_str(&format!(
            "- {} failed: {}\n",
            md_code_cell(&u.to_string()),
            md_escape(why)
        ));
    }
    out
}

impl Impact {
    /// The answer without the values (old and new) and without schema
    /// messages (which may quote a value): what may be kept where every
    /// reader of the manager repo can read it, like a workflow artifact.
    pub fn without_values(mut self) -> Impact {
        for p in &mut self.changed {
            for v in &mut p.values {
                v.old = None;
                v.new = None;
            }
        }
        for b in self.broken.iter_mut().chain(self.unreadable.iter_mut()) {
            for d in &mut b.problems {
                d.message =
                    "fails the head schema (run impact --show-values locally for the message)"
                        .into();
            }
        }
        self
    }
}

/// Longest list of changed keys shown per pair in the table.
const KEYS_SHOWN: usize = 5;

/// The impact as Markdown (terminal and step summary alike).
///
/// The values themselves (old → new) only with `values`: a customer's
/// values are the customer's, and the comment, the step summary and the
/// log of a manager repo are read by everyone who can read that repo. By
/// default a changed key shows the file and position that set it.
pub fn markdown(i: &Impact, values: bool) -> String {
    markdown_listing(i, usize::MAX, values)
}

/// The Markdown with at most `listed` changed pairs in the table (the
/// counts always of all of them).
fn markdown_listing(i: &Impact, listed: usize, values: bool) -> String {
    let mut out = format!(
        "### fleetform impact: {} → {}\n\n",
        md_code_cell(&i.base),
        md_code_cell(&i.head)
    );
    let by_values = i.changed.iter().filter(|p| !p.values.is_empty()).count();
    let by_module = i.changed.iter().filter(|p| p.module).count();
    out.push_str(&format!(
        "**{} of {} pairs change**: {by_values} by their variables, {by_module} by their module{}.",
        i.changed.len(),
        i.pairs,
        if i.modules.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                i.modules
                    .iter()
                    .map(|m| if m.is_empty() {
                        "the root module".to_string()
                    } else {
                        md_code_cell(m)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    if !i.broken.is_empty() {
        out.push_str(&format!(
            " **{} would stop validating.**",
            crate::util::text::count(i.broken.len(), "customer", "customers")
        ));
    }
    out.push_str("\n\n");
    if !i.changed.is_empty() {
        out.push_str("| pair | what changes |\n|---|---|\n");
        for p in i.changed.iter().take(listed) {
            out.push_str(&format!(
                "| {} | {} |\n",
                md_code_cell(&p.unit.to_string()),
                changes(p, values)
            ));
        }
        out.push('\n');
        if listed < i.changed.len() {
            out.push_str(&format!(
                "> [!NOTE]\n> Only the first {listed} of {} changed pairs are listed here.\n\n",
                i.changed.len()
            ));
        }
    }
    if let Some(p) = &i.plans {
        out.push_str(&plans_markdown(p));
    }
    for b in i.broken.iter().chain(&i.unreadable) {
        let who = match &b.product {
            Some(p) => format!("{}/{p}", b.customer),
            None => b.customer.clone(),
        };
        out.push_str(&format!("- {}:\n", md_code_cell(&who)));
        for d in &b.problems {
            // The message may quote the customer's value: only with values.
            let shown = if values {
                d.to_string()
            } else {
                match &d.pointer {
                    Some(p) if !p.is_empty() => format!("{}: {p}", d.location),
                    _ => d.location.to_string(),
                }
            };
            out.push_str(&format!("  - {}\n", md_escape(&shown)));
        }
    }
    out
}

/// One pair's changes for its table cell.
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
                .map(|f| format!(" ({})", md_code_cell(f)))
                .unwrap_or_default();
            if values {
                format!(
                    "{}: {} → {}{file}",
                    md_code_cell(&c.key),
                    md_code_cell(&show(&c.old)),
                    md_code_cell(&show(&c.new)),
                )
            } else {
                format!("{}{file}", md_code_cell(&c.key))
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

/// The marker of the sticky impact comment on a manager pull request.
pub const MARKER: &str = "<!-- fleetform:impact -->";

/// The comment on the manager pull request: the answer, cut between pairs
/// (with a notice) to stay under GitHub's 65,536 characters.
pub fn comment(i: &Impact, run_url: Option<&str>) -> String {
    let tail = match run_url {
        Some(u) => format!(
            "\nThe whole answer is in the {}.\n",
            super::markdown::link("run's summary", u)
        ),
        None => String::new(),
    };
    let mut listed = i.changed.len();
    loop {
        let body = format!("{MARKER}\n{}{tail}", markdown_listing(i, listed, false));
        if body.len() <= super::comment::COMMENT_LIMIT || listed == 0 {
            return body;
        }
        listed = listed * 3 / 4;
    }
}

/// The status on the pull request's head: state and description.
pub fn verdict(i: &Impact) -> (&'static str, String) {
    let failed = i.plans.as_ref().map_or(0, |p| p.failed.len());
    let blocked = i.plans.as_ref().map_or(0, |p| {
        p.groups
            .iter()
            .filter(|g| g.gates.iter().any(|v| v.starts_with("blocked")))
            .count()
    });
    if !i.broken.is_empty() || failed > 0 || blocked > 0 {
        return (
            "failure",
            format!(
                "{} would break, {} failed, {} blocked by gates",
                crate::util::text::count(i.broken.len(), "customer", "customers"),
                crate::util::text::count(failed, "plan", "plans"),
                crate::util::text::count(blocked, "group", "groups")
            ),
        );
    }
    (
        "success",
        format!("{} of {} pairs change", i.changed.len(), i.pairs),
    )
}
