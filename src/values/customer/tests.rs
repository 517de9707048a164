//! Tests of the customer files' check and render.

use super::*;

fn schema() -> Schema {
    Schema::from_bytes(
        br#"{"type": "object", "required": ["region"],
            "properties": {"region": {"type": "string"}, "size": {"type": "integer"},
                           "environments": {"type": "object", "additionalProperties":
                               {"properties": {"size": {"type": "integer"}}}}}}"#,
        Path::new("schema.json"),
    )
    .unwrap()
}

fn check_text(vars: &str, overrides: &[(&str, &str)]) -> Vec<String> {
    let source = CustomerSource {
        variables: (PathBuf::from("variables.yml"), vars.as_bytes().to_vec()),
        overrides: overrides
            .iter()
            .map(|(env, text)| {
                (
                    env.to_string(),
                    (
                        PathBuf::from(format!("variables.{env}.yml")),
                        text.as_bytes().to_vec(),
                    ),
                )
            })
            .collect(),
        secrets: BTreeMap::new(),
    };
    match check(&source, &schema()) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

/// A lone file is validated as it is (no merge) and its errors carry
/// the positions of the offending nodes.
#[test]
fn lone_file_errors_point_at_their_nodes() {
    assert_eq!(
        check_text("region: eu-west-1\nsize: 3\n", &[]),
        Vec::<String>::new()
    );
    let d = check_text("size: big\nregion: 7\n", &[]);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].starts_with("variables.yml:1:7: /size: "), "{d:?}");
    assert!(d[1].starts_with("variables.yml:2:9: /region: "), "{d:?}");
}

/// A null deletes its key in the merge, so a file with nulls is checked
/// through the layers like one with overrides: `region: null` is a
/// missing region, not a region of the wrong type.
#[test]
fn nulls_and_overrides_are_checked_as_merged() {
    let d = check_text("region: null\nsize: 3\n", &[]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].contains("\"region\" is a required property"), "{d:?}");
    let d = check_text("region: eu-west-1\n", &[("production", "size: many\n")]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("variables.production.yml:1:7: /environments/production/size: "),
        "{d:?}"
    );
}
