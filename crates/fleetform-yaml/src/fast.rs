//! A fast reader for the block-style YAML that variables files are written
//! in, beside saphyr-parser.
//!
//! On this project's benchmark files saphyr-parser reads about 37 MB/s
//! (libyaml-rs 45, yaml-rust2 36, granit-parser 33:
//! `docs/src/contributing/bench.md`,
//! "Cases 1 and 8"), most of a `validate` run. This reader takes a strict
//! subset (ASCII text; block mappings and sequences; plain and single-line
//! quoted scalars without escapes; one-line flow sequences of scalars;
//! comments) and emits exactly the events, at exactly the positions,
//! saphyr-parser emits for it. At the first thing outside the subset it
//! stops, and the loader reads the file again with saphyr-parser from the
//! start. It never decides that a file is wrong: any stop, its own or the
//! builder's, sends the file to saphyr-parser, so every syntax error and
//! every refusal is saphyr-parser's and the builder's as before. The
//! differential tests (`fast_tests.rs`) hold it to saphyr-parser's events
//! over the yaml-test-suite and thousands of mutated files.

use std::borrow::Cow;

use saphyr_parser::{Event, ScalarStyle};

use crate::Pos;

/// Something outside the subset (or an error the builder found): read the
/// file with saphyr-parser instead.
#[derive(Debug)]
pub(crate) struct Stop;

/// How far from its key's start saphyr-parser still takes a colon for the
/// key's (YAML's 1024 characters; spaces before the colon count).
const MAX_KEY: usize = 1000;

/// An open block collection and the column its entries start at.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Block {
    Map(usize),
    Seq(usize),
}

impl Block {
    fn indent(self) -> usize {
        match self {
            Block::Map(i) | Block::Seq(i) => i,
        }
    }
}

/// What the previous entry left open.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Its value was on its line: the next line may not be deeper.
    Entry,
    /// `key:` with nothing after it: a nested block, or an empty value at
    /// the colon. `indent` is the key's mapping's.
    Value { indent: usize, colon: Pos },
}

/// Reads `text`, handing every event and where it starts to `emit`.
pub(crate) fn read<'t>(
    text: &'t str,
    emit: &mut dyn FnMut(Event<'t>, Pos) -> Result<(), Stop>,
) -> Result<(), Stop> {
    if !crate::every_byte(text, |b| b == b'\n' || (b' '..=b'~').contains(&b)) {
        return Err(Stop);
    }
    let mut r = Reader {
        emit,
        stack: Vec::new(),
        expect: None,
    };
    let start = Pos { line: 1, col: 1 };
    (r.emit)(Event::StreamStart, start)?;
    // The lines as `split('\n')` gives them, found by memchr.
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    let mut start = 0;
    for (i, end) in ends.enumerate() {
        r.line(i + 1, &text[start..end])?;
        start = end + 1;
    }
    if r.stack.is_empty() {
        return Err(Stop); // no content: an empty document
    }
    r.finish()
}

struct Reader<'e, 't> {
    emit: &'e mut dyn FnMut(Event<'t>, Pos) -> Result<(), Stop>,
    stack: Vec<Block>,
    /// `None` before the first content line.
    expect: Option<Expect>,
}

