//! The schema's `$ref` graph (issue #50): the schema and every file its
//! `$ref`s reach, each `$ref` resolved against its base URI as JSON Schema
//! does (the nearest enclosing `$id`, by the `referencing` crate the
//! validator itself uses), each schema located in its file. It finds a
//! used `$ref` that leads nowhere, and a cycle of `$ref`s that comes back
//! to the same schema for the same value: evaluating it never ends, the
//! validator cuts it short and the cycle then holds for every value.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Registry, Uri};
use serde_json::Value;

use super::refs::{ManagerFiles, RefError};
use super::SchemaError;

/// Keywords that apply their subschemas to the same value as the schema
/// they are in: with `$ref`s, the edges a cycle is made of. Every other
/// subschema applies to a property or an item (a step into the value).
const IN_PLACE: &[&str] = &[
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
];

/// Keywords that hold schemas only for `$ref`s to use.
const DEFINITIONS: &[&str] = &["$defs", "definitions"];

/// The reference keywords `draft`'s validator follows (the validator
/// compiles `$recursiveRef` for 2019-09 only, `$dynamicRef` for 2020-12).
fn ref_keywords(draft: Draft) -> &'static [&'static str] {
    match draft {
        Draft::Draft201909 => &["$ref", "$recursiveRef"],
        Draft::Draft202012 | Draft::Unknown => &["$ref", "$dynamicRef"],
        _ => &["$ref"],
    }
}

/// A used reference that leads nowhere, where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: a `$ref` cannot be resolved: `{keyword}: {reference}` (at {pointer}): {reason}", file.display())]
pub struct Nowhere {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub pointer: String,
    pub keyword: &'static str,
    pub reference: String,
    pub reason: String,
}

/// A cycle of references back to the same schema for the same value.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}:{col}: `$ref` cycle (at {pointer}): {chain} comes back to the same schema for the same value, so evaluating it never ends and every value would pass it; break the cycle (point one `$ref` at a schema with keywords of its own, or step into a property or item first)", file.display())]
pub struct Cycle {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub pointer: String,
    pub chain: String,
}

/// One document: the schema's own file or one a `$ref` reached.
pub struct Doc {
    pub uri: String,
    /// The file as shown to the user.
    pub file: PathBuf,
    pub value: Value,
    pub bytes: Option<Vec<u8>>,
    /// Why it could not be read (its `value` is then an empty schema).
    pub failed: Option<RefError>,
}

/// The schema's documents, its own first.
pub struct Docs(Vec<Doc>);

/// Keeps every document the registry retrieves, and every refusal.
struct Recording {
    files: ManagerFiles,
    got: Arc<Mutex<Vec<Doc>>>,
}

impl jsonschema::Retrieve for Recording {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let (file, bytes, value, failed) = match self.files.read(uri.as_str()) {
            Ok((file, bytes, value)) => (file, Some(bytes), value, None),
            Err(e) => (
                uri.as_str().into(),
                None,
                Value::Object(Default::default()),
                Some(e),
            ),
        };
        let doc = Doc {
            uri: uri.as_str().to_string(),
            file,
            value: value.clone(),
            bytes,
            failed,
        };
        self.got.lock().unwrap_or_else(|e| e.into_inner()).push(doc);
        Ok(value)
    }
}

/// Every document is read before the graph's registry is made.
struct Nothing;

impl jsonschema::Retrieve for Nothing {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("`{uri}` was not read").into())
    }
}

impl Docs {
    /// `root` and every file its `$ref`s reach, read through `files`.
    pub fn load(root: Doc, files: &ManagerFiles, draft: Draft) -> Docs {
        let got = Arc::new(Mutex::new(Vec::new()));
        let recording = Recording {
            files: files.clone(),
            got: Arc::clone(&got),
        };
        // What does not resolve is found by the walk, where it is.
        let _ = Registry::new()
            .draft(draft)
            .retriever(recording)
            .add(&root.uri, &root.value)
            .and_then(|b| b.prepare());
        let mut docs = vec![root];
        docs.append(&mut got.lock().unwrap_or_else(|e| e.into_inner()));
        Docs(docs)
    }
}

