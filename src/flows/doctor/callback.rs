//! The one-shot page and callback of GitHub's App manifest flow, on
//! 127.0.0.1 only: `/` serves a form that posts the manifest to GitHub
//! (`<server>/settings/apps/new`, or an organisation's), `/callback`
//! takes the `code` GitHub redirects the browser back with, once, when its
//! `state` is the one this run made (another state, or none, is refused
//! and the wait goes on). The server stops at the first good callback or
//! when the wait is over.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// What the page posts, and where.
pub struct Page {
    /// The form's action: GitHub's "new App" page with `?state=`.
    pub action: String,
    /// The manifest, as JSON.
    pub manifest: String,
    /// What the App is, for the page's title and button.
    pub label: String,
}

struct Shared {
    page: String,
    state: String,
    code: Mutex<Option<oneshot::Sender<String>>>,
}

/// The form page: the manifest in a hidden field, one button.
fn html(page: &Page) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fleetform: register the {label}</title></head>\n<body>\n<h1>Register the {label}</h1>\n<p>GitHub shows the App for a name and a click, then sends this browser back to fleetform, which stores its credentials.</p>\n<form action=\"{action}\" method=\"post\">\n  <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\n  <button type=\"submit\">Register the {label} on GitHub</button>\n</form>\n</body></html>\n",
        label = escape(&page.label),
        action = escape(&page.action),
        manifest = escape(&page.manifest),
    )
}

use crate::report::app_manifests::html_escape as escape;

async fn form(State(s): State<Arc<Shared>>) -> Html<String> {
    Html(s.page.clone())
}

async fn callback(State(s): State<Arc<Shared>>, uri: Uri) -> (StatusCode, &'static str) {
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(code), Some(state)) = (get("code"), get("state")) else {
        return (
            StatusCode::BAD_REQUEST,
            "no code and state: start again from fleetform's page",
        );
    };
    let good_code = !code.is_empty()
        && code.len() <= 256
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if state != s.state || !good_code {
        return (
            StatusCode::BAD_REQUEST,
            "not the registration fleetform started: start again from fleetform's page",
        );
    }
    match s.code.lock().ok().and_then(|mut c| c.take()) {
        Some(tx) => {
            let _ = tx.send(code);
            (
                StatusCode::OK,
                "fleetform has the App and is storing its credentials: you may close this page",
            )
        }
        None => (StatusCode::GONE, "fleetform already has the App"),
    }
}

/// A listener on 127.0.0.1, on a port the system picks.
pub async fn listen() -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| Error::failed(format!("listening on 127.0.0.1: {e}")))
}

/// Serves `page` on `listener` until the callback brings the code for
/// `state`, or `wait` is over.
pub async fn code(
    listener: tokio::net::TcpListener,
    page: &Page,
    state: &str,
    wait: Duration,
) -> Result<String> {
    let (tx, rx) = oneshot::channel();
    let shared = Arc::new(Shared {
        page: html(page),
        state: state.to_string(),
        code: Mutex::new(Some(tx)),
    });
    let app = Router::new()
        .route("/", get(form))
        .route("/callback", get(callback))
        .with_state(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let got = tokio::time::timeout(wait, rx).await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    match got {
        Ok(Ok(code)) => Ok(code),
        _ => Err(Error::failed(format!(
            "GitHub did not send the browser back within {} minutes: nothing was registered here; run again (an App GitHub made meanwhile is in the account's Developer settings: delete it, or its code expires in an hour)",
            wait.as_secs().div_ceil(60)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_the_manifest_and_the_action() {
        let page = html(&Page {
            action: "https://github.com/settings/apps/new?state=a&b".into(),
            manifest: r#"{"name":"x\"<y>"}"#.into(),
            label: "customer App".into(),
        });
        assert!(page.contains("action=\"https://github.com/settings/apps/new?state=a&amp;b\""));
        assert!(page.contains("value=\"{&quot;name&quot;:&quot;x\\&quot;&lt;y&gt;&quot;}\""));
    }
}
