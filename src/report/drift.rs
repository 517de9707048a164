//! The drift report: the tally of a drift run (`drift-report.json`), its
//! Markdown (`drift-report.md`, also the job's step summary) and the text
//! of the sticky drift issues.

use serde::Serialize;

use super::markdown::{link, md_code, md_code_cell, md_escape};
use super::table::{Outcome, Row};

/// What a drift run found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub checked: usize,
    /// Pairs whose cloud changed outside Terraform since the last apply
    /// (the plan's refresh found it): drift, exit code 4.
    pub drifted: Vec<Row>,
    /// Pairs whose plan changes only because their configuration (the
    /// customer's files or the manager's) differs from what was last
    /// applied: edits not applied yet, not drift (exit 0).
    #[serde(default)]
    pub unapplied: Vec<Row>,
    /// Pairs drifted in the cloud whose every cause the provider accepted
    /// (`drift.accepted`, not expired): reported as such, not drift for
    /// the exit code, never repaired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Row>,
    /// The run's drift by cause, most customers first (see
    /// [`super::drift_causes`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<super::drift_causes::Cause>,
    /// What the run does about each pair drifted in the cloud, by the
    /// environment's `drift.repair` policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<super::drift_causes::Repair>,
    /// Pairs whose state holds nothing yet: their plan is a first apply,
    /// not drift (no issue, no notification, exit 0).
    pub never_applied: Vec<Row>,
    pub errors: Vec<Row>,
    pub clean: usize,
    pub skipped: usize,
    /// GitHub API requests the run sent (filled in by the caller).
    pub requests: usize,
    /// Of those, reads GitHub answered 304 Not Modified (`--etag-cache`;
    /// not counted against the primary rate limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_modified: usize,
    /// Each drifted customer's issue, as a URL (filled in by the caller
    /// when it keeps drift issues).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub issues: std::collections::BTreeMap<String, String>,
    /// Issue writes not made this run (GitHub's write budget or the
    /// deadline), in the order they were due: `customer: open|close|update`.
    /// The next run makes them (issues are found by their marker, so none
    /// is written twice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<String>,
    /// Issue writes that failed (`customer: open|close|update: why`); the
    /// others were still made, and the next run tries these again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issue_errors: Vec<String>,
    /// The customers with a pair planned in this run (drifted, never
    /// applied or clean), sorted: a customer among them with no drift and
    /// no failed pair has its drift issue closed. Merging shards' reports
    /// (`drift --from-reports`) reads it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_customers: Vec<String>,
    /// Every pair this run reported on (`customer/environment`, whatever
    /// its outcome), sorted: merging shards' reports finds the pairs whose
    /// shard wrote no report (it failed or was cancelled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reported_pairs: Vec<String>,
    /// The run that checked (filled in by the caller under Actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Report {
    /// Sorts a fleet run's rows: planned with changes is drift (or, from a
    /// state without resources, never applied), planned without is clean,
    /// failed is an error; skipped pairs are not checked. The rows kept
    /// carry opaque addresses (`super::opaque`): the report is uploaded
    /// in the manager repo and its issues are written from it.
    pub fn tally(rows: &[Row]) -> Report {
        let mut report = Report {
            checked: 0,
            drifted: Vec::new(),
            unapplied: Vec::new(),
            accepted: Vec::new(),
            causes: Vec::new(),
            repairs: Vec::new(),
            never_applied: Vec::new(),
            errors: Vec::new(),
            clean: 0,
            skipped: 0,
            requests: 0,
            not_modified: 0,
            issues: Default::default(),
            deferred: Vec::new(),
            issue_errors: Vec::new(),
            planned_customers: Vec::new(),
            reported_pairs: Vec::new(),
            run_url: None,
        };
        let mut planned = std::collections::BTreeSet::new();
        let mut reported = std::collections::BTreeSet::new();
        for r in rows {
            reported.insert(format!("{}/{}", r.customer, r.environment));
            match &r.outcome {
                Outcome::Planned { summary, .. } => {
                    report.checked += 1;
                    planned.insert(r.customer.clone());
                    if summary.has_changes && summary.never_applied {
                        report.never_applied.push(opaque_row(r));
                    } else if summary.has_changes && !summary.cloud_drift.is_empty() {
                        report.drifted.push(opaque_row(r));
                    } else if summary.has_changes {
                        report.unapplied.push(opaque_row(r));
                    } else {
                        report.clean += 1;
                    }
                }
                Outcome::Failed { .. } => {
                    report.checked += 1;
                    report.errors.push(r.clone());
                }
                Outcome::Skipped { .. } => report.skipped += 1,
            }
        }
        report.planned_customers = planned.into_iter().collect();
        report.reported_pairs = reported.into_iter().collect();
        report
    }

    /// The pairs a drift issue lists: drifted in the cloud, then those
    /// with edits not applied yet (the issue says which is which).
    pub fn changed(&self) -> impl Iterator<Item = &Row> {
        self.drifted
            .iter()
            .chain(&self.accepted)
            .chain(&self.unapplied)
    }

    /// The customers whose drift issue closes: planned, with no drift, no
    /// edits not applied yet and no failed pair.
    pub fn clean_customers(&self) -> Vec<&str> {
        let unclean: std::collections::BTreeSet<&str> = self
            .changed()
            .chain(&self.errors)
            .map(|r| r.customer.as_str())
            .collect();
        self.planned_customers
            .iter()
            .map(String::as_str)
            .filter(|c| !unclean.contains(c))
            .collect()
    }
}

