//! `fleetform report sla`: response times against `sla:` per customer and
//! environment, as Markdown (a table and every breach with its run), CSV
//! (one row per measured plan or apply) or JSON (this data as it is). The
//! measuring is `fleet::sla`'s.

use serde::Serialize;

use super::markdown::{link, md_escape};

/// What a response time runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// The customer's event to the plan comment.
    Plan,
    /// The approval to the apply's end.
    Apply,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Plan => "plan",
            Measure::Apply => "apply",
        }
    }
    /// What is measured, as the report's readers read it.
    pub fn span(self) -> &'static str {
        match self {
            Measure::Plan => "event → plan comment",
            Measure::Apply => "approval → apply done",
        }
    }
}

/// The report: its window, a row per customer × environment × measure,
/// every breach, and what could not be measured.
#[derive(Debug, Clone, Serialize)]
pub struct SlaReport {
    /// RFC 3339, inclusive.
    pub since: String,
    /// RFC 3339, exclusive.
    pub until: String,
    pub rows: Vec<SlaRow>,
    pub breaches: Vec<Sample>,
    /// Plans and applies in the window without GitHub's times (older
    /// records, a comment that was not written, a run not read).
    pub unmeasured: usize,
}

/// Response times of one customer × environment × measure.
#[derive(Debug, Clone, Serialize)]
pub struct SlaRow {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub measure: Measure,
    pub count: usize,
    pub p50_secs: u64,
    pub p95_secs: u64,
    pub max_secs: u64,
    /// `sla:`'s target, when one is promised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_secs: Option<u64>,
    pub breaches: usize,
}

/// One measured plan or apply.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub measure: Measure,
    /// When the measured time started (RFC 3339, GitHub's).
    pub from: String,
    /// Which time `from` is: `token` (a plan: the customer job's OIDC
    /// token, which the relay carried), `run` (a plan: when GitHub made
    /// the manager's run) or `approval` (an apply).
    pub start: String,
    /// When it ended (RFC 3339, GitHub's).
    pub to: String,
    pub secs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

impl Sample {
    pub fn breached(&self) -> bool {
        self.target_secs.is_some_and(|t| self.secs > t)
    }
    fn place(&self) -> String {
        match &self.product {
            Some(p) => format!("{}/{p}/{}", self.customer, self.environment),
            None => format!("{}/{}", self.customer, self.environment),
        }
    }
}

/// `1h 02m`, `14m 05s`, `9s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m"),
    }
}

/// The report as the dashboard shows it: its times as people read them.
#[derive(Debug, Clone, Serialize)]
pub struct SlaView {
    pub since: String,
    pub until: String,
    pub rows: Vec<Vec<String>>,
    /// (what, the run's URL).
    pub breaches: Vec<(String, Option<String>)>,
    pub unmeasured: usize,
}

/// [`SlaView`] of a report.
pub fn view(r: &SlaReport) -> SlaView {
    SlaView {
        since: r.since.clone(),
        until: r.until.clone(),
        rows: r
            .rows
            .iter()
            .map(|row| {
                vec![
                    row.customer.clone(),
                    match &row.product {
                        Some(p) => format!("{p}/{}", row.environment),
                        None => row.environment.clone(),
                    },
                    format!("{} ({})", row.measure.as_str(), row.measure.span()),
                    row.count.to_string(),
                    duration(row.p50_secs),
                    duration(row.p95_secs),
                    duration(row.max_secs),
                    row.target_secs.map(duration).unwrap_or_else(|| "–".into()),
                    row.breaches.to_string(),
                ]
            })
            .collect(),
        breaches: r
            .breaches
            .iter()
            .map(|b| (breach_words(b), b.run_url.clone()))
            .collect(),
        unmeasured: r.unmeasured,
    }
}

/// `acme/staging plan: 3h 00m against 1h 00m (from → to, from the
/// customer's token)`.
fn breach_words(b: &Sample) -> String {
    format!(
        "{} {}: {} against {} ({} → {}, {})",
        b.place(),
        b.measure.as_str(),
        duration(b.secs),
        b.target_secs.map(duration).unwrap_or_default(),
        b.from,
        b.to,
        start_words(&b.start),
    )
}

