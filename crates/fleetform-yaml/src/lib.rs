//! YAML loading with positions and hard input limits.
//!
//! Every YAML file fleetform reads (manager config, registry, value layers,
//! customer variables) goes through [`load_bytes`]. It builds a `serde_json::Value`
//! straight from the parser's event stream so that:
//!
//! - every node keeps its `line:col` (looked up by JSON pointer),
//! - duplicate keys, tags, complex keys and multiple documents are errors,
//! - alias expansion, nesting depth, key counts, string length and file size
//!   are bounded, so a hostile file cannot exhaust memory or time.
//!
//! Scalars resolve with the YAML 1.2 core schema (`yes`/`no` stay strings).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl Pos {
    fn from_span(span: &Span) -> Self {
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

/// Input limits applied while loading. The defaults suit variables files and
/// manager configuration alike.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of mappings and sequences.
    pub max_depth: usize,
    /// Most nodes in the document, counting every alias expansion.
    pub max_nodes: usize,
    /// Most keys in one mapping.
    pub max_keys: usize,
    /// Longest accepted string scalar, in bytes.
    pub max_string: usize,
    /// Most bytes of keys and scalars in the document, counting every alias
    /// expansion (a 64 KiB string aliased 50,000 times is 3 GB).
    pub max_expanded_bytes: usize,
    /// Most bytes of position index (the JSON pointers of every node): long
    /// keys over many deep nodes would otherwise cost gigabytes.
    pub max_index_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 32,
            max_nodes: 50_000,
            max_keys: 5_000,
            max_string: 64 * 1024,
            max_expanded_bytes: 8 * 1024 * 1024,
            max_index_bytes: 32 * 1024 * 1024,
        }
    }
}

/// A loaded YAML document: its value and where each node came from.
///
/// Loading records one compact [`Node`] per YAML node; the JSON-pointer
/// index that [`Document::pos`] and friends look positions up in is built
/// from them on the first lookup only. Most files are valid and never need
/// a position, so they never pay for the pointer strings.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path shown to users (relative where possible).
    pub file: PathBuf,
    pub value: Value,
    nodes: Arc<[Node]>,
    index: Arc<OnceLock<Index>>,
}

/// One node as the parser saw it: its parent, how the parent reaches it and
/// where it starts. Nodes are stored in document order, so a parent always
/// comes before its children.
#[derive(Debug, Clone)]
struct Node {
    /// Index of the parent node; the root is its own parent (index 0).
    parent: u32,
    key: NodeKey,
    pos: Mark,
}

/// A [`Pos`] in half the space: the index holds one per node.
#[derive(Debug, Clone, Copy)]
struct Mark {
    line: u32,
    col: u32,
}

impl From<Pos> for Mark {
    fn from(p: Pos) -> Self {
        Mark {
            line: u32::try_from(p.line).unwrap_or(u32::MAX),
            col: u32::try_from(p.col).unwrap_or(u32::MAX),
        }
    }
}

impl From<Mark> for Pos {
    fn from(m: Mark) -> Self {
        Pos {
            line: m.line as usize,
            col: m.col as usize,
        }
    }
}

#[derive(Debug, Clone)]
enum NodeKey {
    Root,
    Item(u32),
    /// A mapping key and the position of the key itself.
    Key(Box<str>, Mark),
}

/// JSON pointer → position, built on demand.
#[derive(Debug, Default)]
struct Index {
    /// Position of the node's value.
    values: HashMap<String, Pos>,
    /// Position of the mapping key that introduced the node.
    keys: HashMap<String, Pos>,
}

impl Index {
    fn build(nodes: &[Node]) -> Self {
        let mut pointers: Vec<String> = Vec::with_capacity(nodes.len());
        let mut index = Index {
            values: HashMap::with_capacity(nodes.len()),
            keys: HashMap::new(),
        };
        for node in nodes {
            let pointer = match &node.key {
                NodeKey::Root => String::new(),
                NodeKey::Item(i) => format!("{}/{i}", pointers[node.parent as usize]),
                NodeKey::Key(k, key_pos) => {
                    let p = format!("{}/{}", pointers[node.parent as usize], escape_token(k));
                    index.keys.insert(p.clone(), (*key_pos).into());
                    p
                }
            };
            index.values.insert(pointer.clone(), node.pos.into());
            pointers.push(pointer);
        }
        index
    }
}

