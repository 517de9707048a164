//! Drift by cause across the fleet: the same change the cloud made (one
//! resource type, one top-level attribute, one kind of change) in many
//! customers is one cause, with its customers, environments, since when it
//! is seen and its pairs; and what the drift run does about each drifted
//! pair by the environment's policy (report, propose, repair). Plain data
//! (filled in by `fleet::drift_causes`) and how it reads: a section of the
//! drift report, the manager repo's cause issues.
//!
//! No value of a customer is ever shown: a cause names the provider
//! schema's attribute and how it changed; the only value shown is a
//! boolean (`set to false`).

use serde::{Deserialize, Serialize};

use super::markdown::{link, md_code, md_code_cell, md_escape};

/// One cause of drift across the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// `aws_s3_bucket.versioning:set-false`, `aws_s3_bucket:deleted`: what
    /// `drift.accepted` names.
    pub id: String,
    pub resource_type: String,
    /// The top-level attribute (`/versioning`); none for a resource
    /// deleted (or otherwise changed whole) outside Terraform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The change in words: `set to false`, `elements added`, `deleted
    /// outside Terraform`.
    pub change: String,
    /// Distinct customers with the cause.
    pub customers: usize,
    /// Distinct environments, sorted.
    pub environments: Vec<String>,
    /// When a drift run first saw it (RFC 3339), across runs while it
    /// lasts: this run's time when it is new.
    pub since: String,
    pub pairs: Vec<CausePair>,
    /// Its issue in the manager repo, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
}

/// One customer × environment with a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausePair {
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// Its resources with the cause.
    pub resources: usize,
    /// `until <date>: <reason>` when the provider accepted the cause for
    /// this pair (`drift.accepted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
    /// The acceptance ran out (`until` passed): drift again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

impl CausePair {
    /// `customer/environment` or `customer/product/environment`.
    pub fn place(&self) -> String {
        match &self.product {
            Some(p) => format!("{}/{p}/{}", self.customer, self.environment),
            None => format!("{}/{}", self.customer, self.environment),
        }
    }

    /// Accepted, and not expired.
    pub fn is_accepted(&self) -> bool {
        self.accepted.is_some() && !self.expired
    }
}

/// What a drift run does about one drifted pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepairAction {
    /// Reported only (the environment's policy is `report`).
    Report,
    /// Every cause of it accepted: reported as such, not repaired.
    Accepted,
    /// A plan that puts it back, reviewed and approved like any apply.
    Propose,
    /// Applied by the drift job.
    Repair,
}

impl RepairAction {
    pub fn word(self) -> &'static str {
        match self {
            RepairAction::Report => "report",
            RepairAction::Accepted => "accepted",
            RepairAction::Propose => "propose",
            RepairAction::Repair => "repair",
        }
    }
}

/// One drifted pair and what the run does about it, with why when the
/// environment's policy asked for more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// The environment's `drift.repair` policy.
    pub policy: String,
    pub action: RepairAction,
    /// Why it is proposed rather than repaired (or accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Resources the plan changes.
    pub resources: usize,
}

/// The attribute as a cause id names it (`/tags` → `tags`), anything but
/// letters, digits, `_` and `-` as `_`.
pub fn id_attribute(attribute: &str) -> String {
    attribute
        .trim_start_matches('/')
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                true => c,
                false => '_',
            },
        )
        .collect()
}

/// The cause's line for people: `` `aws_s3_bucket` `versioning` set to
/// false ``.
pub fn headline(c: &Cause) -> String {
    match &c.attribute {
        Some(a) => format!(
            "{} {}: {}",
            md_code(&c.resource_type),
            md_code(a.trim_start_matches('/')),
            c.change
        ),
        None => format!("{} {}", md_code(&c.resource_type), c.change),
    }
}

/// Pairs named per cause in the report at most; the rest are counted.
const PAIRS_SHOWN: usize = 20;