/// A line's content: a sequence entry (`- …`) or a mapping entry.
fn is_dash(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

impl<'t> Reader<'_, 't> {
    fn emit(&mut self, event: Event<'t>, line: usize, col: usize) -> Result<(), Stop> {
        (self.emit)(event, Pos { line, col: col + 1 })
    }

    fn end(&mut self, block: Block) -> Result<(), Stop> {
        let event = match block {
            Block::Map(_) => Event::MappingEnd,
            Block::Seq(_) => Event::SequenceEnd,
        };
        (self.emit)(event, Pos::default())
    }

    /// One line of the file (1-based `n`).
    fn line(&mut self, n: usize, line: &'t str) -> Result<(), Stop> {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            return Ok(());
        }
        let indent = line.len() - body.len();
        match self.expect {
            None => self.first(n, indent, body),
            Some(Expect::Value {
                indent: parent,
                colon,
            }) => {
                if indent > parent || (indent == parent && is_dash(body)) {
                    self.nested(n, indent, parent, body)
                } else {
                    (self.emit)(empty(), colon)?;
                    self.next(n, indent, body)
                }
            }
            Some(Expect::Entry) => self.next(n, indent, body),
        }
    }

    /// The document's first content line opens its root collection.
    fn first(&mut self, n: usize, indent: usize, body: &'t str) -> Result<(), Stop> {
        (self.emit)(Event::DocumentStart(false), Pos { line: n, col: 1 })?;
        if is_dash(body) {
            self.emit(Event::SequenceStart(0, None), n, indent)?;
            self.stack.push(Block::Seq(indent));
            self.dash(n, indent, body)
        } else {
            self.emit(Event::MappingStart(0, None), n, indent)?;
            self.stack.push(Block::Map(indent));
            self.entry(n, indent, body)
        }
    }

    /// The first line of a value left open by `key:`.
    fn nested(
        &mut self,
        n: usize,
        indent: usize,
        parent: usize,
        body: &'t str,
    ) -> Result<(), Stop> {
        if !is_dash(body) {
            self.emit(Event::MappingStart(0, None), n, indent)?;
            self.stack.push(Block::Map(indent));
            return self.entry(n, indent, body);
        }
        if indent == parent {
            // A sequence at its key's own column starts where its first
            // item does.
            let item = body[1..].len() - body[1..].trim_start_matches(' ').len() + 1;
            self.emit(Event::SequenceStart(0, None), n, indent + item)?;
        } else {
            self.emit(Event::SequenceStart(0, None), n, indent)?;
        }
        self.stack.push(Block::Seq(indent));
        self.dash(n, indent, body)
    }

    /// A line after a complete entry: closes the blocks deeper than it,
    /// then continues the block at its column.
    fn next(&mut self, n: usize, indent: usize, body: &'t str) -> Result<(), Stop> {
        while let Some(&top) = self.stack.last() {
            let indentless_done = matches!(top, Block::Seq(i) if i == indent)
                && !is_dash(body)
                && matches!(self.stack.iter().rev().nth(1), Some(Block::Map(i)) if *i == indent);
            if top.indent() <= indent && !indentless_done {
                break;
            }
            self.stack.pop();
            self.end(top)?;
        }
        match self.stack.last() {
            Some(Block::Map(i)) if *i == indent && !is_dash(body) => self.entry(n, indent, body),
            Some(Block::Seq(i)) if *i == indent && is_dash(body) => self.dash(n, indent, body),
            _ => Err(Stop),
        }
    }

    /// `- …` at column `indent`: a scalar, a flow sequence or a compact
    /// mapping (`- key: value`).
    fn dash(&mut self, n: usize, indent: usize, body: &'t str) -> Result<(), Stop> {
        let rest = body[1..].trim_start_matches(' ');
        let col = indent + body.len() - rest.len();
        if rest.is_empty() || rest.starts_with('#') || is_dash(rest) {
            return Err(Stop);
        }
        if let Some(key) = key_end(rest) {
            self.emit(Event::MappingStart(0, None), n, col)?;
            self.stack.push(Block::Map(col));
            return self.key_value(n, col, rest, key);
        }
        self.value(n, col, rest)?;
        self.expect = Some(Expect::Entry);
        Ok(())
    }

    /// `key: …` at column `indent`.
    fn entry(&mut self, n: usize, indent: usize, body: &'t str) -> Result<(), Stop> {
        let key = key_end(body).ok_or(Stop)?;
        self.key_value(n, indent, body, key)
    }

    /// The key (ending at byte `key.0`, its colon at `key.1`) and what
    /// follows it on the line.
    fn key_value(
        &mut self,
        n: usize,
        col: usize,
        body: &'t str,
        key: (usize, usize),
    ) -> Result<(), Stop> {
        if key.1 > MAX_KEY {
            return Err(Stop);
        }
        let (text, style) = key_text(&body[..key.0])?;
        self.emit(Event::Scalar(text, style, 0, None), n, col)?;
        let after = &body[key.1 + 1..];
        let rest = after.trim_start_matches(' ');
        if rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len()) {
            self.expect = Some(Expect::Value {
                indent: col,
                colon: Pos {
                    line: n,
                    col: col + key.1 + 1,
                },
            });
            return Ok(());
        }
        self.value(n, col + body.len() - rest.len(), rest)?;
        self.expect = Some(Expect::Entry);
        Ok(())
    }

    /// A value written on its line, at column `col`.
    fn value(&mut self, n: usize, col: usize, rest: &'t str) -> Result<(), Stop> {
        let (event, tail) = match rest.as_bytes()[0] {
            b'[' => return self.flow(n, col, rest),
            b'"' | b'\'' => quoted(rest)?,
            _ => (plain_block(rest)?, ""),
        };
        if !is_line_end(tail) {
            return Err(Stop);
        }
        self.emit(event, n, col)
    }

    /// `[a, "b", c]` on one line, at column `col`.
    fn flow(&mut self, n: usize, col: usize, rest: &'t str) -> Result<(), Stop> {
        self.emit(Event::SequenceStart(0, None), n, col)?;
        let mut s = rest[1..].trim_start_matches(' ');
        if let Some(after) = s.strip_prefix(']') {
            return match is_line_end(after) {
                true => (self.emit)(Event::SequenceEnd, Pos::default()),
                false => Err(Stop),
            };
        }
        loop {
            let at = col + rest.len() - s.len();
            let (event, tail) = match s.as_bytes().first() {
                Some(b'"' | b'\'') => quoted(s)?,
                Some(_) => plain_flow(s)?,
                None => return Err(Stop),
            };
            self.emit(event, n, at)?;
            let tail = tail.trim_start_matches(' ');
            if let Some(after) = tail.strip_prefix(']') {
                return match is_line_end(after) {
                    true => (self.emit)(Event::SequenceEnd, Pos::default()),
                    false => Err(Stop),
                };
            }
            s = tail.strip_prefix(',').ok_or(Stop)?.trim_start_matches(' ');
            if s.is_empty() || s.starts_with(']') {
                return Err(Stop); // a trailing comma or a line break
            }
        }
    }

    /// The end of the text: the last empty value, then every open block.
    fn finish(&mut self) -> Result<(), Stop> {
        if let Some(Expect::Value { colon, .. }) = self.expect {
            (self.emit)(empty(), colon)?;
        }
        while let Some(top) = self.stack.pop() {
            self.end(top)?;
        }
        (self.emit)(Event::DocumentEnd, Pos::default())?;
        (self.emit)(Event::StreamEnd, Pos::default())
    }
}

