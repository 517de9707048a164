//! Compacted audit records: the events of a closed day (or, today, of a
//! closed hour) in one immutable object, so that reading years of a large
//! fleet's events costs one request per day instead of one per event.
//!
//! Writing does not change: every event is still its own object, written
//! create-only. `fleetform records compact` (run by the scheduled jobs)
//! adds, beside them:
//!
//! - **segments**, `segments/audit/<YYYY>/<MM>/<DD>[/<HH>]/<count>-<keys digest>.jsonl.gz`:
//!   gzip'd JSON lines, a header (`{"v":1,"span":…,"count":N,"keys_sha256":…}`)
//!   then one line per event, `{"key":…,"bytes":…}` (the event's own bytes,
//!   unchanged) in key order. Named by what they cover (the span and the
//!   digest of its keys), so two compactions of the same events write the
//!   same name, and the second's create-only write is refused harmlessly.
//! - **manifests**, `segments/audit/manifests/<bound>-<digest>.json`: the
//!   segments (with each one's sha256) that together hold every event
//!   whose key sorts before the bound (`audit/YYYY/MM/DD/YYYYMMDDTHH`: the
//!   start of an hour that ended [`SETTLE`] ago or more), one segment per
//!   span, spans disjoint.
//!
//! A reader takes the newest manifest, reads its segments (checked against
//! their sha256; kept in a local cache by that digest) and then only the
//! events listed after the bound, one by one: every event is read once,
//! from a segment or on its own. A compaction that dies half way left
//! segments no manifest names, and readers go on with the manifest before;
//! two at once write the same segments, or manifests each complete on its
//! own. Nothing is ever deleted: the events stay where they were written
//! (and under Object Lock, as long as the retention says).
//!
//! Each compaction lists again the events of the [`RECHECK_DAYS`] days
//! before the newest manifest's bound and writes a new segment for a span
//! whose events changed: an event stamped before a bound but written after
//! it (a writer finishes within `s3_http::PATIENCE`, far inside
//! [`SETTLE`]) is taken in by the next compaction.

use std::io::{BufRead, Read, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RecordsError, Store, MAX_RECORD};

/// Where segments and manifests live.
pub const PREFIX: &str = "segments/audit/";
pub const MANIFESTS: &str = "segments/audit/manifests/";
/// How long after an hour ends its events may still be arriving.
pub const SETTLE_SECS: i64 = 15 * 60;
/// The days before the last bound listed again by each compaction.
pub const RECHECK_DAYS: i64 = 2;
/// The most bytes a segment holds once inflated.
const MAX_INFLATED: u64 = 4 << 30;

/// One segment as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub key: String,
    /// `YYYY/MM/DD` (a day) or `YYYY/MM/DD/HH` (an hour).
    pub span: String,
    pub count: usize,
    /// The digest of the segment object's bytes.
    pub sha256: String,
    /// The digest of its events' keys, one per line.
    pub keys_sha256: String,
}

/// What a manifest says: every event before `bound` is in `segments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub v: u32,
    pub bound: String,
    pub segments: Vec<SegmentRef>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    v: u32,
    span: String,
    count: usize,
    keys_sha256: String,
}

#[derive(Serialize)]
struct Line {
    key: String,
    bytes: String,
}

/// A line as read: the key borrowed from the line where it has no escape.
#[derive(Deserialize)]
struct LineIn<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    bytes: String,
}

fn bad(key: &str, reason: impl std::fmt::Display) -> RecordsError {
    RecordsError::Io {
        what: "reading the segment",
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

/// The day (`YYYY/MM/DD`) of an event key `audit/YYYY/MM/DD/...`.
pub fn day_of(key: &str) -> Option<&str> {
    let day = key.strip_prefix("audit/")?.get(..10)?;
    let ok = day.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'/',
        _ => b.is_ascii_digit(),
    });
    ok.then_some(day)
}

/// The hour (`HH`) of an event key, from its stamp
/// (`audit/YYYY/MM/DD/YYYYMMDDTHH...`).
fn hour_of(key: &str) -> Option<&str> {
    let stamp = key.get(17..)?;
    let hour = stamp.get(9..11)?;
    (stamp.as_bytes().get(8) == Some(&b'T') && hour.bytes().all(|b| b.is_ascii_digit()))
        .then_some(hour)
}

