//! `drift --from-reports DIR`: the matrix's shards plan and write their
//! `drift-report.json` (no issue writes); one job merges them and writes
//! every drift issue. One writer means one write budget and one write log
//! for the whole fleet (shards writing at once would each count only their
//! own writes), and a customer whose environments ran in different shards
//! is judged on all of them (a shard where it was clean must not close the
//! issue another shard keeps open).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Activity;
use crate::config::Registry;
use crate::data::summary::PlanSummary;
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};
use crate::report::drift::Report;

/// The file each shard writes into its results folder.
pub const REPORT_FILE: &str = "drift-report.json";

/// The largest shard report read (256 MiB).
const MAX_REPORT: u64 = 256 * 1024 * 1024;

/// How deep under the folder reports are looked for (`DIR/<artifact>/…`).
const MAX_DEPTH: usize = 4;

/// What a merge reads of a shard's report.
#[derive(Deserialize)]
struct ShardReport {
    checked: usize,
    #[serde(default)]
    drifted: Vec<Pair>,
    #[serde(default)]
    unapplied: Vec<Pair>,
    /// Drifted pairs the shard found accepted: drift again to the merge,
    /// which judges the causes over the whole fleet.
    #[serde(default)]
    accepted: Vec<Pair>,
    #[serde(default)]
    never_applied: Vec<Pair>,
    #[serde(default)]
    errors: Vec<Pair>,
    clean: usize,
    skipped: usize,
    #[serde(default)]
    planned_customers: Vec<String>,
    #[serde(default)]
    reported_pairs: Vec<String>,
}

/// One pair of a shard's report.
#[derive(Deserialize)]
struct Pair {
    customer: String,
    #[serde(default)]
    product: Option<String>,
    environment: String,
    #[serde(default)]
    summary: Option<Box<PlanSummary>>,
    #[serde(default)]
    dir: Option<PathBuf>,
    #[serde(default)]
    error: Option<String>,
}

impl Pair {
    fn key(&self) -> String {
        match &self.product {
            Some(p) => format!("{}/{p}/{}", self.customer, self.environment),
            None => format!("{}/{}", self.customer, self.environment),
        }
    }

    /// The row it was written from; a planned pair without its summary is
    /// not a report fleetform wrote.
    fn planned(self, file: &Path) -> Result<Row> {
        let key = self.key();
        let summary = self
            .summary
            .ok_or_else(|| bad(file, &format!("{key} has no plan summary")))?;
        Ok(Row {
            customer: self.customer,
            product: self.product,
            environment: self.environment,
            outcome: Outcome::Planned {
                summary,
                dir: self.dir.unwrap_or_default(),
            },
        })
    }

    fn failed(self) -> Row {
        Row {
            customer: self.customer,
            product: self.product,
            environment: self.environment,
            outcome: Outcome::Failed {
                error: self.error.unwrap_or_else(|| "failed".into()),
                problems: Vec::new(),
            },
        }
    }
}

fn bad(file: &Path, what: &str) -> Error {
    Error::usage(format!(
        "{}: not a drift report fleetform wrote: {what}",
        file.display()
    ))
}

/// Every `drift-report.json` under `dir`, sorted.
fn find(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = todo.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Error::usage(format!("--from-reports {}: {e}", d.display())))?;
        for entry in entries.flatten() {
            // Never through a symlink: the folder is a download.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && depth < MAX_DEPTH {
                todo.push((path, depth + 1));
            } else if kind.is_file() && entry.file_name() == REPORT_FILE {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(Error::usage(format!(
            "no {REPORT_FILE} under {}: download the drift jobs' reports there first",
            dir.display()
        )));
    }
    Ok(found)
}

