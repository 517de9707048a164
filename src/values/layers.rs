//! Value layering with provenance.
//!
//! Order (later wins): manager base → manager environment → customer common →
//! customer environment (`environments.<env>` in the variables file, then the
//! optional override file). Maps merge recursively; scalars and lists
//! replace; a `null` value deletes the key set by an earlier layer.
//!
//! Every node of the result remembers which layer and which file position set
//! it, which `fleetform render --explain` prints.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use fleetform_yaml::{escape_token, Document, Location};

mod origins;
use origins::Origins;

/// The layers, in the order they apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    ManagerBase,
    ManagerEnv,
    Customer,
    CustomerEnv,
    CustomerEnvFile,
    /// An output of a product this one needs (set at plan time, after
    /// every other layer; customers cannot set it).
    ProductOutput,
    /// A customer secret (its secrets file; decrypted only at plan time,
    /// its value never shown).
    Secret,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::ManagerBase => "manager base",
            Layer::ManagerEnv => "manager environment",
            Layer::Customer => "customer",
            Layer::CustomerEnv => "customer environment",
            Layer::CustomerEnvFile => "customer environment file",
            Layer::ProductOutput => "product output",
            Layer::Secret => "secret",
        })
    }
}

/// One input to the merge: a subtree of a loaded document.
#[derive(Debug, Clone)]
pub struct Source {
    pub layer: Layer,
    pub doc: Arc<Document>,
    /// Pointer of the subtree inside `doc` (empty for the whole document).
    pub root: String,
}

/// Where a node of the merged value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub layer: Layer,
    #[serde(serialize_with = "ser_location")]
    pub location: Location,
}

fn ser_location<S: serde::Serializer>(l: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&l.to_string())
}

/// A merged value and the origin of each node.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    pub value: Value,
    sources: Vec<Source>,
    /// For each source, the length of the result pointer it was merged at
    /// (see [`Layered::apply_at`]): a node's pointer in its source's
    /// document is the source's `root`, then the node's result pointer
    /// past that length.
    merged_at: Vec<usize>,
    /// result pointer → the source that set the node. Every recorded
    /// pointer is a node of the result: a replaced or deleted node's
    /// pointers are taken out by walking what it held.
    origins: Origins,
}

impl Layered {
    pub fn new() -> Self {
        Layered {
            value: Value::Object(Map::new()),
            sources: Vec::new(),
            merged_at: Vec::new(),
            origins: Origins::default(),
        }
    }

    /// A layering that records no origin: the merged value alone, for a
    /// caller that never asks where a node came from (asked, it answers
    /// `None`). It merges exactly as [`Layered::new`] does.
    pub fn untracked() -> Self {
        Layered {
            origins: Origins::off(),
            ..Layered::new()
        }
    }

    /// Merges `value` (the subtree of `source.doc` at `source.root`, possibly
    /// filtered) over the current result.
    ///
    /// A null `value` (an empty YAML document) is an empty layer: it sets
    /// and deletes nothing.
    pub fn apply(&mut self, source: Source, value: &Value) {
        if value.is_null() {
            return;
        }
        let idx = self.sources.len();
        self.sources.push(source);
        self.merged_at.push(0);
        self.reserve_for(value);
        merge(
            &mut self.value,
            value,
            &mut String::new(),
            idx,
            &mut self.origins,
        );
    }

    /// [`Layered::apply`] of `value`'s entries but `skip`, as if the
    /// mapping were copied without it first (a value that is no mapping
    /// is an empty mapping, as that copy would be).
    pub fn apply_without(&mut self, source: Source, value: &Value, skip: &str) {
        let (Value::Object(t), Some(o)) = (&mut self.value, value.as_object()) else {
            let mut copy = value.as_object().cloned().unwrap_or_default();
            copy.remove(skip);
            return self.apply(source, &Value::Object(copy));
        };
        let idx = self.sources.len();
        self.sources.push(source);
        self.merged_at.push(0);
        merge_entries(t, o, Some(skip), &mut String::new(), idx, &mut self.origins);
    }

