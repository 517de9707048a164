//! A plan's cost estimate, as Infracost's CLI writes it (`infracost
//! breakdown --format json`, format version 0.2): the monthly cost of what
//! the plan leaves, of what was there before it, and the change. Read
//! leniently, the way the CLI's own output is newer than its published
//! schema: only the totals are read, every other key (and every key added
//! later) is ignored, and a total Infracost leaves out or `null` is none.
//!
//! Amounts stay the decimal text Infracost wrote; arithmetic is on cents
//! (i128), so sums over a fleet do not drift.

use serde::{Deserialize, Serialize};

/// One plan's estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// ISO 4217 (`USD`).
    pub currency: String,
    /// What the plan leaves, per month.
    pub monthly: Option<String>,
    /// What was there before it, per month.
    pub past_monthly: Option<String>,
    /// The change, per month (`monthly - past_monthly` when Infracost
    /// gives no diff).
    pub diff_monthly: Option<String>,
    /// What the change is measured against (none in records made before
    /// fleetform said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<CostBasis>,
}

/// What a plan's estimated change is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// `infracost diff --compare-to` the Infracost JSON the pair's last
    /// apply kept: the change since the last applied plan.
    LastApplied,
    /// `infracost breakdown`: the plan's own past and present totals (the
    /// state the plan starts from), when no apply kept an estimate.
    PriorState,
}

impl CostBasis {
    /// How the comment says it.
    pub fn words(self) -> &'static str {
        match self {
            CostBasis::LastApplied => "against the last applied plan",
            CostBasis::PriorState => "against the state the plan starts from",
        }
    }
}

/// Why a report is no estimate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CostError {
    #[error("not Infracost's JSON ({0})")]
    NotJson(String),
    #[error("Infracost's JSON has no totalMonthlyCost and no project with one")]
    NoTotal,
    #[error("`{key}` is not an amount")]
    NotAnAmount { key: &'static str },
}

impl CostEstimate {
    /// Reads `infracost breakdown --format json` (or `infracost diff
    /// --format json`).
    pub fn from_infracost(text: &str) -> Result<CostEstimate, CostError> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CostError::NotJson(format!("line {} column {}", e.line(), e.column())))?;
        if !v.is_object() {
            return Err(CostError::NotJson("not an object".into()));
        }
        let amount = |key: &'static str| -> Result<Option<String>, CostError> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if cents(s).is_some() => Ok(Some(s.clone())),
                Some(serde_json::Value::Number(n)) if cents(&n.to_string()).is_some() => {
                    Ok(Some(n.to_string()))
                }
                Some(_) => Err(CostError::NotAnAmount { key }),
            }
        };
        // A total left out (or `null`) at the top is the projects' own
        // totals summed, as `infracost diff` and `output` write them.
        let monthly = amount("totalMonthlyCost")?.or_else(|| projects_total(&v, "breakdown"));
        let past_monthly =
            amount("pastTotalMonthlyCost")?.or_else(|| projects_total(&v, "pastBreakdown"));
        let mut diff_monthly =
            amount("diffTotalMonthlyCost")?.or_else(|| projects_total(&v, "diff"));
        if monthly.is_none() && past_monthly.is_none() {
            return Err(CostError::NoTotal);
        }
        if diff_monthly.is_none() {
            diff_monthly = match (
                monthly.as_deref().and_then(cents),
                past_monthly.as_deref().and_then(cents),
            ) {
                (Some(now), Some(before)) => Some(from_cents(now - before)),
                _ => None,
            };
        }
        let currency = v
            .get("currency")
            .and_then(|c| c.as_str())
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
            .unwrap_or("USD")
            .to_string();
        Ok(CostEstimate {
            currency,
            monthly,
            past_monthly,
            diff_monthly,
            basis: None,
        })
    }

    /// The change per month in cents.
    pub fn diff_cents(&self) -> Option<i128> {
        self.diff_monthly.as_deref().and_then(cents)
    }

    /// The monthly cost in cents.
    pub fn monthly_cents(&self) -> Option<i128> {
        self.monthly.as_deref().and_then(cents)
    }

    /// The monthly cost before the plan in cents.
    pub fn past_cents(&self) -> Option<i128> {
        self.past_monthly.as_deref().and_then(cents)
    }

    /// `+$142.00/month`, `-$3.50/month`, `±$0.00/month` (another
    /// currency: `+142.00 EUR/month`).
    pub fn change_text(&self) -> String {
        match self.diff_cents() {
            Some(c) => format!("{}/month", signed(c, &self.currency)),
            None => "change unknown".into(),
        }
    }
}