/// The merged report and its rows (drifted, never applied, failed) for
/// the table. Every customer named must be an active customer of the
/// registry, and no pair may be in two reports. A pair of `expected`
/// (`customer`, `environment`) of a customer some report names, but not
/// that pair, is a failed pair: its shard failed or was cancelled, and the
/// customer's issue is left as it is (never closed for the pairs that did
/// report clean). A customer no report names is not planned, so its issue
/// is left as it is too.
pub fn read(
    dir: &Path,
    registry: &Registry,
    expected: &[(String, String)],
) -> Result<(Vec<Row>, Report)> {
    let (rows, mut merged, reported) = read_reports(dir, registry)?;
    let mut rows = rows;
    let named: BTreeSet<&str> = reported
        .iter()
        .filter_map(|k| k.split_once('/').map(|(c, _)| c))
        .collect();
    for (customer, environment) in expected {
        let key = format!("{customer}/{environment}");
        if !named.contains(customer.as_str()) || reported.contains(&key) {
            continue;
        }
        let missing = Row {
            customer: customer.clone(),
            product: None,
            environment: environment.clone(),
            outcome: Outcome::Failed {
                error: "no drift report for this pair: its drift job failed or was cancelled (see the run); its issue is left as it is".into(),
                problems: Vec::new(),
            },
        };
        merged.checked += 1;
        merged.errors.push(missing.clone());
        rows.push(missing);
    }
    Ok((rows, merged))
}

/// The shards' reports merged, and every pair they name.
fn read_reports(dir: &Path, registry: &Registry) -> Result<(Vec<Row>, Report, BTreeSet<String>)> {
    let mut merged = Report::tally(&[]);
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut planned = BTreeSet::new();
    let mut reported = BTreeSet::new();
    for file in find(dir)? {
        let bytes = crate::util::fs::read_bounded(&file, MAX_REPORT)
            .map_err(|e| Error::usage(e.to_string()))?;
        let shard: ShardReport =
            serde_json::from_slice(&bytes).map_err(|e| bad(&file, &e.to_string()))?;
        let pairs = shard
            .drifted
            .iter()
            .chain(&shard.unapplied)
            .chain(&shard.accepted)
            .chain(&shard.never_applied);
        let names = pairs.chain(&shard.errors).map(|p| &p.customer);
        for c in names.chain(&shard.planned_customers) {
            if !registry
                .get(c)
                .is_some_and(|r| r.takes_part(Activity::Drift))
            {
                return Err(bad(&file, &format!("`{c}` is not an active customer")));
            }
        }
        for p in shard
            .drifted
            .iter()
            .chain(&shard.unapplied)
            .chain(&shard.accepted)
            .chain(&shard.never_applied)
            .chain(&shard.errors)
        {
            if let Some(first) = seen.insert(p.key(), file.clone()) {
                return Err(bad(
                    &file,
                    &format!("{} is also in {}", p.key(), first.display()),
                ));
            }
        }
        merged.checked = merged.checked.saturating_add(shard.checked);
        merged.clean = merged.clean.saturating_add(shard.clean);
        merged.skipped = merged.skipped.saturating_add(shard.skipped);
        planned.extend(shard.planned_customers);
        reported.extend(shard.reported_pairs);
        let named = shard
            .drifted
            .iter()
            .chain(&shard.unapplied)
            .chain(&shard.accepted)
            .chain(&shard.never_applied)
            .chain(&shard.errors);
        reported.extend(named.map(|p| format!("{}/{}", p.customer, p.environment)));
        for p in shard.drifted.into_iter().chain(shard.accepted) {
            merged.drifted.push(p.planned(&file)?);
        }
        for p in shard.unapplied {
            merged.unapplied.push(p.planned(&file)?);
        }
        for p in shard.never_applied {
            merged.never_applied.push(p.planned(&file)?);
        }
        merged
            .errors
            .extend(shard.errors.into_iter().map(Pair::failed));
    }
    merged.planned_customers = planned.into_iter().collect();
    let rows = merged
        .changed()
        .chain(&merged.never_applied)
        .chain(&merged.errors)
        .cloned()
        .collect();
    Ok((rows, merged, reported))
}
