//! The document built from the parser's event stream: values, the
//! position index, anchors and aliases, every limit counted as it goes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

use crate::scalar::{resolve_plain, truncate};
use crate::{Document, Limits, Node, NodeKey, Pos, Positions, YamlError};

/// Builds the document from the parser's events, within `limits`: first
/// with the fast reader, then, when it stops, with saphyr-parser.
///
/// A document the fast reader read keeps its text instead of a position
/// per node: most files are valid and never asked for a position, and
/// [`positions`] reads the text again for the ones that are.
pub(crate) fn build(text: &str, file: &Path, limits: &Limits) -> Result<Document, YamlError> {
    match build_fast(text, file, limits) {
        Some(doc) => Ok(doc),
        None => build_saphyr(text, file, limits),
    }
}

/// The document as the fast reader reads it; `None` where it stops.
pub(crate) fn build_fast(text: &str, file: &Path, limits: &Limits) -> Option<Document> {
    let mut b = Builder::new(file, limits, false);
    crate::fast::read(text, &mut |event, pos| {
        b.event(event, pos).map_err(|_| crate::fast::Stop)
    })
    .ok()?;
    Some(b.finish(Positions::Text(text.into())))
}

/// The document from saphyr-parser's events, a position per node.
pub(crate) fn build_saphyr(
    text: &str,
    file: &Path,
    limits: &Limits,
) -> Result<Document, YamlError> {
    let mut b = Builder::new(file, limits, true);
    b.index.reserve(text.len() / 10);
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| syntax_error(file, &e))?;
        b.event(event, Pos::from_span(&span))?;
    }
    let nodes = std::mem::take(&mut b.index).into_boxed_slice();
    Ok(b.finish(Positions::Nodes(nodes)))
}

/// No limit: [`positions`] reads a text that was read within its limits
/// once already.
const UNBOUNDED: Limits = Limits {
    max_bytes: usize::MAX,
    max_depth: usize::MAX,
    max_nodes: usize::MAX,
    max_keys: usize::MAX,
    max_string: usize::MAX,
    max_expanded_bytes: usize::MAX,
    max_index_bytes: usize::MAX,
};

/// The node index of a text the fast reader read whole once already. It
/// reads it again the same way; should that ever stop, saphyr-parser's
/// index of the same text is taken instead (its events and positions are
/// the same, `fast_tests.rs`), so a lookup never meets a partial index.
pub(crate) fn positions(text: &str, file: &Path) -> Box<[Node]> {
    let mut b = Builder::new(file, &UNBOUNDED, true);
    b.index.reserve(text.len() / 10);
    let read = crate::fast::read(text, &mut |event, pos| {
        b.event(event, pos).map_err(|_| crate::fast::Stop)
    });
    if read.is_ok() {
        return b.index.into_boxed_slice();
    }
    saphyr_positions(text, file)
}

/// saphyr-parser's node index of `text`; empty if it cannot read it.
pub(crate) fn saphyr_positions(text: &str, file: &Path) -> Box<[Node]> {
    let Ok(doc) = build_saphyr(text, file, &UNBOUNDED) else {
        return Box::default();
    };
    match Arc::try_unwrap(doc.positions) {
        Ok(Positions::Nodes(nodes)) => nodes,
        _ => Box::default(),
    }
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
        /// Where it starts, and the length of its JSON pointer.
        pos: Pos,
        ptr_len: usize,
        nodes_at_start: usize,
        bytes_at_start: usize,
    },
    Map {
        map: Map<String, Value>,
        pending_key: Option<(String, Pos)>,
        anchor: usize,
        node: u32,
        pos: Pos,
        ptr_len: usize,
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
    /// Whether `index` is kept (see [`build`]).
    record: bool,
    /// One entry per node, for positions, when recorded.
    index: Vec<Node>,
    /// Nodes given a number in the index so far, recorded or not.
    numbered: u32,
    nodes: usize,
    /// Scalar and key bytes so far, alias expansions included.
    bytes: usize,
    /// Bytes of JSON pointers the position index holds once built.
    index_bytes: usize,
    root: Option<Value>,
    documents: usize,
}

impl<'a> Builder<'a> {
    /// A builder that keeps a position per node when `record` (the
    /// callers reserve about one node per 10 bytes of YAML, not touched up
    /// front, so a big file is not copied over and over as they grow).
    fn new(file: &'a Path, limits: &'a Limits, record: bool) -> Self {
        Builder {
            file,
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            record,
            index: Vec::new(),
            numbered: 0,
            nodes: 0,
            bytes: 0,
            index_bytes: 0,
            root: None,
            documents: 0,
        }
    }

    fn finish(self, positions: Positions) -> Document {
        Document {
            file: self.file.to_path_buf(),
            value: self.root.unwrap_or(Value::Null),
            positions: Arc::new(positions),
            index: Arc::default(),
        }
    }

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

