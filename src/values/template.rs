//! Value templates: string values in layers, rendered in a sandbox.
//!
//! Value templates are written by customers, so they run in a small
//! sandbox:
//!
//! - expressions only: `{{ … }}` with a fixed set of filters and tests, and
//!   `{% if %}`/`{% elif %}`/`{% else %}`/`{% endif %}`. Statements that bind
//!   or repeat (`set`, `for`, `with`, `macro`, `call`, `filter`, `raw`, …)
//!   and the `*`/`**` operators are refused before compiling: with them a
//!   few bytes of template build gigabytes (`'x' * 99999999`, or a value
//!   doubled by 40 `set`s) long before any output cap could see it;
//! - no loader, so no `include`/`import`/`extends`; no global functions
//!   (`range`, `namespace`, `debug`, …);
//! - strict undefined, a fuel budget, a recursion limit, at most
//!   [`VALUE_MAX_SOURCE`] bytes of source and [`VALUE_MAX_OUTPUT`] bytes of
//!   output (enforced while writing), and a `replace` that cannot grow a
//!   string past [`REPLACE_MAX_GROWTH`].
//!
//! Without binding statements or repetition, every intermediate value is at
//! most the source's literals and context values put together, so the work
//! and memory of one template are bounded by its (short) source.

use std::io;

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde::Serialize;

/// Fuel for one value template (minijinja instructions).
pub const VALUE_FUEL: u64 = 20_000;
/// Largest rendered value, in bytes.
pub const VALUE_MAX_OUTPUT: usize = 64 * 1024;
/// Longest accepted value template, in bytes.
pub const VALUE_MAX_SOURCE: usize = 8 * 1024;
/// `replace` may not make a string longer than this (or than its input).
pub const REPLACE_MAX_GROWTH: usize = 4 * 1024;

/// The statements a value template may use.
const ALLOWED_STATEMENTS: &[&str] = &["if", "elif", "else", "endif"];

/// Why a value template failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// True when a string holds template syntax.
pub fn is_template(s: &str) -> bool {
    // One pass over the bytes (every customer string is asked): a `{`
    // followed by `{`, `%` or `#`.
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'))
}

/// The sandbox for value templates.
pub struct ValueTemplates {
    env: Environment<'static>,
    /// The same sandbox holding templates compiled once, by their source
    /// (see [`ValueTemplates::knowing`]); `env` itself holds none, so a
    /// template rendered there has nothing it could include.
    known: Option<Environment<'static>>,
}

impl Default for ValueTemplates {
    fn default() -> Self {
        ValueTemplates {
            env: sandbox(),
            known: None,
        }
    }
}

/// An environment with the sandbox's settings, filters and tests, and no
/// template.
fn sandbox() -> Environment<'static> {
    use minijinja::{filters as f, tests as t};
    // `empty`: no filters, tests or globals but the ones added here.
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(VALUE_FUEL));
    env.set_recursion_limit(16);
    env.add_filter("lower", f::lower);
    env.add_filter("upper", f::upper);
    env.add_filter("title", f::title);
    env.add_filter("capitalize", f::capitalize);
    env.add_filter("trim", f::trim);
    env.add_filter("replace", bounded_replace);
    env.add_filter("length", f::length);
    env.add_filter("count", f::length);
    env.add_filter("default", f::default);
    env.add_filter("d", f::default);
    env.add_filter("first", f::first);
    env.add_filter("last", f::last);
    env.add_filter("string", f::string);
    env.add_filter("int", f::int);
    env.add_filter("float", f::float);
    env.add_filter("abs", f::abs);
    env.add_filter("round", f::round);
    env.add_test("defined", t::is_defined);
    env.add_test("undefined", t::is_undefined);
    env.add_test("none", t::is_none);
    env.add_test("string", t::is_string);
    env.add_test("number", t::is_number);
    env.add_test("startingwith", t::is_startingwith);
    env.add_test("endingwith", t::is_endingwith);
    env.add_test("eq", t::is_eq);
    env.add_test("ne", t::is_ne);
    env.add_test("in", t::is_in);
    env.add_test("true", t::is_true);
    env.add_test("false", t::is_false);
    env.add_test("lower", t::is_lower);
    env.add_test("upper", t::is_upper);
    env
}