/// The row with its plan's resources opaque.
fn opaque_row(row: &Row) -> Row {
    let mut row = row.clone();
    if let Outcome::Planned { summary, .. } = &mut row.outcome {
        summary.resources = super::opaque::resources(&summary.resources);
        summary.cloud_drift = super::opaque::resources(&summary.cloud_drift);
    }
    row
}

/// The hidden marker that finds a customer's drift issue.
pub fn marker(customer: &str) -> String {
    format!("<!-- fleetform:drift customer={customer} -->")
}

/// The customer whose drift issue `body` is (its [`marker`]).
pub fn marked_customer(body: &str) -> Option<&str> {
    let start = "<!-- fleetform:drift customer=";
    let rest = &body[body.find(start)? + start.len()..];
    let customer = &rest[..rest.find(" -->")?];
    crate::config::is_slug(customer).then_some(customer)
}

/// The note closing the drift issue of a customer the registry no longer
/// has active.
pub fn retired_note(customer: &str) -> String {
    format!("`{customer}` is no longer an active customer in the registry: fleetform no longer checks it for drift, and closes this issue.")
}

/// Rows listed per table of a drift issue at most; the rest are counted.
pub const ISSUE_ROWS: usize = super::lists::LIST_LINES;

/// The report as Markdown (`drift-report.md` and the step summary): the
/// tally, then a row per drifted or failed pair with its counts as one
/// code span (never wrapped), its issue and the run.
pub fn markdown(report: &Report) -> String {
    let mut s = String::from("## fleetform drift\n\n");
    // Changed outside Terraform apart from edits not applied yet (the
    // README's vocabulary): both change infrastructure when applied, only
    // the first is drift.
    let in_cloud = report.drifted.len();
    let unapplied = report.unapplied.len();
    let accepted = match report.accepted.len() {
        0 => String::new(),
        n => format!(" · {n} with drift accepted"),
    };
    s.push_str(&format!(
        "{} checked · **{} drifted**{accepted} · {} with edits not applied yet · {} failed · {} clean · {} never applied · {} skipped",
        report.checked,
        in_cloud,
        unapplied,
        report.errors.len(),
        report.clean,
        report.never_applied.len(),
        report.skipped
    ));
    if let Some(u) = &report.run_url {
        s.push_str(&format!(" · {}", link("run", u)));
    }
    s.push_str("\n\n");
    if !report.deferred.is_empty() {
        s.push_str(&format!(
            "**{} issue writes deferred** to the next run (GitHub's write budget or the deadline): {}\n\n",
            report.deferred.len(),
            md_escape(&report.deferred.join(", "))
        ));
    }
    if report.changed().next().is_none()
        && report.errors.is_empty()
        && report.never_applied.is_empty()
    {
        return s;
    }
    // By cause first (a few lines for a fleet-wide change), then what the
    // policies do about it, then the pairs: at hundreds of pairs their
    // table is folded, so the causes are on the first screen.
    s.push_str(&super::drift_causes::markdown(
        &report.causes,
        &report.issues,
    ));
    s.push_str(&super::drift_causes::repairs_markdown(&report.repairs));
    let rows = report.changed().count() + report.errors.len() + report.never_applied.len();
    if rows > FOLD_PAIRS {
        s.push_str(&format!(
            "\n<details><summary>Pairs ({rows}): each drifted, changed, failed or never applied pair with its plan and issue</summary>\n\n{}\n</details>\n",
            table(report)
        ));
    } else {
        s.push_str(&table(report));
    }
    s
}

/// Pairs shown in the open; more are folded under their count.
const FOLD_PAIRS: usize = 20;

