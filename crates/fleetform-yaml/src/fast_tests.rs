//! The fast reader against saphyr-parser: wherever it reads a file to the
//! end, it must have emitted saphyr-parser's events at saphyr-parser's
//! positions, and saphyr-parser must have read the file without an error.

use std::path::Path;

use saphyr_parser::{Event, Parser};

use super::read;
use crate::Pos;

/// An event as compared: its `Debug` form and, for the events the builder
/// places (scalars, aliases, collection starts), where it starts.
type Seen = (String, Option<Pos>);

fn placed(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Scalar(..) | Event::Alias(_) | Event::SequenceStart(..) | Event::MappingStart(..)
    )
}

fn seen(event: &Event<'_>, pos: Pos) -> Seen {
    (format!("{event:?}"), placed(event).then_some(pos))
}

fn saphyr(text: &str) -> Result<Vec<Seen>, String> {
    let mut out = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| e.to_string())?;
        let pos = Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        };
        if !matches!(event, Event::Nothing) {
            out.push(seen(&event, pos));
        }
    }
    Ok(out)
}

fn fast(text: &str) -> Option<Vec<Seen>> {
    let mut out = Vec::new();
    read(text, &mut |event, pos| {
        out.push(seen(&event, pos));
        Ok(())
    })
    .ok()?;
    Some(out)
}

/// True when the fast reader read `text` to the end (and then agreed:
/// the same events, and the same document, positions included, whether
/// its index is read again from the text or taken from saphyr-parser).
fn agrees(text: &str) -> bool {
    let Some(ours) = fast(text) else {
        return false;
    };
    match saphyr(text) {
        Ok(theirs) => assert_eq!(ours, theirs, "{text:?}"),
        Err(e) => panic!("the fast reader accepted what saphyr-parser refuses ({e}): {text:?}"),
    }
    let (file, limits) = (Path::new("t.yml"), crate::Limits::default());
    let slow = crate::builder::build_saphyr(text, file, &limits);
    match (crate::builder::build_fast(text, file, &limits), slow) {
        (Some(f), Ok(s)) => {
            assert_eq!(f.value, s.value, "{text:?}");
            assert_eq!(f.index(), s.index(), "{text:?}");
        }
        // The builder refused what both read alike (a duplicate key).
        (None, Err(_)) => {}
        (f, s) => panic!(
            "{text:?}: fast {:?}, saphyr-parser {:?}",
            f.is_some(),
            s.map(|d| d.value)
        ),
    }
    true
}

/// A variables file as customers write them (the benchmark's generator
/// writes this shape).
const VARIABLES: &str = r##"# Infrastructure requirements for acme-00029.
project_name: acme-platform
cloud_provider: aws

owner:
  team: mobile
  email: mobile@acme-00029.example
  slack_channel: "#acme-00029-ops"
  escalation:
    - oncall@acme-00029.example
    - cto@acme-00029.example

environments:
  staging:
    region: us-east-2
    min_instances: 2
    scaling:
      cpu_target: 60
  production:
    region: us-west-2
    database:
      instance_class: db.r5.large
      multi_az: true
    domain: acme-platform.acme-00029.example.net

networking:
  vpc_cidr: "10.29.0.0/16"
firewall:
  allowed_cidrs:
    - "203.0.29.0/24"
    - '198.51.87.0/24'
  ingress_ports: [443, 8443]
  empty: []
  waf: true
monitoring:
  alerts:
    - metric: cpu
      threshold: 80   # percent
      comparison: above
    -   metric: disk
        threshold: -5.5e3
  notes: it's fine, really  # a comment
  quoted: 'it''s'
dns:
  records:
  - name: "api.{{ environment }}"
    value: "{{ project_name }}-{{ environment }}.lb.example.net"
  - name: www
    ttl:
  zone: x.example.net
maintenance_window: "sat:09:00-sat:10:00"
compliance: [soc2, "gdpr", 'hipaa' ]
tags:
  "cost/center": cc-1029
  team : mobile
  empty:
last:
"##;

/// A registry and a manager's settings, the other shapes fleetform reads
/// often: a sequence of mappings, a root sequence, nested sequences.
const MANAGER: &str = r##"# Customer registry.
customers:
  - slug: globex-00001
    repo: globex-00001/infra
    environments: [staging, production]
    added: 2026-02-02
  -   slug: "initech"
      environments: []
      tags:
      - a
      -   b
environments:
  - name: staging
    auto_apply: true
  - name: production
---
- top
- [1, 2]
- - c
- k: v
  l:
    - 'x'
  -
    name: production
"##;

#[test]
fn reads_variables_files_as_saphyr_parser_does() {
    assert!(agrees(VARIABLES), "the fast reader stopped on the sample");
    let (registry, _) = MANAGER.split_once("---\n").unwrap_or_default();
    assert!(agrees(registry), "the fast reader stopped on the registry");
    // Every line cut off at the end, and the file without its last lines.
    let lines: Vec<&str> = VARIABLES.lines().collect();
    for n in 1..lines.len() {
        let head = lines[..n].join("\n");
        agrees(&head);
        agrees(&format!("{head}\n"));
    }
}

