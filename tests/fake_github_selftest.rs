//! Tests of the fake GitHub server itself (tests/support/fake_github): raw
//! HTTP requests through a tiny client, plus octocrab's typed API, checking
//! state changes, validation against GitHub's OpenAPI description,
//! pagination, faults and the GHES-style prefix.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use support::fake_github::{FakeGitHub, Fault};

const REPO: &str = "acme/app";

// ----- a tiny HTTP/1.1 client -----

/// The API version header every request carries, as GitHub documents.
const VERSION: &str = "x-github-api-version: 2022-11-28";

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one response from `stream` (body by `content-length`).
fn read_response(stream: &mut TcpStream) -> std::io::Result<Resp> {
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

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Send raw bytes on a fresh connection and read one response.
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Resp> {
    let mut stream = connect(addr);
    stream.write_all(bytes)?;
    read_response(&mut stream)
}

fn request_bytes(method: &str, target: &str, auth: Option<&str>, body: Option<&str>) -> Vec<u8> {
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

/// An authenticated request; `path` is relative to the API root.
fn call(gh: &FakeGitHub, method: &str, path: &str, body: Option<Value>) -> Resp {
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

fn get(gh: &FakeGitHub, path: &str) -> Resp {
    call(gh, "GET", path, None)
}

fn violation_messages(gh: &FakeGitHub) -> Vec<String> {
    gh.take_violations()
        .into_iter()
        .map(|v| v.to_string())
        .collect()
}

/// A fake with `acme/app` holding a few files on `main`.
fn seeded() -> (FakeGitHub, String) {
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

// ----- contents, refs, branches -----

#[test]
fn contents_are_served_base64_at_any_ref() {
    let (gh, first) = seeded();
    let second = gh.commit(
        REPO,
        "main",
        &[("infra/variables.yml", "max_instances: 3\n")],
    );
    gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 9\n")],
    );

    let decode = |resp: &Resp| {
        let v = resp.json();
        assert_eq!(v["type"], "file");
        assert_eq!(v["encoding"], "base64");
        let text = v["content"].as_str().unwrap().replace('\n', "");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        )
        .unwrap()
    };
    // Default branch, both spellings of the path.
    let plain = get(&gh, "/repos/acme/app/contents/infra/variables.yml");
    assert_eq!(plain.status, 200);
    assert_eq!(decode(&plain), "max_instances: 3\n");
    let escaped = get(&gh, "/repos/acme/app/contents/infra%2Fvariables.yml");
    assert_eq!(decode(&escaped), "max_instances: 3\n");
    let v = plain.json();
    assert_eq!(v["path"], "infra/variables.yml");
    assert_eq!(v["name"], "variables.yml");
    assert_eq!(v["size"], 17);
    assert_eq!(v["sha"].as_str().unwrap().len(), 40);
    // Branch, full SHA, short SHA.
    let at = |r: &str| {
        decode(&get(
            &gh,
            &format!("/repos/acme/app/contents/infra/variables.yml?ref={r}"),
        ))
    };
    assert_eq!(at("feature"), "max_instances: 9\n");
    assert_eq!(at(&first), "max_instances: 2\n");
    assert_eq!(at(&second[..7]), "max_instances: 3\n");
    assert_eq!(at("refs/heads/feature"), "max_instances: 9\n");
    // GitHub wraps base64 at 60 characters.
    let long = "x".repeat(100);
    gh.commit(REPO, "main", &[("long.txt", &long)]);
    let v = get(&gh, "/repos/acme/app/contents/long.txt").json();
    let content = v["content"].as_str().unwrap();
    assert!(content.lines().all(|l| l.len() <= 60) && content.ends_with('\n'));

    // The raw media type gives the bytes.
    let auth = format!("Bearer {}", gh.token());
    let raw = format!("GET /repos/acme/app/contents/infra/variables.yml?ref=feature HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github.raw+json\r\n{VERSION}\r\nconnection: close\r\n\r\n");
    let resp = send_raw(gh.addr(), raw.as_bytes()).unwrap();
    assert_eq!(
        (resp.status, resp.body.as_str()),
        (200, "max_instances: 9\n")
    );
    assert!(resp
        .header("content-type")
        .unwrap()
        .starts_with("application/vnd.github.raw"));

    // Missing file, unknown ref, directory listing.
    let missing = get(&gh, "/repos/acme/app/contents/nope.yml");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "Not Found");
    assert_eq!(
        get(&gh, "/repos/acme/app/contents/README.md?ref=nope").status,
        404
    );
    let dir = get(&gh, "/repos/acme/app/contents/infra").json();
    let names: Vec<(&str, &str)> = dir
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("envs", "dir"), ("variables.yml", "file")]);

    assert_eq!(
        gh.file_at(REPO, &first, "infra/variables.yml").as_deref(),
        Some("max_instances: 2\n")
    );
    assert_eq!(
        gh.file_at(REPO, "feature", "README.md").as_deref(),
        Some("# app\n")
    );
    assert_eq!(gh.file_at(REPO, "main", "nope"), None);
    let removed = gh.remove_files(REPO, "main", &["README.md"]);
    assert_eq!(gh.file_at(REPO, &removed, "README.md"), None);
    assert_eq!(gh.files_at(REPO, &removed).len(), 3);
    gh.assert_clean();
}

