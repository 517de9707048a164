//! Detection of values that look like credentials.
//!
//! Secrets never go in variables files: they end up in plans, state, PR
//! comments and logs. fleetform refuses them before anything else happens and
//! never repeats the value in its message.

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::values::template::is_template;
use fleetform_yaml::escape_token;

/// A value (or key) that looks like a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer of the value, or of the entry whose key it is.
    pub pointer: String,
    /// What was found where.
    pub spot: Spot,
    pub what: &'static str,
}

/// Where in a value a credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// A plain value, as written.
    Value,
    /// The key of the entry at the pointer: never show that pointer's last
    /// token, it is the credential.
    Key,
    /// The literal text of a value template (outside its tags, its string
    /// literals, its comments, or these put together).
    TemplateText,
    /// A value as rendered from its template.
    Rendered,
}

impl Finding {
    /// The pointer to show: for a key, its mapping's (the key is the
    /// secret).
    pub fn shown_pointer(&self) -> &str {
        match self.spot {
            Spot::Key => self
                .pointer
                .rfind('/')
                .and_then(|i| self.pointer.get(..i))
                .unwrap_or_default(),
            _ => &self.pointer,
        }
    }
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

/// The literals every match of some format starts with (each format's
/// prefixes, read off the patterns by the regex crate's own extractor), in
/// one automaton: a string holding none is no known credential. Most
/// strings long enough to be one hold none, and this answers sooner than
/// the set. `None` when a format has no finite set of prefixes: then the
/// set decides alone.
static PREFIXES: LazyLock<Option<aho_corasick::AhoCorasick>> = LazyLock::new(|| {
    let mut all: Vec<Vec<u8>> = Vec::new();
    for (re, _) in PATTERNS {
        let hir = regex_syntax::parse(re).ok()?;
        let seq = regex_syntax::hir::literal::Extractor::new().extract(&hir);
        let literals = seq.literals()?;
        if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
            return None;
        }
        all.extend(literals.iter().map(|l| l.as_bytes().to_vec()));
    }
    aho_corasick::AhoCorasick::new(all).ok()
});

/// The fewest bytes any format matches, read off the patterns themselves:
/// a shorter string (most keys and values: regions, sizes, numbers) is no
/// known credential and is not run through the automaton.
static SHORTEST: LazyLock<usize> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(re, _)| {
            regex_syntax::parse(re)
                .expect("credential patterns are valid")
                .properties()
                .minimum_len()
                .unwrap_or(0)
        })
        .min()
        .unwrap_or(0)
});

/// Key names under which a random-looking value is taken for a secret.
static SENSITIVE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(secret|token|passw(or)?d|passphrase|api[_-]?key|private[_-]?key|credential|auth)",
    )
    .expect("valid")
});

/// Builds the credential automata now rather than at their first use: a
/// caller with a core to spare builds them beside its own start-up, and
/// its first checks then find them ready instead of one building them
/// while the others wait.
pub fn prepare() {
    LazyLock::force(&FORMATS);
    LazyLock::force(&PREFIXES);
    LazyLock::force(&SHORTEST);
    LazyLock::force(&SENSITIVE_KEY);
}

/// What a string looks like, if it looks like a known credential format.
pub fn credential_kind(s: &str) -> Option<&'static str> {
    // Most strings match no format: their length, or else `is_match`,
    // says so at a fraction of the cost of finding which formats match.
    if s.len() < *SHORTEST
        || PREFIXES.as_ref().is_some_and(|p| !p.is_match(s))
        || !FORMATS.is_match(s)
    {
        return None;
    }
    let first = FORMATS.matches(s).into_iter().next()?;
    PATTERNS.get(first).map(|(_, what)| *what)
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

/// True for values that point at a secret rather than hold one. (A
/// template is not one: its literal text is scanned, and what it renders
/// to.)
fn is_reference(s: &str) -> bool {
    s.starts_with("arn:")
        || s.starts_with("vault:")
        || s.starts_with("projects/") // GCP Secret Manager resource names
        || s.starts_with("https://") && s.contains(".vault.azure.net/")
}

