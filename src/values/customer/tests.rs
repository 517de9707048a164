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

fn check_with(schema: &str, vars: &str) -> Vec<String> {
    let schema = Schema::from_bytes(schema.as_bytes(), Path::new("schema.json")).unwrap();
    let source = CustomerSource {
        variables: (PathBuf::from("variables.yml"), vars.as_bytes().to_vec()),
        overrides: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    match check(&source, &schema) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

/// Issue #54: a key `propertyNames` refuses is pointed at itself, not at
/// the mapping's first key (the starter schema's `environments`).
#[test]
fn property_names_errors_point_at_the_offending_key() {
    let schema = r#"{"type": "object", "properties": {"environments": {"type": "object",
        "propertyNames": {"enum": ["staging", "production"]}}}}"#;
    let d = check_with(
        schema,
        "environments:\n  staging: {}\n  production: {}\n  qa: {}\n",
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("variables.yml:4:3: /environments/qa: "),
        "{d:?}"
    );
}

/// Issue #54: a misspelt key says which declared key it is near, as
/// fleetform.yml's unknown keys do; a key near none lists those allowed.
/// Through a `$ref` inside the schema too.
#[test]
fn unknown_keys_say_did_you_mean() {
    let schema = r##"{"type": "object", "additionalProperties": false,
        "properties": {"region": {"type": "string"}, "network": {"$ref": "#/$defs/net"}},
        "$defs": {"net": {"type": "object", "additionalProperties": false,
                          "properties": {"cidr": {"type": "string"}}}}}"##;
    let d = check_with(schema, "regoin: eu\nnetwork:\n  cidrr: 10.0.0.0/16\n");
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d[0].starts_with("variables.yml:1:1: /regoin: "), "{d:?}");
    assert!(d[0].ends_with("did you mean `region`?"), "{d:?}");
    assert!(
        d[1].starts_with("variables.yml:3:3: /network/cidrr: "),
        "{d:?}"
    );
    assert!(d[1].ends_with("did you mean `cidr`?"), "{d:?}");
    let d = check_with(schema, "zzzzzzzz: 1\n");
    assert!(
        d[0].ends_with("the keys allowed here: `region`, `network`"),
        "{d:?}"
    );
}

/// Through the layers (a null makes the check merge) an unexpected key is
/// placed at the key too, in the file that holds it.
#[test]
fn unknown_keys_through_the_layers_point_at_the_key() {
    let schema = r#"{"type": "object", "additionalProperties": false,
        "properties": {"region": {"type": ["string", "null"]}}}"#;
    let d = check_with(schema, "region: null\n  \nregoin: eu\n");
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].starts_with("variables.yml:3:1: /regoin: "), "{d:?}");
}
