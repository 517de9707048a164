//! Tests of the fake GitHub server itself (tests/support/fake_github): raw
//! HTTP requests through a tiny client, plus octocrab's typed API, checking
//! state changes, validation against GitHub's OpenAPI description,
//! pagination, faults and the GHES-style prefix.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};
use support::fake_github::FakeGitHub;

pub(crate) const REPO: &str = "acme/app";

// ----- a tiny HTTP/1.1 client -----

/// The API version header every request carries, as GitHub documents.
pub(crate) const VERSION: &str = "x-github-api-version: 2022-11-28";

#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response from `stream` (body by `content-length`).
pub(crate) fn read_response(stream: &mut TcpStream) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Send raw bytes on a fresh connection and read one response.
pub(crate) fn send_raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Resp> {
    let mut stream = connect(addr);
    stream.write_all(bytes)?;
    read_response(&mut stream)
}

pub(crate) fn request_bytes(
    method: &str,
    target: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nhost: localhost\r\nuser-agent: selftest\r\naccept: application/vnd.github+json\r\n{VERSION}\r\n");
    if let Some(auth) = auth {
        text.push_str(&format!("authorization: {auth}\r\n"));
    }
    if let Some(body) = body {
        text.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("connection: close\r\n\r\n");
    text.push_str(body.unwrap_or_default());
    text.into_bytes()
}

/// A `repository_dispatch` of event `x` to acme/app: the status.
pub(crate) fn dispatch_x(gh: &FakeGitHub) -> u16 {
    call(
        gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some(serde_json::json!({ "event_type": "x" })),
    )
    .status
}

/// An authenticated request; `path` is relative to the API root.
pub(crate) fn call(gh: &FakeGitHub, method: &str, path: &str, body: Option<Value>) -> Resp {
    let body = body.map(|b| b.to_string());
    call_text(gh, method, path, body.as_deref())
}

fn call_text(gh: &FakeGitHub, method: &str, path: &str, body: Option<&str>) -> Resp {
    let prefix = gh
        .api_url()
        .trim_start_matches(&format!("http://{}", gh.addr()))
        .to_string();
    let auth = format!("Bearer {}", gh.token());
    let bytes = request_bytes(method, &format!("{prefix}{path}"), Some(&auth), body);
    send_raw(gh.addr(), &bytes).expect("a response")
}

pub(crate) fn get(gh: &FakeGitHub, path: &str) -> Resp {
    call(gh, "GET", path, None)
}

pub(crate) fn violation_messages(gh: &FakeGitHub) -> Vec<String> {
    gh.take_violations()
        .into_iter()
        .map(|v| v.to_string())
        .collect()
}

/// A fake with `acme/app` holding a few files on `main`.
pub(crate) fn seeded() -> (FakeGitHub, String) {
    let gh = FakeGitHub::start();
    gh.add_repo(REPO);
    let sha = gh.commit(
        REPO,
        "main",
        &[
            ("README.md", "# app\n"),
            ("infra/variables.yml", "max_instances: 2\n"),
            ("infra/envs/staging.yml", "region: eu-west-1\n"),
        ],
    );
    (gh, sha)
}

// ----- repositories, auth, routing -----

#[test]
fn repository_is_served_and_missing_ones_are_404() {
    let (gh, _) = seeded();
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(resp.status, 200);
    let repo = resp.json();
    assert_eq!(repo["full_name"], "acme/app");
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["owner"]["login"], "acme");
    assert!(resp.header("x-ratelimit-remaining").is_some());
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    let resp = get(&gh, "/repos/acme/nope");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["message"], "Not Found");
    gh.remove_repo(REPO);
    assert_eq!(get(&gh, "/repos/acme/app").status, 404);
    gh.assert_clean();
}

#[test]
fn authentication_is_required() {
    let (mut gh, _) = seeded();
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", None, None),
    )
    .unwrap();
    assert_eq!(resp.status, 401);
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some("Bearer wrong"), None),
    )
    .unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["message"], "Bad credentials");
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("without an Authorization header"));

    // `token <token>` is accepted as well as `Bearer <token>`.
    gh.set_token("ghp_other");
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some("token ghp_other"), None),
    )
    .unwrap();
    assert_eq!(resp.status, 200);

    gh.allow_anonymous();
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", None, None),
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    gh.assert_clean();
}

