//! Resource addresses as the manager repo's readers may see them.
//!
//! A resource address carries the `for_each` keys of the resource and of
//! every module instance on its way (`module.site["acme.example"].aws_s3_bucket.b["logs"]`),
//! and those keys can be customer values. What fleetform writes into the
//! manager repo (drift issues, the drift report artifact, the rollout's
//! step summaries) shows an address with every string key replaced by
//! `[…]`: the module path, the resource type and name (the provider's
//! code) and `count` indexes stay, the keys do not, not even hashed (a
//! short value hashes back by guessing). Changed attributes are cut to
//! their first segment (`/tags/<key>` becomes `/tags`): the top-level
//! attribute is the provider schema's, deeper segments may be map keys.
//! The customer's own pull request keeps the full addresses.

use crate::data::summary::{Action, ResourceChange};

/// The address with every `["key"]` replaced by `[…]`. Numeric indexes
/// (`[0]`) stay. An unterminated key hides the rest of the address.
pub fn address(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut chars = address.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '[' {
            out.push(c);
            continue;
        }
        if chars.peek() != Some(&'"') {
            out.push(c);
            continue;
        }
        chars.next();
        out.push_str("[…]");
        // A Terraform string literal: `\"` and `\\` are escapes.
        let mut closed = false;
        while let Some(k) = chars.next() {
            match k {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    closed = chars.peek() == Some(&']');
                    if closed {
                        chars.next();
                    }
                    break;
                }
                _ => {}
            }
        }
        if !closed {
            break;
        }
    }
    out
}

/// The top-level attribute of a changed path (`/tags/team` → `/tags`).
pub fn attribute(path: &str) -> String {
    let rest = path.strip_prefix('/').unwrap_or(path);
    format!("/{}", rest.split('/').next().unwrap_or(""))
}

/// One line of an opaque resource list: an action, an opaque address,
/// how many resources read so, and the top-level attributes they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub action: Action,
    pub address: String,
    pub count: usize,
    pub changed: Vec<String>,
}

/// The resources as opaque lines, in their order; resources of one action
/// that read the same once opaque are one line with their count.
pub fn lines(resources: &[ResourceChange]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for r in resources {
        let shown = address(&r.address);
        let changed = r.changed.iter().map(|c| attribute(c));
        match out
            .iter_mut()
            .find(|l| l.action == r.action && l.address == shown)
        {
            Some(l) => {
                l.count += 1;
                l.changed.extend(changed);
            }
            None => out.push(Line {
                action: r.action,
                address: shown,
                count: 1,
                changed: changed.collect(),
            }),
        }
    }
    for l in &mut out {
        l.changed.sort();
        l.changed.dedup();
    }
    out
}

/// The resources with opaque addresses and changed attributes, one per
/// resource (for what is serialised: the drift report's JSON).
pub fn resources(resources: &[ResourceChange]) -> Vec<ResourceChange> {
    resources
        .iter()
        .map(|r| {
            let mut changed: Vec<String> = r.changed.iter().map(|c| attribute(c)).collect();
            changed.dedup();
            ResourceChange {
                address: address(&r.address),
                action: r.action,
                resource_type: r.resource_type.clone(),
                changed,
                kinds: r.kinds.clone(),
                tags: None,
            }
        })
        .collect()
}

/// A failure reason (a failed plan's, Terraform's words) as the manager
/// repo's readers may see it: its class, the first `Error: <summary>` line
/// with every quoted string, bracketed part, number and value-like word
/// (a number, one with `.`, `/`, `@`, `=` or `:` inside, or with digits
/// and `-` or `_`) replaced by `…`, or "failed,
/// see the run log" when it has none. fleetform's own reasons (`keep`)
/// stay: they quote nothing of a customer's. Applying it twice changes
/// nothing more.
pub fn failure(why: &str, keep: &[&str]) -> String {
    const NONE: &str = "failed, see the run log";
    if keep.contains(&why) {
        return why.to_string();
    }
    let Some(at) = why.find("Error: ") else {
        return NONE.into();
    };
    let line = why[at + "Error: ".len()..].lines().next().unwrap_or("");
    let class = scrub(line.trim());
    if class.chars().all(|c| !c.is_alphabetic()) {
        return NONE.into();
    }
    format!("Error: {class}")
}