/// The bound of the hour starting at `unix` (UTC): every event key of an
/// earlier hour sorts before it.
pub fn bound_at(unix: i64) -> Option<String> {
    let t = jiff::Timestamp::from_second(unix - unix.rem_euclid(3600)).ok()?;
    Some(format!(
        "audit/{}/{}",
        t.strftime("%Y/%m/%d"),
        t.strftime("%Y%m%dT%H")
    ))
}

pub fn digest_of_keys(keys: &[&str]) -> String {
    let mut all = Vec::new();
    for k in keys {
        all.extend_from_slice(k.as_bytes());
        all.push(b'\n');
    }
    crate::util::fs::sha256_bytes(&all)
}

/// The segment of `span` holding `events` (key and bytes, in key order):
/// its key and bytes.
pub fn build(span: &str, events: &[(String, Vec<u8>)]) -> Result<Made, RecordsError> {
    build_at(PREFIX, span, events)
}

/// [`build`] for a segment under `prefix` (`segments/deployments/`).
pub fn build_at(
    prefix: &str,
    span: &str,
    events: &[(String, Vec<u8>)],
) -> Result<Made, RecordsError> {
    let keys: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let keys_sha256 = digest_of_keys(&keys);
    let header = Header {
        v: 1,
        span: span.to_string(),
        count: events.len(),
        keys_sha256: keys_sha256.clone(),
    };
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    let mut put = |json: String| -> std::io::Result<()> {
        gz.write_all(json.as_bytes())?;
        gz.write_all(b"\n")
    };
    let io = |e: std::io::Error| bad(span, e);
    put(serde_json::to_string(&header).expect("a header serialises")).map_err(io)?;
    for (key, bytes) in events {
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| bad(key, "the event is not UTF-8 text, as fleetform writes them"))?;
        let line = Line {
            key: key.clone(),
            bytes: text,
        };
        put(serde_json::to_string(&line).expect("a line serialises")).map_err(io)?;
    }
    let bytes = gz.finish().map_err(io)?;
    if bytes.len() > MAX_RECORD {
        return Err(bad(
            span,
            format!("the segment would be over {} MiB", MAX_RECORD >> 20),
        ));
    }
    let key = format!(
        "{prefix}{span}/{:06}-{}.jsonl.gz",
        events.len(),
        &keys_sha256[..16]
    );
    Ok(Made {
        reference: SegmentRef {
            key,
            span: span.to_string(),
            count: events.len(),
            sha256: crate::util::fs::sha256_bytes(&bytes),
            keys_sha256,
        },
        bytes,
    })
}

/// Writes a segment made create-only (one of the same name there already
/// holds the same events: it is this one) and keeps it in the cache.
pub fn write(
    store: &Store,
    made: &Made,
    cache: Option<&std::path::Path>,
) -> Result<(), RecordsError> {
    match store.create(&made.reference.key, &made.bytes) {
        Ok(()) | Err(RecordsError::Exists { .. }) => {}
        Err(e) => return Err(e),
    }
    keep(
        cache
            .map(|c| c.join(format!("{}.jsonl.gz", made.reference.sha256)))
            .as_deref(),
        &made.bytes,
    );
    Ok(())
}

/// A segment made and its bytes.
pub struct Made {
    pub reference: SegmentRef,
    pub bytes: Vec<u8>,
}

