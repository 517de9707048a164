//! A starting point for a customer's variables file, made from the
//! manager's own schema: what `customers instructions` hands a new
//! customer and `init --customer --manager` writes.
//!
//! Only what the schema asks for is filled in: every `required` key, and
//! the optional keys whose schema offers `examples` or a `default`. A
//! value comes from the schema where it says one (`examples`, `default`,
//! `const`, `enum`), else from its type and bounds (a string matching its
//! `pattern`, a number within its range). An object whose keys are limited
//! to an `enum` that names environments (the usual `environments:` block)
//! gets one entry per environment of the customer. What cannot be made is
//! left out, and the caller checks the result against the schema before
//! showing it: a starter is never presented unless it validates.

use std::path::Path;

use serde_json::{Map, Value};

use crate::data::Diagnostic;
use crate::values::customer::{self, CustomerSource};
use crate::values::schema::Schema;

/// What the starter may use besides the schema.
pub struct Hints<'a> {
    /// The customer's slug: the first candidate for a string.
    pub slug: &'a str,
    /// The customer's environments, in promotion order.
    pub environments: &'a [String],
}

/// A starter variables file checked against `schema` the way `validate`
/// checks a customer's file (YAML, credentials, schema), with the shown
/// path `shown`. `Err` lists the schema's required top-level keys when no
/// valid starter could be made from it.
pub fn checked(schema: &Schema, hints: &Hints, shown: &Path) -> Result<String, Vec<String>> {
    let made = example(&schema.document, hints)
        .filter(Value::is_object)
        .map(|v| to_yaml(&v, &schema.document))
        .filter(|text| {
            let src = CustomerSource {
                variables: (shown.to_path_buf(), text.as_bytes().to_vec()),
                overrides: Default::default(),
                secrets: Default::default(),
            };
            customer::check(&src, schema).is_ok()
        });
    made.ok_or_else(|| required_keys(&schema.document))
}

/// The same starter, also checked as the layers render it for each of
/// the customer's environments (what `validate --customer` does): its
/// problems when the manager's own values make it fail.
pub fn render_problems(
    text: &str,
    shown: &Path,
    schema: &Schema,
    layers: &customer::ManagerLayers,
    c: &crate::config::Customer,
) -> Vec<Diagnostic> {
    let src = CustomerSource {
        variables: (shown.to_path_buf(), text.as_bytes().to_vec()),
        overrides: Default::default(),
        secrets: Default::default(),
    };
    let docs = match customer::check(&src, schema) {
        Ok(d) => d,
        Err(ds) => return ds,
    };
    let templates = crate::values::template::ValueTemplates::default();
    let mut out = Vec::new();
    for env in &c.environments {
        if let Err(ds) = customer::render(layers, &docs, c, env, &templates) {
            out.extend(ds);
        }
    }
    out
}

/// The schema's required top-level keys (through a `$ref` at the root).
pub fn required_keys(schema: &Value) -> Vec<String> {
    resolve(schema, schema)
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The deepest schema nesting followed (`$ref` chains included).
const MAX_DEPTH: usize = 24;

/// A document satisfying `schema` as far as it can tell, or `None` when
/// the schema asks for something it cannot make (e.g. a string with a
/// pattern none of its candidates match).
pub fn example(schema: &Value, hints: &Hints) -> Option<Value> {
    Maker {
        root: schema,
        hints,
    }
    .make(schema, 0)
}

struct Maker<'a> {
    root: &'a Value,
    hints: &'a Hints<'a>,
}