/// The pairs of a cause, the first [`PAIRS_SHOWN`], accepted ones marked.
fn pairs_text(c: &Cause, issues: &std::collections::BTreeMap<String, String>) -> String {
    let mut shown: Vec<String> = c
        .pairs
        .iter()
        .take(PAIRS_SHOWN)
        .map(|p| {
            let mut s = md_code(&p.place());
            if let Some(u) = issues.get(&p.customer) {
                s.push_str(&format!(
                    " ({})",
                    link(&format!("#{}", u.rsplit('/').next().unwrap_or("issue")), u)
                ));
            }
            match (&p.accepted, p.expired) {
                (Some(_), true) => s.push_str(" (acceptance EXPIRED)"),
                (Some(_), false) => s.push_str(" (accepted)"),
                _ => {}
            }
            s
        })
        .collect();
    if c.pairs.len() > PAIRS_SHOWN {
        shown.push(format!("and {} more", c.pairs.len() - PAIRS_SHOWN));
    }
    shown.join(", ")
}

/// The date of an RFC 3339 time (`2026-11-24`).
fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// The drift report's section of causes: most customers first, each with
/// its customers, environments, since when, its pairs (with the
/// customer's drift issue) and its cause issue.
pub fn markdown(causes: &[Cause], issues: &std::collections::BTreeMap<String, String>) -> String {
    if causes.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\n### Drift by cause\n\n{}: the same change the cloud made, wherever it was made. Values are not shown (a boolean is).\n\n| cause | customers | environments | since | pairs | issue |\n|---|---|---|---|---|---|\n",
        crate::util::text::count(causes.len(), "cause", "causes")
    );
    for c in causes {
        let envs: Vec<String> = c.environments.iter().map(|e| md_code(e)).collect();
        let issue = c
            .issue
            .as_deref()
            .map(|u| link(&format!("#{}", u.rsplit('/').next().unwrap_or("issue")), u))
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "| {}<br>{} | {} | {} | {} | {} | {issue} |\n",
            headline(c),
            md_code_cell(&c.id),
            c.customers,
            envs.join(", "),
            day(&c.since),
            pairs_text(c, issues),
        ));
    }
    s
}

/// The drift report's section of repairs: what the run does about each
/// drifted pair, when any environment asks for more than a report.
pub fn repairs_markdown(repairs: &[Repair]) -> String {
    if repairs.iter().all(|r| r.policy == "report") {
        return String::new();
    }
    let mut s = String::from(
        "\n### Repairs by policy\n\nWhat each drifted pair's policy calls for. `fleetform repair --from` seals a plan that puts each such pair back; `fleetform repair --apply` applies the ones marked repair after a second person.\n\n",
    );
    // Hundreds of pairs fold under their count, as the pairs' table does.
    let folded = repairs.len() > 20;
    if folded {
        s.push_str(&format!(
            "<details><summary>{} and what each calls for</summary>\n\n",
            crate::util::text::count(repairs.len(), "pair", "pairs")
        ));
    }
    s.push_str("| customer | environment | policy | calls for | why |\n|---|---|---|---|---|\n");
    for r in repairs {
        s.push_str(&format!(
            "| {} | {} | {} | **{}** | {} |\n",
            md_code_cell(&r.customer),
            md_code_cell(&match &r.product {
                Some(p) => format!("{p}/{}", r.environment),
                None => r.environment.clone(),
            }),
            r.policy,
            r.action.word(),
            r.why
                .as_deref()
                .map(md_escape)
                .unwrap_or_else(|| "-".into())
        ));
    }
    if folded {
        s.push_str("\n</details>\n");
    }
    s
}

