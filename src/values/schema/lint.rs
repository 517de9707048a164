//! Lint of the manager's schema: what the validator accepts but its author
//! did not mean. A keyword with a typo (`additionalproperties`) is ignored by
//! JSON Schema, so the constraint silently does not hold.

use jsonschema::Draft;
use serde_json::Value;

/// One finding, at a JSON pointer in the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub pointer: String,
    pub message: String,
}

/// Keywords of drafts 4 to 2020-12 (core, applicator, validation,
/// meta-data, format, content).
const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$ref",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$defs",
    "definitions",
    "$comment",
    "$vocabulary",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
    "prefixItems",
    "items",
    "additionalItems",
    "contains",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
    "title",
    "description",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "examples",
    "format",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

/// Keywords whose value is a schema.
const ONE: &[&str] = &[
    "not",
    "if",
    "then",
    "else",
    "contains",
    "additionalProperties",
    "additionalItems",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
    "items",
];
/// Keywords whose value is an array of schemas.
const MANY: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems", "items"];
/// Keywords whose value maps names to schemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

/// Every finding in `schema` (of `draft`), in document order.
/// `resolves(at, r)` says whether the `$ref: r` in the schema at pointer
/// `at` leads somewhere (against that schema's base URI).
pub fn lint(schema: &Value, draft: Draft, resolves: &Resolves) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(schema, "", draft, resolves, &mut out);
    out
}

/// Whether the `$ref` (second) in the schema at a pointer (first) resolves.
pub type Resolves<'a> = dyn Fn(&str, &str) -> bool + 'a;

fn walk(v: &Value, at: &str, draft: Draft, resolves: &Resolves, out: &mut Vec<Finding>) {
    let Value::Object(map) = v else { return };
    // A subschema may declare a draft of its own.
    let draft = match draft.detect(v) {
        Draft::Unknown => draft,
        d => d,
    };
    for (key, value) in map {
        let here = format!("{at}/{}", fleetform_yaml::escape_token(key));
        if !KEYWORDS.contains(&key.as_str()) {
            if let Some(known) = near(key) {
                out.push(Finding {
                    pointer: here.clone(),
                    message: format!("unknown keyword `{key}` is ignored: did you mean `{known}`?"),
                });
            }
            continue;
        }
        if let Some(message) = super::drafts::lacks(draft, key) {
            out.push(Finding {
                pointer: here.clone(),
                message,
            });
        }
        if let Some(message) = value_finding(key, value, at, resolves) {
            out.push(Finding {
                pointer: here.clone(),
                message,
            });
        }
        for (child, s) in subschemas(key, value) {
            walk(s, &format!("{here}{child}"), draft, resolves, out);
        }
    }
    required_without_property(map, at, out);
}

/// What is wrong with `key: value` itself: an unknown format, a `$ref`
/// that leads nowhere.
fn value_finding(key: &str, value: &Value, at: &str, resolves: &Resolves) -> Option<String> {
    match (key, value) {
        ("format", Value::String(f)) if !is_known_format(f) => Some(match near_format(f) {
            Some(known) => format!("unknown format `{f}` is not checked: did you mean `{known}`?"),
            None => format!(
                "unknown format `{f}` is not checked (the formats checked: {})",
                known_formats().join(", ")
            ),
        }),
        ("$ref" | "$dynamicRef", Value::String(r)) if !resolves(at, r) => {
            Some(format!("`{key}: {r}` resolves nowhere in this schema"))
        }
        _ => None,
    }
}

/// The subschemas in `key: value`, each with its pointer below `key`.
fn subschemas<'v>(key: &str, value: &'v Value) -> Vec<(String, &'v Value)> {
    match (key, value) {
        (k, Value::Array(items)) if MANY.contains(&k) => items
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("/{i}"), s))
            .collect(),
        (k, Value::Object(m)) if MAP.contains(&k) => m
            .iter()
            .map(|(name, s)| (format!("/{}", fleetform_yaml::escape_token(name)), s))
            .collect(),
        (k, s) if ONE.contains(&k) => vec![(String::new(), s)],
        _ => Vec::new(),
    }
}

