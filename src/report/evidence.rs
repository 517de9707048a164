//! The compliance evidence of `audit report`: who planned, approved,
//! waived and applied what, where (the run) and when, per customer and
//! environment, each event with the SHA-256 of its record and the set with
//! one digest, as Markdown, JSON or one self-contained HTML file.
//!
//! Rendering streams: the header ([`Header`], counted in a first pass over
//! the records) is rendered once, then one row per event as it is read
//! again, so memory does not grow with the period. Every value is
//! untrusted text, escaped for its format by the report's one escape
//! (`markdown`: hidden characters shown as `\u{..}` in both).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::markdown::{md_code_cell, md_escape};
use crate::audit::Entry;

/// The report's output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Html,
}

/// One event as the report shows it: the audit entry, the SHA-256 of its
/// record (the log line, or the records store's object) and the store's
/// key when read from one.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub time: String,
    pub action: String,
    pub result: String,
    pub actor: String,
    pub triggering_actor: Option<String>,
    pub approvers: Vec<String>,
    pub customer: Option<String>,
    pub product: Option<String>,
    pub environment: Option<String>,
    pub sha: Option<String>,
    pub plan_sha256: Option<String>,
    pub identity: Option<String>,
    pub run_url: Option<String>,
    pub detail: Option<String>,
    pub record_sha256: String,
    pub record_key: Option<String>,
    /// How an apply was let through, as recorded (older records: absent).
    #[serde(skip)]
    approval: Option<String>,
    #[serde(skip)]
    dispatch_id: Option<String>,
}

impl Row {
    /// The fields of the audit entry [`crate::audit::apply_of`] reads.
    fn entry(&self) -> Entry {
        Entry {
            action: self.action.clone(),
            result: self.result.clone(),
            detail: self.detail.clone(),
            run_url: self.run_url.clone(),
            approvers: self.approvers.clone(),
            triggering_actor: self.triggering_actor.clone(),
            dispatch_id: self.dispatch_id.clone(),
            approval: self.approval.clone(),
            ..Entry::default()
        }
    }

    /// The row of `e`, whose record's bytes are `bytes`.
    pub fn new(e: Entry, bytes: &[u8], key: Option<&str>) -> Row {
        Row {
            time: e.time,
            action: e.action,
            result: e.result,
            actor: e.actor,
            triggering_actor: e.triggering_actor,
            approvers: e.approvers,
            customer: e.customer,
            product: e.product,
            environment: e.environment,
            sha: e.sha,
            plan_sha256: e.plan_sha256,
            identity: e.identity,
            run_url: e.run_url,
            detail: e.detail,
            record_sha256: hex::encode(Sha256::digest(bytes)),
            record_key: key.map(str::to_string),
            approval: e.approval,
            dispatch_id: e.dispatch_id,
        }
    }
}

/// What happened to one customer and environment in the period.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitCounts {
    pub customer: String,
    pub environment: String,
    pub events: usize,
    pub plans: usize,
    /// Applies that applied (see [`crate::audit::apply_of`]), of which
    /// approved, automatic and local.
    pub applies: usize,
    pub approved_applies: usize,
    pub automatic_applies: usize,
    pub local_applies: usize,
    pub failed_applies: usize,
    pub waivers: usize,
    pub refusals: usize,
    /// Everyone who approved (PR approvals) or applied (the apply job's
    /// actor, the environment's reviewer when one is required), sorted.
    pub approvers: Vec<String>,
    pub appliers: Vec<String>,
}

/// The report's header: period, source, the count and the digest of the
/// set, and the counts per customer and environment.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// First instant included (`YYYY-MM-DDTHH:MM:SSZ`), if bounded.
    pub since: Option<String>,
    /// Last instant included, if bounded.
    pub until: Option<String>,
    /// `local log PATH` or `records store DESCRIPTION`.
    pub source: String,
    pub events: usize,
    /// SHA-256 of every event's `record_sha256` and a newline, in the
    /// report's order.
    pub digest: String,
    pub units: Vec<UnitCounts>,
    #[serde(skip)]
    hasher: Sha256,
    #[serde(skip)]
    by_unit: BTreeMap<(String, String), UnitCounts>,
}

impl Header {
    pub fn new(since: Option<&str>, until: Option<&str>, source: String) -> Header {
        Header {
            since: since.map(str::to_string),
            until: until.map(str::to_string),
            source,
            events: 0,
            digest: String::new(),
            units: Vec::new(),
            hasher: Sha256::new(),
            by_unit: BTreeMap::new(),
        }
    }

    /// Whether an event at `time` (compared as text) is in the period.
    pub fn covers(&self, time: &str) -> bool {
        self.since.as_deref().is_none_or(|s| time >= s)
            && self.until.as_deref().is_none_or(|u| time <= u)
    }

