//! The client's error type (bad settings are usage errors, everything
//! else a failure) and the token, which never shows itself.

use std::fmt;
use std::time::Duration;

use super::root::{ApiRootError, SettingError};

/// A token that never shows itself in Debug or Display, and where it came
/// from (the variable it was read from), so an error about it can name
/// that and nothing of the value.
#[derive(Clone)]
pub struct Token {
    value: String,
    from: &'static str,
}

impl Token {
    pub fn new(s: String) -> Option<Token> {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(Token {
            value: s,
            from: "the token",
        })
    }

    /// The token in the environment variable `var`, if it is set.
    pub fn from_var(var: &'static str) -> Option<Token> {
        let mut t = std::env::var(var).ok().and_then(Token::new)?;
        t.from = var;
        Some(t)
    }

    /// `FLEETFORM_TOKEN`, else `GITHUB_TOKEN`.
    pub fn from_env() -> Option<Token> {
        ["FLEETFORM_TOKEN", "GITHUB_TOKEN"]
            .into_iter()
            .find_map(Token::from_var)
    }

    pub fn expose(&self) -> &str {
        &self.value
    }

    /// What to call it in a message: the variable it was read from.
    pub(super) fn name(&self) -> &'static str {
        self.from
    }

    /// Only visible ASCII can go into an `Authorization` header (GitHub's
    /// tokens are letters, digits and `_`).
    pub(super) fn is_sendable(&self) -> bool {
        self.value.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{method} {path}: GitHub answered {status}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("{method} {path}: gave up after {attempts} attempts over {}: {last}", crate::util::text::duration(*.waited))]
    GaveUp {
        method: &'static str,
        path: String,
        attempts: u32,
        waited: Duration,
        last: String,
    },
    /// Not sent: the wait for a slot within GitHub's limits (`limit`)
    /// is longer than the client waits or ends past the command's
    /// deadline. The request can be made by a later run.
    #[error("{method} {path}: not sent: {limit} would need a wait of {}, past what this run may wait (its deadline or FLEETFORM_RETRY_MAX_WAIT_SECS)", crate::util::text::duration(*.wait))]
    Deferred {
        method: &'static str,
        path: String,
        limit: &'static str,
        wait: Duration,
    },
    #[error("{method} {path}: the response is not valid JSON: {message}")]
    BadJson {
        method: &'static str,
        path: String,
        message: String,
    },
    /// A contents answer whose `content` does not decode.
    #[error("{method} {path}: `{file}` is not valid base64: {message}")]
    BadBase64 {
        method: &'static str,
        path: String,
        file: String,
        message: String,
    },
    /// A field of an answer that fails its check (a sha that is not 40 hex,
    /// a branch name git would refuse, …); the value itself is not shown.
    #[error("{method} {path}: GitHub answered an unusable `{field}`: it {problem}")]
    BadValue {
        method: &'static str,
        path: String,
        field: &'static str,
        problem: String,
    },
    #[error("{method} {path}: the next-page link `{link}` {problem}; the list cannot be read completely, so nothing was decided from it")]
    BadNextLink {
        method: &'static str,
        path: String,
        link: String,
        problem: String,
    },
    #[error("GET {path}: the list has more than {pages} pages; fleetform reads at most {pages} and does not act on an incomplete list")]
    TooManyPages { path: String, pages: usize },
    /// A later page of a list failed: the list is incomplete.
    #[error("{source} (page {page} of a list; nothing was decided from the incomplete list)")]
    Page {
        page: usize,
        source: Box<GitHubError>,
    },
    #[error("{method} {path}: no answer ({message}); the request may have taken effect, so it is not sent again blindly")]
    Unanswered {
        method: &'static str,
        path: String,
        message: String,
    },
    /// No connection, for a reason trying again will not change (a
    /// refused certificate, a proxy that wants credentials).
    #[error("{method} {path}: {message}")]
    Network {
        method: &'static str,
        path: String,
        message: String,
    },
    /// No connection could be made, and the client was told not to
    /// retry that ([`super::GitHub::without_connect_retries`]).
    #[error("{method} {path}: no connection could be made ({message})")]
    NoConnection {
        method: &'static str,
        path: String,
        message: String,
    },
    /// A proxy or CA setting that cannot be used.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    #[error(transparent)]
    ApiRoot(#[from] ApiRootError),
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Names the variable the token came from, never the value.
    #[error("{0} contains spaces, line breaks or other characters no token has; set it again from the secret")]
    BadToken(&'static str),
    #[error("cannot set up the GitHub client: {0}")]
    Setup(String),
}

impl GitHubError {
    /// The HTTP status GitHub answered, for a request that was answered
    /// with an error. `None` for everything else, including a failed later
    /// page of a list (that the first page was found says the resource
    /// exists).
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A bad setting (API root, token, numeric setting) rather than a
    /// failure of GitHub or the network.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            GitHubError::ApiRoot(_)
                | GitHubError::Setting(_)
                | GitHubError::BadToken(_)
                | GitHubError::Net(_)
        )
    }
}

/// Bad settings are usage errors (exit 2); everything else failed (exit 1).
impl From<GitHubError> for crate::error::Error {
    fn from(e: GitHubError) -> Self {
        if e.is_usage() {
            crate::error::Error::usage(e.to_string())
        } else {
            crate::error::Error::failed(e.to_string())
        }
    }
}

/// A field of an answer that fails its check, at `method path`.
pub(super) fn bad_value(
    method: &'static str,
    path: &str,
    field: &'static str,
    problem: impl Into<String>,
) -> GitHubError {
    GitHubError::BadValue {
        method,
        path: path.to_string(),
        field,
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::root::ApiRoot;

    #[test]
    fn tokens() {
        assert_eq!(
            format!("{:?}", Token::new("ghp_secret".into()).unwrap()),
            "Token(***)"
        );
        assert!(Token::new("ghp_abc123_XYZ".into()).unwrap().is_sendable());
        for bad in ["a\nb", "a b", "a\u{1}b", "tök"] {
            assert!(!Token::new(bad.into()).unwrap().is_sendable(), "{bad:?}");
        }
    }

    #[test]
    fn settings_errors_are_usage_errors() {
        let e: crate::error::Error = GitHubError::BadToken("FLEETFORM_TOKEN").into();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        let e: crate::error::Error =
            GitHubError::from(ApiRoot::parse("ftp://h").unwrap_err()).into();
        assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        let e: crate::error::Error = GitHubError::TooManyPages {
            path: "/x".into(),
            pages: 50,
        }
        .into();
        assert_eq!(e.exit_code(), crate::error::EXIT_FAILED);
    }
}