/// The events of a segment's bytes, checked against `reference`: handed
/// to `each` in order.
pub fn open(
    reference: &SegmentRef,
    bytes: &[u8],
    mut each: impl FnMut(&str, Vec<u8>) -> Result<(), RecordsError>,
) -> Result<(), RecordsError> {
    let key = reference.key.as_str();
    if crate::util::fs::sha256_bytes(bytes) != reference.sha256 {
        return Err(bad(key, "its bytes are not those its manifest names (sha256 differs); run `fleetform records compact` again, which writes it anew"));
    }
    let inflated = flate2::read::GzDecoder::new(bytes).take(MAX_INFLATED);
    let mut reader = std::io::BufReader::with_capacity(1 << 16, inflated);
    // One buffer for every line, and the keys' digest taken as they come.
    let mut line = Vec::new();
    let header: Header = match next_line(&mut reader, &mut line).map_err(|e| bad(key, e))? {
        true => serde_json::from_slice(&line).map_err(|e| bad(key, e))?,
        false => return Err(bad(key, "no header")),
    };
    if header.v != 1 || header.span != reference.span || header.count != reference.count {
        return Err(bad(key, "its header is not its manifest's"));
    }
    let (mut keys, mut count) = (Sha256::new(), 0usize);
    while next_line(&mut reader, &mut line).map_err(|e| bad(key, e))? {
        let LineIn { key: k, bytes } = serde_json::from_slice(&line).map_err(|e| bad(key, e))?;
        keys.update(k.as_bytes());
        keys.update(b"\n");
        count += 1;
        each(&k, bytes.into_bytes())?;
    }
    if count != header.count || crate::util::fs::hex(&keys.finalize()) != header.keys_sha256 {
        return Err(bad(key, "its events are not those its header counts"));
    }
    Ok(())
}

/// The next line of `reader` into `line` (without its `\n`, or `\r\n`):
/// false at the end.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    if reader.read_until(b'\n', line)? == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(true)
}

/// The newest manifest (the latest bound; of two for one bound, the one
/// holding more events), if any.
pub fn latest(store: &Store) -> Result<Option<Manifest>, RecordsError> {
    latest_at(store, MANIFESTS)
}

/// [`latest`] of the manifests under `dir`.
pub fn latest_at(store: &Store, dir: &str) -> Result<Option<Manifest>, RecordsError> {
    let keys = store.list(dir)?;
    let Some(last) = keys.last() else {
        return Ok(None);
    };
    let bound_of = |k: &str| {
        k.rsplit('/')
            .next()
            .and_then(|n| n.split('-').next())
            .map(str::to_string)
    };
    let newest = bound_of(last);
    let mut best: Option<Manifest> = None;
    for key in keys.iter().filter(|k| bound_of(k) == newest) {
        let m: Manifest = serde_json::from_slice(&store.read(key)?).map_err(|e| bad(key, e))?;
        let total = |m: &Manifest| m.segments.iter().map(|s| s.count).sum::<usize>();
        if best.as_ref().is_none_or(|b| total(&m) > total(b)) {
            best = Some(m);
        }
    }
    Ok(best)
}

/// Writes `manifest` create-only; one with the same bytes there already
/// is this one.
pub fn write_manifest(store: &Store, manifest: &Manifest) -> Result<String, RecordsError> {
    write_manifest_at(store, MANIFESTS, manifest)
}

/// [`write_manifest`] into `dir`.
pub fn write_manifest_at(
    store: &Store,
    dir: &str,
    manifest: &Manifest,
) -> Result<String, RecordsError> {
    let bytes = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
    let stamp = manifest
        .bound
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let key = format!(
        "{dir}{stamp}-{}.json",
        &crate::util::fs::sha256_bytes(&bytes)[..16]
    );
    match store.create(&key, &bytes) {
        Ok(()) | Err(RecordsError::Exists { .. }) => Ok(key),
        Err(e) => Err(e),
    }
}

/// The span an event of day `day` falls in when the bound is `bound`:
/// its day when the whole day lies before the bound, else its hour.
pub fn span_of(key: &str, bound: &str) -> Option<String> {
    let day = day_of(key)?;
    let bound_day = day_of(bound)?;
    if day < bound_day {
        return Some(day.to_string());
    }
    Some(format!("{day}/{}", hour_of(key)?))
}

/// Whether `span` lies within the days `since`..=`until` (`YYYY/MM/DD`).
pub fn span_in(span: &str, since: Option<&str>, until: Option<&str>) -> bool {
    let day = span.get(..10).unwrap_or(span);
    !(since.is_some_and(|s| day < s) || until.is_some_and(|u| day > u))
}