impl Maker<'_> {
    fn make(&self, node: &Value, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let node = match node {
            Value::Bool(true) => return Some(Value::String(self.hints.slug.to_string())),
            Value::Object(m) => m,
            _ => return None,
        };
        if let Some(v) = given(node) {
            return Some(v);
        }
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let target = r.strip_prefix('#').and_then(|p| self.root.pointer(p))?;
            return self.make(target, depth + 1);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = node.get(key).and_then(Value::as_array) {
                return self.combined(key, list, node, depth);
            }
        }
        match type_of(node)? {
            "object" => self.object(node, depth),
            "array" => self.array(node, depth),
            "string" => self.string(node),
            "integer" => number(node, true),
            "number" => number(node, false),
            "boolean" => Some(Value::Bool(false)),
            _ => None,
        }
    }

    /// `allOf`: every part's object merged (with the keys beside it);
    /// `anyOf`/`oneOf`: the first part that can be made.
    fn combined(
        &self,
        key: &str,
        list: &[Value],
        node: &Map<String, Value>,
        depth: usize,
    ) -> Option<Value> {
        let mut rest = node.clone();
        rest.remove(key);
        if key != "allOf" {
            return list.iter().find_map(|part| {
                let mut merged = rest.clone();
                if let Value::Object(p) = part {
                    merged.extend(p.clone());
                }
                self.make(&Value::Object(merged), depth + 1)
            });
        }
        let mut out = match self.make(&Value::Object(rest), depth + 1) {
            Some(Value::Object(m)) => m,
            Some(other) if list.is_empty() => return Some(other),
            _ => Map::new(),
        };
        for part in list {
            match self.make(part, depth + 1)? {
                Value::Object(m) => out.extend(m),
                other => return Some(other),
            }
        }
        Some(Value::Object(out))
    }

    fn object(&self, node: &Map<String, Value>, depth: usize) -> Option<Value> {
        let props = node.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut out = Map::new();
        for (key, sub) in props.into_iter().flatten() {
            let wanted = required.contains(&key.as_str())
                || sub
                    .as_object()
                    .is_some_and(|s| s.contains_key("examples") || s.contains_key("default"));
            if wanted {
                let v = self.make(sub, depth + 1);
                match v {
                    Some(v) => {
                        out.insert(key.clone(), v);
                    }
                    None if required.contains(&key.as_str()) => return None,
                    None => {}
                }
            }
        }
        for key in required {
            if out.contains_key(key) {
                continue;
            }
            let sub = node
                .get("additionalProperties")
                .unwrap_or(&Value::Bool(true));
            out.insert(key.to_string(), self.make(sub, depth + 1)?);
        }
        if out.is_empty() {
            self.per_environment(node, &mut out, depth);
        }
        Some(Value::Object(out))
    }

    /// An object whose keys must be environment names (`propertyNames`
    /// with an `enum`): one entry per environment of the customer.
    fn per_environment(
        &self,
        node: &Map<String, Value>,
        out: &mut Map<String, Value>,
        depth: usize,
    ) {
        let Some(names) = node
            .get("propertyNames")
            .and_then(|p| p.get("enum"))
            .and_then(Value::as_array)
        else {
            return;
        };
        let Some(sub) = node.get("additionalProperties") else {
            return;
        };
        for env in self.hints.environments {
            if names.iter().any(|n| n.as_str() == Some(env)) {
                if let Some(v) = self.make(sub, depth + 1) {
                    out.insert(env.clone(), v);
                }
            }
        }
    }

    fn array(&self, node: &Map<String, Value>, depth: usize) -> Option<Value> {
        let min = node.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        if min == 0 {
            return Some(Value::Array(Vec::new()));
        }
        let items = node.get("items").unwrap_or(&Value::Bool(true));
        let one = self.make(items, depth + 1)?;
        Some(Value::Array(vec![one; min.min(16) as usize]))
    }

    fn string(&self, node: &Map<String, Value>) -> Option<Value> {
        let slug = self.hints.slug;
        let candidates: Vec<String> = match node.get("format").and_then(Value::as_str) {
            Some("email") => vec![format!("ops@{slug}.example")],
            Some("uri") | Some("url") => vec![format!("https://{slug}.example")],
            Some("date") => vec!["2026-01-01".into()],
            Some("ipv4") => vec!["10.0.0.1".into()],
            _ => vec![
                slug.to_string(),
                format!("{slug}-app"),
                "example".into(),
                "example-1".into(),
                "ex".into(),
                "x".into(),
            ],
        };
        let min = node.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = node
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        let pattern = match node.get("pattern").and_then(Value::as_str) {
            Some(p) => Some(regex::Regex::new(p).ok()?),
            None => None,
        };
        candidates
            .into_iter()
            .find(|c| {
                let n = c.chars().count();
                n >= min
                    && max.is_none_or(|m| n <= m)
                    && pattern.as_ref().is_none_or(|p| p.is_match(c))
            })
            .map(Value::String)
    }
}

/// A value the schema itself gives.
fn given(node: &Map<String, Value>) -> Option<Value> {
    if let Some(first) = node
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(first.clone());
    }
    for key in ["default", "const"] {
        if let Some(v) = node.get(key) {
            return Some(v.clone());
        }
    }
    node.get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()))
        .cloned()
}

/// The schema's type (the first that is not `null`), or what its keywords
/// imply.
pub(crate) fn type_of(node: &Map<String, Value>) -> Option<&str> {
    match node.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ if node.contains_key("properties") || node.contains_key("required") => Some("object"),
        _ if node.contains_key("items") => Some("array"),
        _ if node.contains_key("pattern") => Some("string"),
        _ => None,
    }
}

/// The smallest value within the bounds, preferring 1.
fn number(node: &Map<String, Value>, integer: bool) -> Option<Value> {
    let get = |k: &str| node.get(k).and_then(Value::as_f64);
    let low = match (get("minimum"), get("exclusiveMinimum")) {
        (Some(m), _) => Some(m),
        (None, Some(x)) => Some(if integer { x.floor() + 1.0 } else { x + 1.0 }),
        _ => None,
    };
    let high = match (get("maximum"), get("exclusiveMaximum")) {
        (Some(m), _) => Some(m),
        (None, Some(x)) => Some(if integer { x.ceil() - 1.0 } else { x - 1.0 }),
        _ => None,
    };
    let mut v = low.map_or(1.0, |l| l.max(1.0));
    if high.is_some_and(|h| v > h) {
        v = low.unwrap_or(high.unwrap_or(0.0).min(0.0));
    }
    if integer {
        let v = v.ceil();
        if !(-9.0e15..=9.0e15).contains(&v) {
            return None;
        }
        return Some(Value::from(v as i64));
    }
    serde_json::Number::from_f64(v).map(Value::Number)
}

