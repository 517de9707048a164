//! The vendored yaml-test-suite (`tests/fixtures/yaml-test-suite/`, see
//! its `SOURCE.md`), run through the loader: no document the suite calls
//! invalid is accepted, every accepted one has the suite's JSON value, and
//! a valid one is refused only for what the loader refuses on purpose (a
//! tag, a second document, a key that is not a plain string, a merge key,
//! a duplicate key, a number JSON cannot hold). A dependency update that
//! changes an answer fails here.

use std::path::Path;

use serde_json::Value;

use super::{load_str, Limits};

/// What the loader refuses on purpose, as its messages say it.
const DELIBERATE: &[&str] = &[
    "is not supported; remove it",
    "expected a single YAML document",
    "mapping keys must be plain strings",
    "merge keys (`<<`) are not supported",
    "duplicate key",
    "finite",
];

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    name: String,
    yaml: String,
    error: bool,
    json: Option<String>,
}

/// The same value, numbers compared by value (`1.0` is `1`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[derive(Default)]
struct Tally {
    accepted: usize,
    refused_invalid: usize,
    refused_on_purpose: usize,
    wrong: Vec<String>,
}

fn run(case: &Case, t: &mut Tally) {
    let what = format!("{} ({})", case.id, case.name);
    let loaded = load_str(&case.yaml, Path::new("in.yaml"), &Limits::default());
    if case.error {
        match loaded {
            Ok(d) => t
                .wrong
                .push(format!("{what}: invalid, accepted as {}", d.value)),
            Err(_) => t.refused_invalid += 1,
        }
        return;
    }
    let text = case.json.as_deref().unwrap_or_default();
    let expected: Vec<Value> = serde_json::Deserializer::from_str(text)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{what}: in.json: {e}"));
    match loaded {
        Ok(d) if expected.len() <= 1 => {
            let want = expected.first().cloned().unwrap_or(Value::Null);
            match same(&d.value, &want) {
                true => t.accepted += 1,
                false => t
                    .wrong
                    .push(format!("{what}: {} instead of {want}", d.value)),
            }
        }
        Ok(d) => t.wrong.push(format!(
            "{what}: {} documents accepted as one: {}",
            expected.len(),
            d.value
        )),
        Err(e) if DELIBERATE.iter().any(|m| e.message.contains(m)) => t.refused_on_purpose += 1,
        Err(e) => t.wrong.push(format!("{what}: valid, refused: {e}")),
    }
}

#[test]
fn the_loader_agrees_with_the_yaml_test_suite() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/yaml-test-suite/cases.json");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let cases: Vec<Case> = serde_json::from_str(&text).unwrap();
    let mut t = Tally::default();
    for case in &cases {
        run(case, &mut t);
    }
    assert_eq!(t.wrong, Vec::<String>::new());
    assert_eq!(cases.len(), 373);
    assert_eq!(t.refused_invalid, 94, "every invalid case refused");
    assert_eq!(
        t.accepted + t.refused_on_purpose + t.refused_invalid,
        cases.len()
    );
    // Pinned, so that a case moving from accepted to refused (or back)
    // is looked at, not absorbed.
    assert_eq!(
        (t.accepted, t.refused_on_purpose),
        (235, 44),
        "accepted, refused on purpose"
    );
}