/// `replace` that refuses to grow a string past [`REPLACE_MAX_GROWTH`]
/// (chained, the builtin multiplies: `s|replace('a','aaaa')|replace(...)`).
fn bounded_replace(value: String, from: String, to: String) -> Result<String, Error> {
    let hits = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from.as_str()).count()
    };
    let len = (value.len() - hits.saturating_mul(from.len()).min(value.len()))
        .saturating_add(hits.saturating_mul(to.len()));
    if len > value.len() && len > REPLACE_MAX_GROWTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "`replace` would grow the string to {len} bytes, more than {REPLACE_MAX_GROWTH}"
            ),
        ));
    }
    Ok(value.replace(from.as_str(), &to))
}

/// Collects output and fails once it passes the cap.
struct Capped {
    buf: Vec<u8>,
    over: bool,
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > VALUE_MAX_OUTPUT {
            self.over = true;
            return Err(io::Error::other("output cap"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ValueTemplates {
    /// The sandbox with the templates among `values`' strings compiled
    /// once, here, instead of at each render: a manager's values are
    /// rendered for every customer. Only templates the sandbox accepts
    /// are kept (one that fails to compile fails at each render, as
    /// before); each renders exactly as it would from its source.
    pub fn knowing<'v>(mut self, values: impl IntoIterator<Item = &'v serde_json::Value>) -> Self {
        let mut known = sandbox();
        for v in values {
            learn(&mut known, v);
        }
        self.known = Some(known);
        self
    }

    pub fn render(&self, source: &str, ctx: &impl Serialize) -> Result<String, TemplateError> {
        self.render_in(source, &context_value(ctx))
    }

    /// [`ValueTemplates::render`] with the context made a template value
    /// already (see [`context_value`]).
    fn render_in(&self, source: &str, ctx: &minijinja::Value) -> Result<String, TemplateError> {
        // A known template passed the precheck when it was learnt.
        let compiled = self
            .known
            .as_ref()
            .and_then(|k| k.get_template(source).ok());
        let tmpl = match compiled {
            Some(t) => t,
            None => {
                precheck(source)?;
                self.env
                    .template_from_str(source)
                    .map_err(|e| TemplateError(with_literal_hint(describe(&e), &e, source)))?
            }
        };
        let mut out = Capped {
            buf: Vec::new(),
            over: false,
        };
        let result = tmpl.render_captured_to(ctx, &mut out);
        if out.over {
            return Err(TemplateError(format!(
                "template renders to more than the limit of {VALUE_MAX_OUTPUT} bytes"
            )));
        }
        result.map_err(|e| TemplateError(describe(&e)))?;
        String::from_utf8(out.buf)
            .map_err(|_| TemplateError("template rendered invalid UTF-8".into()))
    }
}

/// Compiles every template string in `v` into `env`, named by its source,
/// when the sandbox accepts it.
fn learn(env: &mut Environment<'static>, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) if is_template(s) && precheck(s).is_ok() => {
            let _ = env.add_template_owned(s.clone(), s.clone());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|c| learn(env, c)),
        serde_json::Value::Object(m) => m.values().for_each(|c| learn(env, c)),
        _ => {}
    }
}

/// Template outputs kept for one context: rendering the same values twice
/// with the same context (the base and head of a pair in `impact`)
/// renders each template source once. A different context starts afresh.
pub struct TemplateMemo<'t, C> {
    templates: &'t ValueTemplates,
    /// The context, and it made a template value once.
    ctx: Option<(C, minijinja::Value)>,
    out: std::collections::HashMap<String, Result<String, String>>,
}

/// A context as templates read it.
fn context_value(ctx: &impl Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(ctx))
}

impl<'t, C: Serialize + PartialEq + Clone> TemplateMemo<'t, C> {
    pub fn new(templates: &'t ValueTemplates) -> Self {
        TemplateMemo {
            templates,
            ctx: None,
            out: std::collections::HashMap::new(),
        }
    }

    /// [`ValueTemplates::render`], or what it gave for this source and
    /// context before.
    pub fn render(&mut self, source: &str, ctx: &C) -> Result<String, TemplateError> {
        let value = match &self.ctx {
            Some((c, value)) if c == ctx => value,
            _ => {
                self.out.clear();
                &self.ctx.insert((ctx.clone(), context_value(ctx))).1
            }
        };
        if let Some(r) = self.out.get(source) {
            return r.clone().map_err(TemplateError);
        }
        let r = self.templates.render_in(source, value).map_err(|e| e.0);
        self.out.insert(source.to_string(), r.clone());
        r.map_err(TemplateError)
    }
}

