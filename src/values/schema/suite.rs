//! The vendored JSON-Schema-Test-Suite groups
//! (`tests/fixtures/json-schema-test-suite/`, see its `SOURCE.md`), run
//! through the schema exactly as fleetform compiles a manager's (formats
//! asserted): a dependency update that changes an answer fails here.

use std::path::Path;

use serde_json::Value;

use super::Schema;

/// Every disagreement with the suite in `dir`, as `file: description /
/// test description`.
fn disagreements(dir: &str) -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/json-schema-test-suite")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut run, mut wrong) = (0, Vec::new());
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let groups: Vec<Value> =
            serde_json::from_slice(&crate::util::fs::read_input(&file).unwrap()).unwrap();
        for group in groups {
            let schema_bytes = serde_json::to_vec(&group["schema"]).unwrap();
            let what = group["description"].as_str().unwrap_or_default();
            let schema = match Schema::from_bytes(&schema_bytes, Path::new(&name)) {
                Ok(s) => s,
                Err(e) => {
                    wrong.push(format!("{name}: {what}: does not compile: {e}"));
                    continue;
                }
            };
            for test in group["tests"].as_array().unwrap() {
                run += 1;
                let valid = schema.validate(&test["data"]).is_empty();
                if Some(valid) != test["valid"].as_bool() {
                    wrong.push(format!(
                        "{name}: {what} / {}",
                        test["description"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    (run, wrong)
}

#[test]
fn the_suite_agrees_on_the_formats_fleetform_asserts() {
    let (run, wrong) = disagreements("format");
    assert!(run > 250, "only {run} tests found");
    assert_eq!(wrong, Vec::<String>::new());
}

#[test]
fn the_suite_agrees_on_core_keywords() {
    let (run, wrong) = disagreements("core");
    assert!(run > 300, "only {run} tests found");
    assert_eq!(wrong, Vec::<String>::new());
}