    /// Counts one event of the period in.
    pub fn add(&mut self, row: &Row) {
        self.events += 1;
        self.hasher.update(row.record_sha256.as_bytes());
        self.hasher.update(b"\n");
        let key = (
            row.customer.clone().unwrap_or_else(|| "-".into()),
            row.environment.clone().unwrap_or_else(|| "-".into()),
        );
        let u = self
            .by_unit
            .entry(key.clone())
            .or_insert_with(|| UnitCounts {
                customer: key.0,
                environment: key.1,
                ..UnitCounts::default()
            });
        u.events += 1;
        match crate::audit::apply_of(&row.entry()) {
            Some(a) if a.ok => {
                u.applies += 1;
                match a.approval {
                    crate::audit::Approval::Approved => u.approved_applies += 1,
                    crate::audit::Approval::Automatic => u.automatic_applies += 1,
                    // A workstation run either way; the audit line says
                    // whether it was `--unreviewed`.
                    crate::audit::Approval::Local | crate::audit::Approval::Unreviewed => {
                        u.local_applies += 1
                    }
                }
                push_unique(&mut u.appliers, &row.actor);
            }
            Some(_) => u.failed_applies += 1,
            None => match row.action.as_str() {
                "plan" => u.plans += 1,
                "waiver" => u.waivers += 1,
                "refusal" => u.refusals += 1,
                _ => {}
            },
        }
        for a in &row.approvers {
            push_unique(&mut u.approvers, a);
        }
    }

    /// Closes the set: the digest and the per-unit table.
    pub fn finish(&mut self) {
        self.digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        self.units = std::mem::take(&mut self.by_unit).into_values().collect();
    }
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if let Err(i) = list.binary_search_by(|x| x.as_str().cmp(v)) {
        list.insert(i, v.to_string());
    }
}

/// The period as people read it.
fn period(h: &Header) -> String {
    match (&h.since, &h.until) {
        (None, None) => "all records".into(),
        (Some(s), None) => format!("from {s}"),
        (None, Some(u)) => format!("until {u}"),
        (Some(s), Some(u)) => format!("{s} to {u}"),
    }
}

/// The first 12 characters of a digest as a code span.
fn short(v: Option<&str>) -> String {
    v.map(|s| md_code_cell(&s.chars().take(12).collect::<String>()))
        .unwrap_or_else(|| "-".into())
}

/// The Markdown header: period, source, count, digest and the per-unit
/// table.
pub fn markdown_head(h: &Header) -> String {
    use std::fmt::Write as _;
    let mut m = format!(
        "- Period (UTC, inclusive): {}\n- Source: {}\n- Events: {}\n- Digest of the set: `{}` (SHA-256 of each event's SHA-256 and a newline, in the order of the events below)\n\n## Per customer and environment\n\n",
        md_escape(&period(h)),
        md_escape(&h.source),
        h.events,
        h.digest
    );
    if h.units.is_empty() {
        m.push_str("None.\n");
    } else {
        // A line per pair: a table of ten columns scrolls sideways on a
        // phone.
        for u in &h.units {
            let mut said = vec![format!(
                "{}, {}, {} ({} approved, {} automatic, {} local), {}, {}, {}",
                crate::util::text::count(u.events, "event", "events"),
                crate::util::text::count(u.plans, "plan", "plans"),
                crate::util::text::count(u.applies, "apply", "applies"),
                u.approved_applies,
                u.automatic_applies,
                u.local_applies,
                crate::util::text::count(u.failed_applies, "failed apply", "failed applies"),
                crate::util::text::count(u.waivers, "waiver", "waivers"),
                crate::util::text::count(u.refusals, "refusal", "refusals"),
            )];
            if !u.approvers.is_empty() {
                said.push(format!(
                    "approved by {}",
                    md_escape(&u.approvers.join(", "))
                ));
            }
            if !u.appliers.is_empty() {
                said.push(format!("applied by {}", md_escape(&u.appliers.join(", "))));
            }
            let _ = writeln!(
                m,
                "- {} in {}: {}",
                md_code_cell(&u.customer),
                md_code_cell(&u.environment),
                said.join("; ")
            );
        }
    }
    m
}

/// The head of the Markdown events list (a line per event follows).
pub fn markdown_events_head(h: &Header) -> String {
    let mut m = String::from("## Events\n\n");
    if h.events == 0 {
        m.push_str("None.");
    } else {
        m.push_str("Each event: when, what and its result, the pair, who, then what the record holds; last, the SHA-256 of its record.\n");
    }
    m
}

