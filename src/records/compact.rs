//! `fleetform records compact`: the audit events of every closed span in
//! one segment each, and a manifest naming them ([`super::segments`]).
//!
//! A compaction lists the events (all of them the first time; then those
//! of the [`RECHECK_DAYS`] days before the last bound and after), groups
//! them by span, reuses a segment the last manifest names when its span's
//! events are the same, writes a segment for every other span (its events
//! taken from the segments before where they are, else read one by one),
//! and then the manifest. Every write is create-only; an event a segment
//! before held stays in the span's new segment even when its own object
//! was deleted since (`--delete-covered`, [`super::delete`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::segments::{self, Manifest, SegmentRef, RECHECK_DAYS, SETTLE_SECS};
use super::{RecordsError, Store};

/// What a compaction did.
#[derive(Debug, Default)]
pub struct Compaction {
    /// Every event whose key sorts before it is in a segment.
    pub bound: String,
    /// Segments written now.
    pub written: Vec<SegmentRef>,
    /// Segments of the last manifest kept.
    pub kept: usize,
    /// Events in the new manifest's segments.
    pub events: usize,
    /// The manifest written, or none when the last one says it all.
    pub manifest: Option<String>,
}

fn refused(key: &str, reason: impl std::fmt::Display) -> RecordsError {
    RecordsError::Io {
        what: "compacting",
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// The start of the day `days` before the day of `bound`, as a key every
/// event key of that day and later sorts after.
fn days_before(bound: &str, days: i64) -> Option<String> {
    let day = segments::day_of(bound)?;
    let date: jiff::civil::Date = day.replace('/', "-").parse().ok()?;
    let from = date.checked_sub(jiff::Span::new().days(days)).ok()?;
    Some(format!("audit/{}", from.strftime("%Y/%m/%d")))
}

/// Compacts the store's audit events up to the hour that ended
/// [`SETTLE_SECS`] before `now` (UNIX seconds); segments read before are
/// kept in `cache`.
pub fn compact(store: &Store, now: i64, cache: Option<&Path>) -> Result<Compaction, RecordsError> {
    let bound = segments::bound_at(now - SETTLE_SECS)
        .ok_or_else(|| refused("audit/", "the clock is out of range"))?;
    let last = segments::latest(store)?;
    let (trusted, listed) = match &last {
        None => (Vec::new(), store.list("audit/")?),
        Some(m) => {
            let from = days_before(&m.bound, RECHECK_DAYS)
                .ok_or_else(|| refused(&m.bound, "the last manifest's bound is not a bound"))?;
            let trusted: Vec<SegmentRef> = m
                .segments
                .iter()
                .filter(|s| format!("audit/{}", &s.span[..10.min(s.span.len())]) < from)
                .cloned()
                .collect();
            (trusted, store.list_after("audit/", &from)?)
        }
    };
    let spans = by_span(listed, &bound)?;
    let before: HashMap<&str, &SegmentRef> = last
        .iter()
        .flat_map(|m| m.segments.iter())
        .map(|s| (s.span.as_str(), s))
        .collect();
    let mut out = Compaction {
        bound: bound.clone(),
        kept: trusted.len(),
        ..Compaction::default()
    };
    let mut all = trusted;
    for (span, keys) in &spans {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let digest = segments::digest_of_keys(&refs);
        if let Some(same) = before
            .get(span.as_str())
            .filter(|s| s.keys_sha256 == digest)
        {
            all.push((*same).clone());
            out.kept += 1;
            continue;
        }
        let old = last.as_ref().map(|m| m.segments.as_slice()).unwrap_or(&[]);
        let in_span = |k: &str| segments::span_of(k, &bound).as_deref() == Some(span.as_str());
        let events = gather(store, span, keys, old, cache, &in_span)?;
        let refs: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        let digest = segments::digest_of_keys(&refs);
        if let Some(same) = before
            .get(span.as_str())
            .filter(|s| s.keys_sha256 == digest)
        {
            // Every listed event was in the segment already: some of its
            // events were deleted (`--delete-covered`) or not yet listed.
            all.push((*same).clone());
            out.kept += 1;
            continue;
        }
        let made = segments::build(span, &events)?;
        segments::write(store, &made, cache)?;
        out.written.push(made.reference.clone());
        all.push(made.reference);
    }
    let untouched = untouched(&before, &all, &spans);
    out.kept += untouched.len();
    all.extend(untouched);
    all.sort_by(|a, b| a.span.cmp(&b.span));
    out.events = all.iter().map(|s| s.count).sum();
    let unchanged = last
        .as_ref()
        .is_some_and(|m| m.bound == bound && m.segments == all);
    if !unchanged && !all.is_empty() {
        let manifest = Manifest {
            v: 1,
            bound,
            segments: all,
        };
        out.manifest = Some(segments::write_manifest(store, &manifest)?);
    }
    Ok(out)
}

/// The segments of the last manifest (`before`) of spans none of whose
/// events is listed any more (all deleted once covered) and none of
/// `all` (kept or written now) holds: kept as they are.
fn untouched(
    before: &HashMap<&str, &SegmentRef>,
    all: &[SegmentRef],
    spans: &BTreeMap<String, Vec<String>>,
) -> Vec<SegmentRef> {
    before
        .values()
        .filter(|s| !all.iter().any(|a| a.key == s.key))
        .filter(|s| {
            !spans
                .keys()
                .any(|n| n.starts_with(&s.span) || s.span.starts_with(n.as_str()))
        })
        .map(|s| (*s).clone())
        .collect()
}

/// The listed events before `bound`, by span; an event key fleetform
/// could not have written stops the compaction (a reader would never
/// reach it).
fn by_span(
    listed: Vec<String>,
    bound: &str,
) -> Result<BTreeMap<String, Vec<String>>, RecordsError> {
    let mut spans: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in listed.into_iter().filter(|k| k.as_str() < bound) {
        let Some(span) = segments::span_of(&key, bound) else {
            return Err(refused(
                &key,
                "not an audit event's key (audit/YYYY/MM/DD/<time>-<id>.json); move it out of audit/ and compact again",
            ));
        };
        spans.entry(span).or_default().push(key);
    }
    Ok(spans)
}

/// The events of `keys` and those of the segments of the same day made
/// before that fall in the span (`in_span`), sorted, with their bytes:
/// from those segments where they are, else read one by one. An event a
/// segment holds is never dropped, even when its own object is gone
/// (deleted once covered) or not listed.
fn gather(
    store: &Store,
    span: &str,
    keys: &[String],
    old: &[SegmentRef],
    cache: Option<&Path>,
    in_span: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, RecordsError> {
    let day = &span[..10.min(span.len())];
    let mut known: HashMap<String, Vec<u8>> = HashMap::new();
    for s in old.iter().filter(|s| s.span.starts_with(day)) {
        let bytes = segments::fetch(store, s, cache)?;
        segments::open(s, &bytes, |k, b| {
            known.insert(k.to_string(), b);
            Ok(())
        })?;
    }
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !known.contains_key(k.as_str()))
        .cloned()
        .collect();
    store.read_each(&missing, |k, b| {
        known.insert(k.to_string(), b);
        Ok(())
    })?;
    let mut all: std::collections::BTreeSet<String> = keys.iter().cloned().collect();
    all.extend(known.keys().filter(|k| in_span(k)).cloned());
    Ok(all
        .into_iter()
        .map(|k| {
            let bytes = known.remove(&k).unwrap_or_default();
            (k, bytes)
        })
        .collect())
}