/// The value of `key:` with nothing after it.
fn empty<'t>() -> Event<'t> {
    Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None)
}

/// Nothing but spaces, then the line's end or a comment.
fn is_line_end(tail: &str) -> bool {
    let rest = tail.trim_start_matches(' ');
    rest.is_empty() || (rest.starts_with('#') && rest.len() < tail.len())
}

/// Where a mapping key on this line ends and where its colon is, when the
/// line is `key: …` or `key:`; `None` when it is not a mapping entry.
fn key_end(body: &str) -> Option<(usize, usize)> {
    let bytes = body.as_bytes();
    let colon = match bytes[0] {
        b'"' | b'\'' => {
            let (_, tail) = quoted(body).ok()?;
            let after = tail.trim_start_matches(' ');
            let at = body.len() - after.len();
            (after.starts_with(':')).then_some(at)?
        }
        _ => (0..bytes.len())
            .find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| *b == b' '))?,
    };
    if bytes.get(colon + 1).is_some_and(|b| *b != b' ') {
        return None;
    }
    let end = body[..colon].trim_end_matches(' ').len();
    Some((end, colon))
}

/// A key's text: a plain word (letters, digits and `_-./`, spaces inside)
/// or a quoted string.
fn key_text(key: &str) -> Result<(Cow<'_, str>, ScalarStyle), Stop> {
    if key.is_empty() {
        return Err(Stop);
    }
    if matches!(key.as_bytes()[0], b'"' | b'\'') {
        return match quoted(key)? {
            (Event::Scalar(text, style, ..), "") => Ok((text, style)),
            _ => Err(Stop),
        };
    }
    let word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b' ');
    let first = key.as_bytes()[0];
    if !(first.is_ascii_alphanumeric() || first == b'_') || !key.bytes().all(|b| word(&b)) {
        return Err(Stop);
    }
    Ok((Cow::Borrowed(key), ScalarStyle::Plain))
}