#[test]
fn file_contents_are_created_and_updated_like_github() {
    let (gh, _) = seeded();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let path = "/repos/acme/app/contents/infra/new.yml";
    let resp = call(
        &gh,
        "PUT",
        path,
        Some(json!({ "message": "add", "content": b64("a: 1\n") })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let created = resp.json();
    let blob = created["content"]["sha"].as_str().unwrap().to_string();
    let commit = created["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(
        gh.branch_head(REPO, "main").as_deref(),
        Some(commit.as_str())
    );
    assert_eq!(
        gh.file_at(REPO, "main", "infra/new.yml").as_deref(),
        Some("a: 1\n")
    );

    // Updating needs the current blob SHA.
    let update = |sha: Option<&str>| {
        let mut body = json!({ "message": "change", "content": b64("a: 2\n"), "branch": "main" });
        if let Some(sha) = sha {
            body["sha"] = json!(sha);
        }
        call(&gh, "PUT", path, Some(body))
    };
    assert_eq!(update(None).status, 422);
    assert_eq!(update(Some(&"0".repeat(40))).status, 409);
    let resp = update(Some(&blob));
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["commit"]["parents"][0]["sha"], commit);
    assert_eq!(
        gh.file_at(REPO, "main", "infra/new.yml").as_deref(),
        Some("a: 2\n")
    );
    assert_eq!(
        gh.file_at(REPO, &commit, "infra/new.yml").as_deref(),
        Some("a: 1\n")
    );

    // Other branch; unknown branch.
    gh.create_branch(REPO, "feature", "main");
    let resp = call(
        &gh,
        "PUT",
        "/repos/acme/app/contents/x.txt",
        Some(json!({ "message": "m", "content": b64("x"), "branch": "feature" })),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(gh.file_at(REPO, "feature", "x.txt").as_deref(), Some("x"));
    assert_eq!(gh.file_at(REPO, "main", "x.txt"), None);
    let resp = call(
        &gh,
        "PUT",
        "/repos/acme/app/contents/x.txt",
        Some(json!({ "message": "m", "content": b64("x"), "branch": "nope" })),
    );
    assert_eq!(resp.status, 404);
    gh.assert_clean();
}

#[test]
fn git_refs_and_branches() {
    let (gh, main) = seeded();
    let resp = get(&gh, "/repos/acme/app/git/ref/heads/main");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["ref"], "refs/heads/main");
    assert_eq!(resp.json()["object"]["sha"], main.as_str());
    assert_eq!(get(&gh, "/repos/acme/app/git/ref/heads/nope").status, 404);

    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "refs/heads/fleetform/update", "sha": main })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(
        gh.branch_head(REPO, "fleetform/update").as_deref(),
        Some(main.as_str())
    );
    let again = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "refs/heads/fleetform/update", "sha": main })),
    );
    assert_eq!(again.status, 422);
    assert_eq!(again.json()["message"], "Reference already exists");
    let bad = call(
        &gh,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({ "ref": "fleetform", "sha": main })),
    );
    assert_eq!(bad.status, 422);

    // Fast-forward only, unless forced.
    let ahead = gh.commit(REPO, "other", &[("a", "1")]);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": ahead })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    let behind = gh.commit(REPO, "main", &[("b", "2")]);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": behind })),
    );
    assert_eq!(resp.status, 422);
    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/git/refs/heads/fleetform/update",
        Some(json!({ "sha": behind, "force": true })),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(
        gh.branch_head(REPO, "fleetform/update").as_deref(),
        Some(behind.as_str())
    );

    let branch = get(&gh, "/repos/acme/app/branches/fleetform/update");
    assert_eq!(branch.status, 200);
    assert_eq!(branch.json()["commit"]["sha"], behind.as_str());
    assert_eq!(get(&gh, "/repos/acme/app/branches/nope").status, 404);
    gh.assert_clean();
}

// ----- statuses -----

#[test]
fn statuses_and_combined_state() {
    let (gh, sha) = seeded();
    assert_eq!(gh.combined_state(REPO, &sha), "pending");
    let combined = get(&gh, &format!("/repos/acme/app/commits/{sha}/status")).json();
    assert_eq!(
        (combined["state"].as_str(), combined["total_count"].as_u64()),
        (Some("pending"), Some(0))
    );

    let post = |state: &str, context: &str| {
        let body = json!({ "state": state, "context": context, "description": format!("{context} is {state}"), "target_url": "https://ci.example.com/1" });
        call(
            &gh,
            "POST",
            &format!("/repos/acme/app/statuses/{sha}"),
            Some(body),
        )
    };
    let resp = post("pending", "fleetform/staging");
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.json()["creator"]["login"], "fleetform-bot");
    post("success", "fleetform/staging");
    post("success", "fleetform/production");
    assert_eq!(gh.combined_state(REPO, &sha), "success");
    post("pending", "fleetform/production");
    assert_eq!(gh.combined_state(REPO, &sha), "pending");
    post("error", "fleetform/staging");
    assert_eq!(gh.combined_state(REPO, &sha), "failure");

    let statuses = gh.statuses(REPO, &sha);
    assert_eq!(statuses.len(), 5);
    assert_eq!(statuses[0].state, "pending");
    assert_eq!(
        statuses[0].description.as_deref(),
        Some("fleetform/staging is pending")
    );
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some("https://ci.example.com/1")
    );
    // By branch name too.
    assert_eq!(gh.statuses(REPO, "main").len(), 5);

    let combined = get(&gh, "/repos/acme/app/commits/main/status").json();
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], sha.as_str());
    let list = get(&gh, &format!("/repos/acme/app/commits/{sha}/statuses")).json();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(list[0]["state"], "error", "newest first");

    // GitHub's own limits: an existing commit, a description of 140 characters.
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{}", "a".repeat(40)),
        Some(json!({ "state": "success" })),
    );
    assert_eq!(resp.status, 422);
    let long = json!({ "state": "success", "description": "d".repeat(141) });
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{sha}"),
        Some(long),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(gh.statuses(REPO, &sha).len(), 5);
    gh.assert_clean();
}

// ----- comments and pagination -----