/// Refuses what the sandbox does not offer, by scanning the source the way
/// minijinja's lexer does (see [`lex`]): statements other than `if`, and
/// the `*`/`**` operators. Text outside tags is free
/// (`arn:aws:s3:::{{ customer }}-logs/*` is fine). Unterminated tags and
/// strings are left for the compiler to report.
pub fn precheck(src: &str) -> Result<(), TemplateError> {
    if src.len() > VALUE_MAX_SOURCE {
        return Err(TemplateError(format!(
            "template is {} bytes long, more than the limit of {VALUE_MAX_SOURCE} bytes",
            src.len()
        )));
    }
    lex(src, &mut |piece| {
        match piece {
        Piece::Statement(word) if !ALLOWED_STATEMENTS.contains(&word) => {
            let shown: String = word.chars().take(20).collect();
            Err(TemplateError(format!(
                "`{{% {shown} %}}` is not available in value templates; use `{{{{ … }}}}` expressions and `{{% if %}}`"
            )))
        }
        Piece::Star => Err(TemplateError(
            "the `*` and `**` operators are not available in value templates (repetition builds huge strings)".into(),
        )),
        _ => Ok(()),
    }
    })
}

/// The text of a value template that is there whatever it renders to:
/// what credential detection scans in a template's source.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StaticText<'a> {
    /// The text outside tags, joined: the template's literal part.
    pub text: String,
    /// Each string literal inside a tag and each comment body.
    pub pieces: Vec<&'a str>,
    /// The text outside tags and the string literals, joined in order: a
    /// value assembled from parts (`{{ 'ghp_' ~ '…' }}`) shows up whole.
    pub joined: String,
}

/// Splits a value template into its [`StaticText`]. The rest of a source
/// after an unterminated tag counts as text.
pub fn static_text(src: &str) -> StaticText<'_> {
    let mut out = StaticText::default();
    let _ = lex::<std::convert::Infallible>(src, &mut |piece| {
        match piece {
            Piece::Text(t) | Piece::Unterminated(t) => {
                out.text.push_str(t);
                out.joined.push_str(t);
            }
            Piece::Literal(l) => {
                out.pieces.push(l);
                out.joined.push_str(l);
            }
            // Without the whitespace-control marks and the spaces around.
            Piece::Comment(c) => {
                let c = c.strip_prefix(['-', '+']).unwrap_or(c);
                let c = c.strip_suffix(['-', '+']).unwrap_or(c);
                out.pieces.push(c.trim());
            }
            Piece::Statement(_) | Piece::Star => {}
        }
        Ok(())
    });
    out
}

