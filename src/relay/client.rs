//! The customer's side of the relay (`fleetform trigger --relay-url`): the
//! run's OIDC token from the Actions runner, the schema from `GET /schema`,
//! and `POST /dispatch`. The customer holds no credential of the provider:
//! the token proves which repository's run is asking, and for which commit.

use std::time::Duration;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::fetch::{send, FetchError, Request};

/// Why the relay could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL is not set: the trigger's job needs `permissions: id-token: write` to get an OIDC token for the relay")]
    NoTokenRequest,
    #[error("the Actions runner gave no OIDC token ({0})")]
    NoToken(String),
    #[error("the relay at {url} could not be reached: {why}")]
    Unreachable { url: String, why: FetchError },
    #[error("the relay refused ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// GitHub Actions' OIDC token for `audience`, from the runner.
pub async fn oidc_token(
    net: &crate::net::Settings,
    audience: &str,
) -> Result<Zeroizing<String>, ClientError> {
    let url =
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").map_err(|_| ClientError::NoTokenRequest)?;
    let request_token = Zeroizing::new(
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map_err(|_| ClientError::NoTokenRequest)?,
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}audience={}", percent_encode(audience));
    let r = Request {
        net,
        method: "GET",
        url: &full,
        auth: Some(("bearer", request_token.as_str())),
        json: None,
    };
    let (status, body) = send(r, 64 * 1024, Duration::from_secs(30))
        .await
        .map_err(|e| ClientError::NoToken(e.to_string()))?;
    if status != 200 {
        return Err(ClientError::NoToken(format!(
            "the runner answered {status}"
        )));
    }
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| ClientError::NoToken("not JSON".into()))?;
    v.get("value")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|t| Zeroizing::new(t.to_string()))
        .ok_or_else(|| ClientError::NoToken("no `value`".into()))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long a call may take in all, its waits after a busy answer
/// included (9 minutes): the trigger's job has 10, and a relay at GitHub's
/// limits (a cold start with many new customers) asks callers to come
/// back within minutes.
const CALL_DEADLINE: Duration = Duration::from_secs(9 * 60);

/// Where each attempt's OIDC token comes from: a new one from the Actions
/// runner every time. GitHub's tokens live about five minutes and a call
/// may wait nine (a cold relay at GitHub's limits), so a token asked for
/// once would expire under a waiting caller.
pub struct Runner<'a> {
    /// The proxies and roots the calls connect with.
    pub net: &'a crate::net::Settings,
    pub audience: &'a str,
    /// Told each token, so the runner masks it in the job's log.
    pub mask: &'a dyn Fn(&str),
}

impl Runner<'_> {
    async fn token(&self) -> Result<Zeroizing<String>, ClientError> {
        let token = oidc_token(self.net, self.audience).await?;
        (self.mask)(&token);
        Ok(token)
    }
}

/// The relay's answer: its JSON on 2xx, else the refusal's message. A
/// busy answer (429 or 503 with `Retry-After`) is asked again after the
/// wait it names, with a new token, while the wait fits in
/// [`CALL_DEADLINE`]. `body` makes the request's JSON from the token
/// (none: the token goes as `Authorization: Bearer`).
async fn call(
    base: &str,
    path: &str,
    method: &'static str,
    runner: &Runner<'_>,
    body: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Value, ClientError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let start = std::time::Instant::now();
    loop {
        let token = runner.token().await?;
        let json = body(&token);
        let again = Request {
            net: runner.net,
            method,
            url: &url,
            auth: json.is_none().then_some(("Bearer", token.as_str())),
            json,
        };
        let left = CALL_DEADLINE.saturating_sub(start.elapsed());
        let (status, v) = call_once(base, again, left.min(Duration::from_secs(60))).await?;
        let wait = v["retry_after"].as_u64().map(Duration::from_secs);
        match wait {
            Some(w) if matches!(status, 429 | 503) && start.elapsed() + w < CALL_DEADLINE => {
                tokio::time::sleep(w).await;
            }
            _ => return answer(status, v),
        }
    }
}

async fn call_once(
    base: &str,
    r: Request<'_>,
    timeout: Duration,
) -> Result<(u16, Value), ClientError> {
    let (status, body) =
        send(r, 4 * 1024 * 1024, timeout)
            .await
            .map_err(|why| ClientError::Unreachable {
                url: base.to_string(),
                why,
            })?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

fn answer(status: u16, v: Value) -> Result<Value, ClientError> {
    if (200..300).contains(&status) {
        return Ok(v);
    }
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no reason given")
        .chars()
        .take(500)
        .collect();
    Err(ClientError::Refused { status, message })
}

/// `GET /schema`: the schema path, the schema, and whether its `format`s
/// are asserted (the manager's `schema_formats:`; a relay that does not
/// say is an older one, whose managers asserted them).
pub async fn schema(
    base: &str,
    runner: &Runner<'_>,
) -> Result<(String, Vec<u8>, crate::config::schema_formats::FormatMode), ClientError> {
    let v = call(base, "/schema", "GET", runner, |_| None).await?;
    let path = v["schema_path"].as_str().unwrap_or("schema").to_string();
    let schema = serde_json::to_vec(&v["schema"]).unwrap_or_default();
    let formats = match v.get("schema_formats") {
        None | Some(Value::Null) => Default::default(),
        Some(f) => serde_json::from_value(f.clone()).map_err(|_| ClientError::Refused {
            status: 200,
            message: format!(
                "the relay answered `schema_formats: {}`, which this fleetform does not know (assert or annotate); use the fleetform release the relay runs",
                crate::util::text::shown(&f.to_string())
            ),
        })?,
    };
    Ok((path, schema, formats))
}

/// `POST /dispatch`: the relay's answer (`dispatched`: what it sent).
/// `comment` is a comment command's comment id (an `issue_comment` run):
/// the relay reads the comment and the pull request's head itself.
pub async fn dispatch(
    base: &str,
    runner: &Runner<'_>,
    pr: Option<u64>,
    files: &[String],
    comment: Option<u64>,
) -> Result<Value, ClientError> {
    let body = |token: &str| {
        let mut body = json!({ "token": token, "pr": pr, "files": files });
        if let Some(id) = comment {
            // Only then: a relay older than comment commands refuses the key.
            body["comment"] = json!(id);
        }
        Some(serde_json::to_vec(&body).unwrap_or_default())
    };
    call(base, "/dispatch", "POST", runner, body).await
}