/// The sum of every project's `<part>.totalMonthlyCost`, as decimal text;
/// none when a project has none that reads (a partial sum would mislead)
/// or there is no project.
fn projects_total(v: &serde_json::Value, part: &str) -> Option<String> {
    let projects = v.get("projects")?.as_array()?;
    if projects.is_empty() {
        return None;
    }
    let mut sum: i128 = 0;
    for p in projects {
        let total = p.get(part)?.get("totalMonthlyCost")?;
        let c = match total {
            serde_json::Value::String(s) => cents(s)?,
            serde_json::Value::Number(n) => cents(&n.to_string())?,
            _ => return None,
        };
        sum = sum.checked_add(c)?;
    }
    Some(from_cents(sum))
}

/// Several plans' estimates summed: a rollout wave's, a group of pairs'
/// in `impact --plan`. Only estimates in the first currency met are
/// summed; a plan without an estimate (or with another currency, or no
/// change) is counted apart, so a total never hides what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSum {
    pub currency: String,
    /// The summed change per month, in cents.
    pub change_cents: i64,
    /// Plans summed.
    pub priced: usize,
    /// Plans not summed (no estimate, no change, another currency).
    pub unpriced: usize,
}

impl CostSum {
    /// The sum of `estimates`; none when no plan has an estimate at all.
    pub fn of<'a>(
        estimates: impl IntoIterator<Item = Option<&'a CostEstimate>>,
    ) -> Option<CostSum> {
        let mut sum = CostSum::default();
        let mut any = false;
        for e in estimates {
            any |= e.is_some();
            sum.add(e);
        }
        any.then_some(sum)
    }

    /// Adds one plan's estimate (or its lack).
    pub fn add(&mut self, e: Option<&CostEstimate>) {
        let Some((e, d)) = e.and_then(|e| e.diff_cents().map(|d| (e, d))) else {
            self.unpriced += 1;
            return;
        };
        if self.currency.is_empty() {
            self.currency = e.currency.clone();
        }
        match (self.currency == e.currency, i64::try_from(d)) {
            (true, Ok(d)) => {
                self.change_cents = self.change_cents.saturating_add(d);
                self.priced += 1;
            }
            _ => self.unpriced += 1,
        }
    }

    /// Another sum added to this one (shards merged).
    pub fn merge(&mut self, other: &CostSum) {
        if self.currency.is_empty() && self.priced == 0 {
            self.currency = other.currency.clone();
        }
        if other.priced > 0 && other.currency != self.currency {
            self.unpriced += other.priced + other.unpriced;
            return;
        }
        self.change_cents = self.change_cents.saturating_add(other.change_cents);
        self.priced += other.priced;
        self.unpriced += other.unpriced;
    }

    /// `+$2,722.62/month` (`; 1 plan without an estimate`), or `no
    /// estimate` when nothing was summed.
    pub fn text(&self) -> String {
        let left = match self.unpriced {
            0 => String::new(),
            n => format!(
                "; {n} {} without an estimate",
                if n == 1 { "plan" } else { "plans" }
            ),
        };
        match self.priced {
            0 => format!("no estimate{left}"),
            _ => format!(
                "{}/month{left}",
                signed(i128::from(self.change_cents), &self.currency)
            ),
        }
    }
}

/// An amount in cents, signed: `+$142.00`, `-$3.50`, `±$0.00`.
pub fn signed(c: i128, currency: &str) -> String {
    let sign = match c {
        0 => "±",
        c if c > 0 => "+",
        _ => "-",
    };
    format!("{sign}{}", money(c.abs(), currency))
}

/// `$1,361.31` (another currency: `1,361.31 EUR`).
pub fn money(c: i128, currency: &str) -> String {
    let neg = c < 0;
    let c = c.abs();
    let units = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let n = format!("{}{grouped}.{:02}", if neg { "-" } else { "" }, c % 100);
    match currency {
        "USD" => format!("${n}"),
        other => format!("{n} {other}"),
    }
}

