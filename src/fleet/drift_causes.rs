//! Drift by cause across the fleet (`report::drift_causes` renders it):
//! every change the cloud made to a drifted pair, keyed by resource type,
//! top-level attribute and kind of change (`fakecloud_bucket.versioning:set-false`),
//! the pairs of each cause, accepted drift (`drift.accepted` in
//! fleetform.yml) marked, expired or not, and what the run does about each
//! drifted pair by its environment's `drift.repair` policy.
//!
//! Customer-specific values never split a cause: a changed value is
//! `changed` whatever it became; only a boolean's new value is part of it.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{DriftConfig, RepairPolicy};
use crate::data::drift_change::ChangeKind;
use crate::data::summary::{Action, PlanSummary, ResourceChange};
use crate::report::drift::Report;
use crate::report::drift_causes::{
    id_attribute, Cause, CausePair, CausesRecord, Repair, RepairAction,
};
use crate::report::table::{Outcome, Row};

/// What the grouping needs besides the report.
pub struct Context<'a> {
    pub config: &'a DriftConfig,
    /// Customers a halted rollout holds.
    pub halted: &'a BTreeSet<String>,
    pub today: jiff::civil::Date,
    /// This run's time (RFC 3339): `since` of a cause first seen now.
    pub now: &'a str,
    /// The last run's causes, for `since`.
    pub previous: Option<&'a CausesRecord>,
}

/// A cause's identity and words, before its pairs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    id: String,
    resource_type: String,
    attribute: Option<String>,
    change: String,
}

/// The causes of one resource the cloud changed.
fn keys_of(r: &ResourceChange) -> Vec<Key> {
    let ty = r.resource_type().to_string();
    let whole = |kind: &str, words: &str| Key {
        id: format!("{ty}:{kind}"),
        resource_type: ty.clone(),
        attribute: None,
        change: words.into(),
    };
    match r.action {
        Action::Delete => return vec![whole("deleted", "deleted outside Terraform")],
        Action::Update => {}
        _ => return vec![whole("changed", "changed outside Terraform")],
    }
    if r.kinds.is_empty() {
        // A summary from before kinds were kept: its changed attributes.
        let attrs: BTreeSet<String> = r
            .changed
            .iter()
            .map(|c| crate::report::opaque::attribute(c))
            .collect();
        if attrs.is_empty() {
            return vec![whole("changed", "changed outside Terraform")];
        }
        return attrs
            .into_iter()
            .map(|a| attribute_key(&ty, &a, ChangeKind::Changed, None))
            .collect();
    }
    r.kinds
        .iter()
        .map(|k| attribute_key(&ty, &k.attribute, k.change, k.to))
        .collect()
}

fn attribute_key(ty: &str, attribute: &str, kind: ChangeKind, to: Option<bool>) -> Key {
    let (id_kind, words) = match (kind, to) {
        (ChangeKind::Set, Some(b)) => (format!("set-{b}"), format!("set to {b}")),
        (ChangeKind::Set, None) | (ChangeKind::Changed, _) => {
            ("changed".into(), "changed (value not shown)".into())
        }
        (ChangeKind::Added, _) => ("added".into(), "set where it was empty".into()),
        (ChangeKind::Removed, _) => ("removed".into(), "emptied".into()),
        (ChangeKind::ElementAdded, _) => ("element-added".into(), "elements added".into()),
        (ChangeKind::ElementRemoved, _) => ("element-removed".into(), "elements removed".into()),
    };
    Key {
        id: format!("{ty}.{}:{id_kind}", id_attribute(attribute)),
        resource_type: ty.to_string(),
        attribute: Some(attribute.to_string()),
        change: words,
    }
}

/// A pair's causes, each with how many of its resources have it.
fn causes_of(summary: &PlanSummary) -> BTreeMap<Key, usize> {
    let mut out = BTreeMap::new();
    for r in &summary.cloud_drift {
        let keys: BTreeSet<Key> = keys_of(r).into_iter().collect();
        for k in keys {
            *out.entry(k).or_insert(0) += 1;
        }
    }
    out
}