    /// Merges `value` at `at` (a pointer into the result), creating the
    /// mappings on the way. A null `value` is an empty layer, as in
    /// [`Layered::apply`].
    pub fn apply_at(&mut self, at: &str, source: Source, value: &Value) {
        if value.is_null() {
            return;
        }
        let idx = self.sources.len();
        self.sources.push(source);
        self.reserve_for(value);
        let mut node = &mut self.value;
        let mut ptr = String::new();
        for tok in at.split('/').skip(1) {
            ptr.push('/');
            ptr.push_str(tok);
            let key = tok.replace("~1", "/").replace("~0", "~");
            if !node.is_object() {
                let old = std::mem::replace(node, Value::Object(Map::new()));
                ptr.truncate(ptr.len() - tok.len() - 1);
                forget_children(&old, &mut ptr, &mut self.origins);
                ptr.push('/');
                ptr.push_str(tok);
            }
            let Value::Object(map) = node else {
                return; // made an object just above
            };
            node = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
        }
        self.merged_at.push(ptr.len());
        merge(node, value, &mut ptr, idx, &mut self.origins);
    }

    /// Room in the origins for every node of `value` (at most that many
    /// are recorded when it is merged).
    fn reserve_for(&mut self, value: &Value) {
        if !self.origins.is_off() {
            self.origins.reserve(nodes(value));
        }
    }

    /// Where the node at result pointer `p` is in the document of the
    /// source `idx` set it from.
    fn source_pointer<'p>(&self, idx: usize, p: &'p str) -> std::borrow::Cow<'p, str> {
        let (root, at) = (&self.sources[idx].root, self.merged_at[idx]);
        match (root.is_empty(), at) {
            (true, 0) => p.into(),
            _ => format!("{root}{}", p.get(at..).unwrap_or_default()).into(),
        }
    }

    /// Origin of the node at `pointer` or its nearest recorded ancestor.
    pub fn origin(&self, pointer: &str) -> Option<Origin> {
        let mut p = pointer;
        loop {
            if let Some(idx) = self.origins.get(p) {
                let s = self.sources.get(idx)?;
                return Some(Origin {
                    layer: s.layer,
                    location: s.doc.locate(&self.source_pointer(idx, p)),
                });
            }
            p = p.get(..p.rfind('/')?)?;
        }
    }

    /// As [`Layered::origin`], placed at the key that introduced the
    /// pointer in its file (its value's position when it has no key).
    pub fn origin_key(&self, pointer: &str) -> Option<Origin> {
        let Some(idx) = self.origins.get(pointer) else {
            return self.origin(pointer);
        };
        let s = self.sources.get(idx)?;
        Some(Origin {
            layer: s.layer,
            location: fleetform_yaml::Location {
                file: s.doc.file.clone(),
                pos: s.doc.key_pos(&self.source_pointer(idx, pointer)),
            },
        })
    }

    /// The top-level entries named in `keys` alone, with their origins
    /// (the sources are kept whole); `None` when the result is not a
    /// mapping. Layering is key by key, so merging the same layers into
    /// this gives those entries exactly as merging into the whole would.
    pub fn only(&self, keys: &std::collections::BTreeSet<String>) -> Option<Layered> {
        let Value::Object(map) = &self.value else {
            return None;
        };
        let tokens: std::collections::BTreeSet<String> =
            keys.iter().map(|k| escape_token(k).into_owned()).collect();
        fn top(p: &str) -> Option<&str> {
            p.get(1..)
                .map(|rest| rest.split('/').next().unwrap_or_default())
        }
        Some(Layered {
            value: Value::Object(
                map.iter()
                    .filter(|(k, _)| keys.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            sources: self.sources.clone(),
            merged_at: self.merged_at.clone(),
            origins: self
                .origins
                .filtered(|p| top(p).is_none_or(|t| tokens.contains(t))),
        })
    }

    /// Every leaf (scalar, empty map, empty list) with its pointer.
    pub fn leaves(&self) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        collect_leaves(&self.value, &mut String::new(), &mut out);
        out
    }
}

