//! Compacted deployment records: a customer's deployment records of a
//! closed month (UTC) in one immutable segment, so that its cost report,
//! its part of the dashboard and its version list read one object per
//! month instead of one per apply.
//!
//! Writing does not change: every deployment record is still its own
//! object, `deployments/<customer>/<product or _>/<environment>/<stamp>.json`,
//! written create-only. `fleetform records compact` adds, beside them, as
//! for audit events ([`super::segments`], the same format):
//!
//! - **segments**, `segments/deployments/<customer>/<YYYY>/<MM>/<count>-<keys digest>.jsonl.gz`,
//!   every record of the customer whose stamp lies in that month, each
//!   record's bytes unchanged, in key order;
//! - **manifests**, `segments/deployments/<customer>/manifests/<bound>-<digest>.json`:
//!   the segments that together hold every record of the customer whose
//!   stamp sorts before the bound (`YYYYMM01T00`, the start of the month
//!   that began [`super::segments::SETTLE_SECS`] ago or more).
//!
//! A reader takes the customer's newest manifest, reads its segments
//! (checked against their sha256, kept in the local cache by that digest)
//! and then, one by one, only the customer's listed records no segment
//! holds: those stamped at or after the bound (or with no stamp at all:
//! such a record is never compacted), and one that arrived late for a
//! closed month, until a compaction takes it in.
//!
//! Deployment keys sort by pair, then time, so no `start-after` or month
//! prefix lists only what arrived since: that would be a listing per pair
//! (2,000 for 1,000 customers in two environments), more requests than the
//! whole of `deployments/` (one per 1,000 records not yet deleted). A
//! compaction therefore lists `deployments/` whole only when it has work
//! to find: when a month closed since the last full listing (its bound is
//! not that listing's), when the last full listing is older than
//! [`RELIST_DAYS`], or when asked (`records compact --relist`). Each full
//! listing, once its segments and manifests are written, leaves a mark,
//! `segments/deployments-listed/<time>-<bound>.json`, which the next
//! compaction finds with one request (`start-after` the time
//! [`RELIST_DAYS`] ago). In between it lists nothing of `deployments/`:
//! a record that arrived late for a closed month is read on its own by
//! the readers (above) and taken into its month's segment by the next
//! full listing, within [`RELIST_DAYS`]. A month's segment is written
//! anew when its records changed, and a record a segment held stays in it
//! even once its own object is deleted ([`super::delete`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::segments::{self, Manifest, SegmentRef, SETTLE_SECS};
use super::{RecordsError, Store};

/// Where deployment segments live, a folder per customer.
pub const PREFIX: &str = "segments/deployments/";

/// Where each full listing of `deployments/` leaves its mark.
pub const LISTED: &str = "segments/deployments-listed/";
/// The days a full listing of `deployments/` stands for, within a month.
pub const RELIST_DAYS: i64 = 7;

/// The folder of a customer's manifests.
pub fn manifests_of(customer: &str) -> String {
    format!("{PREFIX}{customer}/manifests/")
}

/// The stamp of a deployment record's key (its file name), when it is
/// one fleetform writes (`YYYYMMDDTHH...`).
pub fn stamp_of(key: &str) -> Option<&str> {
    let parts: Vec<&str> = key.split('/').collect();
    let [_, customer, _, _, name] = parts.as_slice() else {
        return None;
    };
    let ok = key.starts_with("deployments/")
        && !customer.is_empty()
        && name.len() > 11
        && name.as_bytes()[..8].iter().all(u8::is_ascii_digit)
        && name.as_bytes()[8] == b'T'
        && name.as_bytes()[9..11].iter().all(u8::is_ascii_digit);
    ok.then_some(*name)
}

/// The customer of a deployment record's key.
fn customer_of(key: &str) -> Option<&str> {
    key.strip_prefix("deployments/")?.split('/').next()
}