/// A schema met by the walk: its base URI and where it leads.
#[derive(Default)]
struct Node {
    base: Option<Arc<Uri<String>>>,
    draft: Option<Draft>,
    /// Subschemas applied to the same value, and `$ref` targets.
    in_place: Vec<*const Value>,
    /// What the validator uses when it uses this schema.
    uses: Vec<*const Value>,
}

/// A reference keyword met by the walk.
pub struct RefAt {
    pub schema: *const Value,
    pub keyword: &'static str,
    pub reference: String,
    pub to: Result<*const Value, String>,
}

/// The documents' schemas, walked from the root.
pub struct Graph<'r> {
    docs: &'r Docs,
    registry: Registry<'r>,
    /// Every JSON value's document and pointer.
    index: HashMap<*const Value, (usize, String)>,
    nodes: HashMap<*const Value, Node>,
    /// Schemas met whose edges are not known yet.
    pending: Vec<*const Value>,
    pub refs: Vec<RefAt>,
}

impl<'r> Graph<'r> {
    /// `None` when the documents cannot make a registry (the validator
    /// then refuses the schema in its own words).
    pub fn new(docs: &'r Docs, draft: Draft) -> Option<Graph<'r>> {
        let registry = Registry::new()
            .draft(draft)
            .retriever(Nothing)
            .extend(docs.0.iter().map(|d| (d.uri.as_str(), &d.value)))
            .ok()?
            .prepare()
            .ok()?;
        let mut index = HashMap::new();
        for (i, d) in docs.0.iter().enumerate() {
            index_values(&d.value, i, String::new(), &mut index);
        }
        let mut g = Graph {
            docs,
            registry,
            index,
            nodes: HashMap::new(),
            pending: Vec::new(),
            refs: Vec::new(),
        };
        let root = &docs.0[0];
        let base = jsonschema::uri::from_str(&root.uri).ok()?;
        for (i, doc) in docs.0.iter().enumerate() {
            // Each document from its own URI (the root's first).
            let base = if i == 0 {
                base.clone()
            } else {
                jsonschema::uri::from_str(&doc.uri).ok()?
            };
            g.structure(&doc.value, Arc::new(base), draft);
        }
        g.link();
        Some(g)
    }

    /// Every schema below `value` (as `draft` nests them), each with its
    /// base URI: `base` moved by each enclosing `$id`.
    fn structure(&mut self, value: &Value, base: Arc<Uri<String>>, draft: Draft) {
        let key = value as *const Value;
        if !value.is_object() || self.nodes.contains_key(&key) {
            return;
        }
        let draft = match draft.detect(value) {
            Draft::Unknown => draft,
            d => d,
        };
        let base = self
            .registry
            .resolver((*base).clone())
            .in_subresource(draft.create_resource_ref(value))
            .map(|r| r.base_uri())
            .unwrap_or(base);
        let node = Node {
            base: Some(Arc::clone(&base)),
            draft: Some(draft),
            ..Node::default()
        };
        self.nodes.insert(key, node);
        self.pending.push(key);
        for child in draft.subresources_of(value) {
            self.structure(child, Arc::clone(&base), draft);
        }
    }

    /// The edges of every schema met: where its references lead (met in
    /// turn), what it applies in place and what it uses.
    fn link(&mut self) {
        let mut next = 0;
        while let Some(&key) = self.pending.get(next) {
            next += 1;
            let Some(value) = self.value_at(key) else {
                continue;
            };
            let Some(Node {
                base: Some(base),
                draft: Some(draft),
                ..
            }) = self.nodes.get(&key)
            else {
                continue;
            };
            let (base, draft) = (Arc::clone(base), *draft);
            let Value::Object(map) = value else { continue };
            let mut in_place_edges = Vec::new();
            let mut uses = Vec::new();
            for keyword in ref_keywords(draft) {
                let Some(Value::String(r)) = map.get(*keyword) else {
                    continue;
                };
                let to = self.lookup(&base, r);
                if let Ok((target, tbase, tdraft)) = &to {
                    in_place_edges.push(*target);
                    uses.push(*target);
                    self.reach(*target, tbase, *tdraft);
                }
                self.refs.push(RefAt {
                    schema: key,
                    keyword,
                    reference: r.clone(),
                    to: to.map(|(t, _, _)| t),
                });
            }
            // Drafts 4 to 7 ignore the keywords beside `$ref`.
            let only_ref = draft <= Draft::Draft7 && map.contains_key("$ref");
            if !only_ref {
                let defined: HashSet<*const Value> = definitions(map).collect();
                in_place_edges.extend(in_place(map));
                uses.extend(
                    draft
                        .subresources_of(value)
                        .map(|c| c as *const Value)
                        .filter(|c| !defined.contains(c)),
                );
            }
            if let Some(node) = self.nodes.get_mut(&key) {
                node.in_place = in_place_edges;
                node.uses = uses;
            }
        }
    }

    /// A `$ref`'s target not met yet (under a keyword its draft does not
    /// nest schemas in): based as its nearest enclosing schema.
    fn reach(&mut self, target: *const Value, tbase: &Arc<Uri<String>>, tdraft: Draft) {
        if self.nodes.contains_key(&target) {
            return;
        }
        let Some((doc, at)) = self.index.get(&target).cloned() else {
            return;
        };
        let root = &self.docs.0[doc].value;
        let mut up = at.as_str();
        let base = loop {
            let Some((parent, _)) = up.rsplit_once('/') else {
                break Arc::clone(tbase);
            };
            up = parent;
            let node = root
                .pointer(up)
                .and_then(|v| self.nodes.get(&(v as *const Value)));
            if let Some(base) = node.and_then(|n| n.base.clone()) {
                break base;
            }
        };
        if let Some(value) = self.value_at(target) {
            self.structure(value, base, tdraft);
        }
    }

    /// The JSON value at `addr`, found again through its document.
    fn value_at(&self, addr: *const Value) -> Option<&'r Value> {
        let (doc, pointer) = self.index.get(&addr)?;
        self.docs.0[*doc].value.pointer(pointer)
    }

