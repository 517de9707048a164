//! The fields of a customer's change form, read from the provider's
//! schema: one per value a person can type, choose or tick, in the
//! schema's order; a section per environment for an object whose keys are
//! the environments; a YAML text for what has no simpler control (maps,
//! lists, alternatives).

use serde_json::{Map, Value};

use crate::values::starter::{description, resolve, type_of};

/// The deepest nesting followed into the schema; below it a value is a
/// YAML text.
const MAX_DEPTH: usize = 6;
/// The most fields one form holds (GitHub's forms have no documented
/// limit; an issue body is at most 65,536 characters, which a form of
/// more fields than this would crowd out).
pub const MAX_FIELDS: usize = 200;

/// How a field is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// One line of text read as a string.
    Text,
    /// One line read as a whole number.
    Integer,
    /// One line read as a number.
    Number,
    /// One of the schema's `enum` values.
    Choice(Vec<Value>),
    /// `true` or `false`, each ticked on its own (neither: unchanged).
    Flag,
    /// A YAML text (a map, a list, or a value of several shapes).
    Yaml,
}

/// One constraint: words, and the schema's text they speak of (a
/// pattern, a format, the allowed values), shown as code.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Constraint {
    pub words: String,
    pub code: Option<String>,
}

impl Constraint {
    fn said(words: String) -> Self {
        Constraint { words, code: None }
    }
}

/// One value of the variables file a form asks for.
#[derive(Debug, Clone)]
pub struct Field {
    /// Where the value goes in the variables file, key by key.
    pub path: Vec<String>,
    /// The form element's `id`: letters, digits, `-` and `_` only
    /// (GitHub's issue-form syntax), unique in the form.
    pub id: String,
    /// The heading GitHub writes above the answer: the dotted path.
    pub label: String,
    pub kind: Kind,
    /// The schema's type (`object`, `array`, `string`, ...), empty when
    /// it names none.
    pub shape: String,
    /// The schema's description, if any.
    pub description: Option<String>,
    /// The schema's constraints, each in words and with the schema's own
    /// text where there is one (`matching`, `^[a-z]+$`; `from 0 to 20`).
    pub constraints: Vec<Constraint>,
    /// The schema's examples, as YAML flow text.
    pub examples: Vec<String>,
    /// The file must hold this value (its parent object requires it, and
    /// the parent is required or the file itself).
    pub required: bool,
    /// The environment whose section holds the field.
    pub section: Option<String>,
}

/// Every field of the form for `schema`, in the schema's order, at most
/// [`MAX_FIELDS`] (`Err` says how many there would be). The schema's
/// secrets (`writeOnly: true`) are never fields: they come from the
/// encrypted secrets files only ([`secrets`]).
pub fn fields(schema: &Value) -> Result<Vec<Field>, usize> {
    let (out, _) = walk(schema);
    let mut out = out;
    if out.len() > MAX_FIELDS {
        return Err(out.len());
    }
    unique_ids(&mut out);
    Ok(out)
}

/// The dotted paths of the schema's secrets (`writeOnly: true`).
pub fn secrets(schema: &Value) -> Vec<String> {
    walk(schema).1
}

fn walk(schema: &Value) -> (Vec<Field>, Vec<String>) {
    let mut walk = Walk {
        root: schema,
        out: Vec::new(),
        secrets: Vec::new(),
    };
    walk.object(schema, &[], true, None, 0);
    (walk.out, walk.secrets)
}

struct Walk<'a> {
    root: &'a Value,
    out: Vec<Field>,
    secrets: Vec<String>,
}