/// The span (`<customer>/YYYY/MM`) a record of `key` falls in, when it is
/// covered by a manifest of bound `bound`.
pub fn span_of(key: &str, bound: &str) -> Option<String> {
    let stamp = stamp_of(key).filter(|s| *s < bound)?;
    Some(format!(
        "{}/{}/{}",
        customer_of(key)?,
        &stamp[0..4],
        &stamp[4..6]
    ))
}

/// The bound at UNIX second `unix`: the start of its month.
pub fn bound_at(unix: i64) -> Option<String> {
    let t = jiff::Timestamp::from_second(unix).ok()?;
    Some(format!("{}01T00", t.strftime("%Y%m")))
}

/// What a compaction of deployment records did.
#[derive(Debug, Default)]
pub struct DeployCompaction {
    pub bound: String,
    pub written: Vec<SegmentRef>,
    pub kept: usize,
    pub records: usize,
    pub manifests: Vec<String>,
    /// Whether `deployments/` was listed whole (else nothing was to do:
    /// `records` and `kept` are 0).
    pub listed: bool,
}

/// Compacts every customer's deployment records of the months closed
/// [`SETTLE_SECS`] before `now` (UNIX seconds), when a full listing is
/// due or `relist` asks for one (see [`self`]).
pub fn compact(
    store: &Store,
    now: i64,
    cache: Option<&Path>,
    relist: bool,
) -> Result<DeployCompaction, RecordsError> {
    let refused = |reason: &str| RecordsError::Io {
        what: "compacting",
        key: "deployments/".into(),
        reason: reason.into(),
    };
    let bound = bound_at(now - SETTLE_SECS).ok_or_else(|| refused("the clock is out of range"))?;
    let mark = |unix: i64| {
        jiff::Timestamp::from_second(unix)
            .map(|t| format!("{LISTED}{}", t.strftime("%Y%m%dT%H%M%SZ")))
            .map_err(|_| refused("the clock is out of range"))
    };
    let mut out = DeployCompaction {
        bound: bound.clone(),
        ..DeployCompaction::default()
    };
    let recent = store.list_after(LISTED, &mark(now - RELIST_DAYS * 86_400)?)?;
    if !relist
        && recent
            .iter()
            .any(|k| k.ends_with(&format!("-{bound}.json")))
    {
        return Ok(out);
    }
    out.listed = true;
    let mut by_customer: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for key in store.list("deployments/")? {
        if let (Some(span), Some(c)) = (span_of(&key, &bound), customer_of(&key)) {
            let c = c.to_string();
            by_customer
                .entry(c)
                .or_default()
                .entry(span)
                .or_default()
                .push(key);
        }
    }
    for (customer, spans) in &by_customer {
        compact_customer(store, customer, spans, &bound, cache, &mut out)?;
    }
    let done = serde_json::json!({"bound": bound, "records": out.records});
    match store.create(
        &format!("{}-{bound}.json", mark(now)?),
        done.to_string().as_bytes(),
    ) {
        Ok(()) | Err(RecordsError::Exists { .. }) => Ok(out),
        Err(e) => Err(e),
    }
}

/// One customer's segments and manifest.
fn compact_customer(
    store: &Store,
    customer: &str,
    spans: &BTreeMap<String, Vec<String>>,
    bound: &str,
    cache: Option<&Path>,
    out: &mut DeployCompaction,
) -> Result<(), RecordsError> {
    let dir = manifests_of(customer);
    let last = segments::latest_at(store, &dir)?;
    let before: HashMap<&str, &SegmentRef> = last
        .iter()
        .flat_map(|m| m.segments.iter())
        .map(|s| (s.span.as_str(), s))
        .collect();
    let mut all = Vec::new();
    for (span, keys) in spans {
        let old = before.get(span.as_str()).copied();
        let gather = || segments::gather(store, keys, old.as_slice(), cache, &|_| true);
        let (segment, written) =
            segments::reuse_or_write(store, PREFIX, span, keys, old, cache, gather)?;
        match written {
            true => out.written.push(segment.clone()),
            false => out.kept += 1,
        }
        all.push(segment);
    }
    // A month none of whose records is listed any more keeps its segment.
    for s in before.values() {
        if !spans.contains_key(&s.span) {
            all.push((*s).clone());
            out.kept += 1;
        }
    }
    all.sort_by(|a, b| a.span.cmp(&b.span));
    out.records += all.iter().map(|s| s.count).sum::<usize>();
    let unchanged = last
        .as_ref()
        .is_some_and(|m| m.bound == bound && m.segments == all);
    if !unchanged && !all.is_empty() {
        let manifest = Manifest {
            v: 1,
            bound: bound.to_string(),
            segments: all,
        };
        out.manifests
            .push(segments::write_manifest_at(store, &dir, &manifest)?);
    }
    Ok(())
}