impl Document {
    /// An empty document standing for a file that does not exist.
    pub fn empty(file: impl Into<PathBuf>) -> Self {
        Document {
            file: file.into(),
            value: Value::Object(Map::new()),
            nodes: Arc::from(Vec::new()),
            index: Arc::default(),
        }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::build(&self.nodes))
    }

    /// Position of the value at `pointer`, or of its nearest ancestor that
    /// has one (nodes expanded from an alias share the alias's position).
    pub fn pos(&self, pointer: &str) -> Pos {
        let values = &self.index().values;
        let mut p = pointer;
        loop {
            if let Some(pos) = values.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Pos { line: 1, col: 1 },
            }
        }
    }

    /// Exact position of the value at `pointer`, if the file holds it.
    pub fn exact_pos(&self, pointer: &str) -> Option<Pos> {
        self.index().values.get(pointer).copied()
    }

    /// Position of the key that introduced `pointer`, falling back to the
    /// value's position.
    pub fn key_pos(&self, pointer: &str) -> Pos {
        self.index()
            .keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.pos(pointer))
    }

    /// `file:line:col` of the node at `pointer`.
    pub fn locate(&self, pointer: &str) -> Location {
        Location {
            file: self.file.clone(),
            pos: self.pos(pointer),
        }
    }
}

/// A place in a file, printed as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub pos: Pos,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.pos)
    }
}

/// Why a YAML file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct YamlError {
    pub location: Location,
    pub message: String,
}

impl YamlError {
    fn at(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        YamlError {
            location: Location {
                file: file.to_path_buf(),
                pos,
            },
            message: message.into(),
        }
    }
}

/// Escapes one JSON pointer token (RFC 6901).
pub fn escape_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Reads and loads a YAML file. `shown` is the path used in messages.
pub fn load_file(path: &Path, shown: &Path, limits: &Limits) -> Result<Document, YamlError> {
    let bytes = std::fs::read(path).map_err(|e| {
        YamlError::at(
            shown,
            Pos { line: 1, col: 1 },
            format!("cannot read file: {e}"),
        )
    })?;
    load_bytes(&bytes, shown, limits)
}

/// Loads YAML from raw bytes: checks size and UTF-8 first.
pub fn load_bytes(bytes: &[u8], file: &Path, limits: &Limits) -> Result<Document, YamlError> {
    if bytes.len() > limits.max_bytes {
        return Err(YamlError::at(
            file,
            Pos { line: 1, col: 1 },
            format!(
                "file is {} bytes, more than the limit of {} bytes; split or shrink it",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let col = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            return Err(YamlError::at(
                file,
                Pos { line, col },
                "file is not valid UTF-8; save it as UTF-8",
            ));
        }
    };
    load_str(text, file, limits)
}

/// Loads YAML text.
pub fn load_str(text: &str, file: &Path, limits: &Limits) -> Result<Document, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::at(
            file,
            Pos { line: 1, col: 1 },
            format!(
                "file is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        ));
    }
    let mut b = Builder {
        file,
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        // About one node per 10 bytes of YAML: reserved (not touched) up
        // front, so a big file is not copied over and over as they grow.
        index: Vec::with_capacity(text.len() / 10),
        pointer_lens: Vec::with_capacity(text.len() / 10),
        nodes: 0,
        bytes: 0,
        index_bytes: 0,
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| syntax_error(file, &e))?;
        b.event(event, span)?;
    }
    Ok(Document {
        file: file.to_path_buf(),
        value: b.root.unwrap_or(Value::Null),
        nodes: Arc::from(b.index),
        index: Arc::default(),
    })
}

fn syntax_error(file: &Path, e: &saphyr_parser::ScanError) -> YamlError {
    let m = e.marker();
    YamlError::at(
        file,
        Pos {
            line: m.line(),
            col: m.col() + 1,
        },
        format!("YAML syntax error: {}", e.info()),
    )
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        /// The collection's own entry in the node index.
        node: u32,
        nodes_at_start: usize,
        bytes_at_start: usize,
    },
    Map {
        map: Map<String, Value>,
        pending_key: Option<(String, Pos)>,
        anchor: usize,
        node: u32,
        nodes_at_start: usize,
        bytes_at_start: usize,
    },
}