    /// Where `r` leads from `base`: the schema, its base URI and draft, or
    /// why it leads nowhere.
    fn lookup(
        &self,
        base: &Arc<Uri<String>>,
        r: &str,
    ) -> Result<(*const Value, Arc<Uri<String>>, Draft), String> {
        let file = r.split('#').next().unwrap_or_default();
        if let Ok(uri) = self.registry.resolve_uri(&base.borrow(), file) {
            let failed = self.docs.0.iter().find(|d| d.uri == uri.as_str());
            if let Some(e) = failed.and_then(|d| d.failed.as_ref()) {
                return Err(e.to_string());
            }
        }
        match self.registry.resolver((**base).clone()).lookup(r) {
            Ok(resolved) => {
                let (contents, resolver, draft) = resolved.into_inner();
                Ok((contents as *const Value, resolver.base_uri(), draft))
            }
            Err(e) => Err(format!(
                "{e}; point it at a schema that exists (or add the definition it names)"
            )),
        }
    }

    /// Whether the reference `r` in the root document's schema at `pointer`
    /// resolves, against that schema's base URI (for the lint).
    pub fn resolves(&self, pointer: &str, r: &str) -> bool {
        let root = &self.docs.0[0].value;
        let mut at = pointer.to_string();
        let base = loop {
            let node = root.pointer(&at).map(|v| v as *const Value);
            if let Some(base) = node.and_then(|n| self.nodes.get(&n)?.base.clone()) {
                break base;
            }
            match at.rsplit_once('/') {
                Some((parent, _)) => at = parent.to_string(),
                None => return true,
            }
        };
        self.lookup(&base, r).is_ok()
    }

    /// The schemas the validator uses: from the root, through what each
    /// uses (not what only `$defs` holds) and where `$ref`s lead.
    pub fn used(&self) -> Vec<*const Value> {
        let root = &self.docs.0[0].value as *const Value;
        let mut seen = HashSet::from([root]);
        let mut order = vec![root];
        let mut i = 0;
        while let Some(&n) = order.get(i) {
            i += 1;
            for &next in self.nodes.get(&n).map_or(&[][..], |n| &n.uses[..]) {
                if seen.insert(next) {
                    order.push(next);
                }
            }
        }
        order
    }

