//! The API root (`GITHUB_API_URL`) and the client's numeric settings from
//! the environment, checked before any client is built: a bad value is a
//! usage error that says what is wrong and what a good value looks like,
//! never a panic deep inside the HTTP stack.

use std::time::Duration;

use crate::util::text::shown;

/// The public API, used when `GITHUB_API_URL` is unset or empty.
pub const DEFAULT_API_ROOT: &str = "https://api.github.com";

const EXAMPLES: &str =
    "a valid value looks like https://api.github.com or https://github.example.com/api/v3";

/// Why an API root was refused. The value is shown with credentials
/// removed and control characters escaped.
#[derive(Debug, thiserror::Error)]
#[error("GITHUB_API_URL `{shown}` {problem}; {EXAMPLES}")]
pub struct ApiRootError {
    pub shown: String,
    pub problem: String,
}

/// A checked API root: `http` or `https`, a host, an optional port and
/// path prefix (GitHub Enterprise Server's `/api/v3`), no credentials,
/// query or fragment, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoot {
    origin: Origin,
    prefix: String,
    text: String,
}

/// Scheme, host and port: what must match for a URL to be the API's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Lowercase; IPv6 literals keep their brackets.
    pub host: String,
    /// The port, the scheme's default filled in.
    pub port: u16,
}

impl Origin {
    /// The origin of an absolute `http(s)` URI; `Err` says what is wrong
    /// (no scheme or host, another scheme, credentials, a bad host or
    /// port). Takes no position on the path.
    pub fn of(uri: &http::Uri) -> Result<Origin, String> {
        let scheme = uri
            .scheme_str()
            .map(str::to_ascii_lowercase)
            .ok_or("has no scheme")?;
        let default = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => {
                return Err(format!(
                    "has the scheme `{}`, not http or https",
                    shown(&scheme)
                ))
            }
        };
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.contains('@') {
            return Err(
                "contains credentials (`user:password@`); give the token in FLEETFORM_TOKEN, never in the URL"
                    .into(),
            );
        }
        let (host, port) = split_authority(authority)?;
        Ok(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default),
        })
    }

    fn default_port(&self) -> bool {
        matches!(
            (self.scheme.as_str(), self.port),
            ("https", 443) | ("http", 80)
        )
    }
}

/// `host[:port]` → host and port, both checked. Hosts are names
/// (letters, digits, `-`, `.`, `_`), IPv4 addresses or bracketed IPv6
/// literals; internationalised names go in their `xn--` form.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                match rest {
                    "" => (host, None),
                    _ => (host, Some(rest.strip_prefix(':').ok_or("has a bad host")?)),
                }
            }
            None => return Err("has a bad host".into()),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    let literal = |c: char| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '[' | ']');
    let host_ok = match host.starts_with('[') {
        true => host.len() > 2 && host.chars().all(literal),
        false => !host.is_empty() && host.chars().all(name),
    };
    if !host_ok {
        return Err(match host.is_empty() {
            true => "has no host".into(),
            false => "has a bad host (letters, digits, `-` and `.`; write an internationalised name in its xn-- form)".into(),
        });
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("has an invalid port (1 to 65535)")?,
        ),
    };
    Ok((host, port))
}

impl ApiRoot {
    /// `GITHUB_API_URL`, or the public API when it is unset or blank.
    pub fn from_env() -> Result<ApiRoot, ApiRootError> {
        match std::env::var_os("GITHUB_API_URL") {
            None => ApiRoot::parse(DEFAULT_API_ROOT),
            Some(v) => match v.into_string() {
                Ok(s) if s.trim().is_empty() => ApiRoot::parse(DEFAULT_API_ROOT),
                Ok(s) => ApiRoot::parse(&s),
                Err(raw) => Err(ApiRootError {
                    shown: shown(&raw.to_string_lossy()),
                    problem: "is not valid UTF-8".into(),
                }),
            },
        }
    }