/// A row per drifted, accepted, unapplied, failed or never applied pair.
fn table(report: &Report) -> String {
    let mut s = String::new();
    let accepted: std::collections::BTreeSet<(&str, &str)> = report
        .accepted
        .iter()
        .map(|r| (r.customer.as_str(), r.environment.as_str()))
        .collect();
    s.push_str("| customer | environment | plan | result | issue |\n|---|---|---|---|---|\n");
    for r in report
        .changed()
        .chain(&report.errors)
        .chain(&report.never_applied)
    {
        let (counts, what) = match &r.outcome {
            Outcome::Planned { summary, .. } if summary.never_applied => (
                format!("`{}`", summary.counts()),
                "never applied".to_string(),
            ),
            Outcome::Planned { summary, .. }
                if accepted.contains(&(r.customer.as_str(), r.environment.as_str())) =>
            {
                (
                    format!("`{}`", summary.counts()),
                    "drift accepted (see the causes)".to_string(),
                )
            }
            Outcome::Planned { summary, .. } if !summary.cloud_drift.is_empty() => (
                format!("`{}`", summary.counts()),
                "drift: changed outside Terraform".to_string(),
            ),
            Outcome::Planned { summary, .. } => (
                format!("`{}`", summary.counts()),
                "edits not applied yet (no drift)".to_string(),
            ),
            Outcome::Failed { error, .. } => ("-".into(), format!("error: {}", md_escape(error))),
            Outcome::Skipped { reason } => ("-".into(), md_escape(reason)),
        };
        let issue = report
            .issues
            .get(&r.customer)
            .map(|u| link(&format!("#{}", u.rsplit('/').next().unwrap_or("issue")), u))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "| {} | {} | {counts} | {what} | {issue} |\n",
            md_code_cell(&r.customer),
            md_code_cell(&r.environment)
        ));
    }
    s
}

/// Whether a planned row found the cloud changed outside Terraform (not
/// only configuration not applied yet).
fn changed_outside(r: &Row) -> bool {
    matches!(&r.outcome, Outcome::Planned { summary, .. } if !summary.cloud_drift.is_empty())
}

/// The title of a customer's drift issue: `Drift: …` when the cloud
/// changed outside Terraform in one of its environments, else `Not
/// applied yet: …` (its own edits only, no drift: the README's
/// vocabulary, one meaning per word).
pub fn issue_title(customer: &str, rows: &[&Row]) -> String {
    match rows.iter().any(|r| changed_outside(r)) {
        true => format!("Drift: {customer}"),
        false => format!("Not applied yet: {customer}"),
    }
}

/// The body of a customer's drift issue: per drifted environment,
/// Terraform's counts, what changed in the cloud and what is not applied
/// yet, each resource with its changed attributes (no values), grouped by
/// action (destroys first), every address opaque (`super::opaque`: the
/// issue is in the manager repo, and `for_each` keys can be customer
/// values; resources that read the same are one row with their count) and
/// escaped as in the PR comment, and how many rows were left out.
pub fn issue_body(customer: &str, rows: &[&Row], run_url: Option<&str>) -> String {
    let found = if rows.iter().any(|r| changed_outside(r)) {
        "found drift for"
    } else {
        "found no drift in the cloud, but edits not applied yet, for"
    };
    let mut s = format!(
        "{}\nfleetform {found} {}: applying the default branch would change infrastructure. Resource keys are hidden here (`[…]`): they can hold customer values.\n",
        marker(customer),
        md_code(customer)
    );
    for r in rows {
        if let Outcome::Planned { summary, .. } = &r.outcome {
            s.push_str(&environment_section(&r.environment, summary));
        }
    }
    s.push_str("\nAttributes are named without their values: this issue is readable by everyone with access to the manager repo.\n");
    if let Some(u) = run_url {
        s.push_str(&format!("\nDetected by {}.\n", link("this run", u)));
    }
    s
}

/// Whether the issue body `existing` says what [`issue_body`] would say
/// for these rows, whichever run it names: an issue is not rewritten only
/// to name a newer run (a write each run for every drifted customer).
pub fn same_drift(existing: &str, customer: &str, rows: &[&Row]) -> bool {
    let fresh = issue_body(customer, rows, None);
    let content = match existing.rfind("\nDetected by ") {
        Some(at) => &existing[..at],
        None => existing,
    };
    content == fresh
}

/// Attribute names shown per row at most; the rest are counted.
const ATTRIBUTES_SHOWN: usize = 12;