#[test]
fn comments_are_created_listed_paginated_and_updated() {
    let (gh, _) = seeded();
    gh.commit(REPO, "feature", &[("a", "1")]);
    let pr = gh.open_pr(REPO, "feature", "main", "Feature");
    gh.set_comment_page_size(2);
    let mut ids = Vec::new();
    for i in 0..5 {
        let resp = call(
            &gh,
            "POST",
            &format!("/repos/acme/app/issues/{pr}/comments"),
            Some(json!({ "body": format!("comment {i}") })),
        );
        assert_eq!(resp.status, 201, "{}", resp.body);
        let v = resp.json();
        assert_eq!(v["user"]["login"], "fleetform-bot");
        assert!(resp
            .header("location")
            .unwrap()
            .ends_with(&format!("/issues/comments/{}", v["id"])));
        ids.push(v["id"].as_u64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    let first = get(&gh, &format!("/repos/acme/app/issues/{pr}/comments"));
    assert_eq!(first.json().as_array().unwrap().len(), 2);
    let link = first.header("link").expect("a Link header");
    let base = format!("{}/repos/acme/app/issues/{pr}/comments", gh.api_url());
    assert!(
        link.contains(&format!("<{base}?page=2>; rel=\"next\"")),
        "{link}"
    );
    assert!(
        link.contains(&format!("<{base}?page=3>; rel=\"last\"")),
        "{link}"
    );
    let last = get(&gh, &format!("/repos/acme/app/issues/{pr}/comments?page=3"));
    assert_eq!(last.json()[0]["body"], "comment 4");
    let link = last.header("link").unwrap();
    assert!(
        link.contains("rel=\"prev\"")
            && link.contains("rel=\"first\"")
            && !link.contains("rel=\"next\"")
    );
    // per_page wins over the default page size, up to the maximum.
    let all = get(
        &gh,
        &format!("/repos/acme/app/issues/{pr}/comments?per_page=100"),
    );
    assert_eq!(all.json().as_array().unwrap().len(), 5);
    assert!(all.header("link").is_none());
    gh.set_max_page_size(3);
    let capped = get(
        &gh,
        &format!("/repos/acme/app/issues/{pr}/comments?per_page=100&page=2"),
    );
    assert_eq!(capped.json().as_array().unwrap().len(), 2);
    assert!(capped
        .header("link")
        .unwrap()
        .contains("per_page=100&page=1>; rel=\"prev\""));

    let resp = call(
        &gh,
        "PATCH",
        &format!("/repos/acme/app/issues/comments/{}", ids[1]),
        Some(json!({ "body": "edited" })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["body"], "edited");
    let comments = gh.comments(REPO, pr);
    assert_eq!(comments.len(), 5);
    assert_eq!(
        (
            comments[1].id,
            comments[1].body.as_str(),
            comments[1].user.as_str()
        ),
        (ids[1], "edited", "fleetform-bot")
    );

    assert_eq!(
        call(
            &gh,
            "PATCH",
            "/repos/acme/app/issues/comments/999999",
            Some(json!({ "body": "x" }))
        )
        .status,
        404
    );
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/issues/99/comments",
            Some(json!({ "body": "x" }))
        )
        .status,
        404
    );
    let huge = json!({ "body": "x".repeat(65_537) });
    assert_eq!(
        call(
            &gh,
            "POST",
            &format!("/repos/acme/app/issues/{pr}/comments"),
            Some(huge)
        )
        .status,
        422
    );

    gh.set_bot_login("fleetform[bot]");
    let v = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/issues/{pr}/comments"),
        Some(json!({ "body": "as app" })),
    )
    .json();
    assert_eq!(
        (v["user"]["login"].as_str(), v["user"]["type"].as_str()),
        (Some("fleetform[bot]"), Some("Bot"))
    );
    let seeded_id = gh.add_comment(REPO, pr, "octocat", "hello");
    assert_eq!(gh.comments(REPO, pr).last().unwrap().id, seeded_id);
    gh.assert_clean();
}

// ----- issues and pull requests -----

