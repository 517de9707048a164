//! Foreign text made safe to show: the one rule for characters a reader
//! cannot see ([`is_hidden`], shown as `\u{..}` by [`show_hidden`]), used by
//! the terminal (`output`), the HTML and Markdown reports (`report`) and
//! short quotes in messages ([`shown`]).

/// At most this many characters of a foreign value appear in a message.
const SHOWN_CHARS: usize = 100;

/// True for a character that changes how text is shown, or that a reader
/// cannot see, rather than what it says: every control character (C0,
/// DEL, C1; callers keep the line feeds and tabs they lay text out with),
/// the Unicode line and paragraph separators, bidirectional marks,
/// embeddings, overrides and isolates, and every other invisible format
/// character (zero-width spaces and joiners, the word joiner and invisible
/// operators, soft hyphen, BOM, variation selectors, tag characters, Hangul
/// fillers, and the rest of Unicode's default-ignorable code points and
/// format controls).
///
/// Besides hiding text from a reader, these are the characters the Actions
/// runner's culture-aware string matching skips, so a command split by one
/// of them still reads as a command (see `output`).
pub fn is_hidden(c: char) -> bool {
    // Most text is ASCII, where only the controls are hidden (every other
    // character below is outside ASCII): one comparison instead of the
    // whole list.
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// `c` as the visible escape every output shows a hidden character as:
/// `\u{202e}`.
pub fn show_hidden(c: char) -> String {
    format!("\\u{{{:x}}}", c as u32)
}

/// The text without terminal colour sequences (SGR: `ESC [ 31 m`): a
/// tool's colours (Terraform's, without `-no-color`) are noise in a
/// comment or a message, not hidden text to show. Any other escape (a
/// cursor move, a screen clear) stays, and is shown as hidden text.
pub fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\u{1b}[") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let params = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[params..].starts_with('m') {
            rest = &after[params + 1..];
        } else {
            out.push_str("\u{1b}[");
            rest = after;
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Foreign text made safe to show in one line of a message: `user:pw@`
/// in a URL becomes `***@`, hidden characters (line breaks included) and
/// whitespace other than the space are escaped, and long text is cut.
pub fn shown(text: &str) -> String {
    let redacted = redact_userinfo(&strip_ansi(text));
    let mut out = String::new();
    for (i, c) in redacted.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            out.extend(c.escape_default());
        } else if is_hidden(c) {
            out.push_str(&show_hidden(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// A count with its noun in the right number: `1 customer`, `2 customers`.
/// A duration as people read it, to the second at most: `0.4 s`, `42 s`,
/// `2m 5s`, `1h 0m` (for 3601.989 s), `2d 3h`; never `3601.989s`.
pub fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{:.1} s", d.as_secs_f64());
    }
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (days, hours) {
        (0, 0) if mins == 0 => format!("{secs} s"),
        (0, 0) => format!("{mins}m {secs}s"),
        (0, h) => format!("{h}h {mins}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

pub fn count(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    format!("{n} {}", if n == "1" { one } else { many })
}

/// `scheme://user:pw@host…` → `scheme://***@host…`.
fn redact_userinfo(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest.get(..authority_end).and_then(|a| a.rfind('@')) {
        Some(at) => format!("{scheme}://***{}", rest.get(at..).unwrap_or_default()),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII shortcut says what Unicode says: of ASCII, exactly the
    /// controls (Cc) are hidden.
    #[test]
    fn of_ascii_exactly_the_controls_are_hidden() {
        for c in (0u8..=127).map(char::from) {
            assert_eq!(is_hidden(c), c.is_control(), "{:?}", c);
        }
    }

    #[test]
    fn hidden_characters_are_the_invisible_ones() {
        for c in [
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{9b}',
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{3164}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{e0041}',
        ] {
            assert!(is_hidden(c), "{c:?}");
        }
        for c in [
            'a', ' ', '#', '[', ':', 'é', 'ß', '→', '\u{3000}', '漢', '😀',
        ] {
            assert!(!is_hidden(c), "{c:?}");
        }
        assert_eq!(show_hidden('\u{202e}'), "\\u{202e}");
    }

    #[test]
    fn shown_text_is_one_visible_line() {
        assert_eq!(shown("a\u{202e}b\nc\u{200b}"), "a\\u{202e}b\\nc\\u{200b}");
        assert_eq!(
            shown("https://user:pw@example.com/x"),
            "https://***@example.com/x"
        );
    }

    #[test]
    fn durations_read_as_people_say_them() {
        use std::time::Duration;
        assert_eq!(duration(Duration::from_millis(3_601_989)), "1h 0m");
        assert_eq!(duration(Duration::from_millis(400)), "0.4 s");
        assert_eq!(duration(Duration::from_secs(42)), "42 s");
        assert_eq!(duration(Duration::from_secs(125)), "2m 5s");
        assert_eq!(
            duration(Duration::from_secs(2 * 86_400 + 3 * 3600 + 5)),
            "2d 3h"
        );
    }

    #[test]
    fn colour_sequences_go_other_escapes_stay_shown() {
        let red = "\u{1b}[31mError:\u{1b}[0m \u{1b}[1mno such bucket\u{1b}[0m";
        assert_eq!(strip_ansi(red), "Error: no such bucket");
        assert_eq!(shown(red), "Error: no such bucket");
        assert_eq!(strip_ansi("a\u{1b}]0;title"), "a\u{1b}]0;title");
        assert_eq!(strip_ansi("a\u{1b}[2Jb"), "a\u{1b}[2Jb");
        assert_eq!(shown("a\u{1b}[2J"), "a\\u{1b}[2J");
        assert_eq!(shown("a\u{1b}]x"), "a\\u{1b}]x");
    }
}