    pub fn parse(raw: &str) -> Result<ApiRoot, ApiRootError> {
        let refuse = |problem: &str| ApiRootError {
            shown: shown(raw),
            problem: problem.to_string(),
        };
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("contains whitespace or control characters"));
        }
        if !raw.is_ascii() {
            return Err(refuse(
                "is not ASCII (write an internationalised host in its xn-- form)",
            ));
        }
        check_scheme(raw).map_err(|p| refuse(&p))?;
        if raw.contains(['?', '#']) {
            return Err(refuse("has a query (`?…`) or fragment (`#…`)"));
        }
        let uri: http::Uri = raw
            .parse()
            .map_err(|e| refuse(&format!("is not a valid URL ({e})")))?;
        let origin = Origin::of(&uri).map_err(|p| refuse(&p))?;
        let prefix = uri.path().trim_end_matches('/').to_string();
        let port = match origin.default_port() {
            true => String::new(),
            false => format!(":{}", origin.port),
        };
        let text = format!("{}://{}{port}{prefix}", origin.scheme, origin.host);
        // The HTTP stack parses the normalised form again.
        if text.parse::<http::Uri>().is_err() {
            return Err(refuse("is not a URL the HTTP client can use"));
        }
        Ok(ApiRoot {
            origin,
            prefix,
            text,
        })
    }

    /// `https://host[:port][/prefix]`, no trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path prefix without a trailing slash (`""` or e.g. `/api/v3`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The absolute URL of an API path (`/repos/…`, query included).
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }
}

fn check_scheme(raw: &str) -> Result<(), String> {
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(());
    }
    match raw.split_once("://") {
        Some(("", _)) => Err("has an empty scheme".into()),
        Some((scheme, _)) => Err(format!(
            "has the scheme `{}`, not http or https",
            shown(scheme)
        )),
        None => Err("has no http:// or https:// scheme".into()),
    }
}

/// A numeric setting from the environment that is out of range or not a
/// number.
#[derive(Debug, thiserror::Error)]
#[error("{var}=`{shown}` is not {expected}; unset it or give {expected}")]
pub struct SettingError {
    pub var: &'static str,
    pub shown: String,
    pub expected: String,
}

/// An integer from `var` within `range`; `None` when unset or empty.
pub fn env_number(
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, SettingError> {
    let Some(raw) = std::env::var_os(var) else {
        return Ok(None);
    };
    let text = raw.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| SettingError {
            var,
            shown: shown(&text),
            expected: format!("a whole number from {} to {}", range.start(), range.end()),
        })
}

/// The read/write timeout: `FLEETFORM_HTTP_TIMEOUT_SECS`, 1–600 s, default 30.
pub fn http_timeout() -> Result<Duration, SettingError> {
    Ok(Duration::from_secs(
        env_number("FLEETFORM_HTTP_TIMEOUT_SECS", 1..=600)?.unwrap_or(30),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_roots_are_normalised() {
        for (raw, want) in [
            ("https://api.github.com", "https://api.github.com"),
            ("https://api.github.com/", "https://api.github.com"),
            ("HTTPS://API.GitHub.com", "https://api.github.com"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            (
                "https://ghe.example.com/api/v3/",
                "https://ghe.example.com/api/v3",
            ),
            (
                "https://ghe.example.com:443/api/v3",
                "https://ghe.example.com/api/v3",
            ),
            ("http://[::1]:9/x", "http://[::1]:9/x"),
            ("http://h:80/", "http://h"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            let root = ApiRoot::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(root.as_str(), want, "{raw}");
        }
        let ghes = ApiRoot::parse("https://ghe.example.com/api/v3").unwrap();
        assert_eq!(ghes.prefix(), "/api/v3");
        assert_eq!(
            ghes.url_for("/repos/a/b"),
            "https://ghe.example.com/api/v3/repos/a/b"
        );
        assert_eq!(ApiRoot::parse("https://h/").unwrap().prefix(), "");
    }

    #[test]
    fn bad_roots_say_what_is_wrong_without_showing_secrets() {
        for (raw, problem) in [
            ("h:99999", "no http:// or https:// scheme"),
            ("api.github.com", "no http:// or https:// scheme"),
            ("http://", "not a valid URL"),
            ("https://", "not a valid URL"),
            ("://x", "empty scheme"),
            ("ftp://h", "scheme `ftp`"),
            ("http://h:99999", "invalid port"),
            ("http://h:0", "invalid port"),
            ("http://h:", "invalid port"),
            ("http://h:8x", "invalid port"),
            ("https://bücher.example", "not ASCII"),
            ("http://[::1/x", "not a valid URL"),
            ("https://a_b%41", "not a valid URL"),
            ("https://a!b", "bad host"),
            ("https://user:pw@h", "credentials"),
            ("https://tok@h/api", "credentials"),
            ("https://h/?x=1", "query"),
            ("https://h/#f", "fragment"),
            (" https://h", "whitespace"),
            ("https://h\n", "whitespace"),
            ("https://h\u{7}x", "control"),
            ("https://h x", "whitespace"),
            ("", "no http:// or https:// scheme"),
        ] {
            let e = ApiRoot::parse(raw).expect_err(raw).to_string();
            assert!(e.contains(problem), "{raw:?}: {e}");
            assert!(e.contains("a valid value looks like https://"), "{e}");
            assert!(!e.contains("pw") && !e.contains("tok@"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