/// The events a segment's bytes hold, checked: (key, bytes) in order
/// (for a compaction that reuses them, and for [`open_all`]).
pub fn events_of(
    reference: &SegmentRef,
    bytes: &[u8],
) -> Result<Vec<(String, Vec<u8>)>, RecordsError> {
    // The manifest's count is checked once the segment is read; until
    // then it only sizes the first reservation.
    let mut out = Vec::with_capacity(reference.count.min(1 << 16));
    open(reference, bytes, |k, b| {
        out.push((k.to_string(), b));
        Ok(())
    })?;
    Ok(out)
}

/// Reads a segment through the cache folder `cache` (by its sha256), or
/// from the store when the cache lacks it (kept there after).
pub fn fetch(
    store: &Store,
    reference: &SegmentRef,
    cache: Option<&std::path::Path>,
) -> Result<Vec<u8>, RecordsError> {
    let cached = cache.map(|c| c.join(format!("{}.jsonl.gz", reference.sha256)));
    if let Some(path) = &cached {
        if let Ok(bytes) = crate::util::fs::read_input(path) {
            if crate::util::fs::sha256_bytes(&bytes) == reference.sha256 {
                return Ok(bytes);
            }
        }
    }
    let bytes = store.read(&reference.key)?;
    keep(cached.as_deref(), &bytes);
    Ok(bytes)
}

/// Keeps a segment's bytes in the cache (a failure only costs a read
/// next time).
pub fn keep(path: Option<&std::path::Path>, bytes: &[u8]) {
    if let Some(path) = path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::util::fs::write_atomic(path, bytes);
    }
}

/// The cache folder of a manager's segments (in its `.fleetform/`, which
/// a workflow may keep between runs).
pub fn cache_dir(manager: &crate::config::Manager) -> std::path::PathBuf {
    manager.path(std::path::Path::new(".fleetform/cache/segments"))
}

/// Every audit event of the days `since`..=`until` (`YYYY/MM/DD`), each
/// once and in key order: the newest manifest's segments of those days
/// (through the cache folder `cache`), then the events after its bound,
/// read one by one; without a manifest, every event under `prefix` (a
/// folder holding the period's days) one by one.
pub fn read_audit(
    store: &Store,
    (since, until): (Option<&str>, Option<&str>),
    prefix: &str,
    cache: Option<&std::path::Path>,
    mut each: impl FnMut(&str, Vec<u8>) -> Result<(), RecordsError>,
) -> Result<(), RecordsError> {
    let in_period = |key: &str| day_of(key).is_none_or(|d| span_in(d, since, until));
    let manifest = latest(store)?;
    let raw = match &manifest {
        Some(m) => store.list_after("audit/", &m.bound)?,
        None => store.list(prefix)?,
    };
    let raw: Vec<String> = raw.into_iter().filter(|k| in_period(k)).collect();
    if let Some(m) = &manifest {
        let wanted: Vec<&SegmentRef> = m
            .segments
            .iter()
            .filter(|s| span_in(&s.span, since, until))
            .collect();
        let mut from_segment = |k: &str, b: Vec<u8>| {
            if in_period(k) {
                each(k, b)?;
            }
            Ok(())
        };
        read_segments(store, &wanted, cache, &mut from_segment)?;
    }
    store.read_each(&raw, each)
}

/// What takes each event read: its key and bytes.
pub(super) type Each<'a> = dyn FnMut(&str, Vec<u8>) -> Result<(), RecordsError> + 'a;

/// The events of `wanted` in order: the segments not in the cache read
/// several at once (and kept there), then each opened.
pub(super) fn read_segments(
    store: &Store,
    wanted: &[&SegmentRef],
    cache: Option<&std::path::Path>,
    each: &mut Each<'_>,
) -> Result<(), RecordsError> {
    let by_key: std::collections::HashMap<&str, &SegmentRef> =
        wanted.iter().map(|s| (s.key.as_str(), *s)).collect();
    let Some(cache) = cache else {
        let keys: Vec<String> = wanted.iter().map(|s| s.key.clone()).collect();
        let mut read = Vec::with_capacity(keys.len());
        store.read_each(&keys, |k, bytes| {
            read.push((by_key[k], bytes));
            Ok(())
        })?;
        return open_all(&read, each);
    };
    let path = |s: &SegmentRef| cache.join(format!("{}.jsonl.gz", s.sha256));
    let missing: Vec<String> = wanted
        .iter()
        .filter(|s| !path(s).is_file())
        .map(|s| s.key.clone())
        .collect();
    store.read_each(&missing, |k, bytes| {
        keep(Some(&path(by_key[k])), &bytes);
        Ok(())
    })?;
    let read = wanted
        .iter()
        .map(|s| Ok((*s, fetch(store, s, Some(cache))?)))
        .collect::<Result<Vec<_>, RecordsError>>()?;
    open_all(&read, each)
}