#[test]
fn issues_share_numbers_with_pull_requests() {
    let (gh, _) = seeded();
    gh.commit(REPO, "feature", &[("a", "1")]);
    let pr = gh.open_pr(REPO, "feature", "main", "A PR");
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/issues",
        Some(
            json!({ "title": "Drift in staging", "body": "details", "labels": ["drift", { "name": "fleetform" }] }),
        ),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let issue = resp.json();
    assert_eq!(issue["number"], pr + 1);
    assert_eq!(issue["labels"][1]["name"], "fleetform");
    gh.open_issue(REPO, "Other", "body");

    let list = |query: &str| -> Vec<u64> {
        get(&gh, &format!("/repos/acme/app/issues{query}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(list(""), [3, 2, 1], "newest first, pull requests included");
    assert_eq!(list("?labels=drift,fleetform"), [2]);
    assert_eq!(list("?labels=drift,other"), Vec::<u64>::new());
    assert_eq!(list("?direction=asc"), [1, 2, 3]);
    let with_pr = get(&gh, "/repos/acme/app/issues?direction=asc").json();
    assert!(with_pr[0]["pull_request"]["url"].is_string());
    assert!(with_pr[1].get("pull_request").is_none());

    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/issues/2",
        Some(json!({ "state": "closed", "labels": ["drift"] })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["state_reason"], "completed");
    assert_eq!(list(""), [3, 1]);
    assert_eq!(list("?state=closed"), [2]);
    assert_eq!(list("?state=all&labels=drift"), [2]);
    assert!(get(&gh, "/repos/acme/app/issues/2").json()["closed_at"].is_string());
    assert_eq!(get(&gh, "/repos/acme/app/issues/9").status, 404);

    let issues = gh.issues(REPO);
    assert_eq!(issues.len(), 2);
    assert_eq!(
        (issues[0].state.as_str(), issues[0].labels.clone()),
        ("closed", vec!["drift".to_string()])
    );
    assert!(gh.issue(REPO, pr).unwrap().is_pull_request);
    gh.add_label(REPO, pr, "plan");
    gh.add_label(REPO, pr, "plan");
    assert_eq!(gh.pull(REPO, pr).unwrap().labels, ["plan"]);
    gh.remove_label(REPO, pr, "plan");
    assert!(gh.pull(REPO, pr).unwrap().labels.is_empty());
    gh.assert_clean();
}

#[test]
fn pull_requests_are_created_listed_and_updated() {
    let (gh, main) = seeded();
    let head = gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 5\n")],
    );
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "Bump", "head": "feature", "base": "main", "body": "why" })),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let pr = resp.json();
    assert_eq!(
        (
            pr["number"].as_u64(),
            pr["head"]["sha"].as_str(),
            pr["base"]["sha"].as_str()
        ),
        (Some(1), Some(head.as_str()), Some(main.as_str()))
    );
    assert_eq!(pr["head"]["ref"], "feature");
    assert_eq!(
        (pr["changed_files"].as_u64(), pr["commits"].as_u64()),
        (Some(1), Some(1))
    );

    // GitHub's refusals.
    let again = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "Bump", "head": "acme:feature", "base": "main" })),
    );
    assert_eq!(again.status, 422);
    assert!(
        again
            .body
            .contains("A pull request already exists for acme:feature."),
        "{}",
        again.body
    );
    gh.create_branch(REPO, "same", "main");
    let empty = call(
        &gh,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({ "title": "x", "head": "same", "base": "main" })),
    );
    assert!(
        empty.body.contains("No commits between main and same"),
        "{}",
        empty.body
    );
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/pulls",
            Some(json!({ "title": "x", "head": "nope", "base": "main" }))
        )
        .status,
        422
    );

    // The head follows its branch.
    let newer = gh.commit(REPO, "feature", &[("b", "2")]);
    assert_eq!(
        get(&gh, "/repos/acme/app/pulls/1").json()["head"]["sha"],
        newer.as_str()
    );
    assert_eq!(get(&gh, "/repos/acme/app/pulls/9").status, 404);

    gh.commit(REPO, "other", &[("c", "3")]);
    let second = gh.open_pr(REPO, "other", "main", "Other");
    let numbers = |query: &str| -> Vec<u64> {
        get(&gh, &format!("/repos/acme/app/pulls{query}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers(""), [second, 1]);
    assert_eq!(numbers("?head=acme:feature"), [1]);
    assert_eq!(
        numbers("?head=feature"),
        [second, 1],
        "GitHub ignores a head without owner"
    );
    assert_eq!(numbers("?base=other"), Vec::<u64>::new());

    let resp = call(
        &gh,
        "PATCH",
        "/repos/acme/app/pulls/1",
        Some(json!({ "state": "closed", "title": "Bump!" })),
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(numbers(""), [second]);
    assert_eq!(numbers("?state=closed"), [1]);
    let pulls = gh.pulls(REPO);
    assert_eq!(
        (
            pulls[0].title.as_str(),
            pulls[0].state.as_str(),
            pulls[0].head_sha.as_str()
        ),
        ("Bump!", "closed", newer.as_str())
    );

    // Reviews.
    gh.add_review(REPO, second, "alice", "CHANGES_REQUESTED");
    gh.add_review(REPO, second, "bob", "APPROVED");
    let reviews = get(&gh, &format!("/repos/acme/app/pulls/{second}/reviews")).json();
    let states: Vec<(&str, &str)> = reviews
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"]["login"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("alice", "CHANGES_REQUESTED"), ("bob", "APPROVED")]
    );

    // Merging.
    let merge = gh.merge_pr(REPO, second);
    assert_eq!(
        gh.branch_head(REPO, "main").as_deref(),
        Some(merge.as_str())
    );
    assert_eq!(gh.file_at(REPO, "main", "c").as_deref(), Some("3"));
    let merged = get(&gh, &format!("/repos/acme/app/pulls/{second}")).json();
    assert_eq!(
        (merged["merged"].as_bool(), merged["state"].as_str()),
        (Some(true), Some("closed"))
    );
    assert_eq!(merged["merge_commit_sha"], merge.as_str());
    gh.assert_clean();
}

// ----- dispatch, archive, checks, upstream, secrets -----

#[test]
fn dispatches_are_recorded() {
    let (gh, _) = seeded();
    let body = json!({ "event_type": "fleetform-plan", "client_payload": { "repo": "acme/app", "sha": "abc" } });
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/dispatches",
        Some(body.clone()),
    );
    assert_eq!(resp.status, 204);
    assert_eq!(resp.body, "");
    // Recorded with the account the token acts as, as GitHub's event's
    // `sender` (an App's installation token: `<slug>[bot]`).
    let mut recorded = body.clone();
    recorded["sender"] = json!({ "login": gh.bot_login(), "type": "User" });
    assert_eq!(gh.dispatches(REPO), [recorded]);
    // A payload of 64 KB or more is refused, and a violation.
    let big = json!({ "event_type": "x", "client_payload": { "blob": "x".repeat(70_000) } });
    assert_eq!(
        call(&gh, "POST", "/repos/acme/app/dispatches", Some(big)).status,
        422
    );
    let messages = violation_messages(&gh);
    assert!(
        messages.len() == 1 && messages[0].contains("64 KB"),
        "{messages:#?}"
    );
    assert_eq!(gh.dispatches(REPO).len(), 1);
}

#[test]
fn archived_repositories_are_read_only() {
    let (gh, sha) = seeded();
    gh.set_archived(REPO, true);
    assert_eq!(get(&gh, "/repos/acme/app").json()["archived"], true);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 200);
    let resp = call(
        &gh,
        "POST",
        &format!("/repos/acme/app/statuses/{sha}"),
        Some(json!({ "state": "success" })),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.json()["message"],
        "Repository was archived so is read-only."
    );
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/dispatches",
            Some(json!({ "event_type": "x" }))
        )
        .status,
        403
    );
    assert!(gh.statuses(REPO, &sha).is_empty());
    gh.set_archived(REPO, false);
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/acme/app/dispatches",
            Some(json!({ "event_type": "x" }))
        )
        .status,
        204
    );
    gh.assert_clean();
}

