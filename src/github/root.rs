//! The API root (`GITHUB_API_URL`) and the client's numeric settings from
//! the environment, checked before any client is built: a bad value is a
//! usage error that says what is wrong and what a good value looks like,
//! never a panic deep inside the HTTP stack.

use std::time::Duration;

use super::answers::shown;

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
    url: url::Url,
    text: String,
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
        check_scheme(raw).map_err(|p| refuse(&p))?;
        let url = url::Url::parse(raw).map_err(|e| refuse(&format!("is not a valid URL ({e})")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse(
                "contains credentials (`user:password@`); give the token in FLEETFORM_TOKEN, never in the URL",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse("has a query (`?…`) or fragment (`#…`)"));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(refuse("has no host"));
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let text = format!(
            "{}://{host}{port}{}",
            url.scheme(),
            url.path().trim_end_matches('/')
        );
        // The HTTP stack parses it again: both parsers must agree.
        if text.parse::<http::Uri>().is_err() {
            return Err(refuse("is not a URL the HTTP client can use"));
        }
        let url =
            url::Url::parse(&text).map_err(|e| refuse(&format!("is not a valid URL ({e})")))?;
        Ok(ApiRoot { url, text })
    }

    /// `https://host[:port][/prefix]`, no trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path prefix without a trailing slash (`""` or e.g. `/api/v3`).
    pub fn prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }

    /// The absolute URL of an API path (`/repos/…`, query included).
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{path}", self.text)
    }

    /// Same scheme, host and port.
    pub fn same_origin(&self, other: &url::Url) -> bool {
        self.url.origin() == other.origin()
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
            ("http://h:99999", "not a valid URL"),
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