/// `required: [nmae]` beside `properties: {name: …}` (and no pattern or
/// additional properties that could supply it) can never be met.
fn required_without_property(
    map: &serde_json::Map<String, Value>,
    at: &str,
    out: &mut Vec<Finding>,
) {
    let (Some(Value::Array(required)), Some(Value::Object(props))) =
        (map.get("required"), map.get("properties"))
    else {
        return;
    };
    if map.contains_key("patternProperties")
        || map
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
    {
        return;
    }
    for (i, name) in required.iter().enumerate() {
        if let Some(name) = name.as_str().filter(|n| !props.contains_key(*n)) {
            out.push(Finding {
                pointer: format!("{at}/required/{i}"),
                message: format!("`{name}` is required but `properties` does not declare it"),
            });
        }
    }
}

/// The known keyword `key` is most likely a typo of: same letters in
/// another case, or at most two edits away (one for short keys).
/// The formats of JSON Schema 2020-12 the schema's validator knows.
const FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Every format checked: JSON Schema's and fleetform's own (`cidr`, …).
fn known_formats() -> Vec<&'static str> {
    FORMATS
        .iter()
        .copied()
        .chain(super::formats::CUSTOM.iter().map(|(n, _)| *n))
        .collect()
}

fn is_known_format(f: &str) -> bool {
    known_formats().contains(&f)
}

/// The known format a misspelt one most likely means (`date_time`,
/// `ipv44`).
fn near_format(f: &str) -> Option<&'static str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    known_formats()
        .into_iter()
        .map(|k| (distance(&norm(f), k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn near(key: &str) -> Option<&'static str> {
    if let Some(k) = KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(k);
    }
    let allowed = if key.chars().count() <= 5 { 1 } else { 2 };
    KEYWORDS
        .iter()
        .map(|k| {
            (
                distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(s: Value) -> Vec<String> {
        lint(&s, Draft::Draft202012, &|_, r| r == "#/$defs/a")
            .into_iter()
            .map(|f| format!("{} {}", f.pointer, f.message))
            .collect()
    }

    #[test]
    fn typos_required_and_refs_are_found_where_they_are() {
        let found = messages(json!({
            "additionalproperties": false,
            "required": ["name", "nmae"],
            "properties": {
                "name": {"type": "string", "minLenght": 1},
                "additionalproperties": {"$ref": "#/$defs/b"},
                "ok": {"$ref": "#/$defs/a"}
            },
            "$defs": {"a": {"x-vendor": 1, "title": "t"}}
        }));
        assert_eq!(
            found,
            [
                "/additionalproperties unknown keyword `additionalproperties` is ignored: did you mean `additionalProperties`?",
                "/properties/name/minLenght unknown keyword `minLenght` is ignored: did you mean `minLength`?",
                "/properties/additionalproperties/$ref `$ref: #/$defs/b` resolves nowhere in this schema",
                "/required/1 `nmae` is required but `properties` does not declare it",
            ]
        );
    }

    #[test]
    fn a_misspelt_or_unknown_format_is_found_where_it_is() {
        let found = messages(json!({
            "properties": {
                "at": {"type": "string", "format": "date_time"},
                "ip": {"type": "string", "format": "ipv44"},
                "x": {"type": "string", "format": "made-up-thing"},
                "ok": {"type": "string", "format": "idn-hostname"},
                "net": {"type": "string", "format": "cidr-ipv4"}
            }
        }));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("/properties/at/format unknown format `date_time` is not checked: did you mean `date-time`?"), "{found:#?}");
        assert!(
            found[1].contains("`ipv44` is not checked: did you mean `ipv4`?"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("`made-up-thing` is not checked (the formats checked: date-time,"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_clean_schema_has_no_findings() {
        assert!(messages(json!({
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"items": [{"type": "string"}]}},
            "patternProperties": {},
            "x-internal": "yes"
        }))
        .is_empty());
    }
}