#[test]
fn check_runs_are_recorded() {
    let (gh, sha) = seeded();
    let body = json!({ "name": "fleetform plan", "head_sha": sha, "status": "completed", "conclusion": "success", "output": { "title": "Plan", "summary": "+1 ~0 -0" } });
    let resp = call(
        &gh,
        "POST",
        "/repos/acme/app/check-runs",
        Some(body.clone()),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let run = resp.json();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("success"))
    );
    assert_eq!(gh.check_runs(REPO), [body]);
    let incomplete = json!({ "name": "x", "head_sha": sha, "status": "completed" });
    assert_eq!(
        call(&gh, "POST", "/repos/acme/app/check-runs", Some(incomplete)).status,
        422
    );
    gh.assert_clean();
}

#[test]
fn forks_merge_upstream() {
    let gh = FakeGitHub::start();
    gh.add_repo("provider/template");
    gh.commit("provider/template", "main", &[("main.tf", "v1")]);
    gh.add_fork("acme/infra", "provider/template");
    assert_eq!(
        get(&gh, "/repos/acme/infra").json()["parent"]["full_name"],
        "provider/template"
    );
    let sync = || {
        call(
            &gh,
            "POST",
            "/repos/acme/infra/merge-upstream",
            Some(json!({ "branch": "main" })),
        )
    };

    let resp = sync();
    assert_eq!(
        (resp.status, resp.json()["merge_type"].as_str()),
        (200, Some("none"))
    );
    let upstream = gh.commit("provider/template", "main", &[("main.tf", "v2")]);
    assert_eq!(sync().json()["merge_type"], "fast-forward");
    assert_eq!(
        gh.branch_head("acme/infra", "main").as_deref(),
        Some(upstream.as_str())
    );
    gh.commit("acme/infra", "main", &[("local.tf", "mine")]);
    gh.commit("provider/template", "main", &[("main.tf", "v3")]);
    assert_eq!(sync().json()["merge_type"], "merge");
    assert_eq!(
        gh.file_at("acme/infra", "main", "main.tf").as_deref(),
        Some("v3")
    );
    assert_eq!(
        gh.file_at("acme/infra", "main", "local.tf").as_deref(),
        Some("mine")
    );
    gh.commit("acme/infra", "main", &[("main.tf", "patched")]);
    gh.commit("provider/template", "main", &[("main.tf", "v4")]);
    assert_eq!(sync().status, 409);
    assert_eq!(
        call(
            &gh,
            "POST",
            "/repos/provider/template/merge-upstream",
            Some(json!({ "branch": "main" }))
        )
        .status,
        422
    );
    gh.assert_clean();
}

#[test]
fn actions_secrets() {
    let (gh, _) = seeded();
    let key = get(&gh, "/repos/acme/app/actions/secrets/public-key").json();
    let key_id = key["key_id"].as_str().unwrap().to_string();
    assert_eq!(
        (key_id.clone(), key["key"].as_str().unwrap().to_string()),
        gh.public_key(REPO)
    );
    let sealed = base64::engine::general_purpose::STANDARD.encode([7u8; 60]);
    let put = |name: &str, key_id: &str, value: &str| {
        call(
            &gh,
            "PUT",
            &format!("/repos/acme/app/actions/secrets/{name}"),
            Some(json!({ "encrypted_value": value, "key_id": key_id })),
        )
    };
    assert_eq!(put("TF_TOKEN", &key_id, &sealed).status, 201);
    assert_eq!(put("TF_TOKEN", &key_id, &sealed).status, 204);
    assert_eq!(put("TF_TOKEN", "123", &sealed).status, 422);
    assert_eq!(put("GITHUB_X", &key_id, &sealed).status, 422);
    let plain = base64::engine::general_purpose::STANDARD.encode("secret");
    assert_eq!(
        put("OTHER", &key_id, &plain).status,
        422,
        "not a sealed box"
    );
    let secrets = gh.secrets(REPO);
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        (
            secrets[0].name.as_str(),
            secrets[0].encrypted_value.as_str()
        ),
        ("TF_TOKEN", sealed.as_str())
    );
    gh.set_public_key(REPO, "42", "a2V5");
    assert_eq!(
        get(&gh, "/repos/acme/app/actions/secrets/public-key").json()["key_id"],
        "42"
    );
    // The schema's base64 pattern.
    assert_eq!(put("X", "42", "not base64!").status, 422);
    assert_eq!(violation_messages(&gh).len(), 1);
}

// ----- faults -----

