//! The `Link` header of a list page: parsed (RFC 8288) and its
//! `rel="next"` followed only under the API root. A link that cannot be
//! followed is an error the client reports with the endpoint; the link is
//! shown only made safe with [`shown`].

use super::root::{ApiRoot, Origin};
use crate::util::text::shown;

/// The next page from a `Link` header, as a path under the API root.
/// `current` is the path (under the root, query included) of the page that
/// carried the header. No header, or one without `rel="next"`, is the last
/// page; a header that does not parse, or a next link that leaves the API
/// root (another scheme, host, port or path prefix), carries credentials or
/// a fragment, or points back at the same page, is an error: the list
/// cannot be read completely.
pub fn next_page(
    link: Option<&str>,
    current: &str,
    root: &ApiRoot,
) -> Result<Option<String>, NextLinkError> {
    let Some(header) = link else {
        return Ok(None);
    };
    let refuse = |shown_link: &str, problem: &str| NextLinkError {
        link: shown(shown_link),
        problem: problem.to_string(),
    };
    if !header.is_ascii() {
        return Err(refuse(header, "is not a valid Link header (not ASCII)"));
    }
    let links = parse_link_header(header)
        .map_err(|p| refuse(header, &format!("is not a valid Link header ({p})")))?;
    let mut next = links
        .iter()
        .filter(|l| l.rels.iter().any(|r| r == "next"))
        .map(|l| l.target.as_str());
    let Some(target) = next.next() else {
        return Ok(None);
    };
    if next.any(|t| t != target) {
        return Err(refuse(header, "has two different `next` links"));
    }
    let relative = under_root(target, current, root).map_err(|p| refuse(target, &p))?;
    if relative == current {
        return Err(refuse(target, "points back at the same page"));
    }
    Ok(Some(relative))
}

/// `target` (absolute, or an absolute path or a query on the current
/// page) as a path under the API root.
fn under_root(target: &str, current: &str, root: &ApiRoot) -> Result<String, String> {
    if target.contains('#') {
        return Err("has a fragment".into());
    }
    let absolute = if let Some(query) = target.strip_prefix('?') {
        let path = current.split_once('?').map_or(current, |(p, _)| p);
        root.url_for(&format!("{path}?{query}"))
    } else if target.starts_with("//") {
        format!("{}:{target}", root.origin().scheme)
    } else if target.starts_with('/') {
        let o = root.origin();
        format!("{}://{}:{}{target}", o.scheme, o.host, o.port)
    } else {
        target.to_string()
    };
    let uri: http::Uri = absolute
        .parse()
        .map_err(|e| format!("is not a valid URL ({e})"))?;
    let origin = Origin::of(&uri)?;
    if &origin != root.origin() {
        return Err("points to another origin than the API root".into());
    }
    let relative = uri
        .path()
        .strip_prefix(root.prefix())
        .filter(|rest| rest.starts_with('/'))
        .ok_or("points outside the API root's path")?;
    Ok(match uri.query() {
        Some(q) => format!("{relative}?{q}"),
        None => relative.to_string(),
    })
}

/// One link-value of a `Link` header: its target and relation types
/// (lowercase).
#[derive(Debug, PartialEq)]
struct LinkValue {
    target: String,
    rels: Vec<String>,
}

