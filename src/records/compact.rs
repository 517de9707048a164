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
            let from = segments::days_before(&m.bound, RECHECK_DAYS)
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
    let old: Vec<&SegmentRef> = last.iter().flat_map(|m| m.segments.iter()).collect();
    for (span, keys) in &spans {
        let day = &span[..10.min(span.len())];
        let in_span = |k: &str| segments::span_of(k, &bound).as_deref() == Some(span.as_str());
        let gather = || {
            let same_day: Vec<&SegmentRef> = old
                .iter()
                .copied()
                .filter(|s| s.span.starts_with(day))
                .collect();
            segments::gather(store, keys, &same_day, cache, &in_span)
        };
        let previous = before.get(span.as_str()).copied();
        let (segment, written) =
            segments::reuse_or_write(store, segments::PREFIX, span, keys, previous, cache, gather)?;
        match written {
            true => out.written.push(segment.clone()),
            false => out.kept += 1,
        }
        all.push(segment);
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
