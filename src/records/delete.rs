//! `fleetform records compact --delete-covered`: the raw audit events and
//! deployment records that segments hold, deleted, when the provider asks
//! for it (nothing is ever deleted otherwise) and only where nothing still
//! holds them:
//!
//! - only what the newest manifest's segments hold, and only in spans that
//!   ended [`DELETE_AFTER_DAYS`] days or more before its bound (far behind
//!   what any compaction lists again, so one running at the same time
//!   keeps every event in its segments);
//! - each segment read back from the store (not the cache) and checked
//!   against its manifest's sha256 and its keys' digest first, and only the
//!   events it holds deleted;
//! - never an object Object Lock holds: each is asked for (a HEAD, which
//!   S3 answers with `x-amz-object-lock-mode`, `-retain-until-date` and
//!   `-legal-hold`; a bucket's default retention is set on every object
//!   when it is written, so the HEAD shows it too) and kept while its
//!   retention lasts or a legal hold is on;
//! - never the newest deployment record of a pair, which the applies and
//!   the dashboard read on their own ([`super::last_deployment`]);
//! - the version deleted, not hidden behind a delete marker.
//!
//! What is deleted is recorded first, create-only, in
//! `deletions/<time>-<id>.json` (which nothing ever deletes): each key,
//! its version and the segment that holds it, and what was kept and why.
//! Readers go on as before: segments, then the raw records after the bound.

use std::collections::BTreeSet;

use super::deploy_segments;
use super::segments::{self, SegmentRef};
use super::{RecordsError, Store};

/// How long after its span ends a covered event may be deleted.
pub const DELETE_AFTER_DAYS: i64 = 7;
/// Where the records of deletions are kept.
pub const DELETIONS: &str = "deletions/";

/// What Object Lock holds an object by, and its current version.
#[derive(Debug, Default, Clone)]
pub struct Held {
    pub version: Option<String>,
    pub mode: Option<String>,
    /// RFC 3339.
    pub until: Option<String>,
    pub legal_hold: bool,
}

impl Held {
    /// Why the object may not be deleted at UNIX second `now`, if it may
    /// not.
    pub fn holds(&self, now: i64) -> Option<String> {
        if self.legal_hold {
            return Some("a legal hold is on".into());
        }
        let mode = self.mode.as_deref()?;
        let until = self.until.as_deref().unwrap_or("");
        match until.parse::<jiff::Timestamp>() {
            Ok(t) if t.as_second() <= now => None,
            Ok(_) => Some(format!("Object Lock {mode} retention until {until}")),
            Err(_) => Some(format!("Object Lock {mode} retention (until {until:?})")),
        }
    }
}

/// What a deletion did.
#[derive(Debug, Default)]
pub struct Deletion {
    /// The record of it, when anything was to be deleted.
    pub record: Option<String>,
    pub deleted: Vec<String>,
    /// Kept, and why.
    pub kept: Vec<(String, String)>,
}

#[derive(serde::Serialize)]
struct Gone {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    segment: String,
    segment_sha256: String,
}

#[derive(serde::Serialize)]
struct Kept<'a> {
    key: &'a str,
    why: &'a str,
}

/// The covered events and records that may go ([`self`]), deleted: the
/// record first, then each object.
pub fn delete_covered(store: &Store, now: i64) -> Result<Deletion, RecordsError> {
    let mut candidates: Vec<(String, SegmentRef)> = Vec::new();
    audit_candidates(store, &mut candidates)?;
    deployment_candidates(store, now, &mut candidates)?;
    let mut out = Deletion::default();
    let mut gone = Vec::new();
    for (key, segment) in candidates {
        let held = store.held(&key)?;
        match held.holds(now) {
            Some(why) => out.kept.push((key, why)),
            None => gone.push(Gone {
                key,
                version: held.version,
                segment: segment.key,
                segment_sha256: segment.sha256,
            }),
        }
    }
    if gone.is_empty() {
        return Ok(out);
    }
    let kept: Vec<Kept> = out
        .kept
        .iter()
        .map(|(key, why)| Kept { key, why })
        .collect();
    let record = serde_json::json!({
        "time": jiff::Timestamp::from_second(now).map(|t| t.to_string()).unwrap_or_default(),
        "deleting": gone,
        "kept": kept,
    });
    let key = format!("{DELETIONS}{}.json", super::stamp());
    store.create(
        &key,
        &serde_json::to_vec_pretty(&record).expect("a record serialises"),
    )?;
    out.record = Some(key);
    for g in &gone {
        store.delete_raw(&g.key, g.version.as_deref())?;
        out.deleted.push(g.key.clone());
    }
    Ok(out)
}

