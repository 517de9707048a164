//! `fleetform report cost`: what one customer's infrastructure costs per
//! month, from the deployment records (each apply keeps its plan's
//! Infracost estimate), and what changed it in a month: the page a
//! provider attaches to an invoice, as Markdown or CSV.

use crate::data::cost::{money, signed, CostEstimate};

/// One apply of the customer, as its deployment record keeps it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// RFC 3339.
    pub time: String,
    pub environment: String,
    pub product: Option<String>,
    pub customer_sha: Option<String>,
    pub run_url: Option<String>,
    /// The customer's repository and the pull request the apply came
    /// from, when it came from one.
    pub customer_repo: Option<String>,
    pub pr: Option<u64>,
    pub cost: Option<CostEstimate>,
}

impl Applied {
    /// `owner/repo#12`, or `#12` without the repository.
    fn pull_request(&self) -> Option<String> {
        self.pr.map(|n| match &self.customer_repo {
            Some(r) => format!("{r}#{n}"),
            None => format!("#{n}"),
        })
    }
}

/// The report of `customer` for `month` (`YYYY-MM`): `applied` holds
/// every apply up to the month's end, oldest first within each pair.
pub struct CostReport<'a> {
    pub customer: &'a str,
    pub month: &'a str,
    /// The last apply of each pair by the month's end.
    pub deployed: Vec<&'a Applied>,
    /// The applies in the month.
    pub changes: Vec<&'a Applied>,
}

impl<'a> CostReport<'a> {
    /// The report from `applied`, those before `end` (the month's end,
    /// RFC 3339) and, as changes, those at or after `start`.
    pub fn new(
        customer: &'a str,
        month: &'a str,
        applied: &'a [Applied],
        (start, end): (&str, &str),
    ) -> CostReport<'a> {
        let mut sorted: Vec<&Applied> = applied.iter().filter(|a| a.time.as_str() < end).collect();
        sorted.sort_by(|a, b| a.time.cmp(&b.time));
        let mut deployed: Vec<&Applied> = Vec::new();
        for a in &sorted {
            match deployed
                .iter_mut()
                .find(|d| d.environment == a.environment && d.product == a.product)
            {
                Some(d) => *d = a,
                None => deployed.push(a),
            }
        }
        deployed.sort_by(|a, b| (&a.environment, &a.product).cmp(&(&b.environment, &b.product)));
        let changes = sorted
            .into_iter()
            .filter(|a| a.time.as_str() >= start)
            .collect();
        CostReport {
            customer,
            month,
            deployed,
            changes,
        }
    }

    /// The totals of what is deployed, per currency.
    pub fn totals(&self) -> Vec<(String, i128)> {
        let mut out: Vec<(String, i128)> = Vec::new();
        for c in self.deployed.iter().filter_map(|a| a.cost.as_ref()) {
            let Some(m) = c.monthly_cents() else { continue };
            match out.iter_mut().find(|(cur, _)| *cur == c.currency) {
                Some((_, t)) => *t += m,
                None => out.push((c.currency.clone(), m)),
            }
        }
        out
    }

    /// The total deployed at the month's end in words (`$1,361.31`;
    /// several currencies joined by ` + `), and the month's applies'
    /// changes summed: the dashboard's row of the month.
    pub fn month_row(&self) -> crate::report::dashboard::CostMonth {
        let totals: Vec<String> = self
            .totals()
            .iter()
            .map(|(cur, t)| money(*t, cur))
            .collect();
        let change = crate::data::cost::CostSum::of(self.changes.iter().map(|a| a.cost.as_ref()));
        crate::report::dashboard::CostMonth {
            month: self.month.to_string(),
            total: match (self.deployed.is_empty(), totals.is_empty()) {
                (true, _) => "nothing applied".into(),
                (false, true) => "no estimate".into(),
                (false, false) => totals.join(" + "),
            },
            change: match change {
                Some(c) => c.text(),
                None if self.changes.is_empty() => "no apply".into(),
                None => "no estimate".into(),
            },
        }
    }

    /// The Markdown page.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Cost report: `{}`, {}\n\nMonthly estimates by Infracost, from the deployment records: each apply keeps the estimate of the plan it applied.\n\n## Deployed at the end of {}\n\n",
            self.customer, self.month, self.month
        );
        if self.deployed.is_empty() {
            out.push_str("Nothing was applied by then.\n");
        } else {
            out.push_str("| environment | product | per month | applied |\n|---|---|---:|---|\n");
            for a in &self.deployed {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    a.environment,
                    product(a),
                    monthly(a),
                    day(&a.time)
                ));
            }
            for (currency, total) in self.totals() {
                out.push_str(&format!(
                    "| **total** | | **{}** | |\n",
                    money(total, &currency)
                ));
            }
        }
        out.push_str(&format!("\n## Changes in {}\n\n", self.month));
        if self.changes.is_empty() {
            out.push_str("No apply in the month.\n");
            return out;
        }
        out.push_str("| applied | environment | product | change | per month after | commit | pull request | run |\n|---|---|---|---:|---:|---|---|---|\n");
        for a in &self.changes {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
                a.time,
                a.environment,
                product(a),
                change(a),
                monthly(a),
                a.customer_sha
                    .as_deref()
                    .map_or("–".to_string(), |s| format!(
                        "`{}`",
                        &s[..s.len().min(12)]
                    )),
                a.pull_request()
                    .map_or("–".to_string(), |p| format!("`{p}`")),
                a.run_url
                    .as_deref()
                    .map_or("–".to_string(), |u| format!("[run]({u})")),
            ));
        }
        out
    }

    /// The same as CSV: one row per pair deployed (`kind` = `deployed`) and
    /// per apply in the month (`change`).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "kind,customer,environment,product,time,monthly,change,currency,commit,pull_request,run\n",
        );
        let rows = self
            .deployed
            .iter()
            .map(|a| ("deployed", a))
            .chain(self.changes.iter().map(|a| ("change", a)));
        for (kind, a) in rows {
            let c = a.cost.as_ref();
            let fields = [
                kind.to_string(),
                self.customer.to_string(),
                a.environment.clone(),
                a.product.clone().unwrap_or_default(),
                a.time.clone(),
                c.and_then(|c| c.monthly.clone()).unwrap_or_default(),
                c.and_then(|c| c.diff_monthly.clone()).unwrap_or_default(),
                c.map(|c| c.currency.clone()).unwrap_or_default(),
                a.customer_sha.clone().unwrap_or_default(),
                a.pull_request().unwrap_or_default(),
                a.run_url.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }
}

