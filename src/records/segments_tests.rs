//! The segments' tests: a segment's bytes, the reading of several in
//! order, spans and bounds (kept apart from `segments.rs`, which stays a
//! readable size).

use super::*;

/// Reads bytes fully (for tests of a segment's lines).
fn inflate(bytes: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn ev(key: &str) -> (String, Vec<u8>) {
    (key.to_string(), format!("{{\"k\":\"{key}\"}}").into_bytes())
}

#[test]
fn a_segment_keeps_each_event_byte_for_byte_and_is_named_by_what_it_holds() {
    let events = vec![
        ev("audit/2026/11/27/20261127T100000.000Z-a.json"),
        ev("audit/2026/11/27/20261127T110000.000Z-b.json"),
    ];
    let made = build("2026/11/27", &events).unwrap();
    assert!(made
        .reference
        .key
        .starts_with("segments/audit/2026/11/27/000002-"));
    assert_eq!(events_of(&made.reference, &made.bytes).unwrap(), events);
    assert_eq!(build("2026/11/27", &events).unwrap().bytes, made.bytes);
    assert_eq!(inflate(&made.bytes).lines().count(), 3);
    let mut altered = made.bytes.clone();
    *altered.last_mut().unwrap() ^= 1;
    assert!(events_of(&made.reference, &altered).is_err());
}

#[test]
fn segments_are_opened_in_order_and_a_bad_one_stops_the_read() {
    let made: Vec<Made> = ["25", "26", "27"]
        .iter()
        .map(|d| {
            let key = format!("audit/2026/11/{d}/202611{d}T100000.000Z-a.json");
            build(&format!("2026/11/{d}"), &[ev(&key)]).unwrap()
        })
        .collect();
    let read: Vec<(&SegmentRef, Vec<u8>)> = made
        .iter()
        .map(|m| (&m.reference, m.bytes.clone()))
        .collect();
    let keys_of = |read: &[(&SegmentRef, Vec<u8>)]| {
        let mut got = Vec::new();
        let done = open_all(read, &mut |k, _| {
            got.push(k[..16].to_string());
            Ok(())
        });
        (got, done)
    };
    let (got, done) = keys_of(&read);
    done.unwrap();
    assert_eq!(
        got,
        ["audit/2026/11/25", "audit/2026/11/26", "audit/2026/11/27"]
    );
    // The second altered: the first's events, then an error naming it.
    let mut bad = read.clone();
    bad[1].1[0] ^= 1;
    let (got, done) = keys_of(&bad);
    assert_eq!(got, ["audit/2026/11/25"]);
    assert!(done
        .unwrap_err()
        .to_string()
        .contains(&made[1].reference.key));
    // A manifest that claims more events than memory holds is an
    // error, not an abort.
    let mut huge = made[0].reference.clone();
    huge.count = usize::MAX;
    let (got, done) = keys_of(&[(&huge, made[0].bytes.clone())]);
    assert!(got.is_empty() && done.is_err());
}

#[test]
fn spans_and_bounds() {
    let bound = bound_at(1_764_253_800).unwrap(); // 2025-11-27T14:30:00Z
    assert_eq!(bound, "audit/2025/11/27/20251127T14");
    let k = "audit/2025/11/27/20251127T130000.000Z-a.json";
    assert!(k < bound.as_str());
    assert!("audit/2025/11/27/20251127T140000.000Z-a.json" > bound.as_str());
    assert_eq!(span_of(k, &bound).unwrap(), "2025/11/27/13");
    assert_eq!(
        span_of("audit/2025/11/26/20251126T230000.000Z-a.json", &bound).unwrap(),
        "2025/11/26"
    );
    assert!(span_in("2025/11/26/03", Some("2025/11/26"), None));
    assert!(!span_in("2025/11/25", Some("2025/11/26"), None));
}