/// Those of `here` (raw keys of the span of `s`) the segment `s` holds,
/// read back and checked, as candidates; nothing read when `here` is
/// empty.
fn held_by(
    store: &Store,
    s: &SegmentRef,
    here: Vec<&String>,
    out: &mut Vec<(String, SegmentRef)>,
) -> Result<(), RecordsError> {
    if here.is_empty() {
        return Ok(());
    }
    let held = verified_keys(store, s)?;
    for k in here.into_iter().filter(|k| held.contains(*k)) {
        out.push((k.clone(), s.clone()));
    }
    Ok(())
}

/// The keys a segment holds, read back from the store and checked.
fn verified_keys(store: &Store, s: &SegmentRef) -> Result<BTreeSet<String>, RecordsError> {
    let bytes = store.read(&s.key)?;
    let mut keys = BTreeSet::new();
    segments::open(s, &bytes, |k, _| {
        keys.insert(k.to_string());
        Ok(())
    })?;
    Ok(keys)
}

/// The audit events the newest manifest's day segments hold, of days
/// [`DELETE_AFTER_DAYS`] or more before its bound, still there.
fn audit_candidates(
    store: &Store,
    out: &mut Vec<(String, SegmentRef)>,
) -> Result<(), RecordsError> {
    let Some(m) = segments::latest(store)? else {
        return Ok(());
    };
    let Some(horizon) = segments::days_before(&m.bound, DELETE_AFTER_DAYS) else {
        return Ok(());
    };
    let raw: Vec<String> = store
        .list("audit/")?
        .into_iter()
        .filter(|k| *k < horizon)
        .collect();
    for s in m.segments.iter().filter(|s| s.span.len() == 10) {
        let day = format!("audit/{}/", s.span);
        if day >= horizon {
            continue;
        }
        let here: Vec<&String> = raw.iter().filter(|k| k.starts_with(&day)).collect();
        held_by(store, s, here, out)?;
    }
    Ok(())
}

/// The deployment records each customer's newest manifest holds, of
/// months that ended [`DELETE_AFTER_DAYS`] or more before `now`, still
/// there, but the newest of each pair.
fn deployment_candidates(
    store: &Store,
    now: i64,
    out: &mut Vec<(String, SegmentRef)>,
) -> Result<(), RecordsError> {
    let listed = store.list("deployments/")?;
    let newest = deploy_segments::newest_of_each_pair(&listed);
    let Some(horizon) = deploy_segments::bound_at(now - DELETE_AFTER_DAYS * 86_400) else {
        return Ok(());
    };
    let mut customers = BTreeSet::new();
    for k in &listed {
        if let Some(span) = deploy_segments::span_of(k, &horizon) {
            customers.insert(span.split('/').next().unwrap_or_default().to_string());
        }
    }
    for customer in customers {
        let Some(m) = segments::latest_at(store, &deploy_segments::manifests_of(&customer))? else {
            continue;
        };
        for s in &m.segments {
            let here: Vec<&String> = listed
                .iter()
                .filter(|k| !newest.contains(*k))
                .filter(|k| {
                    deploy_segments::span_of(k, &horizon).as_deref() == Some(s.span.as_str())
                        && deploy_segments::span_of(k, &m.bound).is_some()
                })
                .collect();
            held_by(store, s, here, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_holds_until_its_date_and_a_legal_hold_always() {
        let at = |until: &str, mode: &str| Held {
            version: None,
            mode: Some(mode.into()),
            until: Some(until.into()),
            legal_hold: false,
        };
        let now = 1_795_435_200; // 2026-11-23T12:00:00Z
        assert!(at("2026-11-24T00:00:00Z", "COMPLIANCE")
            .holds(now)
            .is_some());
        assert!(at("2026-11-23T00:00:00Z", "GOVERNANCE")
            .holds(now)
            .is_none());
        assert!(at("soon", "COMPLIANCE").holds(now).is_some());
        assert!(Held::default().holds(now).is_none());
        let hold = Held {
            legal_hold: true,
            ..Held::default()
        };
        assert!(hold.holds(now).is_some());
    }
}
