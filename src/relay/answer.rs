//! The relay's answers to its callers: an HTTP status and a JSON body,
//! never a token.
//!
//! May import: `github` (its errors), `report::customer` (the wording of
//! refusals about the customer's run).

use serde_json::{json, Value};

use crate::github::GitHubError;
use crate::report::customer::Refusal;

/// An answer: the HTTP status and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(status: u16, body: Value) -> Answer {
        Answer { status, body }
    }

    /// A refusal: `error` is a stable code, `message` says why and what to
    /// do. Neither ever holds a token.
    /// A refusal about the customer's run, worded in `report::customer`.
    pub fn refused(r: Refusal<'_>) -> Answer {
        Answer::refuse(r.status(), r.code(), r.message().to_string())
    }

    pub fn refuse(status: u16, error: &str, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({ "error": error, "message": message.into() }),
        }
    }

    /// A refusal the caller may retry after `secs` (also sent as
    /// `Retry-After`).
    pub fn busy(status: u16, error: &str, message: impl Into<String>, secs: u64) -> Answer {
        Answer {
            status,
            body: json!({ "error": error, "message": message.into(), "retry_after": secs }),
        }
    }

    pub(crate) fn github(e: &GitHubError) -> Answer {
        if let GitHubError::Deferred {
            limit,
            wait,
            method,
            path,
        } = e
        {
            return Answer::busy(
                503,
                "github_limit",
                format!("GitHub's {limit} is reached for now ({method} {path}); try again"),
                wait.as_secs().max(1),
            );
        }
        let status = match e.status() {
            Some(s) if s < 500 => 502,
            _ => 503,
        };
        Answer::refuse(status, "github", format!("GitHub could not be asked: {e}"))
    }
}

/// An event dispatched before: 200 with what was dispatched then.
pub(super) fn duplicate(before: Value) -> Answer {
    Answer::ok(
        200,
        json!({
            "duplicate": "this event (the repository, the commit, the kind of event) was dispatched already, by the App's webhook, another run of the trigger or another relay instance; nothing was sent again",
            "dispatched": before,
        }),
    )
}

/// An event another request is dispatching now: try again shortly.
pub(super) fn in_flight() -> Answer {
    Answer::busy(
        503,
        "in_flight",
        "another request is dispatching this event now; ask again to learn how it ended",
        2,
    )
}
