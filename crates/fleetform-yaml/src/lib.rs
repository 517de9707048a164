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

use saphyr_parser::Span;
use serde_json::{Map, Value};

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
    positions: Arc<Positions>,
    index: Arc<OnceLock<Index>>,
}

/// What a document's position index is built from.
#[derive(Debug)]
enum Positions {
    /// A position per node, as saphyr-parser's events gave them.
    Nodes(Box<[Node]>),
    /// The text the fast reader read: read again on the first lookup.
    Text(Box<str>),
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
#[derive(Debug, Default, PartialEq)]
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
            positions: Arc::new(Positions::Nodes(Box::default())),
            index: Arc::default(),
        }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| match &*self.positions {
            Positions::Nodes(nodes) => Index::build(nodes),
            Positions::Text(text) => Index::build(&builder::positions(text, &self.file)),
        })
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
    // Bytes, not characters: neither byte occurs inside a longer UTF-8
    // sequence, and a byte scan needs no decoding (every key of every
    // layered value passes here).
    if key.bytes().any(|b| b == b'~' || b == b'/') {
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
    if let Some((pos, c)) = first_forbidden(text) {
        return Err(YamlError::at(
            file,
            pos,
            format!(
                "YAML syntax error: a raw control character U+{:04X} ({}) is not allowed in YAML; write it escaped in a double-quoted string (\"\\u{:04X}\"), or remove it",
                c as u32,
                control_name(c),
                c as u32
            ),
        ));
    }
    builder::build(text, file, limits)
}

/// The first character YAML 1.2 does not allow in a stream (outside the
/// printable set: tab, line breaks, U+0020–U+007E, U+0085, U+00A0 and up
/// but the surrogates and U+FFFE/U+FFFF), and where it is (1-based line
/// and column in characters).
fn first_forbidden(text: &str) -> Option<(Pos, char)> {
    // Printable ASCII, tabs and line breaks, the usual file: a check the
    // compiler vectorises, instead of decoding every character.
    if every_byte(text, |b| matches!(b, b'\t' | b'\n' | b'\r' | b' '..=b'~')) {
        return None;
    }
    let (mut line, mut col) = (1, 0);
    for c in text.chars() {
        col += 1;
        let printable = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}')
            || (c >= '\u{A0}' && c != '\u{FFFE}' && c != '\u{FFFF}');
        if !printable {
            return Some((Pos { line, col }, c));
        }
        if c == '\n' {
            (line, col) = (line + 1, 0);
        }
    }
    None
}

/// Whether `ok` holds for every byte of `text`: a chunk at a time, with no
/// early exit inside a chunk, so that the compiler vectorises the test
/// (an `all` over the bytes stops at each one and does not).
pub(crate) fn every_byte(text: &str, ok: impl Fn(u8) -> bool) -> bool {
    text.as_bytes()
        .chunks(64)
        .all(|chunk| chunk.iter().fold(true, |all, &b| all & ok(b)))
}

/// A control character's name, for people.
fn control_name(c: char) -> &'static str {
    match c {
        '\0' => "NUL",
        '\u{1B}' => "ESC",
        '\u{7F}' => "DEL",
        '\u{08}' => "backspace",
        '\u{0C}' => "form feed",
        '\u{80}'..='\u{9F}' => "a C1 control",
        '\u{0}'..='\u{1F}' => "a C0 control",
        _ => "a noncharacter",
    }
}

mod builder;
mod fast;
mod scalar;

#[cfg(test)]
mod suite;

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6901: `~` becomes `~0` and `/` becomes `~1`, wherever they
    /// are (beside multi-byte characters too); anything else is kept.
    #[test]
    fn pointer_tokens_escape_tilde_and_slash_alone() {
        let cases = [
            ("plain", "plain"),
            ("a/b", "a~1b"),
            ("~", "~0"),
            ("é/~ü", "é~1~0ü"),
            ("~1", "~01"),
            ("ünïcödé", "ünïcödé"),
            ("", ""),
        ];
        for (key, want) in cases {
            assert_eq!(escape_token(key), want, "{key}");
        }
        assert!(matches!(
            escape_token("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    fn load(text: &str) -> Result<Document, YamlError> {
        load_str(text, Path::new("t.yml"), &Limits::default())
    }

    /// A byte anywhere, either side of every chunk boundary, is seen.
    #[test]
    fn every_byte_sees_each_byte() {
        for n in 0..200 {
            let clean = "a".repeat(n);
            assert!(every_byte(&clean, |b| b == b'a'));
            for at in 0..n {
                let mut text = clean.clone();
                text.replace_range(at..=at, "\u{1}");
                assert!(!every_byte(&text, |b| b == b'a'), "{n} {at}");
            }
        }
    }

    #[test]
    fn raw_control_characters_are_refused_where_they_are() {
        for (text, line, col, name) in [
            ("a: b\u{1b}[31mc\n", 1, 5, "ESC"),
            ("a: 1\nb: x\u{7f}\n", 2, 5, "DEL"),
            ("a: \"q\u{85}\u{9b}\"\n", 1, 7, "a C1 control"),
            ("a: \u{0}\n", 1, 4, "NUL"),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(&format!("t.yml:{line}:{col}")), "{text:?}: {e}");
            assert!(e.contains(name), "{text:?}: {e}");
        }
        // Escaped, they are fine; so are tabs, CRLF, NEL and the rest.
        let ok = load("a: \"\\e[31m\\x7f\\0\"\r\nb: c\u{85}d\n");
        assert!(ok.is_ok(), "{ok:?}");
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
