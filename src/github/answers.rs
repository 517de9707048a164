//! Checks of what GitHub answers, before any of it is used or shown:
//! commit shas, branch names, URLs and file contents (`Link` headers are
//! checked in `links`). Each check returns a reason; the field readers
//! below (`required_str`, `checked_sha`, `checked_branch`) turn it into an
//! error that names the endpoint. Values that fail are never repeated raw.

use base64::Engine as _;
use serde_json::Value;

use super::error::{bad_value, GitHubError};
use super::root::Origin;

/// A full commit sha as GitHub writes it: 40 lowercase hex digits.
pub fn check_sha(value: &str) -> Result<(), String> {
    if crate::dispatch::is_sha(value) {
        Ok(())
    } else {
        Err(format!(
            "is not a commit sha (40 lowercase hex digits; got {} characters)",
            value.chars().count()
        ))
    }
}

/// A branch name git accepts (`git check-ref-format --branch`), at most
/// 255 bytes.
pub fn check_branch(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > 255 {
        return Err("is longer than 255 bytes");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains a space, line break or control character");
    }
    if name.contains(['~', '^', ':', '?', '*', '[', '\\']) {
        return Err("contains one of ~ ^ : ? * [ \\");
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return Err("contains `..`, `@{` or `//`");
    }
    if name == "@" || name.starts_with('-') || name.starts_with('/') || name.ends_with('/') {
        return Err("is `@`, starts with `-` or `/`, or ends with `/`");
    }
    if name.ends_with('.') {
        return Err("ends with `.`");
    }
    if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return Err("has a part that starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// An `http(s)` URL without whitespace or control characters (links shown
/// to people, such as a pull request's `html_url`).
pub fn check_web_url(value: &str) -> Result<(), &'static str> {
    let ok = value.is_ascii()
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
        && value
            .parse::<http::Uri>()
            .is_ok_and(|u| Origin::of(&u).is_ok());
    if ok {
        Ok(())
    } else {
        Err("is not an http(s) URL")
    }
}

/// The bytes of a contents answer's `content` (standard base64, wrapped
/// with line breaks as GitHub sends it).
pub fn decode_content(content: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let cleaned: String = content
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r' | ' ' | '\t'))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(cleaned)
}

/// Standard base64 with padding.
pub fn encode_content(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

// -- fields of an answer, as errors that name the endpoint ------------

/// A string field that must be present.
pub(super) fn required_str<'a>(
    body: &'a Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<&'a str, GitHubError> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| GitHubError::BadJson {
            method: "GET",
            path: path.to_string(),
            message: format!("no `{field}` in the answer"),
        })
}

/// A commit or blob sha from an answer, checked.
pub(super) fn checked_sha(
    body: &Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<String, GitHubError> {
    let sha = required_str(body, pointer, path, field)?;
    check_sha(sha).map_err(|p| bad_value("GET", path, field, p))?;
    Ok(sha.to_string())
}

/// A branch name from an answer, checked.
pub(super) fn checked_branch(
    body: &Value,
    pointer: &str,
    path: &str,
    field: &'static str,
) -> Result<String, GitHubError> {
    let name = required_str(body, pointer, path, field)?;
    check_branch(name).map_err(|p| bad_value("GET", path, field, p))?;
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::text::shown;

    #[test]
    fn shas_and_branch_names() {
        assert!(check_sha(&"a".repeat(40)).is_ok());
        for bad in [
            "",
            "abc",
            &"A".repeat(40),
            &"g".repeat(40),
            &"a".repeat(41),
            "é",
        ] {
            assert!(check_sha(bad).is_err(), "{bad}");
        }
        for good in [
            "main",
            "release/1.2",
            "feature-x",
            "dependabot/npm/foo-1.0",
            "ünïcode",
        ] {
            assert_eq!(check_branch(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a\nb",
            "a\u{7f}",
            "a..b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "@",
            "a@{b",
            "-x",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "a.lock",
            "a/b.lock/c",
            &"x".repeat(256),
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_is_base64_with_line_breaks() {
        assert_eq!(decode_content("aGVs\nbG8=\n").unwrap(), b"hello");
        assert_eq!(decode_content("").unwrap(), b"");
        for bad in ["a", "a$==", "aGVsbG8", "{\"x\": 1}", "aGVsbG8=aGVs"] {
            assert!(decode_content(bad).is_err(), "{bad}");
        }
        for s in [
            &b""[..],
            b"h",
            b"he",
            b"hel",
            b"hello, world\n",
            &[0, 255, 128],
        ] {
            assert_eq!(decode_content(&encode_content(s)).unwrap(), s);
        }
    }

    #[test]
    fn shown_text_is_one_safe_line() {
        assert_eq!(shown("https://u:pw@h/x"), "https://***@h/x");
        assert_eq!(shown("https://h/x@y"), "https://h/x@y");
        assert_eq!(shown("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        // A tool's colours are dropped, not shown as escapes.
        assert_eq!(shown("a\u{1b}[31mb\u{1b}[0m"), "ab");
        assert_eq!(shown(&"é".repeat(150)).chars().count(), 101);
        assert_eq!(check_web_url("https://github.com/a/b/pull/1"), Ok(()));
        assert!(check_web_url("javascript:alert(1)").is_err());
        assert!(check_web_url("https://h/a b").is_err());
    }
}
