//! The OpenAPI operations the fake serves: routing and request validation.
//!
//! The fixture `tests/fixtures/github/openapi-ops.json` is embedded at compile
//! time and parsed once per process. Schemas are converted from OpenAPI 3.0 to
//! JSON Schema draft 4 (`nullable`) and compiled lazily, once per operation.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::util::percent_decode;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/github/openapi-ops.json"
));

/// The parsed fixture, shared by every server in the process.
pub(crate) fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::parse(FIXTURE))
}

pub(crate) struct Spec {
    pub operations: Vec<Operation>,
    /// `{"schemas": {...}}`, converted to JSON Schema; embedded in every
    /// compiled schema so that `#/components/schemas/X` references resolve.
    components: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamIn {
    Path,
    Query,
    Other,
}

pub(crate) struct Param {
    pub name: String,
    pub location: ParamIn,
    pub required: bool,
    pub schema: Value,
}

struct BodySpec {
    required: bool,
    /// The `application/json` schema, when the operation accepts JSON.
    schema: Option<Value>,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

struct ResponseSpec {
    schema: Option<Value>,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
}

pub(crate) struct Operation {
    pub id: String,
    /// Upper case, e.g. `GET`.
    pub method: String,
    pub template: String,
    pattern: Regex,
    path_param_names: Vec<String>,
    /// Literal characters in the template: more is more specific.
    specificity: usize,
    pub params: Vec<Param>,
    body: Option<BodySpec>,
    responses: BTreeMap<String, ResponseSpec>,
}

/// Result of matching a request line against the spec.
pub(crate) enum Route<'a> {
    Found {
        op: &'a Operation,
        /// Decoded path parameters.
        params: BTreeMap<String, String>,
    },
    /// The path matches a template, but not with this method.
    WrongMethod {
        allowed: Vec<&'a str>,
    },
    NotFound,
}

/// Outcome of checking a request body.
pub(crate) struct BodyCheck {
    /// The parsed body, if there was one and it was JSON.
    pub value: Option<Value>,
    pub violations: Vec<String>,
    /// The status to answer with when the body is unacceptable.
    pub reject: Option<(u16, String)>,
}

impl Spec {
    fn parse(text: &str) -> Spec {
        let doc: Value = serde_json::from_str(text).expect("openapi-ops.json is valid JSON");
        let components = json!({ "schemas": convert_schema(&doc["components"]["schemas"]) });
        let mut operations = Vec::new();
        let paths = doc["paths"].as_object().expect("fixture has paths");
        for (template, item) in paths {
            let item = item.as_object().expect("path item is an object");
            let shared: Vec<Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (method, op) in item {
                if method == "parameters" || !op.is_object() {
                    continue;
                }
                operations.push(Operation::parse(&doc, template, method, op, &shared));
            }
        }
        Spec {
            operations,
            components,
        }
    }

    /// Match `method` and a raw (still percent-encoded) `path` that has the
    /// API prefix removed.
    pub fn route(&self, method: &str, path: &str) -> Route<'_> {
        let mut best: Option<(&Operation, BTreeMap<String, String>)> = None;
        let mut allowed = Vec::new();
        for op in &self.operations {
            let Some(caps) = op.pattern.captures(path) else {
                continue;
            };
            if op.method != method {
                allowed.push(op.method.as_str());
                continue;
            }
            if best
                .as_ref()
                .is_some_and(|(b, _)| b.specificity >= op.specificity)
            {
                continue;
            }
            let params = op
                .path_param_names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), percent_decode(&caps[i + 1])))
                .collect();
            best = Some((op, params));
        }
        match best {
            Some((op, params)) => Route::Found { op, params },
            // GitHub's v3 documentation: "PATCH is a relatively new and
            // uncommon HTTP verb, so resource endpoints also accept POST
            // requests" (octocrab's `update_comment` relies on it).
            None if method == "POST" && allowed.contains(&"PATCH") => self.route("PATCH", path),
            None if !allowed.is_empty() => Route::WrongMethod { allowed },
            None => Route::NotFound,
        }
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    fn compile(&self, schema: &Value) -> Result<jsonschema::Validator, String> {
        let root = json!({ "allOf": [schema], "components": self.components });
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("cannot compile schema: {e}"))
    }
}

