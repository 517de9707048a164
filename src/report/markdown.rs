//! Markdown for people: escaping of text fleetform did not write (one place
//! for all of it) and the embedded templates. Imports nothing of fleetform's.

use minijinja::{Environment, UndefinedBehavior};

/// Escapes text for Markdown outside code blocks: no HTML, no mentions, no
/// links or emphasis can be smuggled through.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{200b}"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Breaks `<!--` with a zero-width space so customer-controlled text (a
/// resource address holding a `for_each` key, plan output quoting a value)
/// can never contain a hidden marker that the sticky-comment lookup would
/// take for another comment's.
pub fn defuse_markers(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains("<!--") {
        std::borrow::Cow::Owned(s.replace("<!--", "<!-\u{200b}-"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `s` as a Markdown inline code span that nothing can break out of and
/// that shows it as it is, backticks included: no line breaks or control
/// characters, no hidden markers. Inside a code span HTML (`</details>`), mentions and
/// links are inert. For table cells use [`md_code_cell`].
pub fn md_code(s: &str) -> String {
    code_span(s, false)
}

/// [`md_code`] for a table cell: `|` is escaped too, so the span cannot
/// end the cell.
pub fn md_code_cell(s: &str) -> String {
    code_span(s, true)
}

fn code_span(s: &str, cell: bool) -> String {
    let mut inner = String::with_capacity(s.len());
    for c in defuse_markers(s).chars() {
        match c {
            '|' if cell => inner.push_str("\\|"),
            c if c.is_control() => inner.push(' '),
            c => inner.push(c),
        }
    }
    // A delimiter longer than any run of backticks inside holds them
    // (CommonMark code spans); a space pads content that starts or ends
    // with a backtick, or with spaces the renderer would strip.
    let mut longest = 0;
    let mut run = 0;
    for c in inner.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let ticks = "`".repeat(longest + 1);
    let pad = inner.starts_with('`')
        || inner.ends_with('`')
        || (inner.starts_with(' ') && inner.ends_with(' ') && !inner.trim().is_empty());
    let sp = if pad { " " } else { "" };
    format!("{ticks}{sp}{inner}{sp}{ticks}")
}

/// A code fence longer than any run of backticks in `text`.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

/// The embedded Markdown templates (plan comment, summaries).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    // Customer-controlled text as an inline code span nothing escapes from.
    env.add_filter("code", |s: String| md_code(&s));
    env.add_filter("code_cell", |s: String| md_code_cell(&s));
    // Customer-controlled text as escaped Markdown prose.
    env.add_filter("md", |s: String| md_escape(&s));
    for (name, src) in EMBEDDED {
        env.add_template(name, src)
            .expect("embedded templates parse");
    }
    env
}

const EMBEDDED: &[(&str, &str)] = &[
    (
        "plan_comment.md",
        include_str!("templates/plan_comment.md.j2"),
    ),
    (
        "instructions.md",
        include_str!("templates/instructions.md.j2"),
    ),
];

/// A Markdown link `[text](url)`: the text escaped, the URL never (a `_`
/// stays a `_`); characters that could end the link or the line
/// (whitespace, `()<>"\` and backticks, controls) are percent-encoded.
pub fn link(text: &str, url: &str) -> String {
    let mut target = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_whitespace() || c.is_control() || "()<>\"\\`".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                target.push_str(&format!("%{b:02X}"));
            }
        } else {
            target.push(c);
        }
    }
    format!("[{}]({target})", md_escape(text))
}