    /// A cycle of in-place edges among the used schemas, as the schemas on
    /// it in order.
    pub fn cycle(&self, used: &[*const Value]) -> Option<Vec<*const Value>> {
        let mut done = HashSet::new();
        for &start in used {
            let mut stack = Vec::new();
            if let Some(c) = self.cycle_from(start, &mut stack, &mut done) {
                return Some(c);
            }
        }
        None
    }

    fn cycle_from(
        &self,
        n: *const Value,
        stack: &mut Vec<*const Value>,
        done: &mut HashSet<*const Value>,
    ) -> Option<Vec<*const Value>> {
        if let Some(at) = stack.iter().position(|s| *s == n) {
            return Some(stack[at..].to_vec());
        }
        if done.contains(&n) {
            return None;
        }
        stack.push(n);
        for &next in self.nodes.get(&n).map_or(&[][..], |n| &n.in_place[..]) {
            if let Some(c) = self.cycle_from(next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n);
        None
    }

    /// The first used reference that leads nowhere, else the first cycle,
    /// as an error where it is.
    pub fn problem(&self) -> Option<SchemaError> {
        let used = self.used();
        let set: HashSet<*const Value> = used.iter().copied().collect();
        let dangling = self
            .refs
            .iter()
            .find(|r| r.to.is_err() && set.contains(&r.schema));
        if let Some(r) = dangling {
            let (file, line, col, pointer) = self.place(r.schema, r.keyword);
            return Some(SchemaError::RefNowhere(Box::new(Nowhere {
                file,
                line,
                col,
                pointer,
                keyword: r.keyword,
                reference: r.reference.clone(),
                reason: r.to.clone().err()?,
            })));
        }
        let cycle = self.cycle(&used)?;
        let mut chain = Vec::new();
        let mut first = None;
        for (i, &n) in cycle.iter().enumerate() {
            let next = cycle[(i + 1) % cycle.len()];
            if let Some(r) = self.refs.iter().find(|r| r.schema == n && r.to == Ok(next)) {
                let (file, line, col, pointer) = self.place(n, r.keyword);
                chain.push(format!(
                    "{}:{line}:{col} `{}: {}`",
                    file.display(),
                    r.keyword,
                    r.reference
                ));
                first.get_or_insert((file, line, col, pointer));
            }
        }
        let (file, line, col, pointer) = first?;
        Some(SchemaError::RefCycle(Box::new(Cycle {
            file,
            line,
            col,
            pointer,
            chain: chain.join(" → "),
        })))
    }

    /// The file, `line:col` and pointer of `keyword` in the schema at
    /// `schema`.
    pub fn place(&self, schema: *const Value, keyword: &str) -> (PathBuf, usize, usize, String) {
        let Some((doc, at)) = self.index.get(&schema) else {
            return (self.docs.0[0].file.clone(), 1, 1, String::new());
        };
        let doc = &self.docs.0[*doc];
        let pointer = format!("{at}/{}", fleetform_yaml::escape_token(keyword));
        let limits = fleetform_yaml::Limits::default();
        let pos = doc
            .bytes
            .as_deref()
            .and_then(|b| fleetform_yaml::load_bytes(b, &doc.file, &limits).ok())
            .map_or(fleetform_yaml::Pos { line: 1, col: 1 }, |d| {
                d.key_pos(&pointer)
            });
        (doc.file.clone(), pos.line, pos.col, pointer)
    }
}

/// The subschemas under `$defs` and `definitions`.
fn definitions(map: &serde_json::Map<String, Value>) -> impl Iterator<Item = *const Value> + '_ {
    DEFINITIONS
        .iter()
        .filter_map(|k| map.get(*k)?.as_object())
        .flat_map(|m| m.values().map(|v| v as *const Value))
}