/// What a final string under `key` looks like, if a credential: a known
/// format anywhere, or a random-looking value under a secret-like key.
fn judge(s: &str, key: Option<&str>) -> Option<&'static str> {
    credential_kind(s).or_else(|| {
        // The length first (most values are short), then the key's
        // pattern, and the entropy last (the dearest).
        (s.len() >= 16
            && key.is_some_and(|k| SENSITIVE_KEY.is_match(k))
            && !is_reference(s)
            && random_looking(s))
        .then_some("a secret (random-looking value under a secret-like key)")
    })
}

/// What a template's source holds, if a credential: a known format
/// anywhere in it (names included), its literal text, each string literal
/// and comment judged like any value, and everything literal joined in
/// order checked for the known formats.
fn judge_template(src: &str, key: Option<&str>) -> Option<&'static str> {
    let t = crate::values::template::static_text(src);
    credential_kind(src)
        .or_else(|| judge(&t.text, key))
        .or_else(|| t.pieces.iter().find_map(|p| judge(p, key)))
        .or_else(|| credential_kind(&t.joined))
}

/// Scans every key and string of `value` as written: plain strings as they
/// are, value templates by their literal text (see [`judge_template`]).
pub fn scan(value: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), None, false, &mut out);
    out
}

/// What a string a value template rendered looks like, if a credential:
/// it is final, whatever it contains (a `{{` in it is text).
pub fn judge_rendered(s: &str, key: Option<&str>) -> Option<&'static str> {
    judge(s, key)
}

/// Scans every key and string of a rendered value: each string is final,
/// whatever it contains. What `values::customer` renders is judged string
/// by string instead ([`judge_rendered`], only the rendered ones); this
/// whole scan is what the tests hold that to.
#[cfg(test)]
pub fn scan_rendered(value: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), None, true, &mut out);
    out
}

/// One step from a value to a child: a mapping's key or a list's index.
#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Item(usize),
}

/// The JSON pointer of `path`, written only for a finding: most values
/// have none, so the walk keeps its steps and no string.
pub(crate) fn pointer_of(path: &[Step<'_>]) -> String {
    let mut pointer = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                pointer.push('/');
                pointer.push_str(&escape_token(k));
            }
            Step::Item(i) => {
                let _ = write!(pointer, "/{i}");
            }
        }
    }
    pointer
}

