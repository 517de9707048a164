//! The fake GitHub's App webhooks: deliveries really sent, signed, to the
//! URL set for the App; every attempt listed as GitHub does (newest first,
//! `per_page`, the `cursor` in `Link`, the `status` filter) with the App's
//! JWT; a redelivery answered 202 and sent again with the same guid.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::fake_github_selftest::server::{read_response, request_bytes, send_raw, Resp};
use crate::support::fake_github::FakeGitHub;

const APP: u64 = 4243;
const SECRET: &str = "selftest-webhook-secret-0123";

fn jwt() -> String {
    let pem = crate::relay::serve::pem();
    let key = fleetform::github::AppKey::parse(
        fleetform::github::AppRole::Customer,
        &APP.to_string(),
        &pem,
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    key.jwt(now).unwrap().expose().to_string()
}

/// A request with the App's JWT; `target` is under the API root.
fn as_app(gh: &FakeGitHub, method: &str, target: &str) -> Resp {
    let prefix = gh.api_url().replace(&format!("http://{}", gh.addr()), "");
    let auth = format!("Bearer {}", jwt());
    let bytes = request_bytes(method, &format!("{prefix}{target}"), Some(&auth), None);
    send_raw(gh.addr(), &bytes).expect("an answer")
}

/// A receiver answering each delivery with the next of `answers`, keeping
/// (headers, body) of each.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn receiver(answers: Vec<u16>) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let kept = got.clone();
    std::thread::spawn(move || {
        for (mut s, code) in listener.incoming().flatten().zip(answers) {
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = s.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    kept.lock()
                        .unwrap()
                        .push((text[..end].to_string(), buf[end + 4..].to_vec()));
                    break;
                }
            }
            let _ = s.write_all(
                format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, got)
}

fn signed(head: &str, body: &[u8]) -> bool {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let want = format!(
        "x-hub-signature-256: sha256={}",
        hex::encode(mac.finalize().into_bytes())
    );
    head.lines().any(|l| l == want)
}

#[test]
fn app_deliveries_are_sent_listed_and_redelivered_as_github_does() {
    let gh = FakeGitHub::start();
    gh.register_app(APP, &crate::relay::serve::pem());
    let (url, got) = receiver(vec![503, 200, 401, 202]);
    gh.set_app_webhook(APP, &url, SECRET);
    let body = json!({ "action": "opened", "repository": { "id": 7, "full_name": "acme/app" } });
    let first = gh.deliver(APP, "pull_request", &body);
    let second = gh.deliver(APP, "push", &json!({ "ref": "refs/heads/main" }));
    let third = gh.deliver(APP, "issue_comment", &json!({ "action": "created" }));
    let codes: Vec<u16> = [&first, &second, &third]
        .iter()
        .map(|a| a.status_code)
        .collect();
    assert_eq!(codes, vec![503, 200, 401]);
    {
        let got = got.lock().unwrap();
        let (head, sent) = &got[0];
        assert!(signed(head, sent), "{head}");
        assert!(head.contains("x-github-event: pull_request"), "{head}");
        assert!(
            head.contains(&format!("x-github-delivery: {}", first.guid)),
            "{head}"
        );
    }
    // Newest first, two a page, the next page's cursor in `Link`.
    let page = as_app(&gh, "GET", "/app/hook/deliveries?per_page=2");
    assert_eq!(page.status, 200);
    let ids: Vec<u64> = page
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![third.id, second.id]);
    assert_eq!(page.json()[1]["status"], "OK");
    let link = page.header("link").unwrap().to_string();
    let next = link
        .split(['<', '>'])
        .nth(1)
        .unwrap()
        .replace(&gh.api_url(), "");
    let rest = as_app(&gh, "GET", &next);
    assert_eq!(rest.json()[0]["id"], first.id);
    assert_eq!(rest.json()[0]["action"], "opened");
    assert!(rest.header("link").is_none());
    let failures = as_app(&gh, "GET", "/app/hook/deliveries?status=failure");
    assert_eq!(failures.json().as_array().unwrap().len(), 2);
    // A redelivery: 202 first, then sent with the same guid.
    let asked = as_app(
        &gh,
        "POST",
        &format!("/app/hook/deliveries/{}/attempts", first.id),
    );
    assert_eq!((asked.status, asked.json()), (202, json!({})));
    let end = Instant::now() + Duration::from_secs(10);
    while gh.hook_attempts(&first.guid).len() < 2 {
        assert!(Instant::now() < end, "the redelivery was not sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    let again = &gh.hook_attempts(&first.guid)[1];
    assert_eq!((again.redelivery, again.status_code), (true, 202));
    let (head, sent) = got.lock().unwrap()[3].clone();
    assert!(
        head.contains(&format!("x-github-delivery: {}", first.guid)),
        "{head}"
    );
    assert!(signed(&head, &sent));
    assert_eq!(serde_json::from_slice::<Value>(&sent).unwrap(), body);
    assert_eq!(gh.redelivery_requests(), 1);
    let unknown = as_app(&gh, "POST", "/app/hook/deliveries/999999/attempts");
    assert_eq!(unknown.status, 404);
    gh.assert_clean();
}

#[test]
fn nothing_listening_is_an_attempt_without_an_answer() {
    let gh = FakeGitHub::start();
    gh.register_app(APP, &crate::relay::serve::pem());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    gh.set_app_webhook(APP, &format!("http://127.0.0.1:{port}/webhook"), SECRET);
    let missed = gh.deliver(APP, "push", &json!({}));
    assert_eq!(missed.status_code, 0);
    let listed = as_app(&gh, "GET", "/app/hook/deliveries");
    assert_eq!(listed.json()[0]["status"], "failed to connect to host");
    assert_eq!(listed.json()[0]["status_code"], 0);
    // The list and redeliveries take the App's JWT, not a token.
    let mut stream = std::net::TcpStream::connect(gh.addr()).unwrap();
    let auth = format!("Bearer {}", gh.token());
    stream
        .write_all(&request_bytes(
            "GET",
            "/app/hook/deliveries",
            Some(&auth),
            None,
        ))
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap().status, 401);
    let v = gh.take_violations();
    assert!(v.is_empty(), "{v:?}");
}