/// With concurrency enforced (1 request in flight per token here; GitHub
/// allows 100), a request arriving while its token's one is held is
/// answered as a secondary limit: 403 with `retry-after`.
#[test]
fn a_request_over_the_concurrency_limit_is_refused() {
    let (gh, _) = seeded();
    gh.enforce_concurrency(1, Duration::from_secs(600), 7);
    std::thread::scope(|s| {
        let held = s.spawn(|| get(&gh, "/repos/acme/app"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while gh.concurrency().2 == 0 {
            assert!(Instant::now() < deadline, "the first request never arrived");
            std::thread::sleep(Duration::from_millis(10));
        }
        let over = get(&gh, "/repos/acme/app");
        assert_eq!((over.status, over.header("retry-after")), (403, Some("7")));
        assert!(over.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit"));
        gh.release_held();
        assert_eq!(held.join().unwrap().status, 200);
    });
    assert_eq!(gh.concurrency(), (1, 1, 0));
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
}

#[test]
fn faults_are_consumed_in_order_and_logged() {
    let (gh, _) = seeded();
    gh.inject(Fault::status(502).times(2));
    gh.inject(
        Fault::status(403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1700000000")
            .body(r#"{"message":"API rate limit exceeded"}"#),
    );
    gh.inject(Fault::secondary_rate_limit(1));
    gh.inject(Fault::too_many_requests(2));
    assert_eq!(gh.pending_faults(), 5);
    assert_eq!(get(&gh, "/repos/acme/app").status, 502);
    assert_eq!(get(&gh, "/repos/acme/app").status, 502);
    let limited = get(&gh, "/repos/acme/app");
    assert_eq!(
        (limited.status, limited.header("x-ratelimit-remaining")),
        (403, Some("0"))
    );
    assert_eq!(limited.json()["message"], "API rate limit exceeded");
    let secondary = get(&gh, "/repos/acme/app");
    assert_eq!(
        (secondary.status, secondary.header("retry-after")),
        (403, Some("1"))
    );
    assert!(secondary.json()["message"]
        .as_str()
        .unwrap()
        .contains("secondary rate limit"));
    let many = get(&gh, "/repos/acme/app");
    assert_eq!((many.status, many.header("retry-after")), (429, Some("2")));
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);

    let log = gh.requests();
    assert_eq!(log.len(), 6);
    let faults: Vec<Option<&str>> = log.iter().map(|r| r.fault.as_deref()).collect();
    assert_eq!(
        faults,
        [
            Some("status 502"),
            Some("status 502"),
            Some("status 403"),
            Some("status 403"),
            Some("status 429"),
            None
        ]
    );
    assert_eq!(gh.request_count(), 6);
    assert_eq!(gh.write_count(), 0);
    gh.reset_counters();
    assert_eq!(gh.request_count(), 0);

    let exhausted = Fault::rate_limit_exhausted(1_700_000_000);
    gh.inject(exhausted);
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(
        (resp.status, resp.header("x-ratelimit-reset")),
        (403, Some("1700000000"))
    );
    gh.assert_clean();
}

#[test]
fn faults_can_target_requests() {
    let (gh, _) = seeded();
    gh.inject(Fault::server_error().on("POST", "/dispatches").times(2));
    gh.inject_matching("GET", "/contents/", Fault::bad_gateway());
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 502);
    assert_eq!(get(&gh, "/repos/acme/app/contents/README.md").status, 200);
    let dispatch = || {
        call(
            &gh,
            "POST",
            "/repos/acme/app/dispatches",
            Some(json!({ "event_type": "x" })),
        )
        .status
    };
    assert_eq!([dispatch(), dispatch(), dispatch()], [500, 500, 204]);
    assert_eq!(
        gh.dispatches(REPO).len(),
        1,
        "faulted requests change nothing"
    );
    assert_eq!(gh.write_count(), 3);
    assert_eq!(gh.pending_faults(), 0);
    gh.inject(Fault::Reset);
    gh.clear_faults();
    assert_eq!(gh.pending_faults(), 0);
    gh.assert_clean();
}

#[test]
fn connection_reset_delay_and_malformed_json() {
    let (gh, _) = seeded();
    gh.inject(Fault::Reset);
    let auth = format!("Bearer {}", gh.token());
    let err = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some(&auth), None),
    )
    .expect_err("no response");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
        ),
        "{err:?}"
    );

    gh.inject(Fault::Delay(Duration::from_millis(300)));
    let start = Instant::now();
    assert_eq!(get(&gh, "/repos/acme/app").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    gh.inject(Fault::MalformedJson);
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(resp.status, 200);
    assert!(serde_json::from_str::<Value>(&resp.body).is_err());

    let log = gh.requests();
    let summary: Vec<(u16, Option<&str>)> =
        log.iter().map(|r| (r.status, r.fault.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (0, Some("reset")),
            (200, Some("delay 300ms")),
            (200, Some("malformed-json"))
        ]
    );
    gh.assert_clean();
}

// ----- HTTP details -----

#[test]
fn keep_alive_and_chunked_bodies() {
    let (gh, _) = seeded();
    let auth = format!("Bearer {}", gh.token());
    let mut stream = connect(gh.addr());
    for _ in 0..3 {
        let req =
            format!("GET /repos/acme/app HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github+json\r\n{VERSION}\r\n\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        assert_eq!(read_response(&mut stream).unwrap().status, 200);
    }
    let body = r#"{"event_type":"chunked","client_payload":{"a":1}}"#;
    let (one, two) = body.split_at(10);
    let req = format!(
        "POST /repos/acme/app/dispatches HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\naccept: application/vnd.github+json\r\n{VERSION}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x};ext=1\r\n{one}\r\n{:x}\r\n{two}\r\n0\r\n\r\n",
        one.len(),
        two.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 204);
    assert_eq!(gh.dispatches(REPO)[0]["event_type"], "chunked");
    assert_eq!(gh.request_count(), 4);

    // Garbage gets a 400 and a closed connection, not a hang.
    let resp = send_raw(gh.addr(), b"NONSENSE\r\n\r\n").unwrap();
    assert_eq!(resp.status, 400);
    gh.assert_clean();
}

#[test]
fn enterprise_prefix() {
    let gh = FakeGitHub::start_with_prefix("/api/v3");
    gh.add_repo(REPO);
    assert_eq!(gh.api_url(), format!("http://{}/api/v3", gh.addr()));
    let resp = get(&gh, "/repos/acme/app");
    assert_eq!(resp.status, 200);
    assert!(resp.json()["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/repos/", gh.api_url())));
    assert_eq!(gh.requests()[0].path, "/repos/acme/app");

    // Pagination links keep the prefix.
    let n = gh.open_issue(REPO, "i", "b");
    for i in 0..3 {
        gh.add_comment(REPO, n, "octocat", &format!("c{i}"));
    }
    let page = get(
        &gh,
        &format!("/repos/acme/app/issues/{n}/comments?per_page=2"),
    );
    assert!(page.header("link").unwrap().contains(&format!(
        "<{}/repos/acme/app/issues/{n}/comments?per_page=2&page=2>",
        gh.api_url()
    )));

    // Outside the prefix: a violation.
    let auth = format!("Bearer {}", gh.token());
    let resp = send_raw(
        gh.addr(),
        &request_bytes("GET", "/repos/acme/app", Some(&auth), None),
    )
    .unwrap();
    assert_eq!(resp.status, 404);
    let messages = violation_messages(&gh);
    assert!(
        messages.len() == 1 && messages[0].contains("outside the API prefix"),
        "{messages:#?}"
    );
}