/// The events of the segments `read` (each with its bytes), in order:
/// each segment checked, unzipped and split into its events on a thread
/// of its own, one segment ahead of `each` (which parses them), so that a
/// large history is read on two cores. A segment's events reach `each`
/// only once the whole segment is checked.
fn open_all(read: &[(&SegmentRef, Vec<u8>)], each: &mut Each<'_>) -> Result<(), RecordsError> {
    type Opened = Result<Vec<(String, Vec<u8>)>, RecordsError>;
    let opened =
        |(reference, bytes): &(&SegmentRef, Vec<u8>)| -> Opened { events_of(reference, bytes) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if read.len() < 2 || cores < 2 {
        for segment in read {
            for (k, b) in opened(segment)? {
                each(&k, b)?;
            }
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        // One segment waits in the channel while `each` takes the one
        // before: at most three segments' events are held at once.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Opened>(1);
        scope.spawn(move || {
            for segment in read {
                let events = opened(segment);
                let failed = events.is_err();
                // A closed channel: `each` stopped at an error.
                if tx.send(events).is_err() || failed {
                    break;
                }
            }
        });
        for events in rx {
            for (k, b) in events? {
                each(&k, b)?;
            }
        }
        Ok(())
    })
}

/// The segment of `span` for its listed `keys`, and whether it was
/// written now: the one made before for the span (`old`) when it holds
/// the same keys, as listed or once `gather` added those earlier segments
/// held (some deleted once covered, or not yet listed); else a new one of
/// the gathered events under `prefix`, written create-only.
pub fn reuse_or_write(
    store: &Store,
    prefix: &str,
    span: &str,
    keys: &[String],
    old: Option<&SegmentRef>,
    cache: Option<&std::path::Path>,
    gather: impl FnOnce() -> Result<Vec<(String, Vec<u8>)>, RecordsError>,
) -> Result<(SegmentRef, bool), RecordsError> {
    let same = |keys: Vec<&str>| {
        old.filter(|s| s.keys_sha256 == digest_of_keys(&keys))
            .cloned()
    };
    if let Some(s) = same(keys.iter().map(String::as_str).collect()) {
        return Ok((s, false));
    }
    let events = gather()?;
    if let Some(s) = same(events.iter().map(|(k, _)| k.as_str()).collect()) {
        return Ok((s, false));
    }
    let made = build_at(prefix, span, &events)?;
    write(store, &made, cache)?;
    Ok((made.reference, true))
}

/// The records of `keys` and those of the segments `old` made before that
/// fall in the span (`in_span`), sorted, with their bytes: from those
/// segments where they are, else read one by one. A record a segment
/// holds is never dropped, even when its own object is gone (deleted once
/// covered) or not listed.
pub fn gather(
    store: &Store,
    keys: &[String],
    old: &[&SegmentRef],
    cache: Option<&std::path::Path>,
    in_span: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>, RecordsError> {
    let mut known: std::collections::HashMap<String, Vec<u8>> = Default::default();
    for s in old {
        let bytes = fetch(store, s, cache)?;
        open(s, &bytes, |k, b| {
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

/// `audit/YYYY/MM/DD` of the day `days` before the day of `bound`: every
/// event key of that day and later sorts after it.
pub fn days_before(bound: &str, days: i64) -> Option<String> {
    let day = day_of(bound)?;
    let date: jiff::civil::Date = day.replace('/', "-").parse().ok()?;
    let from = date.checked_sub(jiff::Span::new().days(days)).ok()?;
    Some(format!("audit/{}", from.strftime("%Y/%m/%d")))
}

#[cfg(test)]
#[path = "segments_tests.rs"]
mod tests;