/// Parses a `Link` header (RFC 8288, section 3): link-values separated
/// by commas, each `<target>` followed by `; name[=value]` parameters whose
/// values are tokens or quoted strings. Only the first `rel` counts.
/// `header` is ASCII (checked by the caller).
fn parse_link_header(header: &str) -> Result<Vec<LinkValue>, String> {
    let mut s = Scanner {
        text: header,
        at: 0,
    };
    let mut links = Vec::new();
    loop {
        s.skip_while(|c| c == ',' || c == ' ' || c == '\t');
        if s.done() {
            return Ok(links);
        }
        if !s.eat('<') {
            return Err("expected `<`".into());
        }
        let target = s.take_while(|c| c != '>');
        if !s.eat('>') {
            return Err("unclosed `<`".into());
        }
        let mut rels: Option<Vec<String>> = None;
        loop {
            s.skip_ows();
            if !s.eat(';') {
                break;
            }
            s.skip_ows();
            let name = s.take_while(is_tchar);
            if name.is_empty() {
                return Err("a parameter without a name".into());
            }
            s.skip_ows();
            let value = match s.eat('=') {
                true => {
                    s.skip_ows();
                    s.value()?
                }
                false => String::new(),
            };
            if name.eq_ignore_ascii_case("rel") && rels.is_none() {
                rels = Some(
                    value
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect(),
                );
            }
        }
        links.push(LinkValue {
            target: target.to_string(),
            rels: rels.unwrap_or_default(),
        });
        s.skip_ows();
        if !s.done() && !s.eat(',') {
            return Err("expected `,` or `;` after a link".into());
        }
    }
}