/// A decimal amount (`1361.3075`, `-3.5`, `0`) in cents, rounded half
/// away from zero; none for anything else (exponents, text, overflow).
pub fn cents(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 30
    {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    let first_two =
        i128::from(*digits.first().unwrap_or(&0)) * 10 + i128::from(*digits.get(1).unwrap_or(&0));
    let round_up = digits.get(2).is_some_and(|d| *d >= 5);
    let c = whole.checked_mul(100)? + first_two + i128::from(round_up);
    Some(if neg { -c } else { c })
}

/// Cents as decimal text (`-350` → `-3.50`).
pub fn from_cents(c: i128) -> String {
    format!(
        "{}{}.{:02}",
        if c < 0 { "-" } else { "" },
        c.abs() / 100,
        c.abs() % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_cents_and_show_as_money() {
        assert_eq!(cents("1361.3075"), Some(136131));
        assert_eq!(cents("0.005"), Some(1));
        assert_eq!(cents("-3.5"), Some(-350));
        assert_eq!(cents("12"), Some(1200));
        for bad in ["", "1e3", "abc", "1.2.3", "-", "."] {
            assert_eq!(cents(bad), None, "{bad}");
        }
        assert_eq!(money(136131, "USD"), "$1,361.31");
        assert_eq!(money(100, "EUR"), "1.00 EUR");
        assert_eq!(signed(14200, "USD"), "+$142.00");
        assert_eq!(signed(-350, "USD"), "-$3.50");
        assert_eq!(signed(0, "USD"), "±$0.00");
        assert_eq!(from_cents(-350), "-3.50");
    }

    #[test]
    fn a_sum_counts_what_it_leaves_out() {
        let e = |diff: Option<&str>, cur: &str| CostEstimate {
            currency: cur.into(),
            monthly: Some("10".into()),
            past_monthly: None,
            diff_monthly: diff.map(String::from),
            basis: None,
        };
        let (a, b, none, eur) = (
            e(Some("1361.3075"), "USD"),
            e(Some("-0.5"), "USD"),
            e(None, "USD"),
            e(Some("3"), "EUR"),
        );
        assert_eq!(CostSum::of([None, None]), None);
        let s = CostSum::of([Some(&a), Some(&b), Some(&none), Some(&eur), None]).unwrap();
        assert_eq!((s.change_cents, s.priced, s.unpriced), (136081, 2, 3));
        assert_eq!(s.text(), "+$1,360.81/month; 3 plans without an estimate");
        let mut m = CostSum::of([Some(&a)]).unwrap();
        m.merge(&CostSum::of([Some(&a)]).unwrap());
        assert_eq!(m.text(), "+$2,722.62/month");
        m.merge(&CostSum::of([Some(&eur)]).unwrap());
        assert_eq!(m.text(), "+$2,722.62/month; 1 plan without an estimate");
    }

    #[test]
    fn infracost_json_is_read_by_its_totals_and_nothing_else() {
        let e = CostEstimate::from_infracost(
            r#"{"version":"0.2","currency":"USD","totalMonthlyCost":"1361.3075","pastTotalMonthlyCost":"1219.31","someNewKey":{"x":1},"projects":[]}"#,
        )
        .unwrap();
        assert_eq!(e.diff_cents(), Some(14200));
        assert_eq!(e.change_text(), "+$142.00/month");
        // `infracost diff`/`output`: no totals at the top but the
        // projects' own.
        let diff = CostEstimate::from_infracost(
            r#"{"totalMonthlyCost":"10","pastTotalMonthlyCost":null,"diffTotalMonthlyCost":null,"projects":[{"pastBreakdown":{"totalMonthlyCost":"0"},"diff":{"totalMonthlyCost":"7.5"}},{"pastBreakdown":{"totalMonthlyCost":"2.5"},"diff":{"totalMonthlyCost":"0"}}]}"#,
        )
        .unwrap();
        assert_eq!(diff.past_monthly.as_deref(), Some("2.50"));
        assert_eq!(diff.diff_cents(), Some(750));
        // One project without a diff: no sum at all.
        let partial = CostEstimate::from_infracost(
            r#"{"totalMonthlyCost":"10","projects":[{"diff":{"totalMonthlyCost":"7.5"}},{}]}"#,
        )
        .unwrap();
        assert_eq!(partial.diff_cents(), None);
        let null =
            CostEstimate::from_infracost(r#"{"totalMonthlyCost":null,"pastTotalMonthlyCost":"5"}"#)
                .unwrap();
        assert_eq!(null.monthly, None);
        assert_eq!(
            CostEstimate::from_infracost(r#"{"projects":[]}"#),
            Err(CostError::NoTotal)
        );
        assert!(matches!(
            CostEstimate::from_infracost(r#"{"totalMonthlyCost":"lots"}"#),
            Err(CostError::NotAnAmount { .. })
        ));
        assert!(matches!(
            CostEstimate::from_infracost("not json"),
            Err(CostError::NotJson(_))
        ));
    }
}
