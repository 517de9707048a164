//! The audit reader and report: the first line is a `--since` argument
//! (empty for none), the rest an audit log. Invariants: no panic; an
//! accepted `--since` is a UTC `YYYY-MM-DDTHH:MM:SSZ`; no more records
//! than lines; every line of the Markdown report is one of its own or a
//! record's list item (a record's text cannot start a heading or a line of
//! its own) and every table row keeps its cells.

use std::path::Path;

use fleetform::commands::audit_report::parse_since;
use fleetform::report::audit::{markdown, Summary};

/// One input, as the fuzzer gives it.
pub fn run(data: &[u8]) {
    let (first, log) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let since = match std::str::from_utf8(first) {
        Ok("") | Err(_) => None,
        Ok(text) => parse_since(text).ok(),
    };
    if let Some(t) = &since {
        let b = t.as_bytes();
        assert!(
            t.len() == 20 && t.is_ascii() && b[10] == b'T' && t.ends_with('Z'),
            "{t}"
        );
        assert!(fleetform::config::is_date(&t[..10]), "{t}");
    }
    let mut summary = Summary::new(since.as_deref());
    let Ok(read) =
        fleetform::audit::read_records(log, Path::new("audit.jsonl"), |e| summary.add(e))
    else {
        return;
    };
    let lines = log.split(|b| *b == b'\n').count();
    assert!(read <= lines && summary.records <= read);
    let m = markdown(&summary);
    // The report's own lines: those of the report of no record at all.
    let empty = markdown(&Summary::new(since.as_deref()));
    let own: std::collections::BTreeSet<&str> = empty.lines().collect();
    // Each table's rows have as many cells as its header.
    let mut header_borders = None;
    for line in m.lines() {
        let ours = own.contains(line) || line.ends_with(" records.");
        if line.starts_with('|') {
            let b = line.as_bytes();
            let borders = (0..b.len())
                .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
                .count();
            let want = *header_borders.get_or_insert(borders);
            assert!(borders == want && borders >= 3, "{line}");
        } else {
            header_borders = None;
            // A record is a list item of one line: its text cannot start
            // a heading or a line of its own.
            assert!(ours || line.starts_with("- "), "a line of its own: {line}");
        }
    }
    let _ = serde_json::to_string(&summary).expect("a summary serialises");
}