/// RFC 9110 token characters.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A cursor over ASCII text; every step is checked, nothing panics.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }

    fn done(&self) -> bool {
        self.rest().is_empty()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.rest().starts_with(c);
        if hit {
            self.at += c.len_utf8();
        }
        hit
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let n = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.at += n;
        rest.get(..n).unwrap_or_default()
    }

    fn skip_while(&mut self, skip: impl Fn(char) -> bool) {
        self.take_while(skip);
    }

    fn skip_ows(&mut self) {
        self.skip_while(|c| c == ' ' || c == '\t');
    }

    /// A token or a quoted string (with `\` escapes).
    fn value(&mut self) -> Result<String, String> {
        if !self.eat('"') {
            return Ok(self.take_while(is_tchar).to_string());
        }
        let mut out = String::new();
        loop {
            let mut chars = self.rest().chars();
            match chars.next() {
                None => return Err("unclosed quoted string".into()),
                Some('"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => match chars.next() {
                    Some(c) => {
                        out.push(c);
                        self.at += 1 + c.len_utf8();
                    }
                    None => return Err("unclosed quoted string".into()),
                },
                Some(c) => {
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }
}

/// A `Link: rel="next"` that cannot be followed.
#[derive(Debug)]
pub struct NextLinkError {
    /// The link or header, made safe with [`shown`].
    pub link: String,
    pub problem: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(s: &str) -> ApiRoot {
        ApiRoot::parse(s).unwrap()
    }

    #[test]
    fn next_links_stay_under_the_api_root() {
        let gh = root("https://api.github.com");
        let page1 = "/repos/a/b/issues/1/comments?per_page=100";
        let header = r#"<https://api.github.com/repositories/1/issues/1/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/1/comments?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_page(Some(header), page1, &gh).unwrap().as_deref(),
            Some("/repositories/1/issues/1/comments?per_page=100&page=2")
        );
        // Relative links resolve against the page that carried them.
        assert_eq!(
            next_page(Some(r#"<?page=2>; rel="next""#), page1, &gh)
                .unwrap()
                .as_deref(),
            Some("/repos/a/b/issues/1/comments?page=2")
        );
        // The last page.
        assert_eq!(next_page(None, page1, &gh).unwrap(), None);
        assert_eq!(
            next_page(
                Some(r#"<https://api.github.com/x?page=1>; rel="prev""#),
                page1,
                &gh
            )
            .unwrap(),
            None
        );
        // GHES: the prefix is kept out of the relative path.
        let ghes = root("https://ghe.example.com/api/v3");
        assert_eq!(
            next_page(
                Some(r#"<https://ghe.example.com/api/v3/repos/a/b/issues?page=2>; rel="next""#),
                "/repos/a/b/issues",
                &ghes
            )
            .unwrap()
            .as_deref(),
            Some("/repos/a/b/issues?page=2")
        );
    }

    #[test]
    fn foreign_or_broken_next_links_are_errors() {
        let gh = root("https://api.github.com");
        let page1 = "/repos/a/b/issues?page=1";
        for (header, problem) in [
            (
                r#"<https://evil.example/repos/a/b/issues?page=2>; rel="next""#,
                "another origin",
            ),
            (
                r#"<http://api.github.com/repos/a/b/issues?page=2>; rel="next""#,
                "another origin",
            ),
            (
                r#"<https://api.github.com:444/x>; rel="next""#,
                "another origin",
            ),
            (r#"<//evil.example/x>; rel="next""#, "another origin"),
            (
                r#"<https://u:secret@api.github.com/x>; rel="next""#,
                "credentials",
            ),
            (
                r#"<https://api.github.com/repos/a/b/issues?page=1>; rel="next""#,
                "same page",
            ),
            (
                r#"https://api.github.com/x; rel="next""#,
                "not a valid Link header",
            ),
            (
                r#"<https://api.github.com/x; rel="next""#,
                "not a valid Link header",
            ),
            (r#"<http://[::1>; rel="next""#, "not a valid URL"),
            (r#"<https://api.github.com/x#frag>; rel="next""#, "fragment"),
            (
                r#"<https://api.github.com/x>; rel="next"; title="unclosed"#,
                "unclosed quoted string",
            ),
            (r#"<https://api.github.com/x>; ="next""#, "without a name"),
            (
                r#"<https://api.github.com/x> rel="next""#,
                "expected `,` or `;`",
            ),
            (
                "<https://api.github.com/\u{fffd}>; rel=\"next\"",
                "not ASCII",
            ),
            (
                r#"<https://api.github.com/a>; rel="next", <https://api.github.com/b>; rel="next""#,
                "two different",
            ),
        ] {
            let e = next_page(Some(header), page1, &gh).expect_err(header);
            assert!(e.problem.contains(problem), "{header}: {}", e.problem);
            assert!(!e.link.contains("secret"), "{}", e.link);
        }
        let ghes = root("https://ghe.example.com/api/v3");
        let e = next_page(
            Some(r#"<https://ghe.example.com/other/repos?page=2>; rel="next""#),
            "/repos/a/b/issues",
            &ghes,
        )
        .unwrap_err();
        assert!(e.problem.contains("outside the API root"), "{}", e.problem);
        let e = next_page(
            Some(r#"<https://ghe.example.com/api/v3x/repos?page=2>; rel="next""#),
            "/repos/a/b/issues",
            &ghes,
        )
        .unwrap_err();
        assert!(e.problem.contains("outside the API root"), "{}", e.problem);
    }

    #[test]
    fn no_link_header_panics_the_parser() {
        let gh = root("https://api.github.com");
        let page1 = "/x";
        let pieces = [
            "<",
            ">",
            ";",
            ",",
            "=",
            "\"",
            "\\",
            "*",
            "'",
            " ",
            "\t",
            "é",
            "rel",
            "next",
            "title*",
            "UTF-8",
            "%",
            "https://api.github.com/y",
            "\u{0}",
        ];
        // Every sequence of up to four pieces.
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for s in &inputs {
                for p in pieces {
                    longer.push(format!("{s}{p}"));
                }
            }
            inputs.extend(longer);
            inputs.dedup();
        }
        for input in &inputs {
            let _ = next_page(Some(input), page1, &gh);
        }
    }

    #[test]
    fn link_headers_parse_as_rfc_8288_says() {
        let links = parse_link_header(
            r#"<https://h/a?x=1,2>; rel="prev first", <https://h/b>;title="a, \"b\"; c";REL=Next;rel=last ,, <https://h/c>"#,
        )
        .unwrap();
        assert_eq!(
            links,
            [
                LinkValue {
                    target: "https://h/a?x=1,2".into(),
                    rels: vec!["prev".into(), "first".into()]
                },
                LinkValue {
                    target: "https://h/b".into(),
                    rels: vec!["next".into()]
                },
                LinkValue {
                    target: "https://h/c".into(),
                    rels: vec![]
                },
            ]
        );
        assert_eq!(parse_link_header("").unwrap(), []);
    }
}