impl Operation {
    fn parse(doc: &Value, template: &str, method: &str, op: &Value, shared: &[Value]) -> Operation {
        let id = op["operationId"].as_str().unwrap_or(template).to_string();
        let mut params: Vec<Param> = Vec::new();
        let declared = shared
            .iter()
            .chain(op["parameters"].as_array().into_iter().flatten());
        for raw in declared {
            let p = resolve(doc, raw);
            let name = p["name"].as_str().unwrap_or_default().to_string();
            let location = match p["in"].as_str() {
                Some("path") => ParamIn::Path,
                Some("query") => ParamIn::Query,
                _ => ParamIn::Other,
            };
            params.retain(|q: &Param| q.name != name || q.location != location);
            params.push(Param {
                name,
                location,
                required: p["required"].as_bool().unwrap_or(location == ParamIn::Path),
                schema: convert_schema(&p["schema"]),
            });
        }
        let multi: Vec<String> = shared
            .iter()
            .chain(op["parameters"].as_array().into_iter().flatten())
            .map(|raw| resolve(doc, raw))
            .filter(|p| p["x-multi-segment"] == json!(true))
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();

        // Template -> anchored regex; multi-segment parameters may contain `/`.
        let mut pattern = String::from("^");
        let mut path_param_names = Vec::new();
        let mut specificity = 0;
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .expect("balanced braces in template")
                + start;
            pattern.push_str(&regex::escape(&rest[..start]));
            specificity += start;
            let name = &rest[start + 1..end];
            pattern.push_str(if multi.iter().any(|m| m == name) {
                "(.+)"
            } else {
                "([^/]+)"
            });
            path_param_names.push(name.to_string());
            rest = &rest[end + 1..];
        }
        pattern.push_str(&regex::escape(rest));
        specificity += rest.len();
        pattern.push('$');

        let body = op.get("requestBody").map(|rb| {
            let rb = resolve(doc, rb);
            BodySpec {
                required: rb["required"].as_bool().unwrap_or(false),
                schema: rb["content"]["application/json"]
                    .get("schema")
                    .map(convert_schema),
                validator: OnceLock::new(),
            }
        });

        let responses = op["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(code, resp)| {
                let resp = resolve(doc, resp);
                let schema = resp["content"]["application/json"]
                    .get("schema")
                    .map(convert_schema);
                (
                    code.clone(),
                    ResponseSpec {
                        schema,
                        validator: OnceLock::new(),
                    },
                )
            })
            .collect();

        Operation {
            id,
            method: method.to_ascii_uppercase(),
            template: template.to_string(),
            pattern: Regex::new(&pattern).expect("template regex compiles"),
            path_param_names,
            specificity,
            params,
            body,
            responses,
        }
    }

    /// Check decoded path parameters against their schemas.
    pub fn check_path_params(&self, params: &BTreeMap<String, String>) -> Vec<String> {
        self.params
            .iter()
            .filter(|p| p.location == ParamIn::Path)
            .filter_map(|p| {
                let value = params.get(&p.name).map(String::as_str).unwrap_or_default();
                if value.is_empty() {
                    return Some(format!("path parameter `{}` is empty", p.name));
                }
                check_scalar(value, &p.schema)
                    .map(|why| format!("path parameter `{}`={value:?}: {why}", p.name))
            })
            .collect()
    }

    /// Check query parameters: known names, scalar types, enums, required.
    pub fn check_query(&self, query: &[(String, String)]) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in query {
            match self
                .params
                .iter()
                .find(|p| p.location == ParamIn::Query && &p.name == name)
            {
                None => problems.push(format!("unknown query parameter `{name}`")),
                Some(p) => {
                    if let Some(why) = check_scalar(value, &p.schema) {
                        problems.push(format!("query parameter `{name}`={value:?}: {why}"));
                    }
                }
            }
        }
        for p in &self.params {
            if p.location == ParamIn::Query
                && p.required
                && !query.iter().any(|(n, _)| n == &p.name)
            {
                problems.push(format!("missing required query parameter `{}`", p.name));
            }
        }
        problems
    }

    /// Check a request body (raw bytes) against the operation's requestBody.
    pub fn check_body(&self, spec: &Spec, raw: &[u8]) -> BodyCheck {
        let mut check = BodyCheck {
            value: None,
            violations: Vec::new(),
            reject: None,
        };
        let blank = raw.iter().all(u8::is_ascii_whitespace);
        if blank {
            if self.body.as_ref().is_some_and(|b| b.required) {
                check
                    .violations
                    .push("missing required JSON request body".to_string());
                check.reject = Some((422, "Invalid request.\n\nRequest body is required.".into()));
            }
            return check;
        }
        if matches!(self.method.as_str(), "GET" | "DELETE" | "HEAD") {
            check
                .violations
                .push(format!("{} request carries a body", self.method));
            check.reject = Some((400, "Problems parsing request".into()));
            return check;
        }
        let Some(body) = &self.body else {
            check
                .violations
                .push(format!("{} takes no request body", self.id));
            check.reject = Some((400, "Problems parsing request".into()));
            return check;
        };
        let value: Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(e) => {
                check
                    .violations
                    .push(format!("request body is not JSON: {e}"));
                check.reject = Some((400, "Problems parsing JSON".into()));
                return check;
            }
        };
        if let Some(schema) = &body.schema {
            match body.validator.get_or_init(|| spec.compile(&closed(schema))) {
                Ok(validator) => {
                    let errors = schema_errors(validator, &value, false);
                    if !errors.is_empty() {
                        check.reject =
                            Some((422, format!("Invalid request.\n\n{}", errors.join("\n"))));
                        check.violations.extend(
                            errors
                                .into_iter()
                                .map(|e| format!("request body does not match schema: {e}")),
                        );
                    }
                }
                Err(e) => check.violations.push(format!("{}: {e}", self.id)),
            }
        }
        check.value = Some(value);
        check
    }

    /// Problems with a JSON response body, against the schema documented for
    /// `status` (none when the status or its schema is not documented).
    pub fn check_response(&self, spec: &Spec, status: u16, body: &Value) -> Vec<String> {
        let Some(resp) = self.responses.get(&status.to_string()) else {
            return Vec::new();
        };
        let Some(schema) = &resp.schema else {
            return Vec::new();
        };
        match resp.validator.get_or_init(|| spec.compile(schema)) {
            Ok(validator) => schema_errors(validator, body, true),
            Err(e) => vec![e.clone()],
        }
    }

    /// Whether `status` is documented for this operation.
    pub fn documents_status(&self, status: u16) -> bool {
        self.responses.contains_key(&status.to_string())
    }
}