fn summary_of(row: &Row) -> Option<&PlanSummary> {
    match &row.outcome {
        Outcome::Planned { summary, .. } => Some(&**summary),
        _ => None,
    }
}

/// The acceptance of a cause for a pair, as the pair shows it.
fn acceptance(
    config: &DriftConfig,
    id: &str,
    row: &Row,
    today: jiff::civil::Date,
) -> (Option<String>, bool) {
    match config
        .accepted
        .iter()
        .find(|a| a.covers(id, &row.customer, &row.environment))
    {
        Some(a) => (
            Some(format!(
                "until {}: {}",
                a.until,
                crate::util::text::shown(&a.reason)
            )),
            a.expired_days(today).is_some(),
        ),
        None => (None, false),
    }
}

/// Groups the report's drifted pairs by cause, moves the pairs whose
/// every cause is accepted to `accepted`, and classifies each drifted
/// pair by its environment's policy. Whole-run work in one pass over the
/// pairs and their drifted resources.
pub fn analyse(report: &mut Report, ctx: &Context<'_>) {
    let mut drifted = std::mem::take(&mut report.drifted);
    drifted.append(&mut report.accepted);
    let mut grouped: BTreeMap<Key, Vec<CausePair>> = BTreeMap::new();
    let mut fully_accepted = vec![true; drifted.len()];
    let mut some_accepted = vec![false; drifted.len()];
    for (i, row) in drifted.iter().enumerate() {
        let Some(summary) = summary_of(row) else {
            continue;
        };
        let causes = causes_of(summary);
        if causes.is_empty() {
            fully_accepted[i] = false;
        }
        for (key, resources) in causes {
            let (accepted, expired) = acceptance(ctx.config, &key.id, row, ctx.today);
            let pair = CausePair {
                customer: row.customer.clone(),
                product: row.product.clone(),
                environment: row.environment.clone(),
                resources,
                accepted,
                expired,
            };
            fully_accepted[i] &= pair.is_accepted();
            some_accepted[i] |= pair.is_accepted();
            grouped.entry(key).or_default().push(pair);
        }
    }
    report.causes = causes(grouped, ctx);
    report.repairs = repairs(&drifted, &fully_accepted, &some_accepted, ctx);
    for (row, all) in drifted.into_iter().zip(fully_accepted) {
        match all {
            true => report.accepted.push(row),
            false => report.drifted.push(row),
        }
    }
}