/// One piece of a value template, as minijinja's lexer would split it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    /// Text outside tags: output as written.
    Text(&'a str),
    /// The body of a `{# … #}` comment.
    Comment(&'a str),
    /// The keyword of a `{% … %}` tag (empty when there is none).
    Statement(&'a str),
    /// The contents of a string literal inside a tag (escapes as written).
    Literal(&'a str),
    /// A `*` operator inside a tag.
    Star,
    /// The rest of the source after an unterminated tag, comment or string
    /// (the compiler reports it).
    Unterminated(&'a str),
}

/// Splits `src` into [`Piece`]s, calling `on` for each, the way
/// minijinja's lexer does: tags, comments, strings and bracket balance (a
/// `}}` inside brackets or a string does not end a tag). Every slice starts
/// and ends at an ASCII delimiter, so none splits a character; `get` keeps
/// it that way for any input.
fn lex<'a, E>(src: &'a str, on: &mut dyn FnMut(Piece<'a>) -> Result<(), E>) -> Result<(), E> {
    let b = src.as_bytes();
    let part = |from: usize, to: usize| src.get(from..to).unwrap_or_default();
    let rest = |from: usize| src.get(from..).unwrap_or_default();
    let mut i = 0;
    let mut text = 0;
    while i + 1 < b.len() {
        let kind = b[i + 1];
        if b[i] != b'{' || !matches!(kind, b'#' | b'{' | b'%') {
            i += 1;
            continue;
        }
        if i > text {
            on(Piece::Text(part(text, i)))?;
        }
        if kind == b'#' {
            let Some(e) = find(b, i + 2, b"#}") else {
                return on(Piece::Unterminated(rest(i + 2)));
            };
            on(Piece::Comment(part(i + 2, e)))?;
            i = e + 2;
            text = i;
            continue;
        }
        let end = if kind == b'%' { b'%' } else { b'}' };
        let mut j = i + 2;
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        if kind == b'%' {
            while b.get(j).is_some_and(u8::is_ascii_whitespace) {
                j += 1;
            }
            let start = j;
            while b
                .get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                j += 1;
            }
            on(Piece::Statement(part(start, j)))?;
        }
        match tag_end(b, j, end, &mut |p| match p {
            TagPiece::Literal(from, to) => on(Piece::Literal(part(from, to))),
            TagPiece::Star => on(Piece::Star),
        })? {
            Some(after) => {
                i = after;
                text = after;
            }
            None => return on(Piece::Unterminated(rest(i + 2))),
        }
    }
    if b.len() > text {
        on(Piece::Text(rest(text)))?;
    }
    Ok(())
}

/// What [`tag_end`] reports inside a tag: string literals (byte range of
/// their contents) and `*` operators.
enum TagPiece {
    Literal(usize, usize),
    Star,
}

/// Scans a tag body from `j` to its closing `<end>}` (optionally preceded
/// by `-` or `+`) outside brackets and strings; returns the index after it,
/// or `None` when the tag or a string in it never ends.
fn tag_end<E>(
    b: &[u8],
    mut j: usize,
    end: u8,
    on: &mut dyn FnMut(TagPiece) -> Result<(), E>,
) -> Result<Option<usize>, E> {
    let closes = |r: &[u8]| r.len() >= 2 && r[0] == end && r[1] == b'}';
    let mut balance: isize = 0;
    loop {
        let Some(&c) = b.get(j) else {
            return Ok(None);
        };
        if balance == 0 {
            let rest = b.get(j..).unwrap_or_default();
            if closes(rest) {
                return Ok(Some(j + 2));
            }
            if matches!(c, b'-' | b'+') && closes(rest.get(1..).unwrap_or_default()) {
                return Ok(Some(j + 3));
            }
        }
        match c {
            b'\'' | b'"' => {
                let mut k = j + 1;
                loop {
                    match b.get(k) {
                        None => return Ok(None),
                        Some(b'\\') => k += 2,
                        Some(&q) if q == c => break,
                        Some(_) => k += 1,
                    }
                }
                on(TagPiece::Literal(j + 1, k))?;
                j = k + 1;
            }
            b'(' | b'[' | b'{' => {
                balance += 1;
                j += 1;
            }
            b')' | b']' | b'}' => {
                balance -= 1;
                j += 1;
            }
            b'*' => {
                on(TagPiece::Star)?;
                j += 1;
            }
            _ => j += 1,
        }
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A value that does not compile may be another tool's template (a
/// Prometheus `{{ $labels.instance }}`, a Go or Helm template) meant
/// literally: say how to write it so that it renders to itself.
fn with_literal_hint(message: String, e: &minijinja::Error, source: &str) -> String {
    if e.kind() != ErrorKind::SyntaxError {
        return message;
    }
    format!(
        "{message}; string values are templates: if this one is meant literally (e.g. a Prometheus or Go template), write it as a template that outputs it: {}",
        literal(source)
    )
}

/// A value template that renders to `text` exactly.
pub fn literal(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\'', "\\'");
    format!("{{{{ '{escaped}' }}}}")
}

fn describe(e: &minijinja::Error) -> String {
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.kind() {
        ErrorKind::UndefinedError => format!(
            "template uses an undefined variable{detail}; available: customer, environment, project_name, repo"
        ),
        ErrorKind::OutOfFuel => "template does too much work (fuel exhausted); simplify it".into(),
        ErrorKind::TemplateNotFound => "templates cannot include or import other templates".into(),
        ErrorKind::SyntaxError => format!("template syntax error{detail}"),
        ErrorKind::UnknownFilter => format!(
            "template uses a filter that is not available{detail}; value templates offer lower, upper, title, capitalize, trim, replace, length, default, first, last, string, int, float, abs, round"
        ),
        ErrorKind::UnknownFunction => format!(
            "template calls a function{detail}; value templates have no functions"
        ),
        _ => format!("template error: {}{detail}", e.kind()),
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