/// The hidden marker that finds a cause's issue in the manager repo. The
/// id comes from the shards' reports: every byte of it outside letters,
/// digits and `._:/-+=,` is written `%XX` (the ids fleetform makes need
/// none, so their markers are as before), so no id ends the HTML comment
/// (`-->`) or its line, and the rest of the body never becomes live
/// Markdown.
pub fn marker(id: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"._:/-+=,".contains(&b);
    let encoded: String = id
        .bytes()
        .map(|b| match safe(b) {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect();
    format!("<!-- fleetform:drift-cause id={encoded} -->")
}

/// The cause whose issue `body` is (its [`marker`], decoded).
pub fn marked_cause(body: &str) -> Option<String> {
    let start = "<!-- fleetform:drift-cause id=";
    let rest = &body[body.find(start)? + start.len()..];
    let encoded = &rest.as_bytes()[..rest.find(" -->")?];
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let hex = encoded
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (encoded[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The title of a cause's issue, on one line (a control character of the
/// report's text, a line break among them, is a space).
pub fn issue_title(c: &Cause) -> String {
    let what = match &c.attribute {
        Some(a) => format!("{} {}", c.resource_type, a.trim_start_matches('/')),
        None => c.resource_type.clone(),
    };
    format!("Drift cause: {what} {}", c.change)
        .chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .collect()
}

/// The body of a cause's issue: the cause, its reach, since when, and
/// every pair with a link to the customer's own drift issue.
pub fn issue_body(c: &Cause, issues: &std::collections::BTreeMap<String, String>) -> String {
    let mut s = format!(
        "{}\nThe cloud changed outside Terraform the same way in {} ({}), first seen {}: {}.\n\nCause id (for `drift.accepted` in fleetform.yml): {}\n\nEach pair: its resources with the cause, the customer's drift issue, and whether the cause is accepted there.\n\n",
        marker(&c.id),
        crate::util::text::count(c.customers, "customer", "customers"),
        crate::util::text::count(c.pairs.len(), "pair", "pairs"),
        day(&c.since),
        headline(c),
        md_code(&c.id)
    );
    for p in &c.pairs {
        let issue = issues
            .get(&p.customer)
            .map(|u| link(&format!("#{}", u.rsplit('/').next().unwrap_or("issue")), u))
            .map_or_else(
                || "no drift issue".to_string(),
                |l| format!("drift issue {l}"),
            );
        let accepted = match (&p.accepted, p.expired) {
            (Some(a), true) => format!("acceptance EXPIRED: {}", md_escape(a)),
            (Some(a), false) => format!("accepted: {}", md_escape(a)),
            _ => "not accepted".into(),
        };
        s.push_str(&format!(
            "- {}: {}; {issue}; {accepted}\n",
            md_code(&p.place()),
            crate::util::text::count(p.resources, "resource", "resources"),
        ));
    }
    s.push_str("\nValues are not shown: this issue is readable by everyone with access to the manager repo. fleetform closes it once no pair has the cause.\n");
    s
}

/// The comment closing a cause's issue.
pub fn gone_note(run_url: Option<&str>) -> String {
    format!(
        "The cause is gone: no pair of the fleet has it any more{}.",
        run_url
            .map(|u| format!(" ({})", link("run", u)))
            .unwrap_or_default()
    )
}

/// Whether `comment` is a [`gone_note`], whichever run wrote it.
pub fn is_gone_note(comment: &str) -> bool {
    comment.starts_with("The cause is gone: no pair of the fleet has it any more")
}

/// What a drift run keeps between runs in the records: its causes, for
/// the next run's `since` and the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CausesRecord {
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    pub causes: Vec<Cause>,
    #[serde(default)]
    pub repairs: Vec<Repair>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id from a shard's report that would end the hidden comment and
    /// mention a team stays inside the comment, and reads back whole.
    #[test]
    fn a_cause_id_never_ends_its_marker() {
        for id in [
            "fakecloud_bucket/versioning:false",
            "x --> @provider/ops ![i](https://evil.example/p.png)",
            "line\nbreak %41 done",
            "unicode é -- ->",
        ] {
            let m = marker(id);
            assert!(m.ends_with(" -->"), "{m}");
            assert_eq!(m.matches("-->").count(), 1, "{m}");
            assert!(!m.contains('\n') && !m.contains('@'), "{m}");
            let body = format!("{m}\nThe cloud changed.");
            assert_eq!(marked_cause(&body).as_deref(), Some(id));
        }
    }

    /// A title from a report with a line break stays on one line.
    #[test]
    fn a_cause_title_is_one_line() {
        let c = Cause {
            id: "t".into(),
            resource_type: "fakecloud_bucket\nSecond line".into(),
            attribute: Some("/versioning\r\n".into()),
            change: "set to false\u{7}".into(),
            customers: 1,
            environments: vec!["staging".into()],
            since: "2026-11-27T00:00:00Z".into(),
            pairs: Vec::new(),
            issue: None,
        };
        let t = issue_title(&c);
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert!(
            t.starts_with("Drift cause: fakecloud_bucket Second line"),
            "{t}"
        );
    }
}
