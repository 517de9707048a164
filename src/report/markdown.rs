//! Markdown and HTML for people: escaping of text fleetform did not write
//! (one place for all of it, both formats) and the embedded templates.
//!
//! One rule for characters a reader cannot see (`util::text::is_hidden`:
//! controls, bidirectional controls, zero-width and other invisible
//! characters): whatever the format, they are shown as a visible `\u{..}`
//! ([`visible`]), never passed on raw and never silently dropped, so a
//! U+202E in an actor's name reads the same in a PR comment, the step
//! summary, `audit report` (Markdown or HTML) and the dashboard. Line
//! breaks and tabs are layout: a space in one-line contexts, kept in
//! blocks. Imports nothing of fleetform's but that rule.

use std::borrow::Cow;

use minijinja::{Environment, UndefinedBehavior};

use crate::util::text::{is_hidden, show_hidden};

/// Where text goes: one line (line breaks and tabs become spaces) or a
/// block (they stay).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Line,
    Block,
}

/// `s` with every hidden character shown as `\u{..}` (see the module
/// docs); line breaks and tabs by `layout`.
fn visible(s: &str, layout: Layout) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    // A tool's colours are dropped, not shown as escapes.
    let s = crate::util::text::strip_ansi(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\t' if layout == Layout::Block => out.push(c),
            '\n' | '\r' | '\t' if layout == Layout::Line => out.push(' '),
            c if is_hidden(c) => out.push_str(&show_hidden(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` with every hidden character shown, its line breaks and tabs kept:
/// text placed in a block (a YAML string, a code block).
pub fn visible_block(s: &str) -> Cow<'_, str> {
    visible(s, Layout::Block)
}

/// Escapes text for HTML (element content and quoted attribute values),
/// hidden characters shown.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s, Layout::Block).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2f;"),
            c => out.push(c),
        }
    }
    out
}

/// A template environment for HTML pages: strict about undefined names,
/// and every value printed goes through [`html_escape`] (values marked
/// safe by the template itself excepted).
pub fn html_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.set_formatter(|out, state, value| {
        if value.is_safe() || value.is_none() || value.is_undefined() {
            return minijinja::escape_formatter(out, state, value);
        }
        out.write_str(&html_escape(&value.to_string()))
            .map_err(minijinja::Error::from)
    });
    env
}

/// Escapes text for Markdown outside code blocks: no HTML, no mentions, no
/// links or emphasis can be smuggled through; one line; hidden characters
/// shown.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s, Layout::Line).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// fleetform's own text for a table cell, its `` `code` `` spans kept as
/// code (not shown as literal backticks): with an even number of
/// backticks, the text between each pair is a code span
/// ([`md_code_cell`]) and the rest is escaped ([`md_escape`]); otherwise
/// (a backtick of someone else's text) all of it is escaped.
pub fn md_cell_with_code(s: &str) -> String {
    if !s.matches('`').count().is_multiple_of(2) {
        return md_escape(s);
    }
    s.split('`')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 => md_code_cell(part),
            _ => md_escape(part),
        })
        .collect()
}