impl Walk<'_> {
    /// The fields of an object schema at `path`.
    fn object(
        &mut self,
        node: &Value,
        path: &[String],
        required: bool,
        section: Option<&str>,
        depth: usize,
    ) {
        let node = resolve(node, self.root);
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            return;
        };
        let needed: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (key, sub) in props {
            let mut at = path.to_vec();
            at.push(key.clone());
            let secret = |n: &Value| n.get("writeOnly") == Some(&Value::Bool(true));
            if secret(sub) || secret(resolve(sub, self.root)) {
                if section.is_none() || path.len() <= 2 {
                    let name = at.join(".");
                    if !self.secrets.contains(&name) {
                        self.secrets.push(name);
                    }
                }
                continue;
            }
            let req = required && needed.contains(&key.as_str());
            self.value(sub, at, req, section, depth + 1);
        }
    }

    /// The field (or fields) of one value.
    fn value(
        &mut self,
        sub: &Value,
        path: Vec<String>,
        required: bool,
        section: Option<&str>,
        depth: usize,
    ) {
        let node = resolve(sub, self.root);
        let Some(map) = node.as_object() else {
            return self.push(sub, path, Kind::Yaml, required, section);
        };
        if depth < MAX_DEPTH && section.is_none() {
            if let Some((envs, each)) = environment_sections(map, self.root) {
                for env in envs {
                    let mut at = path.clone();
                    at.push(env.clone());
                    self.object(each, &at, false, Some(&env), depth + 1);
                }
                return;
            }
        }
        let combined = ["anyOf", "oneOf", "allOf"]
            .iter()
            .any(|k| map.contains_key(*k));
        let kind = if let Some(options) = choice(map) {
            if dropdown_ok(&options) {
                Kind::Choice(options)
            } else {
                Kind::Yaml
            }
        } else if combined {
            Kind::Yaml
        } else {
            match type_of(map) {
                Some("string") => Kind::Text,
                Some("integer") => Kind::Integer,
                Some("number") => Kind::Number,
                Some("boolean") => Kind::Flag,
                Some("object")
                    if depth < MAX_DEPTH
                        && map.contains_key("properties")
                        && closed(map, self.root) =>
                {
                    return self.object(node, &path, required, section, depth);
                }
                _ => Kind::Yaml,
            }
        };
        self.push(sub, path, kind, required, section);
    }

    fn push(
        &mut self,
        sub: &Value,
        path: Vec<String>,
        kind: Kind,
        required: bool,
        section: Option<&str>,
    ) {
        let node = resolve(sub, self.root);
        let examples = sub
            .get("examples")
            .or_else(|| node.get("examples"))
            .and_then(Value::as_array)
            .map(|e| e.iter().take(3).map(flow).collect())
            .unwrap_or_default();
        let shape = node
            .as_object()
            .and_then(type_of)
            .unwrap_or_default()
            .to_string();
        self.out.push(Field {
            shape,
            id: path.join("--"),
            label: path.join("."),
            constraints: constraints(node),
            description: description(sub, self.root).map(str::to_string),
            examples,
            kind,
            path,
            required,
            section: section.map(str::to_string),
        });
    }
}

/// An object whose keys are limited to an `enum` of names (the usual
/// `environments:` block) and whose values are objects with properties:
/// the names and the schema of each value.
fn environment_sections<'a>(
    map: &'a Map<String, Value>,
    root: &'a Value,
) -> Option<(Vec<String>, &'a Value)> {
    let names = map
        .get("propertyNames")
        .map(|p| resolve(p, root))
        .and_then(|p| p.get("enum"))
        .and_then(Value::as_array)?;
    let names: Vec<String> = names
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    let each = map.get("additionalProperties")?;
    resolve(each, root).get("properties")?;
    Some((names, each))
}

/// Only the listed properties are allowed: each can be its own field.
fn closed(map: &Map<String, Value>, root: &Value) -> bool {
    match map.get("additionalProperties").map(|a| resolve(a, root)) {
        Some(Value::Bool(false)) => true,
        None => !map.contains_key("patternProperties"),
        _ => false,
    }
}

/// The schema's `enum` (or `const`) of scalars.
fn choice(map: &Map<String, Value>) -> Option<Vec<Value>> {
    let options = match (map.get("enum"), map.get("const")) {
        (Some(Value::Array(e)), _) => e.clone(),
        (None, Some(c)) => vec![c.clone()],
        _ => return None,
    };
    let scalar = |v: &Value| !(v.is_object() || v.is_array());
    (!options.is_empty() && options.iter().all(scalar)).then_some(options)
}

/// Options GitHub takes in a dropdown: non-empty, unique and never the
/// reserved word `None` ("Common validation errors when creating issue
/// forms": "options must be unique", "options must not include the
/// reserved word, none").
fn dropdown_ok(options: &[Value]) -> bool {
    let shown: Vec<String> = options.iter().map(flow).collect();
    let unique: std::collections::BTreeSet<&str> = shown.iter().map(String::as_str).collect();
    unique.len() == shown.len()
        && shown
            .iter()
            .all(|o| !o.trim().is_empty() && !o.trim().eq_ignore_ascii_case("none"))
}

/// The constraints a person needs to know, in words.
fn constraints(node: &Value) -> Vec<Constraint> {
    let get = |k: &str| node.get(k);
    let mut out = Vec::new();
    let mut say = |words: String| out.push(Constraint::said(words));
    let num = flow;
    match (get("minimum"), get("maximum")) {
        (Some(a), Some(b)) => say(format!("from {} to {}", num(a), num(b))),
        (Some(a), None) => say(format!("at least {}", num(a))),
        (None, Some(b)) => say(format!("at most {}", num(b))),
        _ => {}
    }
    if let Some(v) = get("exclusiveMinimum") {
        say(format!("more than {}", num(v)));
    }
    if let Some(v) = get("exclusiveMaximum") {
        say(format!("less than {}", num(v)));
    }
    if let Some(v) = get("multipleOf") {
        say(format!("a multiple of {}", num(v)));
    }
    match (get("minLength"), get("maxLength")) {
        (Some(a), Some(b)) => say(format!("{} to {} characters", num(a), num(b))),
        (Some(a), None) => say(format!("at least {} characters", num(a))),
        (None, Some(b)) => say(format!("at most {} characters", num(b))),
        _ => {}
    }
    if let Some(v) = get("maxProperties") {
        say(format!("at most {} entries", num(v)));
    }
    if let Some(v) = get("maxItems") {
        say(format!("at most {} items", num(v)));
    }
    let mut with_code = |words: &str, code: String| {
        out.push(Constraint {
            words: words.into(),
            code: Some(code),
        })
    };
    if let Some(Value::String(p)) = get("pattern") {
        with_code("matching", p.clone());
    }
    if let Some(Value::String(f)) = get("format") {
        with_code("in the format", f.clone());
    }
    if let Some(Value::Array(e)) = get("enum") {
        with_code("one of", e.iter().map(flow).collect::<Vec<_>>().join(", "));
    }
    out
}

