//! YAML → value loader, then the full customer check (credentials, JSON
//! Schema of the example manager) on the variables file and, after a NUL
//! byte, a staging override file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use fleetform::values::customer::{check, CustomerSource};
use fleetform::values::schema::Schema;
use fleetform_yaml::{load_bytes, Limits};

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::from_bytes(
        include_bytes!("../../examples/manager/schema/variables.schema.json"),
        Path::new("variables.schema.json"),
    )
    .expect("the example schema compiles")
});

/// One input, as the fuzzer gives it.
pub fn run(data: &[u8]) {
    let (vars, over) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let limits = Limits::default();
    if let Ok(doc) = load_bytes(vars, Path::new("v.yml"), &limits) {
        // Every pointer of the value has a position.
        check_positions(&doc.value, &mut String::new(), &doc);
        let text = serde_json::to_string(&doc.value).expect("values serialise");
        assert!(text.len() <= 64 * 1024 * 1024);
    }
    let mut overrides = BTreeMap::new();
    if let Some(o) = over {
        overrides.insert(
            "staging".to_string(),
            (PathBuf::from("v.staging.yml"), o.to_vec()),
        );
    }
    let source = CustomerSource {
        variables: (PathBuf::from("v.yml"), vars.to_vec()),
        overrides,
        secrets: BTreeMap::new(),
    };
    match check(&source, &SCHEMA) {
        Ok(docs) => assert!(docs.variables.value.is_object()),
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in diags {
                assert!(!d.message.is_empty());
                assert!(d.location.pos.line >= 1 && d.location.pos.col >= 1);
            }
        }
    }
}

fn check_positions(v: &serde_json::Value, ptr: &mut String, doc: &fleetform_yaml::Document) {
    let p = doc.pos(ptr);
    assert!(p.line >= 1 && p.col >= 1, "{ptr}: {p}");
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m {
                let len = ptr.len();
                ptr.push('/');
                ptr.push_str(&fleetform_yaml::escape_token(k));
                check_positions(c, ptr, doc);
                ptr.truncate(len);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let len = ptr.len();
                ptr.push_str(&format!("/{i}"));
                check_positions(c, ptr, doc);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}