/// Breaks `<!--` with a zero-width space so customer-controlled text (a
/// resource address holding a `for_each` key, plan output quoting a value)
/// can never contain a hidden marker that the sticky-comment lookup would
/// take for another comment's.
fn defuse_markers(s: &str) -> Cow<'_, str> {
    if s.contains("<!--") {
        Cow::Owned(s.replace("<!--", "<!-\u{200b}-"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Text for a code block (the plan output): hidden characters shown, line
/// breaks kept, no hidden marker.
pub fn md_block(s: &str) -> String {
    defuse_markers(&visible(s, Layout::Block)).into_owned()
}

/// `s` as a Markdown inline code span that nothing can break out of and
/// that shows it as it is, backticks included: no line breaks, hidden
/// characters shown, no hidden markers. Inside a code span HTML (`</details>`), mentions and
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
    for c in defuse_markers(&visible(s, Layout::Line)).chars() {
        match c {
            '|' if cell => inner.push_str("\\|"),
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
    (
        "state_preview.md",
        include_str!("templates/state_preview.md.j2"),
    ),
    (
        "restore_preview.md",
        include_str!("templates/restore_preview.md.j2"),
    ),
    (
        "offboard_preview.md",
        include_str!("templates/offboard_preview.md.j2"),
    ),
];

/// Rows a table (or items a list) shows in the open; a longer one is
/// folded under its count, so what follows it stays near the first
/// screen (a phone's is about twenty rows).
pub const FOLD_ROWS: usize = 20;

/// `body` (a Markdown table or list of `rows` rows, at the start of a
/// block) as it is read: in the open up to [`FOLD_ROWS`] rows, else in a
/// `<details>` whose summary (`summary`, plain text) is its count line.
pub fn folded(rows: usize, summary: &str, body: &str) -> String {
    if rows <= FOLD_ROWS {
        return body.to_string();
    }
    let end = if body.ends_with('\n') { "" } else { "\n" };
    format!(
        "<details><summary>{}</summary>\n\n{body}{end}\n</details>\n",
        html_escape(summary)
    )
}

/// A Markdown link `[text](url)`: the text escaped, the URL never (a `_`
/// stays a `_`); characters that could end the link or the line
/// (whitespace, `()<>"\` and backticks, hidden characters) are
/// percent-encoded.
pub fn link(text: &str, url: &str) -> String {
    let mut target = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_whitespace() || is_hidden(c) || "()<>\"\\`".contains(c) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleetforms_code_spans_stay_code_in_a_cell() {
        assert_eq!(
            md_cell_with_code("due for rotation (`secrets.max_age_days`): a|b"),
            "due for rotation \\(`secrets.max_age_days`\\): a\\|b"
        );
        // Odd backticks (someone else's text): nothing becomes code.
        assert_eq!(md_cell_with_code("x`y"), "x\\`y");
        // A span holding `|` or HTML stays in its cell and inert.
        assert_eq!(md_cell_with_code("`a|<b>`"), "`a\\|<b>`");
    }

    /// One rule: the same hidden characters are shown the same way in
    /// every HTML and Markdown context, and none reaches the output raw.
    #[test]
    fn hidden_characters_are_shown_alike_in_html_and_markdown() {
        let hostile = "alice\u{202e}nimda\u{2066}x\u{2069}\u{200b}\u{feff}\u{1b}[2J\u{7f}\u{85}";
        let html = html_environment()
            .render_str(
                "<td>{{ actor }}</td>",
                minijinja::context! { actor => hostile },
            )
            .unwrap();
        let outputs = [
            html_escape(hostile),
            html,
            md_escape(hostile),
            md_code(hostile),
            md_code_cell(hostile),
            md_block(hostile),
        ];
        for out in &outputs {
            assert!(!out.chars().any(is_hidden), "{out:?}");
            for shown in [
                "u{202e}", "u{2066}", "u{2069}", "u{200b}", "u{feff}", "u{1b}", "u{7f}", "u{85}",
            ] {
                assert!(out.contains(shown), "{shown} in {out:?}");
            }
        }
        // Markdown escapes the backslash so it renders as one.
        assert!(
            md_escape("a\u{202e}").ends_with("a\\\\u{202e}"),
            "{}",
            md_escape("a\u{202e}")
        );
        assert!(md_code("a\u{202e}").contains("a\\u{202e}"));
        // Layout: one line inline, lines kept in blocks.
        assert_eq!(md_escape("a\nb\tc"), "a b c");
        assert_eq!(md_block("a\nb\tc\r"), "a\nb\tc\\u{d}");
        assert_eq!(
            html_escape("<a href=\"x\">'/"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&#x2f;"
        );
    }

    #[test]
    fn urls_never_carry_hidden_characters() {
        let l = link("run", "https://example.com/a\u{202e}b c");
        assert_eq!(l, "[run](https://example.com/a%E2%80%AEb%20c)");
    }
}
