//! The audit report: what the audit log records since a time, summed up
//! (applies per customer, approved applies, refusals, failures, waivers,
//! registry changes) and rendered as Markdown. Records are read from a
//! file: any text renders without breaking the tables.

use std::collections::BTreeMap;

use serde::Serialize;

use super::markdown::{folded, md_code_cell, md_escape};
use crate::audit::{apply_of, Apply, Approval, Entry};

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub records: usize,
    /// Applies that applied, per customer (see [`crate::audit::apply_of`]).
    pub applies_per_customer: BTreeMap<String, usize>,
    /// Applies that failed, per customer.
    pub failed_applies_per_customer: BTreeMap<String, usize>,
    /// Every apply that applied: a customer's dispatch, a rollout's tick,
    /// a rollback or by hand.
    pub applies: Vec<Entry>,
    /// `applies`, counted by how each was let through (`approved`,
    /// `automatic`, `local`).
    pub applies_by_approval: BTreeMap<&'static str, usize>,
    pub refusals: Vec<Entry>,
    /// Applies that failed.
    pub failed_applies: Vec<Entry>,
    /// Every failure: the failed applies and what failed before anything
    /// was applied (a plan, a drift check, a sync, a rollout's pair).
    pub failures: Vec<Entry>,
    pub waivers: Vec<Entry>,
    pub registry_changes: Vec<Entry>,
}

impl Summary {
    /// An empty summary of the records since `since` (a UTC time as
    /// `YYYY-MM-DDTHH:MM:SSZ`, compared as text like the log's times).
    pub fn new(since: Option<&str>) -> Self {
        Summary {
            since: since.map(str::to_string),
            ..Summary::default()
        }
    }

    /// Counts one record in; only what the report shows is kept.
    pub fn add(&mut self, e: Entry) {
        if self.since.as_deref().is_some_and(|t| e.time.as_str() < t) {
            return;
        }
        self.records += 1;
        if let Some(apply) = crate::audit::apply_of(&e) {
            let customer = e.customer.clone().unwrap_or_default();
            if apply.ok {
                *self.applies_per_customer.entry(customer).or_default() += 1;
                *self
                    .applies_by_approval
                    .entry(apply.approval.as_str())
                    .or_default() += 1;
                self.applies.push(e);
            } else {
                *self
                    .failed_applies_per_customer
                    .entry(customer)
                    .or_default() += 1;
                self.failed_applies.push(e.clone());
                self.failures.push(e);
            }
            return;
        }
        match (e.action.as_str(), e.result.as_str()) {
            ("refusal", _) => self.refusals.push(e),
            ("waiver", _) => self.waivers.push(e),
            ("registry", _) => self.registry_changes.push(e),
            (_, "failed") => self.failures.push(e),
            _ => {}
        }
    }
}

/// Summarises records already in memory (see [`Summary::add`]).
pub fn summarise(entries: Vec<Entry>, since: Option<&str>) -> Summary {
    let mut s = Summary::new(since);
    for e in entries {
        s.add(e);
    }
    s
}

/// The first 12 characters of a digest as a code span (records are read
/// from a file: any text, any length).
fn short_digest(v: &str) -> String {
    md_code_cell(&v.chars().take(12).collect::<String>())
}

/// One record as a line of a list: when, the pair, who, then what the
/// record adds (`extra`: how it was started and approved), the commit and
/// plan (short digests) and the detail. A line wraps on a phone where a
/// table of nine columns scrolls sideways.
fn line(e: &Entry, extra: &[String]) -> String {
    let pair = match (&e.customer, &e.environment) {
        (Some(c), Some(env)) => format!("{} in {}", md_escape(c), md_escape(env)),
        (Some(c), None) => md_escape(c),
        (None, Some(env)) => md_escape(env),
        (None, None) => "no customer".into(),
    };
    let mut parts = vec![who(e)];
    parts.extend(extra.iter().cloned());
    let digests: Vec<String> = [("commit", &e.sha), ("plan", &e.plan_sha256)]
        .into_iter()
        .filter_map(|(what, v)| v.as_deref().map(|d| format!("{what} {}", short_digest(d))))
        .collect();
    if !digests.is_empty() {
        parts.push(digests.join(", "));
    }
    let detail = e
        .detail
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| format!(": {}", md_escape(d)))
        .unwrap_or_default();
    format!(
        "- {}, {pair}: {}{detail}\n",
        md_escape(&e.time),
        parts.join("; ")
    )
}