    /// Length of the next value node's JSON pointer.
    fn next_pointer_len(&self) -> usize {
        match self.stack.last() {
            None => 0,
            Some(Frame::Seq { items, ptr_len, .. }) => {
                ptr_len + 1 + items.len().checked_ilog10().unwrap_or(0) as usize + 1
            }
            Some(Frame::Map {
                pending_key: Some((k, _)),
                ptr_len,
                ..
            }) => {
                let escapes = k.bytes().filter(|b| *b == b'~' || *b == b'/').count();
                ptr_len + 1 + k.len() + escapes
            }
            Some(Frame::Map { .. }) => 0,
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

    /// Numbers the next value node at `pos` (and records it, when the
    /// builder records), within the index budget (the bytes its JSON
    /// pointers will take once built), and returns its number and its
    /// pointer's length.
    fn index_value(&mut self, pos: Pos) -> Result<(u32, usize), YamlError> {
        let len = self.next_pointer_len();
        // The key index holds a pointer of the same length.
        self.index_bytes += 2 * (len + 16);
        if self.index_bytes > self.limits.max_index_bytes {
            return Err(self.err(
                pos,
                "document has too many nodes under long keys or deep nesting; shorten the keys or flatten the structure",
            ));
        }
        if self.record {
            let (parent, key) = self.next_key();
            self.index.push(Node {
                parent,
                key,
                pos: pos.into(),
            });
        }
        let n = self.numbered;
        self.numbered += 1;
        Ok((n, len))
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

    /// One parser event: the document's start, a scalar, an alias, or a
    /// collection's start or end.
    fn event(&mut self, event: Event<'_>, pos: Pos) -> Result<(), YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.err(pos, "expected a single YAML document, found a second one (`---`); keep one document per file"));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => self.scalar(text, style, anchor, &tag, pos),
            Event::Alias(id) => self.alias(id, pos),
            Event::SequenceStart(anchor, tag) => {
                self.start_collection(pos, &tag)?;
                let (node, ptr_len) = self.index_value(pos)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    node,
                    pos,
                    ptr_len,
                    nodes_at_start: self.nodes,
                    bytes_at_start: self.bytes,
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.start_collection(pos, &tag)?;
                let (node, ptr_len) = self.index_value(pos)?;
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    pending_key: None,
                    anchor,
                    node,
                    pos,
                    ptr_len,
                    nodes_at_start: self.nodes,
                    bytes_at_start: self.bytes,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => self.end_collection(),
        }
    }

    /// A scalar: a mapping key (which may be anchored) or a value.
    fn scalar(
        &mut self,
        text: std::borrow::Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: &Option<std::borrow::Cow<'_, saphyr_parser::Tag>>,
        pos: Pos,
    ) -> Result<(), YamlError> {
        let forced_str = self.check_tag(tag, pos)?;
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
            // A key may be anchored and aliased later, as a key or a value
            // (`&a a: b` then `*a : c`).
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

    /// An alias: the anchored value again, counted in full against the
    /// budgets before anything is cloned.
    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), YamlError> {
        let Some(&(_, n, bytes)) = self.anchors.get(&id) else {
            return Err(self.err(pos, "alias refers to an unknown anchor"));
        };
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

    /// A sequence or mapping ends: kept under its anchor (with what it
    /// counted) and placed into its parent.
    fn end_collection(&mut self) -> Result<(), YamlError> {
        let frame = self.stack.pop().expect("parser balances collections");
        let (value, anchor, start, bytes_start, pos) = match frame {
            Frame::Seq {
                items,
                anchor,
                nodes_at_start,
                bytes_at_start,
                pos,
                ..
            } => (
                Value::Array(items),
                anchor,
                nodes_at_start,
                bytes_at_start,
                pos,
            ),
            Frame::Map {
                map,
                anchor,
                nodes_at_start,
                bytes_at_start,
                pos,
                ..
            } => (
                Value::Object(map),
                anchor,
                nodes_at_start,
                bytes_at_start,
                pos,
            ),
        };
        if anchor > 0 {
            let n = self.nodes - start;
            let bytes = self.bytes - bytes_start;
            self.anchors.insert(anchor, (value.clone(), n, bytes));
        }
        self.attach(value, pos)
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
        let (index, record) = (&self.index, self.record);
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
        // Without a node index (the fast reader's documents), a duplicate
        // is found where its value is placed (one hash per key, not two),
        // and the file read again by saphyr-parser says where both are.
        if record && map.contains_key(&key) {
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
    fn attach(&mut self, value: Value, pos: Pos) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, pending_key, ..
            }) => {
                let (key, _) = pending_key.take().expect("value follows its key");
                if map.insert(key, value).is_some() {
                    return Err(self.err(pos, "duplicate key"));
                }
            }
        }
        Ok(())
    }
}