/// A value on one line, as YAML flow text (JSON is YAML flow).
pub fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Ids made of letters, digits, `-` and `_` only, each unique, and labels
/// each unique (the answers are read back by label): a clash gets a
/// number.
fn unique_ids(fields: &mut [Field]) {
    let mut seen = std::collections::BTreeSet::new();
    let mut labels = std::collections::BTreeSet::new();
    for f in fields.iter_mut() {
        let mut n = 2;
        let base = f.label.clone();
        while !labels.insert(f.label.clone()) {
            f.label = format!("{base} ({n})");
            n += 1;
        }
        let base: String =
            f.id.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
        let mut id = base.clone();
        let mut n = 2;
        while !seen.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        f.id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["name", "environments"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]+$", "description": "Name."},
                "cloud": {"enum": ["aws", "gcp"]},
                "public": {"type": "boolean"},
                "size": {"$ref": "#/$defs/size", "examples": [2]},
                "net": {"type": "object", "additionalProperties": false, "properties": {
                    "cidr": {"type": "string"}}},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "environments": {"type": "object",
                    "propertyNames": {"enum": ["staging", "production"]},
                    "additionalProperties": {"type": "object", "properties": {
                        "size": {"$ref": "#/$defs/size"}}}}
            },
            "$defs": {"size": {"type": "integer", "minimum": 0, "maximum": 20}}
        })
    }

    #[test]
    fn each_kind_of_value_gets_its_control() {
        let f = fields(&schema()).unwrap();
        let shown: Vec<(String, Kind, bool, Option<String>)> = f
            .iter()
            .map(|f| {
                (
                    f.label.clone(),
                    f.kind.clone(),
                    f.required,
                    f.section.clone(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("name".into(), Kind::Text, true, None),
                (
                    "cloud".into(),
                    Kind::Choice(vec![json!("aws"), json!("gcp")]),
                    false,
                    None
                ),
                ("public".into(), Kind::Flag, false, None),
                ("size".into(), Kind::Integer, false, None),
                ("net.cidr".into(), Kind::Text, false, None),
                ("tags".into(), Kind::Yaml, false, None),
                (
                    "environments.staging.size".into(),
                    Kind::Integer,
                    false,
                    Some("staging".into())
                ),
                (
                    "environments.production.size".into(),
                    Kind::Integer,
                    false,
                    Some("production".into())
                ),
            ]
        );
        assert_eq!(
            f[3].constraints,
            vec![Constraint::said("from 0 to 20".into())]
        );
        assert_eq!(f[3].examples, vec!["2"]);
        assert_eq!(
            f[0].constraints,
            vec![Constraint {
                words: "matching".into(),
                code: Some("^[a-z]+$".into())
            }]
        );
        assert_eq!(f[6].id, "environments--staging--size");
    }

    #[test]
    fn ids_keep_to_githubs_characters_and_stay_unique() {
        let s = json!({"type": "object", "properties": {
            "a.b": {"type": "string"}, "a_b": {"type": "string"}, "a b": {"type": "string"},
            "a": {"type": "object", "additionalProperties": false,
                  "properties": {"b": {"type": "string"}}}}});
        let f = fields(&s).unwrap();
        let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["a_b", "a_b-2", "a_b-3", "a--b"]);
        let labels: Vec<&str> = f.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels, vec!["a.b", "a_b", "a b", "a.b (2)"]);
    }

    #[test]
    fn secrets_are_never_fields_and_odd_enums_are_yaml() {
        let s = json!({"type": "object", "properties": {
            "db_password": {"type": "string", "writeOnly": true},
            "mode": {"enum": ["None", "fast"]},
            "level": {"enum": [1, "1"]}}});
        let f = fields(&s).unwrap();
        let shown: Vec<(&str, &Kind)> = f.iter().map(|f| (f.label.as_str(), &f.kind)).collect();
        assert_eq!(shown, vec![("mode", &Kind::Yaml), ("level", &Kind::Yaml)]);
        assert_eq!(secrets(&s), vec!["db_password"]);
    }

    #[test]
    fn a_schema_too_large_for_a_form_is_said() {
        let props: Map<String, Value> = (0..250)
            .map(|i| (format!("k{i}"), json!({"type": "string"})))
            .collect();
        let s = json!({"type": "object", "properties": props});
        assert_eq!(fields(&s).unwrap_err(), 250);
    }
}