/// The subschemas applied to the same value as `map`.
fn in_place(map: &serde_json::Map<String, Value>) -> Vec<*const Value> {
    let mut out = Vec::new();
    for k in IN_PLACE {
        match map.get(*k) {
            Some(Value::Array(items)) => out.extend(items.iter().map(|v| v as *const Value)),
            Some(Value::Object(m)) if matches!(*k, "dependentSchemas" | "dependencies") => {
                out.extend(
                    m.values()
                        .filter(|v| v.is_object())
                        .map(|v| v as *const Value),
                );
            }
            Some(v @ Value::Object(_)) => out.push(v as *const Value),
            _ => {}
        }
    }
    out
}

fn index_values(
    v: &Value,
    doc: usize,
    at: String,
    out: &mut HashMap<*const Value, (usize, String)>,
) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                index_values(
                    c,
                    doc,
                    format!("{at}/{}", fleetform_yaml::escape_token(k)),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                index_values(c, doc, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.insert(v as *const Value, (doc, at));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Schema;

    /// `schema.json` (and `b.json`) in a fresh folder, loaded.
    fn load(schema: &str, b: &str) -> (tempfile::TempDir, Result<Schema, String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.json"), schema).unwrap();
        std::fs::write(dir.path().join("b.json"), b).unwrap();
        let s = Schema::load(&dir.path().join("schema.json"), Path::new("schema.json"));
        (dir, s.map_err(|e| e.to_string()))
    }

    #[test]
    fn refs_resolve_against_the_nearest_id() {
        let schema = r##"{"$defs": {"s": {"$id": "https://x.example/s.json",
  "$defs": {"y": {"type": "string"}},
  "properties": {"a": {"$ref": "#/$defs/y"}, "b": {"$ref": "#/$defs/nope"}}}},
  "properties": {"s": {"$ref": "https://x.example/s.json"}}}"##;
        let (_d, s) = load(schema, "{}");
        let err = s.unwrap_err();
        assert!(
            err.starts_with("schema.json:3:52: a `$ref` cannot be resolved: `$ref: #/$defs/nope` (at /$defs/s/properties/b/$ref): Pointer '/$defs/nope' does not exist; point it at"),
            "{err}"
        );
        let (dir, s) = load(&schema.replace("#/$defs/nope", "#/$defs/y"), "{}");
        let s = s.unwrap();
        let bytes = std::fs::read(dir.path().join("schema.json")).unwrap();
        assert!(
            s.lint(Some(&bytes)).is_empty(),
            "{:?}",
            s.lint(Some(&bytes))
        );
    }

    #[test]
    fn cycles_are_errors_where_they_close() {
        for (schema, b, at) in [
            (
                r#"{"$ref": "b.json"}"#,
                r#"{"$ref": "schema.json"}"#,
                "schema.json:1:2",
            ),
            (
                r#"{"properties": {"a": {"$ref": "b.json#/$defs/x"}}}"#,
                r#"{"$defs": {"x": {"$ref": "schema.json#/properties/a"}}}"#,
                "schema.json:1:23",
            ),
            (r##"{"allOf": [{"$ref": "#"}]}"##, "{}", "schema.json:1:13"),
            (
                r##"{"properties": {"p": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$ref": "#/$defs/a"}}}"##,
                "{}",
                "schema.json:1:",
            ),
        ] {
            let (_d, s) = load(schema, b);
            let err = s.unwrap_err();
            assert!(
                err.starts_with(at) && err.contains("`$ref` cycle"),
                "{schema}: {err}"
            );
        }
        // Recursion through a property steps into the value: no cycle.
        let (_d, s) = load(r##"{"properties": {"c": {"$ref": "#"}}}"##, "{}");
        assert!(s.is_ok());
    }

    #[test]
    fn a_dangling_ref_in_another_file_is_located_there() {
        let (_d, s) = load(
            r#"{"properties": {"a": {"$ref": "b.json#/$defs/x"}}}"#,
            "{\n  \"$defs\": {\"x\": {\"$ref\": \"#/$defs/gone\"}}}",
        );
        let err = s.unwrap_err();
        assert!(
            err.contains("b.json:2:19: a `$ref` cannot be resolved: `$ref: #/$defs/gone`"),
            "{err}"
        );
        // Unused, it is the lint's warning, not an error.
        let (_d, s) = load(r##"{"$defs": {"u": {"$ref": "#/$defs/gone"}}}"##, "{}");
        assert!(s.is_ok());
    }
}