/// The index a lookup falls back to, should the second fast read of a
/// text ever stop, is the one the fast read gives.
#[test]
fn the_fallback_index_is_the_fast_one() {
    let file = Path::new("t.yml");
    for text in [VARIABLES, MANAGER.split_once("---\n").unwrap_or_default().0] {
        let again = crate::Index::build(&crate::builder::positions(text, file));
        let fallback = crate::Index::build(&crate::builder::saphyr_positions(text, file));
        assert_eq!(again, fallback);
        assert!(!fallback.values.is_empty());
    }
    assert!(crate::builder::saphyr_positions("a: [", file).is_empty());
}

#[test]
fn small_shapes_agree_or_stop() {
    for text in [
        "a: 1\n",
        "- a\n- b: 1\n  c: [x]\n",
        "a:\n- 1\n-   k: v\n    j: w\nz:",
        "a:\n  - 1\n  -  x\nbb:\ncc:   \n",
        "- k:\n  - x\n",
        "- k:\n    x: 1\n  j: 2\n",
        "a: b: c\n",
        "a: 1\n b: 2\n",
        "a:\n  b: 1\n c: 2\n",
        "a: foo\n  bar\n",
        "- a\n - b\n",
        "a:\n- b\nc\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "a: [1, 2,]\n",
        "a: [1,\n 2]\n",
        "a: [ -1, - 1]\n",
        "a: \"x\" y\n",
        "a: 'x'y\n",
        "a: x #c\n",
        "a: x#c\n",
        "a:#c\n",
        "a: #c\n",
        "\"a\": 1\n\"a\" : 2\n",
        "a: -\n",
        "a: - b\n",
        "? a\n: b\n",
        "a: &x 1\nb: *x\n",
        "# only a comment\n",
        "",
        "a: 1\n\tb: 2\n",
        "a: 1\r\nb: 2\r\n",
        "k\u{e9}: v\n",
    ] {
        agrees(text);
    }
    // Long keys, and the spaces before a colon that count against YAML's
    // 1024 characters from a key's start.
    for (key, spaces) in [
        (990, 0),
        (1000, 0),
        (1020, 0),
        (1023, 0),
        (1020, 10),
        (1000, 30),
    ] {
        agrees(&format!(
            "{}{}: v\nb: 1\n",
            "k".repeat(key),
            " ".repeat(spaces)
        ));
    }
}

/// A tiny deterministic generator: the mutations are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }
}

/// `text` with one edit: a YAML-significant piece inserted, a byte
/// removed, a line doubled or re-indented.
fn mutate(text: &str, rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "\"", "'", "''", "[", "]", ",", "{", "a",
        "1", "~", "?", "&a ", "*a", "!", "|", ">", "\t", "\n  ", "\n- ", "...", "---",
    ];
    let mut bytes = text.as_bytes().to_vec();
    let at = rng.next() % (bytes.len() + 1);
    match rng.next() % 4 {
        0 | 1 => {
            let piece = PIECES[rng.next() % PIECES.len()];
            bytes.splice(at..at, piece.bytes());
        }
        2 if at < bytes.len() => {
            bytes.remove(at);
        }
        _ => {
            let start = bytes[..at]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let end = bytes[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| at + i + 1);
            let line = bytes[start..end].to_vec();
            match rng.next() % 3 {
                0 => drop(bytes.splice(start..start, line)),
                1 => drop(bytes.splice(start..start, *b" ")),
                _ => drop(bytes.splice(start..(start + 1).min(end), [])),
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_files_agree_or_stop() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut read_whole, mut total) = (0, 0);
    for i in 0..20_000 {
        // Each document of MANAGER on its own (the second holds what the
        // fast reader leaves to saphyr-parser, for mutations to undo).
        let (first, second) = MANAGER.split_once("---\n").unwrap_or_default();
        let mut text = match i % 4 {
            0 => first.to_string(),
            1 => second.to_string(),
            _ => VARIABLES.to_string(),
        };
        for _ in 0..1 + rng.next() % 3 {
            text = mutate(&text, &mut rng);
        }
        total += 1;
        read_whole += usize::from(agrees(&text));
    }
    // The mutations must leave many files readable, or they test little.
    assert!(read_whole * 5 > total, "{read_whole} of {total} read whole");
}

#[test]
fn the_yaml_test_suite_agrees_or_stops() {
    #[derive(serde::Deserialize)]
    struct Case {
        yaml: String,
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/yaml-test-suite/cases.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
    let read_whole = cases.iter().filter(|c| agrees(&c.yaml)).count();
    assert!(read_whole >= 20, "{read_whole} suite cases read whole");
}