/// A request body's `schema` with every object that lists its
/// `properties` (and says nothing of others) closed to fields it does not
/// list: GitHub's schemas rarely say `additionalProperties: false`, but a
/// misspelt optional field is a field GitHub never reads, so the fake
/// refuses it. `allOf` branches stay open (each lists only part of the
/// fields), and so do `$ref`ed components.
fn closed(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = match k.as_str() {
                    "allOf" | "enum" | "default" | "example" | "examples" => v.clone(),
                    "properties" => Value::Object(
                        v.as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, s)| (name.clone(), closed(s)))
                            .collect(),
                    ),
                    _ => closed(v),
                };
                out.insert(k.clone(), v);
            }
            if m.contains_key("properties")
                && !m.contains_key("additionalProperties")
                && !m.contains_key("allOf")
            {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(closed).collect()),
        other => other.clone(),
    }
}

/// Fields of GitHub's answers that GitHub sends as `null` although the
/// description marks them required and not nullable (schema inaccuracies
/// GitHub acknowledged): a pull request's `head.repo` once its head
/// repository was deleted (github/rest-api-description#161, #1811).
pub(crate) const GITHUB_NULLS: &[&str] = &["/head/repo"];

/// What `value` breaks of the schema. In an answer, an empty string where
/// a format is asked is not counted: GitHub's schemas give such fields the
/// default `""`, which GitHub answers when the field was never set (a
/// deployment status without `log_url`).
fn schema_errors(validator: &jsonschema::Validator, value: &Value, answer: bool) -> Vec<String> {
    use jsonschema::error::ValidationErrorKind;
    validator
        .iter_errors(value)
        .filter(|e| {
            let unset = e.instance().as_ref() == &Value::String(String::new());
            let at = e.instance_path().to_string();
            let documented_null = e.instance().as_ref() == &Value::Null
                && GITHUB_NULLS.iter().any(|n| at.ends_with(n));
            !(answer
                && (documented_null
                    || (unset && matches!(e.kind(), ValidationErrorKind::Format { .. }))))
        })
        .take(20)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect()
}

/// Follow a local `$ref` (one level; the fixture never chains them).
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved $ref {r} in openapi-ops.json")),
        None => node,
    }
}

/// Loose check of a path or query value against a parameter schema.
fn check_scalar(value: &str, schema: &Value) -> Option<String> {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") {
        match value.parse::<i64>() {
            Ok(n) => {
                if schema["minimum"].as_i64().is_some_and(|min| n < min) {
                    return Some("below the minimum".into());
                }
            }
            Err(_) => return Some("not an integer".into()),
        }
    } else if types.contains(&"number") {
        if value.parse::<f64>().is_err() {
            return Some("not a number".into());
        }
    } else if types.contains(&"boolean") && value != "true" && value != "false" {
        return Some("not a boolean".into());
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.iter().any(|o| o.as_str() == Some(value)) {
            return Some(format!("not one of {}", Value::Array(options.clone())));
        }
    }
    None
}

/// Convert an OpenAPI 3.0 schema object to JSON Schema draft 4:
/// - a schema with `nullable: true` also accepts `null`;
/// - `oneOf` becomes `anyOf`: GitHub's description uses `oneOf` for
///   alternatives that overlap (e.g. `basic-error` or
///   `repository-rule-violation-error`, both objects of optional fields), so
///   "exactly one" would reject what GitHub really sends and accepts.
///
/// Everything else is kept as is (unknown keywords such as `discriminator`
/// are ignored by validators).
pub(crate) fn convert_schema(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let key = if k == "oneOf" { "anyOf" } else { k.as_str() };
                    (key.to_string(), convert_schema(v))
                })
                .collect();
            if out.get("nullable") != Some(&Value::Bool(true)) {
                return Value::Object(out);
            }
            out.remove("nullable");
            match out.get("type").cloned() {
                Some(Value::String(t)) => {
                    out.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(options)) = out.get_mut("enum") {
                        if !options.contains(&Value::Null) {
                            options.push(Value::Null);
                        }
                    }
                    Value::Object(out)
                }
                _ => json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(convert_schema).collect()),
        other => other.clone(),
    }
}