/// The manager's value layers (see `values::customer::ManagerLayers`)
/// merged: the base alone, and with each environment's
/// file.
#[derive(Debug, Clone)]
pub struct MergedManager {
    pub base: Layered,
    pub envs: BTreeMap<String, Layered>,
}

impl MergedManager {
    pub fn of(base: Option<&Arc<Document>>, envs: &BTreeMap<String, Arc<Document>>) -> Self {
        let whole = |layer, doc: &Arc<Document>| Source {
            layer,
            doc: doc.clone(),
            root: String::new(),
        };
        let mut merged = Layered::new();
        if let Some(base) = base {
            merged.apply(whole(Layer::ManagerBase, base), &base.value);
        }
        let envs = envs
            .iter()
            .map(|(name, d)| {
                let mut l = merged.clone();
                l.apply(whole(Layer::ManagerEnv, d), &d.value);
                (name.clone(), l)
            })
            .collect();
        MergedManager { base: merged, envs }
    }
}

/// The leaves (as [`Layered::leaves`] names them) that differ between two
/// values: pointer, old, new; `None` where a side has no such leaf. Equal
/// subtrees are skipped whole, so a small change costs little however big
/// the values are. Sorted by pointer.
pub fn changed_leaves<'a>(
    old: Option<&'a Value>,
    new: &'a Value,
) -> Vec<(String, Option<&'a Value>, Option<&'a Value>)> {
    let mut out = Vec::new();
    walk_changes(old, Some(new), &mut String::new(), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// [`changed_leaves`] of two mappings that may differ at the top-level
/// entries `keys` alone (neither empty): the same answer, from those
/// entries.
pub fn changed_leaves_at<'a>(
    old: &'a Value,
    new: &'a Value,
    keys: &std::collections::BTreeSet<String>,
) -> Vec<(String, Option<&'a Value>, Option<&'a Value>)> {
    let mut out = Vec::new();
    for k in keys {
        let mut ptr = format!("/{}", escape_token(k));
        walk_changes(old.get(k), new.get(k), &mut ptr, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

type Change<'a> = (String, Option<&'a Value>, Option<&'a Value>);

fn walk_changes<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    ptr: &mut String,
    out: &mut Vec<Change<'a>>,
) {
    if let (Some(a), Some(b)) = (old, new) {
        if a == b {
            return;
        }
    }
    let is_leaf = |v: &Value| match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    };
    let (old_leaf, new_leaf) = (old.filter(|v| is_leaf(v)), new.filter(|v| is_leaf(v)));
    if old_leaf.is_some() || new_leaf.is_some() {
        out.push((ptr.clone(), old_leaf, new_leaf));
    }
    let mut child = |token: &str, a: Option<&'a Value>, b: Option<&'a Value>| {
        let len = ptr.len();
        ptr.push('/');
        ptr.push_str(token);
        walk_changes(a, b, ptr, out);
        ptr.truncate(len);
    };
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (k, va) in a {
                child(&escape_token(k), Some(va), b.get(k));
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                child(&escape_token(k), None, Some(vb));
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                child(&i.to_string(), a.get(i), b.get(i));
            }
        }
        _ => {
            if let Some(v) = old {
                each_child(v, ptr, &mut |c, ptr| walk_changes(Some(c), None, ptr, out));
            }
            if let Some(v) = new {
                each_child(v, ptr, &mut |c, ptr| walk_changes(None, Some(c), ptr, out));
            }
        }
    }
}

/// Calls `f` with each child of `v` (none for a scalar) and `ptr` grown by
/// the child's token: `/` and the escaped key, or `/` and the index. `ptr`
/// is given back unchanged.
pub(crate) fn each_child<'a>(
    v: &'a Value,
    ptr: &mut String,
    f: &mut dyn FnMut(&'a Value, &mut String),
) {
    let len = ptr.len();
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                ptr.push('/');
                ptr.push_str(&escape_token(k));
                f(c, ptr);
                ptr.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let _ = write!(ptr, "/{i}");
                f(c, ptr);
                ptr.truncate(len);
            }
        }
        _ => {}
    }
}