/// The value as a YAML document in block style, with each key's schema
/// `description` as a comment above it. Strings are quoted unless plain
/// and unambiguous; the caller loads the text again to check it.
pub fn to_yaml(value: &Value, schema: &Value) -> String {
    let mut out = String::new();
    emit_map_entries(value, Some(schema), schema, 0, &mut out);
    out
}

fn emit_map_entries(
    value: &Value,
    node: Option<&Value>,
    root: &Value,
    indent: usize,
    out: &mut String,
) {
    let Value::Object(m) = value else {
        return;
    };
    let pad = " ".repeat(indent);
    for (key, v) in m {
        let sub = node.and_then(|n| property_schema(n, key, root));
        if let Some(d) = sub.and_then(|s| description(s, root)) {
            for line in d.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("{pad}# {}\n", line.trim()));
            }
        }
        let k = scalar_text(&Value::String(key.clone()));
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(&format!("{pad}{k}:\n"));
                emit_map_entries(v, sub, root, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push_str(&format!("{pad}{k}:\n"));
                for item in items {
                    out.push_str(&format!("{pad}  - {}\n", flow(item)));
                }
            }
            other => out.push_str(&format!("{pad}{k}: {}\n", flow(other))),
        }
    }
}

/// The schema of `key` inside an object schema (through one `$ref`).
fn property_schema<'a>(node: &'a Value, key: &str, root: &'a Value) -> Option<&'a Value> {
    let node = resolve(node, root);
    node.get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
}

pub(crate) fn resolve<'a>(node: &'a Value, root: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..MAX_DEPTH {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

/// A schema's `description`: its own, else the one of what it refers to.
pub(crate) fn description<'a>(node: &'a Value, root: &'a Value) -> Option<&'a str> {
    node.get("description")
        .or_else(|| resolve(node, root).get("description"))
        .and_then(Value::as_str)
}

/// A value on one line: a scalar, or `{}`/`[]` and JSON flow collections
/// (JSON is valid YAML flow style).
fn flow(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => serde_json::to_string(v).unwrap_or_default(),
        other => scalar_text(other),
    }
}

/// A scalar as YAML: plain when it reads back as the same string under
/// the YAML 1.2 core schema, else double-quoted (JSON's escapes are
/// YAML's).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let plain = !s.is_empty()
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
                && !matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true"
                        | "false"
                        | "null"
                        | "yes"
                        | "no"
                        | "on"
                        | "off"
                        | "y"
                        | "n"
                        | "nan"
                        | "inf"
                );
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hints<'a>(envs: &'a [String]) -> Hints<'a> {
        Hints {
            slug: "acme",
            environments: envs,
        }
    }

    #[test]
    fn required_keys_enums_patterns_and_environments() {
        let envs = vec!["staging".to_string(), "production".to_string()];
        let schema = json!({
            "type": "object",
            "required": ["project_name", "cloud", "environments", "size"],
            "properties": {
                "project_name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,40}$"},
                "cloud": {"enum": ["aws", "gcp"]},
                "size": {"$ref": "#/$defs/size"},
                "optional": {"type": "string"},
                "with_default": {"type": "integer", "default": 3},
                "environments": {
                    "type": "object",
                    "propertyNames": {"enum": ["staging", "production"]},
                    "additionalProperties": {"type": "object"}
                }
            },
            "$defs": {"size": {"type": "integer", "minimum": 2, "maximum": 5}}
        });
        let v = example(&schema, &hints(&envs)).unwrap();
        assert_eq!(
            v,
            json!({"project_name": "acme", "cloud": "aws", "size": 2, "with_default": 3,
                   "environments": {"staging": {}, "production": {}}})
        );
    }

    #[test]
    fn an_unmatchable_pattern_makes_nothing() {
        let schema = json!({"type": "object", "required": ["id"],
            "properties": {"id": {"type": "string", "pattern": "^[0-9]{12}$"}}});
        assert_eq!(example(&schema, &hints(&[])), None);
        // A cycle of references ends.
        let schema = json!({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}});
        assert_eq!(example(&schema, &hints(&[])), None);
    }

    #[test]
    fn yaml_reads_back_as_the_same_value() {
        let v = json!({"name": "acme", "yes": "no", "n": 1, "list": ["a b", "c"], "empty": {},
                       "nested": {"k": "true", "quote": "it's \"x\"\n"}});
        let text = to_yaml(
            &v,
            &json!({"properties": {"name": {"description": "The name."}}}),
        );
        assert!(text.starts_with("# The name.\nname: acme\n"), "{text}");
        let doc = fleetform_yaml::load_bytes(
            text.as_bytes(),
            std::path::Path::new("s.yml"),
            &fleetform_yaml::Limits::default(),
        )
        .unwrap();
        assert_eq!(doc.value, v, "{text}");
    }
}
