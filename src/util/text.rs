//! Foreign text made safe to show in a message.

/// At most this many characters of a foreign value appear in a message.
const SHOWN_CHARS: usize = 100;

/// Foreign text made safe to show in one line of a message: `user:pw@`
/// in a URL becomes `***@`, control characters and line breaks are
/// escaped, and long text is cut.
pub fn shown(text: &str) -> String {
    let redacted = redact_userinfo(text);
    let mut out = String::new();
    for (i, c) in redacted.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A count with its noun in the right number: `1 customer`, `2 customers`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