fn collect_leaves<'a>(v: &'a Value, ptr: &mut String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {}
        Value::Array(a) if !a.is_empty() => {}
        _ => return out.push((ptr.clone(), v)),
    }
    each_child(v, ptr, &mut |c, ptr| collect_leaves(c, ptr, out));
}

/// Forgets the origins of every node below `ptr` in `old` (the value that
/// was there); `ptr` is given back unchanged. A scalar holds none.
fn forget_children(old: &Value, ptr: &mut String, origins: &mut Origins) {
    if origins.is_off() {
        return;
    }
    each_child(old, ptr, &mut |c, ptr| {
        origins.remove(ptr);
        forget_children(c, ptr, origins);
    });
}

fn record_all(v: &Value, ptr: &mut String, idx: usize, origins: &mut Origins) {
    if origins.is_off() {
        return;
    }
    origins.insert(ptr, idx);
    each_child(v, ptr, &mut |c, ptr| record_all(c, ptr, idx, origins));
}

fn merge(target: &mut Value, overlay: &Value, ptr: &mut String, idx: usize, origins: &mut Origins) {
    match (target, overlay) {
        (Value::Object(t), Value::Object(o)) => merge_entries(t, o, None, ptr, idx, origins),
        (t, o) => {
            let old = std::mem::replace(t, without_nulls(o));
            forget_children(&old, ptr, origins);
            record_all(t, ptr, idx, origins);
        }
    }
}

/// Merges the entries of `o` but `skip` into the mapping `t`.
fn merge_entries(
    t: &mut Map<String, Value>,
    o: &Map<String, Value>,
    skip: Option<&str>,
    ptr: &mut String,
    idx: usize,
    origins: &mut Origins,
) {
    if !origins.contains_key(ptr) {
        origins.insert(ptr, idx);
    }
    for (k, v) in o.iter().filter(|(k, _)| Some(k.as_str()) != skip) {
        let len = ptr.len();
        ptr.push('/');
        ptr.push_str(&escape_token(k));
        if v.is_null() {
            if let Some(old) = t.remove(k) {
                origins.remove(ptr);
                forget_children(&old, ptr, origins);
            }
        } else if let Some(existing) = t.get_mut(k) {
            merge(existing, v, ptr, idx, origins);
        } else {
            let v = without_nulls(v);
            record_all(&v, ptr, idx, origins);
            t.insert(k.clone(), v);
        }
        ptr.truncate(len);
    }
}

/// How many nodes `v` holds, itself included.
fn nodes(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(nodes).sum(),
        Value::Array(a) => a.iter().map(nodes).sum(),
        _ => 0,
    }
}

/// A copy of `v` without null-valued keys (a null deletes, it is never a
/// value of its own).
fn without_nulls(v: &Value) -> Value {
    stripped(v).unwrap_or_else(|| v.clone())
}

/// [`without_nulls`] of `v`, or `None` when `v` holds no null key, so the
/// caller clones it whole: most values hold none, and a clone copies each
/// mapping's hash table where rebuilding it hashes every key again.
fn stripped(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let children: Vec<Option<Value>> = m.values().map(stripped).collect();
            if children.iter().all(Option::is_none) && !m.values().any(Value::is_null) {
                return None;
            }
            Some(Value::Object(
                m.iter()
                    .zip(children)
                    .filter(|((_, v), _)| !v.is_null())
                    .map(|((k, v), c)| (k.clone(), c.unwrap_or_else(|| v.clone())))
                    .collect(),
            ))
        }
        Value::Array(a) => {
            let items: Vec<Option<Value>> = a.iter().map(stripped).collect();
            if items.iter().all(Option::is_none) {
                return None;
            }
            Some(Value::Array(
                a.iter()
                    .zip(items)
                    .map(|(v, c)| c.unwrap_or_else(|| v.clone()))
                    .collect(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "layers_tests.rs"]
mod tests;