/// One event as a line of the Markdown list: a line wraps on a phone
/// where a table of thirteen columns scrolls sideways.
pub fn markdown_row(r: &Row) -> String {
    let who = match &r.triggering_actor {
        Some(t) => format!("{} (run by {})", md_escape(&r.actor), md_escape(t)),
        None => md_escape(&r.actor),
    };
    let pair = [
        r.customer.as_deref(),
        r.product.as_deref(),
        r.environment.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.is_empty())
    .map(md_escape)
    .collect::<Vec<_>>()
    .join("/");
    let mut said = vec![format!("by {who}")];
    if !r.approvers.is_empty() {
        said.push(format!(
            "approved by {}",
            md_escape(&r.approvers.join(", "))
        ));
    }
    let known = [
        ("plan", r.plan_sha256.as_deref().map(|d| short(Some(d)))),
        ("identity", r.identity.as_deref().map(md_escape)),
        ("run", r.run_url.as_deref().map(md_escape)),
    ];
    for (what, v) in known {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            said.push(format!("{what} {v}"));
        }
    }
    if let Some(d) = r.detail.as_deref().filter(|d| !d.is_empty()) {
        said.push(md_escape(d));
    }
    format!(
        "- {} {} ({}), {}: {}; record {}",
        md_escape(&r.time),
        md_escape(&r.action),
        md_escape(&r.result),
        if pair.is_empty() {
            "no pair".into()
        } else {
            pair
        },
        said.join("; "),
        md_code_cell(&r.record_sha256)
    )
}

/// The HTML templates: every value escaped (`markdown::html_environment`),
/// strict about undefined names, inline CSS, no scripts.
fn html_env() -> minijinja::Environment<'static> {
    let mut env = super::markdown::html_environment();
    for (name, src) in [
        ("head.html", include_str!("templates/evidence_head.html.j2")),
        ("row.html", include_str!("templates/evidence_row.html.j2")),
    ] {
        env.add_template(name, src)
            .expect("embedded templates parse");
    }
    env
}

/// Renders one of the HTML pieces.
fn html(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    html_env().get_template(name)?.render(ctx)
}

/// The HTML document's head, header and the head of the events table.
pub fn html_head(h: &Header) -> Result<String, minijinja::Error> {
    html(
        "head.html",
        minijinja::context! {
            h => minijinja::Value::from(minijinja::value::Serde(h)),
            period => period(h),
        },
    )
}

/// One event as an HTML table row.
pub fn html_row(r: &Row) -> Result<String, minijinja::Error> {
    html(
        "row.html",
        minijinja::context! { r => minijinja::Value::from(minijinja::value::Serde(r)) },
    )
}

/// The end of the HTML document.
pub const HTML_FOOT: &str = "</tbody></table></div>\n</body>\n</html>";

/// The JSON header: the summary's fields, `"evidence": HEADER` and
/// `"rows": [` (rows follow, then [`JSON_FOOT`]).
pub fn json_head(summary: &impl Serialize, h: &Header) -> String {
    let mut doc = match serde_json::to_value(summary) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    doc.insert(
        "evidence".into(),
        serde_json::to_value(h).unwrap_or_default(),
    );
    let head = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    // `{ … }` → `{ …, "rows": [`: the header is an object with fields.
    let open = head.trim_end().strip_suffix('}').unwrap_or("{").trim_end();
    format!("{open},\n  \"rows\": [")
}

/// One event as JSON, `first` without the separating comma.
pub fn json_row(r: &Row, first: bool) -> String {
    let row = serde_json::to_string(r).unwrap_or_else(|_| "{}".into());
    if first {
        format!("    {row}")
    } else {
        format!("   ,{row}")
    }
}

pub const JSON_FOOT: &str = "  ]\n}";

#[cfg(test)]
mod tests {
    use super::*;

    fn row(actor: &str, detail: &str) -> Row {
        let e = Entry {
            time: "2026-11-01T00:00:00Z".into(),
            action: "apply".into(),
            actor: actor.into(),
            customer: Some("acme".into()),
            environment: Some("prod<".into()),
            result: "ok".into(),
            detail: Some(detail.into()),
            ..Entry::default()
        };
        Row::new(e, b"line", None)
    }

    /// Hostile text is escaped in HTML, and the digest covers the set.
    #[test]
    fn html_escapes_and_digest_is_of_the_set() {
        let r = row("<script>alert(1)</script>", "\"><img src=x onerror=y>");
        let mut h = Header::new(None, None, "local log <x>".into());
        h.add(&r);
        h.finish();
        let page = format!(
            "{}{}{HTML_FOOT}",
            html_head(&h).unwrap(),
            html_row(&r).unwrap()
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        let want = hex::encode(Sha256::digest(format!("{}\n", r.record_sha256)));
        assert_eq!(h.digest, want);
        assert_eq!(h.units[0].appliers, vec![r.actor.clone()]);
    }

    #[test]
    fn json_pieces_make_one_document() {
        let r = row("a", "b");
        let mut h = Header::new(Some("2026-11-01T00:00:00Z"), None, "s".into());
        h.add(&r);
        h.add(&r);
        h.finish();
        let doc = format!(
            "{}\n{}\n{}\n{JSON_FOOT}",
            json_head(&serde_json::json!({"records": 2}), &h),
            json_row(&r, true),
            json_row(&r, false)
        );
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            (v["records"].as_u64(), v["evidence"]["events"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    }
}