struct Builder<'a> {
    file: &'a Path,
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// anchor id → (value, node count of the subtree, scalar bytes of it)
    anchors: HashMap<usize, (Value, usize, usize)>,
    /// One entry per node, for positions.
    index: Vec<Node>,
    /// Length of each indexed node's JSON pointer, for the index budget.
    pointer_lens: Vec<usize>,
    nodes: usize,
    /// Scalar and key bytes so far, alias expansions included.
    bytes: usize,
    /// Bytes of JSON pointers the position index holds once built.
    index_bytes: usize,
    root: Option<Value>,
    documents: usize,
}

impl Builder<'_> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError::at(self.file, pos, message)
    }

    /// True when the next node completes a pending mapping key.
    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    /// Parent and key of the next value node.
    fn next_key(&self) -> (u32, NodeKey) {
        match self.stack.last() {
            None => (0, NodeKey::Root),
            Some(Frame::Seq { items, node, .. }) => (*node, NodeKey::Item(items.len() as u32)),
            Some(Frame::Map {
                pending_key: Some((k, key_pos)),
                node,
                ..
            }) => (*node, NodeKey::Key(k.as_str().into(), (*key_pos).into())),
            // A value always follows its key; nothing reaches here.
            Some(Frame::Map { node, .. }) => (*node, NodeKey::Root),
        }
    }

    /// Counts `bytes` of scalar text (alias expansions included).
    fn count_bytes(&mut self, bytes: usize, pos: Pos) -> Result<(), YamlError> {
        self.bytes += bytes;
        if self.bytes > self.limits.max_expanded_bytes {
            return Err(self.err(
                pos,
                format!(
                    "document expands to more than {} bytes of keys and values (aliases count every time they are used); simplify it",
                    self.limits.max_expanded_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Records the next value node at `pos` in the position index, within
    /// the index budget (the bytes its JSON pointers will take), and returns
    /// its number.
    fn index_value(&mut self, pos: Pos) -> Result<u32, YamlError> {
        let (parent, key) = self.next_key();
        let len = match &key {
            NodeKey::Root => 0,
            NodeKey::Item(i) => {
                self.pointer_lens[parent as usize]
                    + 1
                    + i.checked_ilog10().unwrap_or(0) as usize
                    + 1
            }
            NodeKey::Key(k, _) => {
                let escapes = k.bytes().filter(|b| *b == b'~' || *b == b'/').count();
                self.pointer_lens[parent as usize] + 1 + k.len() + escapes
            }
        };
        // The key index holds a pointer of the same length.
        self.index_bytes += 2 * (len + 16);
        if self.index_bytes > self.limits.max_index_bytes {
            return Err(self.err(
                pos,
                "document has too many nodes under long keys or deep nesting; shorten the keys or flatten the structure",
            ));
        }
        let n = self.index.len() as u32;
        self.index.push(Node {
            parent,
            key,
            pos: pos.into(),
        });
        self.pointer_lens.push(len);
        Ok(n)
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            return Err(self.err(
                pos,
                format!(
                    "document expands to more than {} nodes (aliases count every time they are used); simplify it",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn check_tag(
        &self,
        tag: &Option<std::borrow::Cow<'_, saphyr_parser::Tag>>,
        pos: Pos,
    ) -> Result<bool, YamlError> {
        match tag {
            None => Ok(false),
            Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == "str" => Ok(true),
            Some(t) => Err(self.err(
                pos,
                format!(
                    "YAML tag `{}{}` is not supported; remove it (only plain values, `!!str` included, are accepted)",
                    truncate(if t.handle == "tag:yaml.org,2002:" { "!!" } else { &t.handle }, 40),
                    truncate(&t.suffix, 40)
                ),
            )),
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let pos = Pos::from_span(&span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.err(pos, "expected a single YAML document, found a second one (`---`); keep one document per file"));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_str = self.check_tag(&tag, pos)?;
                if text.len() > self.limits.max_string {
                    return Err(self.err(
                        pos,
                        format!(
                            "string is {} bytes long, more than the limit of {} bytes",
                            text.len(),
                            self.limits.max_string
                        ),
                    ));
                }
                let text_len = text.len();
                self.count_bytes(text_len, pos)?;
                if self.expecting_key() {
                    self.count(1, pos)?;
                    // A key may be anchored and aliased later, as a key or
                    // a value (`&a a: b` then `*a : c`).
                    if anchor > 0 {
                        self.anchors
                            .insert(anchor, (Value::String(text.to_string()), 1, text_len));
                    }
                    return self.set_key(text.into_owned(), pos);
                }
                let value = if forced_str || style != ScalarStyle::Plain {
                    Value::String(text.into_owned())
                } else {
                    resolve_plain(&text).map_err(|m| self.err(pos, m))?
                };
                self.count(1, pos)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1, text_len));
                }
                self.push_value(value, pos)
            }
            Event::Alias(id) => {
                let Some(&(_, n, bytes)) = self.anchors.get(&id) else {
                    return Err(self.err(pos, "alias refers to an unknown anchor"));
                };
                // Check the budgets before cloning anything.
                self.count(n, pos)?;
                self.count_bytes(bytes, pos)?;
                let value = self.anchors[&id].0.clone();
                if self.expecting_key() {
                    return match value {
                        Value::String(s) => self.set_key(s, pos),
                        _ => Err(self.err(pos, "mapping keys must be plain strings")),
                    };
                }
                self.push_value(value, pos)
            }
            Event::SequenceStart(anchor, tag) => {
                self.start_collection(pos, &tag)?;
                let node = self.index_value(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    node,
                    nodes_at_start: self.nodes,
                    bytes_at_start: self.bytes,
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.start_collection(pos, &tag)?;
                let node = self.index_value(pos)?;
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    pending_key: None,
                    anchor,
                    node,
                    nodes_at_start: self.nodes,
                    bytes_at_start: self.bytes,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().expect("parser balances collections");
                let (value, anchor, start, bytes_start, pos) = match frame {
                    Frame::Seq {
                        items,
                        anchor,
                        nodes_at_start,
                        bytes_at_start,
                        node,
                    } => (
                        Value::Array(items),
                        anchor,
                        nodes_at_start,
                        bytes_at_start,
                        self.index[node as usize].pos.into(),
                    ),
                    Frame::Map {
                        map,
                        anchor,
                        nodes_at_start,
                        bytes_at_start,
                        node,
                        ..
                    } => (
                        Value::Object(map),
                        anchor,
                        nodes_at_start,
                        bytes_at_start,
                        self.index[node as usize].pos.into(),
                    ),
                };
                if anchor > 0 {
                    let n = self.nodes - start;
                    let bytes = self.bytes - bytes_start;
                    self.anchors.insert(anchor, (value.clone(), n, bytes));
                }
                self.attach(value, pos)
            }
        }
    }

    fn start_collection(
        &mut self,
        pos: Pos,
        tag: &Option<std::borrow::Cow<'_, saphyr_parser::Tag>>,
    ) -> Result<(), YamlError> {
        if self.check_tag(tag, pos)? {
            return Err(self.err(pos, "`!!str` cannot tag a mapping or sequence"));
        }
        if self.expecting_key() {
            return Err(self.err(
                pos,
                "mapping keys must be plain strings, not mappings or sequences",
            ));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.err(
                pos,
                format!(
                    "nesting is deeper than {} levels; flatten the structure",
                    self.limits.max_depth
                ),
            ));
        }
        self.count(1, pos)
    }

    fn set_key(&mut self, key: String, pos: Pos) -> Result<(), YamlError> {
        let max_keys = self.limits.max_keys;
        let file = self.file;
        let index = &self.index;
        let Some(Frame::Map {
            map,
            pending_key,
            node,
            ..
        }) = self.stack.last_mut()
        else {
            unreachable!("set_key is only called while a mapping expects a key");
        };
        if key == "<<" {
            return Err(YamlError::at(
                file,
                pos,
                "merge keys (`<<`) are not supported; write the values out or use fleetform's layers",
            ));
        }
        if map.contains_key(&key) {
            // Every earlier key of this mapping has its value by now; find
            // where the first one was written.
            let first = index
                .iter()
                .find_map(|n| match &n.key {
                    NodeKey::Key(k, key_pos) if n.parent == *node && **k == *key => {
                        Some(Pos::from(*key_pos))
                    }
                    _ => None,
                })
                .unwrap_or(pos);
            return Err(YamlError::at(
                file,
                pos,
                format!(
                    "duplicate key `{}` (first defined at line {}); remove one of them",
                    truncate(&key, 80).escape_debug(),
                    first.line
                ),
            ));
        }
        if map.len() >= max_keys {
            return Err(YamlError::at(
                file,
                pos,
                format!("mapping has more than {max_keys} keys"),
            ));
        }
        *pending_key = Some((key, pos));
        Ok(())
    }

    /// Records a finished scalar or alias value at the next slot.
    fn push_value(&mut self, value: Value, pos: Pos) -> Result<(), YamlError> {
        self.index_value(pos)?;
        self.attach(value, pos)
    }

    /// Places a finished value into its parent (or makes it the root).
    fn attach(&mut self, value: Value, _pos: Pos) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, pending_key, ..
            }) => {
                let (key, _) = pending_key.take().expect("value follows its key");
                map.insert(key, value);
            }
        }
        Ok(())
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Result<Value, String> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "`{s}` is not a finite number and cannot be passed to Terraform; quote it to use it as a string"
            ))
        }
        _ => {}
    }
    let bytes = s.as_bytes();
    let digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let (sign, body) = match bytes.first() {
        Some(b'-') | Some(b'+') => (&s[..1], &s[1..]),
        _ => ("", s),
    };
    if digits(body.as_bytes()) {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(format!(
            "integer `{}` is too large; quote it to use it as a string",
            truncate(s, 40)
        ));
    }
    if sign.is_empty() {
        if let Some(hex) = s.strip_prefix("0x") {
            if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return u64::from_str_radix(hex, 16)
                    .map(|v| Value::Number(v.into()))
                    .map_err(|_| format!("integer `{}` is too large", truncate(s, 40)));
            }
        }
        if let Some(oct) = s.strip_prefix("0o") {
            if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return u64::from_str_radix(oct, 8)
                    .map(|v| Value::Number(v.into()))
                    .map_err(|_| format!("integer `{}` is too large", truncate(s, 40)));
            }
        }
    }
    if is_float(body) {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f).filter(|_| f.is_finite()) {
                return Ok(Value::Number(n));
            }
            return Err(format!(
                "number `{}` is out of range; quote it to use it as a string",
                truncate(s, 40)
            ));
        }
    }
    Ok(Value::String(s.to_string()))
}