/// A quoted scalar that ends on its line, without escapes (a single-quoted
/// one may double its quote), and what follows it.
fn quoted(s: &str) -> Result<(Event<'_>, &str), Stop> {
    let q = s.as_bytes()[0];
    let body = &s[1..];
    if q == b'"' {
        let end = body.find(['"', '\\']).ok_or(Stop)?;
        if body.as_bytes()[end] == b'\\' {
            return Err(Stop);
        }
        let text = Cow::Borrowed(&body[..end]);
        return Ok((
            Event::Scalar(text, ScalarStyle::DoubleQuoted, 0, None),
            &body[end + 1..],
        ));
    }
    let mut out: Option<String> = None;
    let mut from = 0;
    loop {
        let end = from + body[from..].find('\'').ok_or(Stop)?;
        if body.as_bytes().get(end + 1) == Some(&b'\'') {
            out.get_or_insert_with(String::new)
                .push_str(&body[from..=end]);
            from = end + 2;
            continue;
        }
        let text = match out {
            Some(mut o) => {
                o.push_str(&body[from..end]);
                Cow::Owned(o)
            }
            None => Cow::Borrowed(&body[..end]),
        };
        return Ok((
            Event::Scalar(text, ScalarStyle::SingleQuoted, 0, None),
            &body[end + 1..],
        ));
    }
}

/// A plain scalar that is the rest of a block line (up to a comment).
fn plain_block(rest: &str) -> Result<Event<'_>, Stop> {
    let b = rest.as_bytes();
    let starts_ok = match b[0] {
        b'-' => b.get(1).is_some_and(|c| *c != b' '),
        c => !is_indicator(c),
    };
    if !starts_ok {
        return Err(Stop);
    }
    let mut end = b.len();
    for i in 1..b.len() {
        if b[i] == b'#' && b[i - 1] == b' ' {
            end = i;
            break;
        }
        if b[i] == b':' && b.get(i + 1).is_none_or(|c| *c == b' ') {
            return Err(Stop); // `a: b: c`, refused by saphyr-parser
        }
    }
    let text = rest[..end].trim_end_matches(' ');
    Ok(Event::Scalar(
        Cow::Borrowed(text),
        ScalarStyle::Plain,
        0,
        None,
    ))
}

/// A plain scalar inside a flow sequence: up to `,` or `]`.
fn plain_flow(s: &str) -> Result<(Event<'_>, &str), Stop> {
    let b = s.as_bytes();
    let starts_ok = match b[0] {
        b'-' => b.get(1).is_some_and(u8::is_ascii_digit),
        c => !is_indicator(c),
    };
    if !starts_ok {
        return Err(Stop);
    }
    let end = b
        .iter()
        .position(|c| matches!(c, b',' | b']'))
        .ok_or(Stop)?;
    let text = s[..end].trim_end_matches(' ');
    if text
        .bytes()
        .any(|c| matches!(c, b':' | b'#' | b'[' | b'{' | b'}'))
    {
        return Err(Stop);
    }
    Ok((
        Event::Scalar(Cow::Borrowed(text), ScalarStyle::Plain, 0, None),
        &s[end..],
    ))
}

/// YAML's indicators, which may not start a plain scalar (`-`, `?` and `:`
/// may, before a non-space; this reader leaves `?` and `:` to
/// saphyr-parser).
fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