fn walk<'a>(
    value: &'a Value,
    path: &mut Vec<Step<'a>>,
    key: Option<&str>,
    rendered: bool,
    out: &mut Vec<Finding>,
) {
    match value {
        Value::String(s) => {
            let found = if rendered {
                judge(s, key).map(|w| (w, Spot::Rendered))
            } else if is_template(s) {
                judge_template(s, key).map(|w| (w, Spot::TemplateText))
            } else {
                judge(s, key).map(|w| (w, Spot::Value))
            };
            if let Some((what, spot)) = found {
                out.push(Finding {
                    pointer: pointer_of(path),
                    spot,
                    what,
                });
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k));
                if let Some(what) = credential_kind(k) {
                    out.push(Finding {
                        pointer: pointer_of(path),
                        spot: Spot::Key,
                        what,
                    });
                } else {
                    walk(v, path, Some(k), rendered, out);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Item(i));
                walk(v, path, key, rendered, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_credential_is_still_found() {
        // `xox[abposr]-` and ten more: the shortest any format matches.
        assert_eq!(*SHORTEST, 15);
        assert_eq!(credential_kind("xoxb-0123456789"), Some("a Slack token"));
        assert_eq!(credential_kind("xoxb-012345678"), None);
    }

    /// Property: the prefixes pass every string the set matches (so the
    /// answer is the set's alone), for strings built from the formats'
    /// pieces, boundaries and random text, most of them near misses.
    #[test]
    fn the_prefixes_pass_every_credential() {
        let prefixes = PREFIXES.as_ref().expect("every format has prefixes");
        let pieces = [
            "ghp_",
            "gho_",
            "github_pat_",
            "AKIA",
            "ASIA",
            "-----BEGIN ",
            "RSA ",
            "PRIVATE KEY",
            "-----",
            " BLOCK",
            "xoxb-",
            "glpat-",
            "sk_live_",
            "AIza",
            "a1B2c3D4e5",
            "Z9Y8X7W6V5",
            "0123456789",
            "ABCDEFGH12345678",
            "_",
            "-",
            " ",
            ".",
            "é",
            "x",
        ];
        let mut rng = fastrand::Rng::with_seed(0x5eed_0004_u64);
        let mut next = |n: usize| rng.usize(..n);
        let formats: Vec<Regex> = PATTERNS
            .iter()
            .map(|(re, _)| Regex::new(re).unwrap())
            .collect();
        let (mut matched, mut passed) = (0, 0);
        let mut per_format = [0usize; PATTERNS.len()];
        for _ in 0..20_000 {
            let s: String = (0..next(12)).map(|_| pieces[next(pieces.len())]).collect();
            let set = FORMATS.is_match(&s);
            let pass = prefixes.is_match(&s);
            assert!(pass || !set, "{s:?} matches a format without its prefix");
            // Each format's own match holds a prefix, whatever else the
            // string holds.
            for i in FORMATS.matches(&s).iter() {
                let found = formats[i].find(&s).expect("the set matched it");
                assert!(prefixes.is_match(found.as_str()), "{s:?}: format {i}");
                per_format[i] += 1;
            }
            matched += usize::from(set);
            passed += usize::from(pass && !set);
        }
        assert!(matched > 500, "only {matched} matched");
        assert!(per_format.iter().all(|n| *n > 0), "{per_format:?}");
        assert!(
            passed > 500,
            "only {passed} near misses passed the prefixes"
        );
    }

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

    /// A template was exempt as a "reference": its literal text is judged
    /// like any value now, its string literals too, and a token assembled
    /// from literals is found whole.
    #[test]
    fn template_sources_are_scanned_by_their_literal_text() {
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let (head, tail) = token.split_at(4);
        let v = serde_json::json!({
            "db_password": "Zq8#vR2!mK9@pL4$wX7{{ customer }}",
            "api_token": "{{ 'Zq8#vR2!mK9@pL4$wX7' if true }}",
            "assembled": format!("{{{{ '{head}' ~ '{tail}' }}}}"),
            "split": format!("{head}{{{{ '{tail}' }}}}"),
            "named": format!("{{{{ {token} }}}}"),
            "secret_note": "{# Zq8#vR2!mK9@pL4$wX7 #}{{ customer }}",
            "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:{{ customer }}",
            "api_key": "{{ customer }}-{{ environment }}",
            "password_hint": "{% if environment == 'production' %}ask-the-vault{% endif %}",
        });
        let found = scan(&v);
        let mut pointers: Vec<&str> = found.iter().map(|f| f.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(
            pointers,
            [
                "/api_token",
                "/assembled",
                "/db_password",
                "/named",
                "/secret_note",
                "/split"
            ]
        );
        assert!(found.iter().all(|f| f.spot == Spot::TemplateText));
    }

    /// Rendered values are final: a `{{` in one is text, not a reference.
    #[test]
    fn rendered_values_have_no_template_exemption() {
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let v = serde_json::json!({
            "db_password": "{{Zq8#vR2!mK9@pL4$wX7",
            "list": [{"deep": token}],
            "name": "acme-staging",
        });
        let f = scan_rendered(&v);
        let got: Vec<(&str, Spot, &str)> = f
            .iter()
            .map(|f| (f.pointer.as_str(), f.spot, f.what))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/db_password",
                    Spot::Rendered,
                    "a secret (random-looking value under a secret-like key)"
                ),
                ("/list/0/deep", Spot::Rendered, "a GitHub token"),
            ]
        );
    }

    /// A key that is a credential is reported at its mapping: the pointer
    /// shown never holds the key.
    #[test]
    fn a_credential_key_is_never_shown() {
        let token = format!("ghp_{}", "a1B2".repeat(9));
        let v = serde_json::json!({"tags": {token.clone(): "x"}});
        let f = scan(&v);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].spot, Spot::Key);
        assert_eq!(f[0].shown_pointer(), "/tags");
        assert!(!f[0].shown_pointer().contains(&token));
    }
}