fn product(a: &Applied) -> String {
    a.product
        .as_deref()
        .map_or("–".to_string(), |p| format!("`{p}`"))
}

fn monthly(a: &Applied) -> String {
    match a
        .cost
        .as_ref()
        .and_then(|c| c.monthly_cents().map(|m| (m, c)))
    {
        Some((m, c)) => money(m, &c.currency),
        None => "no estimate".into(),
    }
}

fn change(a: &Applied) -> String {
    match a.cost.as_ref().and_then(|c| c.diff_cents().map(|d| (d, c))) {
        Some((d, c)) => signed(d, &c.currency),
        None => "–".into(),
    }
}

fn day(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line
/// break; a leading `=`, `+`, `-` or `@` is kept from spreadsheets as a
/// formula by a leading `'`.
fn csv_field(f: &str) -> String {
    let f = match f.chars().next() {
        Some('=' | '+' | '@') => format!("'{f}"),
        Some('-') if f.parse::<f64>().is_err() => format!("'{f}"),
        _ => f.to_string(),
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(time: &str, env: &str, monthly: &str, diff: &str) -> Applied {
        Applied {
            time: time.into(),
            environment: env.into(),
            product: None,
            customer_sha: Some("abcdef0123456789".into()),
            run_url: Some("https://github.com/provider/manager/actions/runs/1".into()),
            customer_repo: Some("acme/infra".into()),
            pr: (env == "staging").then_some(12),
            cost: Some(CostEstimate {
                currency: "USD".into(),
                monthly: Some(monthly.into()),
                past_monthly: None,
                diff_monthly: Some(diff.into()),
                basis: None,
            }),
        }
    }

    #[test]
    fn the_last_apply_of_each_pair_is_deployed_and_the_months_applies_are_its_changes() {
        let all = [
            applied("2026-10-03T10:00:00Z", "staging", "100", "100"),
            applied("2026-11-02T10:00:00Z", "staging", "142.5", "42.5"),
            applied("2026-11-05T10:00:00Z", "production", "300", "300"),
            applied("2026-12-01T00:00:01Z", "production", "900", "600"),
        ];
        let r = CostReport::new(
            "acme",
            "2026-11",
            &all,
            ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
        );
        assert_eq!(r.deployed.len(), 2);
        assert_eq!(r.changes.len(), 2);
        let md = r.markdown();
        assert!(md.contains("| **total** | | **$442.50** | |"), "{md}");
        assert!(
            md.contains("| +$42.50 | $142.50 | `abcdef012345` | `acme/infra#12` | [run]("),
            "{md}"
        );
        assert!(
            md.contains("| +$300.00 | $300.00 | `abcdef012345` | – |"),
            "{md}"
        );
        assert!(!md.contains("900"), "{md}");
        let csv = r.csv();
        assert_eq!(csv.lines().count(), 5, "{csv}");
        assert!(
            csv.contains("change,acme,staging,,2026-11-02T10:00:00Z,142.5,42.5,USD,abcdef0123456789,acme/infra#12,https://"),
            "{csv}"
        );
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("-3.50"), "-3.50");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