/// Requests must carry the headers GitHub documents: a GitHub media type
/// in `Accept` and one supported `X-GitHub-Api-Version`.
#[test]
fn documented_api_headers_are_required() {
    let (gh, _) = seeded();
    let auth = format!("authorization: Bearer {}", gh.token());
    let raw = |headers: &str| {
        let text = format!(
            "GET /repos/acme/app HTTP/1.1\r\nhost: x\r\n{auth}\r\n{headers}connection: close\r\n\r\n"
        );
        send_raw(gh.addr(), text.as_bytes()).unwrap()
    };
    let accept = "accept: application/vnd.github+json\r\n";
    let version = format!("{VERSION}\r\n");

    // Both present: clean.
    assert_eq!(raw(&format!("{accept}{version}")).status, 200);
    gh.assert_clean();

    // Missing ones are answered (GitHub has defaults) but are violations.
    assert_eq!(raw(&version).status, 200);
    assert_eq!(raw(accept).status, 200);
    assert_eq!(raw(&format!("accept: text/html\r\n{version}")).status, 200);
    assert_eq!(raw(&format!("{accept}{version}{version}")).status, 200);
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(
        messages[0].contains("without an Accept header"),
        "{messages:#?}"
    );
    assert!(
        messages[1].contains("without X-GitHub-Api-Version"),
        "{messages:#?}"
    );
    assert!(
        messages[2].contains("without an Accept header"),
        "{messages:#?}"
    );
    assert!(messages[3].contains("sent 2 times"), "{messages:#?}");

    // An unsupported version is refused, as GitHub does.
    let resp = raw(&format!("{accept}x-github-api-version: 2001-01-01\r\n"));
    assert_eq!(resp.status, 400);
    assert!(resp.json()["message"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 1, "{messages:#?}");

    // Other media types GitHub documents pass.
    assert_eq!(
        raw(&format!(
            "accept: application/vnd.github.raw+json\r\n{version}"
        ))
        .status,
        200
    );
    // The check can be turned off for clients that do not send them.
    gh.check_api_headers(false);
    assert_eq!(raw("").status, 200);
    gh.assert_clean();
}

#[test]
fn unknown_routes_and_methods_are_violations() {
    let (gh, _) = seeded();
    assert_eq!(get(&gh, "/repos/acme/app/frobnicate").status, 404);
    assert_eq!(call(&gh, "DELETE", "/repos/acme/app", None).status, 404);
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].contains("no such route"), "{}", messages[0]);
    assert!(messages[1].contains("allowed: GET"), "{}", messages[1]);
    let log = gh.requests();
    assert_eq!(log[1].method, "DELETE");
    assert_eq!(log[1].status, 404);
    assert_eq!(log[1].operation, None);
}

#[test]
fn request_bodies_are_validated_against_the_schema() {
    let (gh, _) = seeded();
    // Missing required `event_type`.
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some(json!({ "client_payload": {} })),
    );
    assert_eq!(resp.status, 422);
    // client_payload has at most 10 top-level keys.
    let payload: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!(i))).collect();
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some(json!({ "event_type": "plan", "client_payload": payload })),
    );
    assert_eq!(resp.status, 422);
    // Wrong enum value.
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{}", "0".repeat(40)),
        Some(json!({ "state": "green" })),
    );
    assert_eq!(resp.status, 422);
    // Not JSON.
    let resp = call_text(
        &gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some("event_type=plan"),
    );
    assert_eq!(resp.status, 400);
    // A body on GET; a missing required body.
    assert_eq!(
        call_text(&gh, "GET", "/repos/acme/app", Some("{}")).status,
        400
    );
    assert_eq!(
        call_text(&gh, "POST", "/repos/acme/app/dispatches", None).status,
        422
    );
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 6, "{messages:#?}");
    assert!(messages[0].contains("event_type"), "{}", messages[0]);
    assert!(messages[1].contains("/client_payload"), "{}", messages[1]);
    assert!(messages[2].contains("/state"), "{}", messages[2]);
    assert!(messages[3].contains("not JSON"), "{}", messages[3]);
    assert!(messages[4].contains("carries a body"), "{}", messages[4]);
    assert!(messages[5].contains("missing required JSON request body"));
    assert!(gh.dispatches(REPO).is_empty());
}

#[test]
fn query_and_path_parameters_are_validated() {
    let (gh, _) = seeded();
    let number = gh.open_issue(REPO, "bug", "body");
    assert_eq!(
        get(
            &gh,
            &format!("/repos/acme/app/issues/{number}/comments?per_page=5")
        )
        .status,
        200
    );
    assert_eq!(
        get(&gh, "/repos/acme/app/issues/1/comments?perpage=5").status,
        422
    );
    assert_eq!(
        get(&gh, "/repos/acme/app/issues/1/comments?per_page=lots").status,
        422
    );
    assert_eq!(get(&gh, "/repos/acme/app/issues?state=opened").status, 422);
    assert_eq!(get(&gh, "/repos/acme/app/issues/first").status, 404);
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("unknown query parameter `perpage`"));
    assert!(messages[1].contains("not an integer"));
    assert!(messages[2].contains("not one of"));
    assert!(messages[3].contains("issue_number"));
}