/// A row's changed attributes as code spans, at their top level (the
/// provider schema's names; deeper segments can be map keys), values left
/// out.
fn attributes(changed: &[String]) -> String {
    if changed.is_empty() {
        return "-".into();
    }
    let mut shown: Vec<String> = changed
        .iter()
        .take(ATTRIBUTES_SHOWN)
        .map(|p| {
            let name = p
                .trim_start_matches('/')
                .replace("~1", "/")
                .replace("~0", "~");
            md_code(if name.is_empty() { "(whole)" } else { &name })
        })
        .collect();
    if changed.len() > ATTRIBUTES_SHOWN {
        shown.push(format!("and {} more", changed.len() - ATTRIBUTES_SHOWN));
    }
    shown.join(", ")
}

/// What the cloud did to a resource, as the README's vocabulary says it
/// (never a plan action: the plan's `destroy` and a deletion in the cloud
/// are not one thing).
pub fn cloud_event(a: crate::data::summary::Action) -> &'static str {
    use crate::data::summary::Action;
    match a {
        Action::Delete => "deleted outside Terraform — applying creates it again",
        Action::Create => "created outside Terraform",
        _ => "changed outside Terraform",
    }
}

/// The changes with opaque addresses, a line each (it fits a phone),
/// grouped by action (destroys first), at most [`ISSUE_ROWS`] lines and
/// how many were left out: what happened (`cloud`: the cloud's event, else
/// the plan's action), the address, how many resources, the attributes.
fn changes_table(rows: &[crate::data::summary::ResourceChange], cloud: bool) -> String {
    let mut s = String::new();
    let lines = super::opaque::lines(rows);
    // Runs of `count` indexes are one row, the most destructive first.
    let items = super::lists::collapse(
        lines
            .iter()
            .map(|l| (l.action, l.address.as_str(), l.count)),
    );
    let (shown, rest) = super::lists::capped(&items);
    for i in shown {
        let label = match (
            cloud,
            super::comment::GROUPS.iter().find(|g| g.0 == i.action),
        ) {
            (true, _) => cloud_event(i.action),
            (false, Some(g)) => g.1,
            (false, None) => i.action.word(),
        };
        let mut changed: Vec<String> = i
            .sources
            .iter()
            .flat_map(|at| lines[*at].changed.iter().cloned())
            .collect();
        changed.sort();
        changed.dedup();
        let attributes = match changed.is_empty() {
            true => String::new(),
            false => format!(": attributes {}", attributes(&changed)),
        };
        s.push_str(&format!(
            "- {label}: {} ({}){attributes}\n",
            md_code(&i.address),
            crate::util::text::count(i.count, "resource", "resources"),
        ));
    }
    if rest > 0 {
        s.push_str(&format!(
            "\n… and {rest} more: {} resources in all.\n",
            rows.len()
        ));
    }
    s
}

/// One environment of a drift issue: what changed in the cloud (the
/// plan's refresh found it changed outside Terraform), then what applying
/// would change because the configuration is not what was applied (edits
/// of the customer's files or the manager's not applied yet), apart.
fn environment_section(environment: &str, summary: &crate::data::summary::PlanSummary) -> String {
    let mut s = format!(
        "\n### {}: {}\n",
        md_code(environment),
        super::comment::totals(summary)
    );
    let cloud: Vec<_> = summary.cloud_drift.to_vec();
    let edits: Vec<_> = summary
        .resources
        .iter()
        .filter(|r| !summary.cloud_drift.iter().any(|d| d.address == r.address))
        .cloned()
        .collect();
    if !cloud.is_empty() {
        s.push_str(&format!(
            "\n**Changed outside Terraform** ({}): the cloud no longer matches the last apply; applying puts it back.\n\n",
            crate::util::text::count(cloud.len(), "resource", "resources")
        ));
        s.push_str(&changes_table(&cloud, true));
    }
    if !edits.is_empty() {
        s.push_str(&format!(
            "\n**Not applied yet** ({}): the configuration differs from what was last applied (the customer's files or the manager's changed since); not drift in the cloud.\n\n",
            crate::util::text::count(edits.len(), "resource", "resources")
        ));
        s.push_str(&changes_table(&edits, false));
    }
    s
}

/// The comment that closes a customer's drift issue.
/// Whether `comment` is the [`gone_note`] of `customer`, whichever run
/// wrote it.
pub fn is_gone_note(comment: &str, customer: &str) -> bool {
    let bare = gone_note(customer, None);
    let stem = bare.trim_end_matches('.');
    comment == bare || comment.starts_with(&format!("{stem} ("))
}

pub fn gone_note(customer: &str, run_url: Option<&str>) -> String {
    format!(
        "The drift is gone: every environment of `{customer}` plans without changes{}.",
        run_url
            .map(|u| format!(" ({})", link("run", u)))
            .unwrap_or_default()
    )
}
