//! Detection of values that look like credentials.
//!
//! Secrets never go in variables files: they end up in plans, state, PR
//! comments and logs. fleetform refuses them before anything else happens and
//! never repeats the value in its message.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::yaml::escape_token;

/// A value that looks like a credential, by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub pointer: String,
    pub what: &'static str,
}

/// The known credential formats and what each is.
const PATTERNS: [(&str, &str); 8] = [
    (r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", "a GitHub token"),
    (
        r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
        "a GitHub fine-grained token",
    ),
    (
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        "an AWS access key ID",
    ),
    (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----",
        "a private key",
    ),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "a Slack token"),
    (r"\bglpat-[A-Za-z0-9_-]{20,}", "a GitLab token"),
    (r"\bsk_live_[A-Za-z0-9]{20,}", "a Stripe secret key"),
    (r"\bAIza[0-9A-Za-z_-]{35}\b", "a Google API key"),
];

/// All formats in one automaton: every string is scanned once, not once
/// per format.
static FORMATS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(PATTERNS.iter().map(|(re, _)| re)).expect("credential patterns are valid")
});

/// Key names under which a random-looking value is taken for a secret.
static SENSITIVE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(secret|token|passw(or)?d|passphrase|api[_-]?key|private[_-]?key|credential|auth)",
    )
    .expect("valid")
});

/// What a string looks like, if it looks like a known credential format.
pub fn credential_kind(s: &str) -> Option<&'static str> {
    let first = FORMATS.matches(s).into_iter().next()?;
    Some(PATTERNS[first].1)
}

pub fn looks_like_credential(s: &str) -> bool {
    credential_kind(s).is_some()
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// True for a random-looking value: long enough, no spaces, high entropy.
fn random_looking(s: &str) -> bool {
    s.len() >= 16 && !s.contains(char::is_whitespace) && entropy(s) >= 3.5
}

/// True for values that point at a secret rather than hold one.
fn is_reference(s: &str) -> bool {
    s.contains("{{")
        || s.starts_with("arn:")
        || s.starts_with("vault:")
        || s.starts_with("projects/") // GCP Secret Manager resource names
        || s.starts_with("https://") && s.contains(".vault.azure.net/")
}

/// Scans every string in `value`.
pub fn scan(value: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(value, &mut String::new(), None, &mut out);
    out
}

fn walk(value: &Value, pointer: &mut String, key: Option<&str>, out: &mut Vec<Finding>) {
    match value {
        Value::String(s) => {
            if let Some(what) = credential_kind(s) {
                out.push(Finding {
                    pointer: pointer.clone(),
                    what,
                });
            } else if key.is_some_and(|k| SENSITIVE_KEY.is_match(k))
                && !is_reference(s)
                && random_looking(s)
            {
                out.push(Finding {
                    pointer: pointer.clone(),
                    what: "a secret (random-looking value under a secret-like key)",
                });
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(what) = credential_kind(k) {
                    out.push(Finding {
                        pointer: format!("{pointer}/{}", escape_token(k)),
                        what,
                    });
                    continue;
                }
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape_token(k));
                walk(v, pointer, Some(k), out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = pointer.len();
                let _ = write!(pointer, "/{i}");
                walk(v, pointer, key, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_formats() {
        let token = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(credential_kind(&token), Some("a GitHub token"));
        assert_eq!(
            credential_kind("AKIAIOSFODNN7EXAMPLE"),
            Some("an AWS access key ID")
        );
        assert_eq!(
            credential_kind("-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            Some("a private key")
        );
        assert_eq!(credential_kind("t3.micro"), None);
        assert_eq!(credential_kind("10.0.0.0/16"), None);
    }

    #[test]
    fn entropy_only_under_secret_keys() {
        let v = serde_json::json!({
            "db_password": "Zq8#vR2!mK9@pL4$wX7",
            "note": "Zq8#vR2!mK9@pL4$wX7",
            "api_key": "{{ lookup }}",
            "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            "password_length": "short",
        });
        let f = scan(&v);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].pointer, "/db_password");
    }
}
