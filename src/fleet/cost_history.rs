//! The dashboard's cost per customer over time: for each of the last
//! months, what the customer's deployed pairs cost per month at its end
//! and what its applies changed, from the deployment records (each apply
//! keeps its plan's Infracost estimate, [`crate::records::Deployment`]).
//! The customer's records are read through its deployment segments
//! ([`crate::records::deploy_segments::read_customer`]): one object per
//! closed month, kept in the segment cache, and the records since one by
//! one.

use crate::config::Unit;
use crate::error::{Error, Result};
use crate::report::cost::{Applied, CostReport};
use crate::report::dashboard::CostMonth;

/// Months shown, the current one included.
pub const MONTHS: i32 = 6;

/// The customer's months, oldest first; empty when no record in them
/// (or before them) kept an estimate.
pub fn months(
    store: &crate::records::Store,
    customer: &str,
    units: &[Unit],
    now: i64,
    cache: Option<&std::path::Path>,
) -> Result<Vec<CostMonth>> {
    let records = crate::records::deploy_segments::read_customer(store, customer, cache)
        .map_err(|e| Error::failed(format!("reading the deployment records of {customer}: {e}")))?;
    Ok(months_of(&records, customer, units, now))
}

/// [`months`] out of the customer's deployment `records` (key and bytes,
/// in key order, as [`crate::records::deploy_segments::read_customer`]
/// gives them).
pub fn months_of(
    records: &[(String, Vec<u8>)],
    customer: &str,
    units: &[Unit],
    now: i64,
) -> Vec<CostMonth> {
    let bounds = month_bounds(now);
    let Some(first) = bounds.first() else {
        return Vec::new();
    };
    let mut applied = Vec::new();
    for unit in units {
        applied.extend(since(records, unit, &first.1));
    }
    if applied.iter().all(|a| a.cost.is_none()) {
        return Vec::new();
    }
    bounds
        .iter()
        .map(|(month, start, end)| {
            CostReport::new(customer, month, &applied, (start, end)).month_row()
        })
        .collect()
}

/// A pair's applies from `start` on (RFC 3339), and the last one before
/// it, out of its customer's `records` (key order).
fn since(records: &[(String, Vec<u8>)], unit: &Unit, start: &str) -> Vec<Applied> {
    let prefix = crate::records::deployments_prefix(unit);
    let mut out = Vec::new();
    for (_, bytes) in records.iter().rev().filter(|(k, _)| k.starts_with(&prefix)) {
        let Ok(d) = serde_json::from_slice::<crate::records::Deployment>(bytes) else {
            continue;
        };
        let before = d.time.as_str() < start;
        out.push(applied(d));
        if before {
            break;
        }
    }
    out
}

/// What a deployment record keeps of an apply, as the cost report reads
/// it.
pub fn applied(d: crate::records::Deployment) -> Applied {
    Applied {
        time: d.time,
        environment: d.environment,
        product: d.product,
        customer_sha: d.customer_sha,
        run_url: d.run_url,
        customer_repo: d.customer_repo,
        pr: d.pr,
        cost: d.cost,
    }
}

/// The last [`MONTHS`] months up to `now`'s (UTC), oldest first: name,
/// start and end (RFC 3339, end exclusive).
fn month_bounds(now: i64) -> Vec<(String, String, String)> {
    let today = jiff::Timestamp::from_second(now)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .first_of_month();
    (0..MONTHS)
        .rev()
        .filter_map(|back| {
            let start = today.checked_sub(jiff::Span::new().months(back)).ok()?;
            let end = start.checked_add(jiff::Span::new().months(1)).ok()?;
            Some((
                start.strftime("%Y-%m").to_string(),
                format!("{start}T00:00:00Z"),
                format!("{end}T00:00:00Z"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_months_up_to_now_oldest_first() {
        // 2026-02-10T00:00:00Z
        let b = month_bounds(1_770_681_600);
        assert_eq!(b.len(), 6);
        assert_eq!(b[0].0, "2025-09");
        assert_eq!(b[5].0, "2026-02");
        assert_eq!(b[5].1, "2026-02-01T00:00:00Z");
        assert_eq!(b[5].2, "2026-03-01T00:00:00Z");
    }
}
