//! The layer merger: up to five YAML documents (separated by NUL bytes)
//! merged in layer order, the last one at `/environments/staging`.
//! Invariants: no null survives a merge as a mapping value (a null
//! deletes), and every leaf of the result has an origin in one of the
//! inputs.

use std::path::Path;
use std::sync::Arc;

use fleetform::values::layers::{Layer, Layered, Source};
use fleetform_yaml::{load_bytes, Limits};
use serde_json::Value;

const LAYERS: [Layer; 5] = [
    Layer::ManagerBase,
    Layer::ManagerEnv,
    Layer::Customer,
    Layer::CustomerEnv,
    Layer::CustomerEnvFile,
];

/// One input, as the fuzzer gives it.
pub fn run(data: &[u8]) {
    let mut l = Layered::new();
    let mut applied = false;
    for (i, part) in data.split(|b| *b == 0).take(5).enumerate() {
        let Ok(doc) = load_bytes(part, Path::new(&format!("l{i}.yml")), &Limits::default()) else {
            continue;
        };
        let doc = Arc::new(doc);
        let value = doc.value.clone();
        applied |= !value.is_null();
        let source = Source {
            layer: LAYERS[i],
            doc: doc.clone(),
            root: String::new(),
        };
        if i == 4 {
            l.apply_at("/environments/staging", source, &value);
        } else {
            l.apply(source, &value);
        }
    }
    assert!(!has_null(&l.value), "a null survived: {}", l.value);
    if applied {
        for (ptr, _) in l.leaves() {
            assert!(l.origin(&ptr).is_some(), "no origin for {ptr}");
        }
    }
}

/// A null as the result or as a mapping value (a null deletes a key; list
/// elements are values of their own and may be null).
fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().any(has_null),
        Value::Array(a) => a.iter().any(|e| !e.is_null() && has_null(e)),
        _ => false,
    }
}