/// Every deployment record of `customer` (key and bytes) in key order,
/// each once: the newest manifest's segments (through the cache folder
/// `cache`), then, one by one, every listed record those segments do not
/// hold ([`raw_to_read`]); without a manifest, every record one by one.
pub fn read_customer(
    store: &Store,
    customer: &str,
    cache: Option<&Path>,
) -> Result<Vec<(String, Vec<u8>)>, RecordsError> {
    let manifest = segments::latest_at(store, &manifests_of(customer))?;
    let prefix = super::folder_key(&["deployments", customer])?;
    let listed = store.list(&prefix)?;
    let mut found: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(m) = &manifest {
        let wanted: Vec<&SegmentRef> = m.segments.iter().collect();
        segments::read_segments(store, &wanted, cache, &mut |k, b| {
            found.insert(k.to_string(), b);
            Ok(())
        })?;
    }
    let raw = raw_to_read(listed, &found);
    store.read_each(&raw, |k, b| {
        found.insert(k.to_string(), b);
        Ok(())
    })?;
    Ok(found.into_iter().collect())
}

/// The listed records a reader reads one by one: those the segments read
/// (`held`) do not hold. A record stamped at or after the manifest's bound
/// is in no segment, so it is read; one before it comes from its month's
/// segment and is not read again; one stamped before the bound that
/// arrived after the compaction (late) is in no segment yet, and is read
/// on its own until a compaction takes it in.
fn raw_to_read(listed: Vec<String>, held: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    listed
        .into_iter()
        .filter(|k| !held.contains_key(k))
        .collect()
}

/// The keys of `keys` to keep raw whatever a segment covers: the newest
/// record of each pair, which `last_deployment` reads on its own.
pub fn newest_of_each_pair(keys: &[String]) -> BTreeSet<String> {
    let mut newest: BTreeMap<&str, &String> = BTreeMap::new();
    for k in keys {
        if let Some((dir, _)) = k.rsplit_once('/') {
            let e = newest.entry(dir).or_insert(k);
            if k > *e {
                *e = k;
            }
        }
    }
    newest.into_values().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_a_customers_closed_months() {
        let bound = bound_at(1_795_435_200).unwrap(); // 2026-11-23T12:00Z
        assert_eq!(bound, "20261101T00");
        let k = "deployments/acme/_/staging/20261031T235959.000Z-abc.json";
        assert_eq!(span_of(k, &bound).unwrap(), "acme/2026/10");
        let now = "deployments/acme/web/staging/20261101T000000.000Z-abc.json";
        assert_eq!(span_of(now, &bound), None);
        assert_eq!(span_of("deployments/acme/_/staging/1.json", &bound), None);
        assert_eq!(
            span_of("deployments/acme/staging/20261001T00.json", &bound),
            None
        );
        let keys = [
            "deployments/a/_/s/20261001T000000.000Z-a.json".to_string(),
            "deployments/a/_/s/20261002T000000.000Z-a.json".to_string(),
            "deployments/a/_/p/20261001T000000.000Z-a.json".to_string(),
        ];
        let kept = newest_of_each_pair(&keys);
        assert_eq!(kept.len(), 2);
        assert!(kept.contains(&keys[1]) && kept.contains(&keys[2]));
    }
}