/// One section's list of records.
fn section(m: &mut String, title: &str, rows: &[&Entry]) {
    use std::fmt::Write as _;
    let _ = write!(m, "\n## {title}\n\n");
    if rows.is_empty() {
        m.push_str("None.\n");
        return;
    }
    let t: String = rows.iter().map(|e| line(e, &[])).collect();
    m.push_str(&folded(
        rows.len(),
        &crate::util::text::count(rows.len(), "record", "records"),
        &t,
    ));
}

fn who(e: &Entry) -> String {
    match &e.triggering_actor {
        Some(t) => format!("{} (run by {})", md_escape(&e.actor), md_escape(t)),
        None => md_escape(&e.actor),
    }
}

/// A list of applies: what started each (dispatch, rollout, rollback,
/// by hand) and, for approved ones, who approved.
fn apply_section(m: &mut String, title: &str, note: &str, rows: &[(&Entry, Apply)]) {
    use std::fmt::Write as _;
    let _ = write!(m, "\n## {title}\n\n{note}\n\n");
    if rows.is_empty() {
        m.push_str("None.\n");
        return;
    }
    let t: String = rows
        .iter()
        .map(|(e, a)| {
            let mut extra = vec![format!("started by {}", a.trigger.as_str())];
            if !e.approvers.is_empty() {
                let names: Vec<String> = e.approvers.iter().map(|n| md_escape(n)).collect();
                extra.push(format!("approved by {}", names.join(", ")));
            }
            line(e, &extra)
        })
        .collect();
    m.push_str(&folded(
        rows.len(),
        &crate::util::text::count(rows.len(), "apply", "applies"),
        &t,
    ));
}

/// The applies of `s` let through as `approval`.
fn applies_of(s: &Summary, approval: Approval) -> Vec<(&Entry, Apply)> {
    s.applies
        .iter()
        .filter_map(|e| apply_of(e).map(|a| (e, a)))
        .filter(|(_, a)| a.approval == approval)
        .collect()
}

pub fn markdown(s: &Summary) -> String {
    markdown_with(s, "")
}