/// At most `n` bytes of `s` (on a char boundary), with `…` when cut.
fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod suite;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Document, YamlError> {
        load_str(text, Path::new("t.yml"), &Limits::default())
    }

    #[test]
    fn core_schema_scalars() {
        let d =
            load("a: 1\nb: -2.5\nc: true\nd: ~\ne: yes\nf: '1'\ng: 0x1F\nh: 2026-01-15\ni: 1e3\n")
                .unwrap();
        assert_eq!(
            d.value,
            serde_json::json!({"a": 1, "b": -2.5, "c": true, "d": null, "e": "yes", "f": "1", "g": 31, "h": "2026-01-15", "i": 1000.0})
        );
    }

    #[test]
    fn positions_by_pointer() {
        let d = load("top:\n  list:\n    - x\n    - {k: v}\n").unwrap();
        assert_eq!(d.pos("/top/list/0"), Pos { line: 3, col: 7 });
        assert_eq!(d.pos("/top/list/1/k"), Pos { line: 4, col: 11 });
        assert_eq!(d.key_pos("/top/list"), Pos { line: 2, col: 3 });
    }

    #[test]
    fn positions_of_escaped_keys_aliases_and_copies() {
        let d = load("\"a/b\": 1\n\"t~\": {x: &v [1, 2]}\ny: *v\n").unwrap();
        // The index is built on the first lookup; a clone shares it.
        let copy = d.clone();
        assert_eq!(d.pos("/a~1b"), Pos { line: 1, col: 8 });
        assert_eq!(copy.key_pos("/t~0/x"), Pos { line: 2, col: 8 });
        assert_eq!(copy.pos("/t~0/x/1"), Pos { line: 2, col: 18 });
        // Nodes expanded from an alias sit at the alias.
        assert_eq!(d.pos("/y/1"), Pos { line: 3, col: 4 });
        assert_eq!(d.exact_pos("/y/1"), None);
        assert_eq!(d.pos("/missing/deeper"), Pos { line: 1, col: 1 });
    }

    #[test]
    fn nested_duplicate_keys_name_the_first_line() {
        let e = load("a:\n  x: 1\n  y: [x]\n  x: 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yml:4:3: duplicate key `x` (first defined at line 2); remove one of them"
        );
    }

    #[test]
    fn duplicate_keys_tags_and_merge_keys_are_errors() {
        let e = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yml:3:1: duplicate key `a` (first defined at line 1); remove one of them"
        );
        assert!(load("a: !!binary aGk=\n")
            .unwrap_err()
            .message
            .contains("tag"));
        assert!(load("a: !custom x\n")
            .unwrap_err()
            .message
            .contains("not supported"));
        assert_eq!(load("a: !!str 12\n").unwrap().value["a"], "12");
        assert!(load("base: &b {x: 1}\nc:\n  <<: *b\n")
            .unwrap_err()
            .message
            .contains("merge keys"));
        assert!(load("? [a, b]\n: c\n")
            .unwrap_err()
            .message
            .contains("plain strings"));
        assert!(load("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message
            .contains("single YAML document"));
        assert!(load("a: .inf\n").unwrap_err().message.contains("finite"));
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            s.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let e = load(&s).unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
        // Small, honest aliases are fine.
        let d = load("x: &x {a: 1}\ny: *x\n").unwrap();
        assert_eq!(d.value["y"]["a"], 1);
    }

    #[test]
    fn depth_size_and_encoding_limits() {
        let deep = "a: ".to_string() + &"[".repeat(100) + &"]".repeat(100);
        assert!(load(&deep).unwrap_err().message.contains("nesting"));
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(load_str("aaaaaaaaaaaaaaa: 1", Path::new("t"), &limits)
            .unwrap_err()
            .message
            .contains("limit"));
        let e = load_bytes(b"a: 1\nb: \xff\n", Path::new("t.yml"), &Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.yml:2:4: file is not valid UTF-8; save it as UTF-8"
        );
        let long = format!("a: {}\n", "x".repeat(70_000));
        assert!(load(&long).unwrap_err().message.contains("string is"));
    }

    #[test]
    fn aliased_big_strings_and_long_keys_are_bounded() {
        // 60 KB string aliased 1,000 times: 60 MB if expanded.
        let mut s = format!("big: &b {}\nlist:\n", "x".repeat(60_000));
        for _ in 0..1000 {
            s.push_str("  - *b\n");
        }
        let e = load(&s).unwrap_err();
        assert!(e.message.contains("bytes of keys and values"), "{e}");
        // A 60 KB key over 20,000 nodes: 1.2 GB of pointers if indexed.
        let mut s = format!("? {}\n: [", "k".repeat(60_000));
        s.push_str(&"1,".repeat(20_000));
        s.push_str("1]\n");
        let e = load(&s).unwrap_err();
        assert!(e.message.contains("long keys"), "{e}");
        assert!(load("a: 1e999\n")
            .unwrap_err()
            .message
            .contains("out of range"));
        let e = load(&format!("a: {}\n", "9".repeat(5000))).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
    }
}