// ----- octocrab, as fleetform uses it -----

fn octocrab_for(gh: &FakeGitHub) -> octocrab::Octocrab {
    // octocrab sends `X-GitHub-Api-Version` itself; `Accept` is added.
    octocrab::Octocrab::builder()
        .base_uri(gh.api_url())
        .unwrap()
        .add_header(http::header::ACCEPT, "application/vnd.github+json".into())
        .personal_token(gh.token().to_string())
        .build()
        .unwrap()
}

fn octocrab_round_trip(gh: &FakeGitHub) {
    use octocrab::models::StatusState;
    use octocrab::params::repos::Reference;

    gh.add_repo(REPO);
    let main = gh.commit(
        REPO,
        "main",
        &[("infra/variables.yml", "max_instances: 2\n")],
    );
    gh.commit(
        REPO,
        "feature",
        &[("infra/variables.yml", "max_instances: 3\n")],
    );
    let pr = gh.open_pr(REPO, "feature", "main", "Bump");
    gh.add_label(REPO, pr, "fleetform");
    gh.set_comment_page_size(2);
    for i in 0..3 {
        gh.add_comment(REPO, pr, "octocat", &format!("earlier {i}"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // octocrab spawns its service on the current runtime.
        let crab = octocrab_for(gh);
        let repos = crab.repos("acme", "app");
        let repo = repos.get().await.unwrap();
        assert_eq!(repo.full_name.as_deref(), Some("acme/app"));
        assert_eq!(repo.default_branch.as_deref(), Some("main"));

        let pull = crab.pulls("acme", "app").get(pr).await.unwrap();
        assert_eq!(pull.head.ref_field, "feature");
        assert_eq!(pull.base.sha, main);
        assert_eq!(pull.labels.unwrap()[0].name, "fleetform");
        let issue = crab.issues("acme", "app").get(pr).await.unwrap();
        assert!(issue.pull_request.is_some());

        let page = crab
            .issues("acme", "app")
            .list_comments(pr)
            .send()
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(page.next.is_some());
        let all = crab.all_pages(page).await.unwrap();
        assert_eq!(all.len(), 3);
        let created = crab
            .issues("acme", "app")
            .create_comment(pr, "plan: +1 ~0 -0")
            .await
            .unwrap();
        assert_eq!(created.user.login, "fleetform-bot");
        let updated = crab
            .issues("acme", "app")
            .update_comment(created.id, "plan: +2 ~0 -0")
            .await
            .unwrap();
        assert_eq!(updated.body.as_deref(), Some("plan: +2 ~0 -0"));

        let status = repos
            .create_status(main.clone(), StatusState::Success)
            .context("fleetform/staging".to_string())
            .description("staging: no changes".to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(status.context.as_deref(), Some("fleetform/staging"));
        let combined = repos
            .combined_status_for_ref(&Reference::Branch("main".to_string()))
            .await
            .unwrap();
        assert_eq!(combined.state, StatusState::Success);
        assert_eq!(combined.total_count, 1);

        let mut content = repos
            .get_content()
            .path("infra/variables.yml")
            .r#ref("feature")
            .send()
            .await
            .unwrap();
        let file = content.take_items().remove(0);
        assert_eq!(
            file.decoded_content().as_deref(),
            Some("max_instances: 3\n")
        );
        let updated = repos
            .update_file(
                "infra/variables.yml",
                "bump",
                "max_instances: 4\n",
                file.sha,
            )
            .branch("feature")
            .send()
            .await
            .unwrap();
        assert_eq!(updated.content.path, "infra/variables.yml");

        let reference = repos
            .get_ref(&Reference::Branch("feature".to_string()))
            .await
            .unwrap();
        assert_eq!(reference.ref_field, "refs/heads/feature");

        let open = crab
            .pulls("acme", "app")
            .list()
            .state(octocrab::params::State::Open)
            .head("acme:feature")
            .send()
            .await
            .unwrap();
        assert_eq!(open.items.len(), 1);
        let issue = crab
            .issues("acme", "app")
            .create("Drift")
            .body("details")
            .labels(vec!["drift".to_string()])
            .send()
            .await
            .unwrap();
        assert_eq!(issue.number, pr + 1);
        let key = repos.public_key().await.unwrap();
        assert_eq!(key.key_id, gh.public_key(REPO).0);

        let missing = crab.repos("acme", "missing").get().await.unwrap_err();
        assert!(format!("{missing:?}").contains("Not Found"), "{missing:?}");
    });
    assert_eq!(
        gh.file_at(REPO, "feature", "infra/variables.yml")
            .as_deref(),
        Some("max_instances: 4\n")
    );
    assert_eq!(gh.comments(REPO, pr).last().unwrap().body, "plan: +2 ~0 -0");
    gh.assert_clean();
}

#[test]
fn octocrab_typed_api_round_trip() {
    octocrab_round_trip(&FakeGitHub::start());
}

#[test]
fn octocrab_typed_api_round_trip_with_enterprise_prefix() {
    octocrab_round_trip(&FakeGitHub::start_with_prefix("/api/v3"));
}

#[test]
fn repository_settings_for_the_doctor() {
    use support::fake_github::{BranchPolicy, Environment, Ruleset};
    let (gh, _) = seeded();
    gh.set_environment(
        REPO,
        "production-apply",
        Environment {
            reviewers: vec!["alice".into()],
            prevent_self_review: true,
            branch_policy: BranchPolicy::Custom(vec![("main".into(), "branch".into())]),
            secrets: ["FLEETFORM_ARTIFACT_KEY".to_string()].into(),
        },
    );
    gh.set_environment(REPO, "drift", Environment::default());
    gh.add_repo_secret(REPO, "SOURCE_REPOS_PAT");
    gh.add_ruleset(
        REPO,
        Ruleset {
            name: "lock".into(),
            target: "branch".into(),
            enforcement: "active".into(),
            include: vec!["~ALL".into()],
            rules: vec!["creation".into(), "update".into(), "deletion".into()],
        },
    );
    gh.set_workflow_permissions(REPO, "write", true);
    gh.set_token_expiration(Some("2026-12-01 10:00:00 UTC"));

    let envs = get(&gh, "/repos/acme/app/environments");
    assert_eq!(
        envs.header("github-authentication-token-expiration"),
        Some("2026-12-01 10:00:00 UTC")
    );
    let envs = envs.json();
    assert_eq!(envs["total_count"], 2);
    let prod = &envs["environments"][1];
    assert_eq!(prod["name"], "production-apply");
    assert_eq!(prod["protection_rules"][0]["type"], "required_reviewers");
    assert_eq!(
        prod["deployment_branch_policy"]["custom_branch_policies"],
        true
    );
    assert!(envs["environments"][0]["deployment_branch_policy"].is_null());
    let policies = get(
        &gh,
        "/repos/acme/app/environments/production-apply/deployment-branch-policies",
    )
    .json();
    assert_eq!(policies["branch_policies"][0]["name"], "main");
    let secrets = get(&gh, "/repos/acme/app/environments/production-apply/secrets").json();
    assert_eq!(secrets["secrets"][0]["name"], "FLEETFORM_ARTIFACT_KEY");
    assert!(secrets["secrets"][0].get("value").is_none());
    assert_eq!(
        get(&gh, "/repos/acme/app/environments/nope/secrets").status,
        404
    );
    let repo_secrets = get(&gh, "/repos/acme/app/actions/secrets").json();
    assert_eq!(repo_secrets["secrets"][0]["name"], "SOURCE_REPOS_PAT");
    let list = get(&gh, "/repos/acme/app/rulesets").json();
    assert!(list[0].get("rules").is_none(), "the list leaves rules out");
    let id = list[0]["id"].as_u64().unwrap();
    let one = get(&gh, &format!("/repos/acme/app/rulesets/{id}")).json();
    assert_eq!(one["conditions"]["ref_name"]["include"][0], "~ALL");
    assert_eq!(one["rules"][2]["type"], "deletion");
    let perms = get(&gh, "/repos/acme/app/actions/permissions/workflow").json();
    assert_eq!(perms["default_workflow_permissions"], "write");
    assert_eq!(perms["can_approve_pull_request_reviews"], true);

    gh.rename_repo(REPO, "acme/app2");
    let moved = get(&gh, "/repos/acme/app");
    assert_eq!(moved.status, 301);
    assert_eq!(
        get(&gh, "/repos/acme/app2").json()["full_name"],
        "acme/app2"
    );
    gh.assert_clean();
}

/// Collaborators by affiliation and permission, organisations (base
/// permission `none` unless set; a user answers 404) and Pages sites, each
/// answer valid against its response schema (`assert_clean`).
#[test]
fn who_reaches_a_repository_for_the_doctor() {
    let (gh, _) = seeded();
    let logins = |path: &str| -> Vec<String> {
        let v = get(&gh, path).json();
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}:{}", c["login"].as_str().unwrap(), c["role_name"]))
            .collect()
    };
    assert!(logins("/repos/acme/app/collaborators").is_empty());
    gh.add_collaborator(REPO, "outsider", "outside");
    gh.add_collaborator_as(REPO, "member", "direct", "read");
    gh.add_collaborator_as(REPO, "owner", "team", "admin");
    let all = logins("/repos/acme/app/collaborators?affiliation=all");
    assert_eq!(
        all,
        [
            r#"outsider:"write""#,
            r#"member:"read""#,
            r#"owner:"admin""#
        ]
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?affiliation=outside"),
        [r#"outsider:"write""#]
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?affiliation=direct").len(),
        2
    );
    assert_eq!(
        logins("/repos/acme/app/collaborators?permission=push").len(),
        2
    );
    let one = get(
        &gh,
        "/repos/acme/app/collaborators?affiliation=all&per_page=1",
    );
    assert!(one.header("link").unwrap().contains("rel=\"next\""));
    let admin = &get(&gh, "/repos/acme/app/collaborators?permission=admin").json()[0];
    assert_eq!(admin["permissions"]["maintain"], true);

    let org = get(&gh, "/orgs/acme").json();
    assert_eq!(org["type"], "Organization");
    assert_eq!(org["default_repository_permission"], "none");
    gh.set_org_base_permission("acme", "write");
    assert_eq!(
        get(&gh, "/orgs/ACME").json()["default_repository_permission"],
        "write"
    );
    assert_eq!(get(&gh, "/orgs/nobody").status, 404);
    gh.set_user_account("acme");
    assert_eq!(get(&gh, "/orgs/acme").status, 404);

    assert_eq!(get(&gh, "/repos/acme/app/pages").status, 404);
    gh.set_pages(REPO, true);
    let site = get(&gh, "/repos/acme/app/pages").json();
    assert_eq!(site["public"], true);
    gh.set_pages(REPO, false);
    assert_eq!(get(&gh, "/repos/acme/app/pages").json()["public"], false);
    gh.assert_clean();
}