/// The report with `header` (Markdown, e.g. the evidence's) right after
/// the title.
pub fn markdown_with(s: &Summary, header: &str) -> String {
    use std::fmt::Write as _;
    let mut m = format!(
        "# fleetform audit report{}{}\n\n{header}{}{} records.\n\n## Applies per customer\n\n",
        s.since
            .as_deref()
            .map(|t| format!(" since {t}"))
            .unwrap_or_default(),
        s.until
            .as_deref()
            .map(|t| format!(" until {t}"))
            .unwrap_or_default(),
        if header.is_empty() { "" } else { "\n\n" },
        s.records
    );
    let customers: std::collections::BTreeSet<&String> = s
        .applies_per_customer
        .keys()
        .chain(s.failed_applies_per_customer.keys())
        .collect();
    if customers.is_empty() {
        m.push_str("None.\n");
    } else {
        let mut t = String::from("| customer | applied | failed |\n|---|---|---|\n");
        for c in &customers {
            let n = |map: &BTreeMap<String, usize>| map.get(*c).copied().unwrap_or(0);
            let _ = writeln!(
                t,
                "| {} | {} | {} |",
                md_code_cell(c),
                n(&s.applies_per_customer),
                n(&s.failed_applies_per_customer)
            );
        }
        let summary = format!(
            "{} with their applies and failed applies",
            crate::util::text::count(customers.len(), "customer", "customers")
        );
        m.push_str(&folded(customers.len(), &summary, &t));
    }
    m.push_str("\nAn apply is a customer's dispatch, a rollout's tick or a rollback that ran `terraform apply`, or `fleetform apply` by hand.\n");
    apply_section(
        &mut m,
        "Approved applies (who approved what)",
        "Approved on the pull request (`approvals:`) or by a reviewer of the run's deployment.",
        &applies_of(s, Approval::Approved),
    );
    apply_section(
        &mut m,
        "Automatic applies",
        "Applied on GitHub Actions without an approval: the environment has `auto_apply: true`.",
        &applies_of(s, Approval::Automatic),
    );
    apply_section(
        &mut m,
        "Local applies",
        "Run by hand outside GitHub Actions (`fleetform apply`, a rollout tick on a workstation): nobody approved them in fleetform.",
        &applies_of(s, Approval::Local),
    );
    apply_section(
        &mut m,
        "Unreviewed applies",
        "Run by hand outside GitHub Actions with `--unreviewed` (a rollout tick on a workstation): a change that needs a second person, made by one.",
        &applies_of(s, Approval::Unreviewed),
    );
    let refusals: Vec<&Entry> = s.refusals.iter().collect();
    section(&mut m, "Refusals", &refusals);
    let failed: Vec<&Entry> = s.failed_applies.iter().collect();
    section(&mut m, "Failed applies", &failed);
    let other: Vec<&Entry> = s
        .failures
        .iter()
        .filter(|e| apply_of(e).is_none())
        .collect();
    section(
        &mut m,
        "Other failures (nothing was applied: plans, drift checks, syncs, rollout pairs)",
        &other,
    );
    let waivers: Vec<&Entry> = s.waivers.iter().collect();
    section(&mut m, "Waivers", &waivers);
    let registry: Vec<&Entry> = s.registry_changes.iter().collect();
    section(&mut m, "Registry changes", &registry);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records come from a file: multi-byte shas and any text render
    /// without a panic and without breaking the table.
    #[test]
    fn hostile_records_render() {
        let e = Entry {
            time: "2026-11-01T00:00:00Z".into(),
            action: "apply".into(),
            actor: "a|b\n# x".into(),
            customer: Some("c`|d".into()),
            result: "ok".into(),
            sha: Some(format!("a{}", "é".repeat(30))),
            plan_sha256: Some("`|\n".repeat(10)),
            ..Entry::default()
        };
        let m = markdown(&summarise(vec![e], None));
        assert!(m.contains("`aééééééééééé`"), "{m}");
        // Cell borders: `|` not escaped by a backslash.
        let borders = |l: &str| {
            let b = l.as_bytes();
            (0..b.len())
                .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
                .count()
        };
        let rows: Vec<&str> = m.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 3, "{m}");
        assert!(rows.iter().all(|l| borders(l) == 4), "{m}");
        // The apply: one line of the list, nothing of it a heading.
        let applies: Vec<&str> = m.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(applies.len(), 1, "{m}");
        assert!(applies[0].contains("a\\|b"), "{m}");
        assert!(!m.lines().any(|l| l.starts_with("# x")), "{m}");
        // No run: by hand, not approved.
        assert!(m.contains("## Local applies"), "{m}");
        let approved = m.split("## Approved applies").nth(1).unwrap();
        assert!(
            approved.split("\n## ").next().unwrap().contains("None."),
            "{m}"
        );
    }

    /// A month of applies: past twenty rows a table is folded under its
    /// count, so the sections after it stay near the first screen; twenty
    /// stay in the open.
    #[test]
    fn long_tables_fold_under_their_count() {
        let applies = |n: usize| -> Vec<Entry> {
            (0..n)
                .map(|i| Entry {
                    time: format!("2026-11-01T00:00:{:02}Z", i % 60),
                    action: "apply".into(),
                    actor: "octocat".into(),
                    customer: Some(format!("c{i}")),
                    result: "ok".into(),
                    ..Entry::default()
                })
                .collect()
        };
        let m = markdown(&summarise(applies(20), None));
        assert!(!m.contains("<details>"), "{m}");
        let m = markdown(&summarise(applies(21), None));
        assert!(
            m.contains("<details><summary>21 customers with their applies and failed applies</summary>\n\n| customer |"),
            "{m}"
        );
        assert!(
            m.contains("<details><summary>21 applies</summary>\n\n- 2026-11-01T00:00:00Z, c0: octocat; started by"),
            "{m}"
        );
        assert_eq!(m.matches("</details>").count(), 2, "{m}");
    }
}