/// The causes, most customers first, each with its reach and since when.
fn causes(grouped: BTreeMap<Key, Vec<CausePair>>, ctx: &Context<'_>) -> Vec<Cause> {
    let since: BTreeMap<&str, &str> = ctx
        .previous
        .map(|p| {
            p.causes
                .iter()
                .map(|c| (c.id.as_str(), c.since.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<Cause> = grouped
        .into_iter()
        .map(|(key, pairs)| {
            let customers: BTreeSet<&str> = pairs.iter().map(|p| p.customer.as_str()).collect();
            let environments: BTreeSet<&str> =
                pairs.iter().map(|p| p.environment.as_str()).collect();
            Cause {
                since: since.get(key.id.as_str()).unwrap_or(&ctx.now).to_string(),
                customers: customers.len(),
                environments: environments.into_iter().map(str::to_string).collect(),
                id: key.id,
                resource_type: key.resource_type,
                attribute: key.attribute,
                change: key.change,
                pairs,
                issue: None,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.customers, b.pairs.len())
            .cmp(&(a.customers, a.pairs.len()))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// Why a pair under `repair` is proposed rather than repaired, if it is.
fn not_repaired(summary: &PlanSummary, some_accepted: bool, halted: bool) -> Option<&'static str> {
    if summary.create + summary.delete + summary.replace > 0 {
        return Some("the plan creates, destroys or replaces resources: only in-place changes are repaired by themselves");
    }
    if summary.pin.is_some() {
        return Some("the customer is pinned: its pin holds it at another manager version");
    }
    if halted {
        return Some("a halted rollout holds the customer");
    }
    if has_edits(summary) {
        return Some("edits not applied yet: a repair would apply them too");
    }
    if some_accepted {
        return Some("part of its drift is accepted: a repair would undo it");
    }
    None
}

/// Whether the plan changes a resource the cloud did not change (edits
/// not applied yet), counting resources per address (opaque addresses of
/// two resources can read the same).
fn has_edits(summary: &PlanSummary) -> bool {
    let mut drifted: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &summary.cloud_drift {
        *drifted.entry(d.address.as_str()).or_insert(0) += 1;
    }
    let mut planned: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &summary.resources {
        *planned.entry(r.address.as_str()).or_insert(0) += 1;
    }
    planned
        .iter()
        .any(|(a, n)| drifted.get(a).is_none_or(|d| n > d))
        || (!summary.outputs.is_empty() && summary.resources.is_empty())
}

/// What the run does about each drifted pair, in the pairs' order, within
/// `drift.max_repairs`.
fn repairs(
    rows: &[Row],
    fully_accepted: &[bool],
    some_accepted: &[bool],
    ctx: &Context<'_>,
) -> Vec<Repair> {
    let cap = ctx.config.max_repairs;
    let mut customers: BTreeSet<&str> = BTreeSet::new();
    let mut resources = 0usize;
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(summary) = summary_of(row) else {
            continue;
        };
        let policy = ctx.config.policy(&row.environment);
        let (action, why) = match policy {
            _ if fully_accepted[i] => (
                RepairAction::Accepted,
                Some("every cause of its drift is accepted".to_string()),
            ),
            RepairPolicy::Report => (RepairAction::Report, None),
            RepairPolicy::Propose => (RepairAction::Propose, None),
            RepairPolicy::Repair => {
                let halted = ctx.halted.contains(&row.customer);
                match not_repaired(summary, some_accepted[i], halted) {
                    Some(why) => (RepairAction::Propose, Some(why.to_string())),
                    None => {
                        let new_customer = !customers.contains(row.customer.as_str());
                        let n = summary.resources.len();
                        if (new_customer && customers.len() >= cap.customers)
                            || resources + n > cap.resources
                        {
                            (RepairAction::Propose, Some(format!(
                                "over the run's cap (drift.max_repairs: {} customers, {} resources)",
                                cap.customers, cap.resources
                            )))
                        } else {
                            customers.insert(row.customer.as_str());
                            resources += n;
                            (RepairAction::Repair, None)
                        }
                    }
                }
            }
        };
        out.push(Repair {
            customer: row.customer.clone(),
            product: row.product.clone(),
            environment: row.environment.clone(),
            policy: policy.word().into(),
            action,
            why,
            resources: summary.resources.len(),
        });
    }
    out
}

/// Why the causes the records keep could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum CausesRecordError {
    #[error(transparent)]
    Records(#[from] crate::records::RecordsError),
    #[error("{key}: not a causes record fleetform wrote: {source}")]
    NotARecord {
        key: String,
        source: serde_json::Error,
    },
}

/// The last drift run's causes in the records, if any run kept them.
pub fn previous(store: &crate::records::Store) -> Result<Option<CausesRecord>, CausesRecordError> {
    let keys = store.list(crate::records::DRIFT_CAUSES_PREFIX)?;
    let Some(last) = keys.iter().rev().find(|k| k.ends_with(".json")) else {
        return Ok(None);
    };
    let bytes = store.read(last)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| CausesRecordError::NotARecord {
            key: last.clone(),
            source,
        })
}

/// Keeps this run's causes in the records (one new record).
pub fn keep(store: &crate::records::Store, record: &CausesRecord) -> Result<(), CausesRecordError> {
    let bytes = serde_json::to_vec_pretty(record).expect("serialisable");
    store.create(&crate::records::drift_causes_key(), &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests;