/// `text` with quoted and bracketed parts, numbers and value-like words
/// replaced by `…` (see [`failure`]).
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        let close = match c {
            '"' | '`' => Some(c),
            '\'' if !prev.is_alphanumeric() => Some(c),
            '(' => Some(')'),
            '[' => Some(']'),
            '{' => Some('}'),
            '<' => Some('>'),
            _ => None,
        };
        match close {
            Some(end) => {
                // Everything to the closing mark (or the end) goes, escapes
                // and nesting included.
                let mut depth = 0usize;
                for k in chars.by_ref() {
                    if k == end && depth == 0 {
                        break;
                    }
                    if k == c && c != end {
                        depth += 1;
                    } else if k == end {
                        depth -= 1;
                    }
                }
                out.push(c);
                out.push('…');
                out.push(end);
                prev = end;
            }
            None => {
                out.push(c);
                prev = c;
            }
        }
    }
    out.split(' ')
        .map(|w| {
            let inner = w.trim_end_matches([':', ',', '.', ';']);
            // `S3`, `EC2` name a service; `409`, `acme-7` are values.
            let digits = inner.chars().any(|c| c.is_ascii_digit())
                && (inner.starts_with(|c: char| c.is_ascii_digit()) || inner.contains(['-', '_']));
            let valued = digits || inner.contains(['.', '/', '@', '=', ':', '\\']);
            if valued && !inner.contains('…') {
                format!("…{}", &w[inner.len()..])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hidden_and_the_code_stays() {
        assert_eq!(address("aws_s3_bucket.logs"), "aws_s3_bucket.logs");
        assert_eq!(address("aws_instance.web[0]"), "aws_instance.web[0]");
        assert_eq!(
            address(r#"module.site["acme.example"].aws_s3_bucket.b["secret-name"]"#),
            "module.site[…].aws_s3_bucket.b[…]"
        );
        assert_eq!(
            address(r#"data.x.y["a\"]b"].z["q"]"#),
            "data.x.y[…].z[…]",
            "an escaped quote and a bracket inside a key end nothing"
        );
        assert_eq!(address(r#"a.b["unterminated"#), "a.b[…]");
        assert_eq!(address(r#"a.b["x"y].c"#), "a.b[…]");
        assert_eq!(address("é.ü[\"ü\"]"), "é.ü[…]");
    }

    #[test]
    fn attributes_are_cut_to_the_top_level() {
        assert_eq!(attribute("/tags/customer-secret"), "/tags");
        assert_eq!(attribute("/instance_type"), "/instance_type");
        assert_eq!(attribute(""), "/");
    }

    #[test]
    fn resources_of_one_opaque_address_are_counted() {
        let rc = |a: &str, action, changed: &[&str]| ResourceChange {
            address: a.into(),
            action,
            resource_type: None,
            changed: changed.iter().map(|s| s.to_string()).collect(),
            kinds: Vec::new(),
            tags: None,
        };
        let got = lines(&[
            rc(r#"x.y["one"]"#, Action::Update, &["/tags/one"]),
            rc(r#"x.y["two"]"#, Action::Update, &["/tags/two", "/acl"]),
            rc(r#"x.y["three"]"#, Action::Delete, &[]),
        ]);
        assert_eq!(
            got,
            vec![
                Line {
                    action: Action::Update,
                    address: "x.y[…]".into(),
                    count: 2,
                    changed: vec!["/acl".into(), "/tags".into()],
                },
                Line {
                    action: Action::Delete,
                    address: "x.y[…]".into(),
                    count: 1,
                    changed: vec![],
                },
            ]
        );
    }

    #[test]
    fn a_failure_shows_its_class_and_no_value() {
        let keep = ["not planned"];
        let f = |why: &str| failure(why, &keep);
        assert_eq!(
            f("terraform plan: exit status 1\n\nError: invalid value \"acme-secret-name\"\n\n  on main.tf line 3"),
            "Error: invalid value \"…\""
        );
        assert_eq!(
            f("Error: reading VPC: AccessDenied"),
            "Error: reading VPC: AccessDenied"
        );
        assert_eq!(
            f("Error: creating S3 Bucket (acme-logs-7): status 409, id=abc, at db.acme.example"),
            "Error: creating S3 Bucket (…): status …, …, at …"
        );
        assert_eq!(
            f("Error: can't read 'secret value' here"),
            "Error: can't read '…' here"
        );
        assert_eq!(f("exit status 1: acme-secret"), "failed, see the run log");
        assert_eq!(f("Error: \"acme-secret\""), "failed, see the run log");
        assert_eq!(f("not planned"), "not planned");
        for why in [
            "Error: bad key [\"a\"] {x} <y> 12 'q",
            "Error: x (unclosed acme",
        ] {
            let once = f(why);
            assert_eq!(f(&once), once, "{why}");
            assert!(!once.contains("acme") && !once.contains("12"), "{once}");
        }
    }
}