#[test]
fn dropping_with_violations_fails_the_test() {
    let result = std::panic::catch_unwind(|| {
        let (gh, _) = seeded();
        get(&gh, "/nope");
    });
    let err = result.expect_err("drop panics");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("GET /nope: no such route"), "{text}");

    let result = std::panic::catch_unwind(|| {
        let (gh, _) = seeded();
        get(&gh, "/nope");
        gh.assert_clean();
    });
    assert!(result.is_err());
}

/// A request with `token`; `path` is relative to the API root.
fn with_token(gh: &FakeGitHub, token: &str, method: &str, path: &str) -> Resp {
    let auth = format!("Bearer {token}");
    send_raw(gh.addr(), &request_bytes(method, path, Some(&auth), None)).unwrap()
}

/// An installation token calls only what its permissions allow, as on
/// github.com (`tests/support/fake_github/permissions.rs`): reading a
/// pull request with a `statuses: write` token is answered 403 and
/// recorded as a violation; with `pull_requests: read` it is served; any
/// one of an endpoint's permissions suffices (a file through `contents` or
/// `single_file`, a PR comment through `issues` or `pull_requests`), and
/// every installation token may read the repository's metadata.
#[test]
fn an_installation_token_calls_only_what_its_permissions_allow() {
    let (gh, _) = seeded();
    let pr = gh.open_pr(REPO, "main", "main", "a change");
    gh.register_app(91, &crate::relay::serve::pem());
    let inst = gh.install_app(91, "acme", &[REPO]);
    let mint = |permissions: Value| gh.mint_token(91, inst, &[REPO], permissions);
    let pull = format!("/repos/acme/app/pulls/{pr}");
    let comments = format!("/repos/acme/app/issues/{pr}/comments");

    let statuses = mint(json!({ "statuses": "write" }));
    let refused = with_token(&gh, &statuses, "GET", &pull);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        refused.json()["message"],
        "Resource not accessible by integration"
    );
    let repo = with_token(&gh, &statuses, "GET", "/repos/acme/app");
    assert_eq!(repo.status, 200, "metadata: read: {}", repo.body);
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("GET /repos/{owner}/{repo}/pulls/{pull_number}")
            && messages[0].contains("needs pull_requests: read"),
        "{}",
        messages[0]
    );

    let pulls = mint(json!({ "pull_requests": "read" }));
    assert_eq!(with_token(&gh, &pulls, "GET", &pull).status, 200);
    assert_eq!(with_token(&gh, &pulls, "GET", &comments).status, 200);
    for file_reader in [
        json!({ "contents": "read" }),
        json!({ "single_file": "read" }),
    ] {
        let token = mint(file_reader);
        let file = with_token(&gh, &token, "GET", "/repos/acme/app/contents/README.md");
        assert_eq!(file.status, 200, "{}", file.body);
    }
    let issues = mint(json!({ "issues": "read" }));
    assert_eq!(with_token(&gh, &issues, "GET", &comments).status, 200);
    let status = "/repos/acme/app/statuses/0123456789012345678901234567890123456789";
    assert_eq!(with_token(&gh, &issues, "POST", status).status, 403);
    assert_eq!(violation_messages(&gh).len(), 1);
    gh.assert_clean();
}

/// A write of a workflow file needs Workflows (write) besides Contents
/// (write): the OpenAPI description of "Create or update file contents"
/// and "Permissions required for GitHub Apps" (`permissions::check_path`).
/// Contents (write) writes any other file (the Apps page lists it beside
/// the map's retired "Single file").
#[test]
fn writing_a_workflow_file_needs_workflows_write() {
    let (gh, _) = seeded();
    gh.register_app(92, &crate::relay::serve::pem());
    let inst = gh.install_app(92, "acme", &[REPO]);
    let put = |token: &str, path: &str| {
        let auth = format!("Bearer {token}");
        let body = r#"{"message":"sync","content":"eDogMQo=","branch":"main"}"#;
        send_raw(
            gh.addr(),
            &request_bytes("PUT", path, Some(&auth), Some(body)),
        )
        .unwrap()
    };
    let contents = gh.mint_token(92, inst, &[REPO], json!({ "contents": "write" }));
    let plain = put(&contents, "/repos/acme/app/contents/docs%2Fnote.md");
    assert!(plain.status < 300, "{}", plain.body);
    let refused = put(
        &contents,
        "/repos/acme/app/contents/.github%2Fworkflows%2Fci.yml",
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let messages = violation_messages(&gh);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("needs workflows: write"),
        "{}",
        messages[0]
    );
    let both = gh.mint_token(
        92,
        inst,
        &[REPO],
        json!({ "contents": "write", "workflows": "write" }),
    );
    let written = put(
        &both,
        "/repos/acme/app/contents/.github%2Fworkflows%2Fci.yml",
    );
    assert!(written.status < 300, "{}", written.body);
    gh.assert_clean();
}
