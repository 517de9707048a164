//! `fleetform report cost --customer C --month YYYY-MM [--csv]`: one
//! customer's cost per month from the deployment records (each apply
//! keeps its plan's Infracost estimate) and what changed it in the month
//! ([`crate::report::cost`]), printed as Markdown or CSV.

use clap::Args;
use std::path::Path;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::report::cost::CostReport;

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The customer (its slug in customers.yml).
    #[arg(long)]
    pub customer: String,
    /// The month, `YYYY-MM` (UTC).
    #[arg(long)]
    pub month: String,
    /// CSV instead of Markdown.
    #[arg(long)]
    pub csv: bool,
}

/// The month's bounds as RFC 3339 (start inclusive, end exclusive).
fn bounds(month: &str) -> Result<(String, String)> {
    let bad = || {
        Error::usage(format!(
            "--month {month}: not a month like 2026-11 (YYYY-MM)"
        ))
    };
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if month.len() != 7 || !(1..=12).contains(&m) || !(1970..=9999).contains(&y) {
        return Err(bad());
    }
    let start = jiff::civil::date(y, m, 1);
    let end = start
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| bad())?;
    Ok((format!("{start}T00:00:00Z"), format!("{end}T00:00:00Z")))
}

pub fn run(args: &CostArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let window = bounds(&args.month)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customer = registry.require(&args.customer).map_err(Error::usage)?;
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let cache = crate::records::segments::cache_dir(&manager);
    let records =
        crate::records::deploy_segments::read_customer(&store, &customer.slug, Some(&cache))
            .map_err(|e| {
                Error::failed(format!(
                    "reading the deployment records of {} in {}: {e}",
                    customer.slug,
                    store.describe()
                ))
            })?;
    let prefixes: Vec<String> = crate::fleet::dashboard::units_of(&manager, customer)
        .iter()
        .map(crate::records::deployments_prefix)
        .collect();
    let mut applied = Vec::new();
    for (key, bytes) in records {
        if !prefixes.iter().any(|p| key.starts_with(p.as_str())) {
            continue;
        }
        let d: crate::records::Deployment = serde_json::from_slice(&bytes)
            .map_err(|e| Error::failed(format!("{key}: not a deployment record: {e}")))?;
        applied.push(crate::fleet::cost_history::applied(d));
    }
    let report = CostReport::new(
        &customer.slug,
        &args.month,
        &applied,
        (&window.0, &window.1),
    );
    let text = match args.csv {
        true => report.csv(),
        false => report.markdown(),
    };
    cx.out.result(text.trim_end());
    Ok(())
}