/// Which time a measure started at, as the report's readers read it.
pub fn start_words(start: &str) -> &'static str {
    match start {
        "token" => "from the customer's token",
        "event" => "from GitHub's time of the event",
        "approval" => "from the approval",
        _ => "from the manager's run",
    }
}

/// The report as Markdown: a line per customer, environment and measure
/// (it fits a phone where a table of nine columns did not), then every
/// breach with its run.
pub fn markdown(r: &SlaReport) -> String {
    let mut out = format!(
        "# Response times against the SLA\n\nFrom {} to {}, measured by GitHub's own times: a plan from when the customer's job asked the relay (its token) or GitHub's time of the event (a webhook's, a pull request's), else from when GitHub made the manager's run; an apply from its approval.\n\n",
        r.since, r.until
    );
    if r.rows.is_empty() {
        out.push_str("No plan or apply in this window was measured.\n");
    } else {
        out.push_str("Each customer and environment, by measure: how many, the median (p50), the 95th percentile (p95), the longest (max), the target and the breaches.\n\n");
        for row in &r.rows {
            let env = match &row.product {
                Some(p) => format!("{p}/{}", row.environment),
                None => row.environment.clone(),
            };
            out.push_str(&format!(
                "- **{}/{}**, {} ({}): {} measured; p50 {}, p95 {}, max {}; target {}; {}\n",
                md_escape(&row.customer),
                md_escape(&env),
                row.measure.as_str(),
                row.measure.span(),
                row.count,
                duration(row.p50_secs),
                duration(row.p95_secs),
                duration(row.max_secs),
                row.target_secs
                    .map(duration)
                    .unwrap_or_else(|| "none".into()),
                crate::util::text::count(row.breaches, "breach", "breaches"),
            ));
        }
    }
    out.push_str(&breaches(r));
    if r.unmeasured > 0 {
        out.push_str(&format!(
            "\nNot measured: {} in this window without GitHub's times (recorded before `sla:`, without a plan comment or deployment, or by a run that could not read them).\n",
            crate::util::text::count(r.unmeasured, "plan or apply", "plans or applies")
        ));
    }
    out
}

fn breaches(r: &SlaReport) -> String {
    if r.breaches.is_empty() {
        return "\nNo breach.\n".into();
    }
    let mut out = format!(
        "\n## {}\n\n",
        crate::util::text::count(r.breaches.len(), "breach", "breaches")
    );
    for b in &r.breaches {
        let run = match &b.run_url {
            Some(u) => link("run", u),
            None => "no run recorded".into(),
        };
        out.push_str(&format!("- {}, {run}\n", md_escape(&breach_words(b))));
    }
    out
}

/// One CSV row per measured plan or apply, oldest first.
pub fn csv(samples: &[Sample]) -> String {
    let mut out = String::from(
        "customer,product,environment,measure,from,to,seconds,target_seconds,breached,run_url,start\n",
    );
    for s in samples {
        let cells = [
            s.customer.clone(),
            s.product.clone().unwrap_or_default(),
            s.environment.clone(),
            s.measure.as_str().to_string(),
            s.from.clone(),
            s.to.clone(),
            s.secs.to_string(),
            s.target_secs.map(|t| t.to_string()).unwrap_or_default(),
            s.breached().to_string(),
            s.run_url.clone().unwrap_or_default(),
            s.start.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// A CSV cell: quoted when it holds a separator or a quote, and never
/// read as a formula by a spreadsheet.
fn csv_cell(c: &str) -> String {
    let c = match c.starts_with(['=', '+', '-', '@']) {
        true => format!("'{c}"),
        false => c.to_string(),
    };
    match c.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", c.replace('"', "\"\"")),
        false => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(9), "9s");
        assert_eq!(duration(845), "14m 05s");
        assert_eq!(duration(3720), "1h 02m");
    }

    #[test]
    fn csv_cells_are_never_formulas() {
        assert_eq!(csv_cell("=cmd"), "'=cmd");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
