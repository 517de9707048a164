//! The dispatch relay (`fleetform relay serve`), run as a process against
//! the fake GitHub and a fake OIDC issuer on loopback: customers reach the
//! manager with their run's OIDC token (or the App's webhook) and hold no
//! credential of the provider.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::common::{self, stderr, stdout};
use crate::support::oidc::{FakeIssuer, REQUEST_TOKEN};
use crate::world::{ok, World, ACME, MANAGER};

const APP_ID: u64 = 4243;
const SLUG: &str = "fleetform-relay";
const GLOBEX: &str = "globex/globex-app";
const WEBHOOK_SECRET: &str = "relay-webhook-secret-0123456789";

fn pem() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap()
}

/// The relay process; killed when dropped.
pub struct RelayProc {
    pub child: Child,
    pub url: String,
    pub stderr_log: std::path::PathBuf,
}

impl Drop for RelayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test world whose manager has `relay:` and whose registry records the
/// repository ids; the relay App is installed on the manager and the
/// customers.
pub struct RelayWorld {
    pub w: World,
    pub issuer: FakeIssuer,
}

impl RelayWorld {
    pub fn new() -> RelayWorld {
        let w = World::new();
        let issuer = FakeIssuer::start();
        w.fx.append(
            "manager/fleetform.yml",
            &format!(
                "\nrelay:\n  app_slug: {SLUG}\n  manager_repo: {MANAGER}\n  issuer: {}\n",
                issuer.url()
            ),
        );
        let mut registry = w.fx.read("manager/customers.yml");
        for repo in [ACME, GLOBEX] {
            let line = format!("    repo: {repo}\n");
            registry = registry.replace(
                &line,
                &format!("{line}    repo_id: {}\n", w.gh.repo_id(repo)),
            );
        }
        w.fx.write("manager/customers.yml", &registry);
        w.gh.commit(MANAGER, "main", &[("customers.yml", &registry)]);
        w.gh.register_app(APP_ID, &pem());
        w.gh.set_app_slug(APP_ID, SLUG);
        w.gh.install_app(APP_ID, "provider", &[MANAGER]);
        w.gh.install_app(APP_ID, "customers", &[ACME, GLOBEX]);
        RelayWorld { w, issuer }
    }

    pub fn start(&self, concurrency: usize) -> RelayProc {
        self.start_with(concurrency, 10)
    }

    /// The relay with `timeout_secs` for a request's head and body.
    pub fn start_with(&self, concurrency: usize, timeout_secs: u64) -> RelayProc {
        let log = self
            .w
            .scratch
            .path()
            .join(format!("relay-{}.log", common::unix_now()));
        // The bench (bench/run.sh --relay-only) measures the static release
        // binary; the tests run the debug build.
        let bin = std::env::var_os("FLEETFORM_BENCH_BIN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("fleetform"));
        let mut cmd = std::process::Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_API_URL", self.w.gh.api_url())
            .env("FLEETFORM_APP_ID", APP_ID.to_string())
            .env("FLEETFORM_APP_PRIVATE_KEY", pem())
            .env("FLEETFORM_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("FLEETFORM_RETRY_BASE_MS", "20")
            .env("FLEETFORM_RELAY_TIMEOUT", timeout_secs.to_string())
            // These tests load the relay (200 dispatches in a second), not
            // GitHub's secondary limits, which would spread those writes
            // over minutes (tests/schedule.rs tests the scheduler).
            .env("FLEETFORM_GITHUB_WRITES_PER_MINUTE", "100000")
            .env("FLEETFORM_GITHUB_POINTS_PER_MINUTE", "1000000")
            .current_dir(self.w.fx.manager())
            .args(["relay", "serve", "--listen", "127.0.0.1:0", "--concurrency"])
            .arg(concurrency.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("relay listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "relay did not start: {line:?}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        RelayProc {
            child,
            url,
            stderr_log: log,
        }
    }

    /// A valid token for a push of `repo` to `branch` at `sha`.
    pub fn push_token(&self, repo: &str, branch: &str, sha: &str) -> String {
        let id = self.w.gh.repo_id(repo);
        self.issuer.mint(&self.issuer.claims(
            repo,
            id,
            "push",
            &format!("refs/heads/{branch}"),
            sha,
        ))
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, JSON body).
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn dispatch(relay: &RelayProc, body: &Value) -> (u16, Value) {
    http(
        &relay.url,
        "POST",
        "/dispatch",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

#[test]
fn a_valid_token_dispatches_once_as_the_app_and_a_replay_is_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 3);
    let token = rw.push_token(ACME, "main", &sha);
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": token, "files": ["infra/variables.yml"] }),
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["customer"], "acme");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-apply");
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["sender"]["login"], format!("{SLUG}[bot]"));
    assert_eq!(sent[0]["client_payload"]["customer_repo"], ACME);
    assert_eq!(sent[0]["client_payload"]["sha"], sha);
    assert_eq!(sent[0]["client_payload"]["repo_id"], rw.w.gh.repo_id(ACME));
    assert!(sent[0]["client_payload"].get("sig").is_none());
    // The same token again: refused, nothing more sent.
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "token_used");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
    // The App's tokens: the manager's for the manager only, the
    // customer's for acme only.
    for t in rw.w.gh.minted_tokens() {
        assert_eq!(t.repos.len(), 1, "{t:?}");
    }
    // Nothing secret in the relay's log.
    let log = std::fs::read_to_string(&relay.stderr_log).unwrap();
    assert!(
        !log.contains(&token[..40]) && !log.contains("ghs_"),
        "{log}"
    );
    rw.w.gh.assert_clean();
}

#[test]
fn identity_comes_from_the_token_never_from_the_body() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let globex_vars = format!("{}\n", rw.w.fx.read("customers/globex/infra/variables.yml"));
    let sha =
        rw.w.gh
            .commit(GLOBEX, "main", &[("infra/variables.yml", &globex_vars)]);
    let token = rw.push_token(GLOBEX, "main", &sha);
    // A body naming acme is not even parsed.
    let (status, answer) = dispatch(&relay, &json!({ "token": token, "customer_repo": ACME }));
    assert_eq!(status, 400, "{answer}");
    // globex's token dispatches for globex.
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["customer"], "globex");
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["client_payload"]["customer_repo"], GLOBEX);
    // A token of globex's repo claiming acme's repository id is refused
    // by the signature check: claims cannot be edited.
    let mut claims = rw.issuer.claims(
        GLOBEX,
        rw.w.gh.repo_id(GLOBEX),
        "push",
        "refs/heads/main",
        &sha,
    );
    let forged = rw.issuer.mint(&claims);
    let mut parts: Vec<String> = forged.split('.').map(str::to_string).collect();
    claims["repository_id"] = json!(rw.w.gh.repo_id(ACME).to_string());
    parts[1] = base64_url(claims.to_string().as_bytes());
    let (status, answer) = dispatch(&relay, &json!({ "token": parts.join(".") }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("bad_token")),
        "{answer}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn renamed_repos_keep_working_and_recreated_ones_are_refused() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 4);
    rw.w.gh.rename_repo(ACME, "acme-corp/acme-infrastructure");
    let token = rw.push_token("acme-corp/acme-infrastructure", "main", &sha);
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["customer"], "acme");
    assert_eq!(
        answer["dispatched"]["customer_repo"],
        "acme-corp/acme-infrastructure"
    );

    // globex deleted and created again under its name: a new id.
    rw.w.gh.remove_repo(GLOBEX);
    rw.w.gh.add_repo(GLOBEX);
    let sha = rw.w.gh.commit(
        GLOBEX,
        "main",
        &[("infra/variables.yml", "project_name: x\n")],
    );
    let token = rw.push_token(GLOBEX, "main", &sha);
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("repo_id_mismatch")),
        "{answer}"
    );
    // Revoked and unknown repos.
    let token = rw.push_token("initech/tps-reports", "main", &sha);
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("no_repo_id")),
        "{answer}"
    );
    rw.w.gh.add_repo("evil/infra");
    let token = rw.push_token("evil/infra", "main", &sha);
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("unknown_repo")),
        "{answer}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

#[test]
fn bad_tokens_are_refused_with_the_reason() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 5);
    let id = rw.w.gh.repo_id(ACME);
    let good = rw.issuer.claims(ACME, id, "push", "refs/heads/main", &sha);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let now = common::unix_now();
    let header = |alg: &str, kid: &str| json!({ "alg": alg, "typ": "JWT", "kid": kid });
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            rw.issuer.mint(&with("exp", json!(now - 600))),
            "expired",
        ),
        (
            "future",
            rw.issuer.mint(&with("nbf", json!(now + 600))),
            "not valid yet",
        ),
        (
            "wrong aud",
            rw.issuer.mint(&with("aud", json!("sts.amazonaws.com"))),
            "audience",
        ),
        (
            "wrong iss",
            rw.issuer.mint(&with(
                "iss",
                json!("https://token.actions.githubusercontent.com"),
            )),
            "issuer",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                base64_url(header("none", "fake-kid-1").to_string().as_bytes()),
                base64_url(good.to_string().as_bytes())
            ),
            "only RS256",
        ),
        (
            "HS256 with the public key",
            rw.issuer.mint_hs256(&good, &rw.issuer.public_modulus()),
            "only RS256",
        ),
        (
            "unknown kid",
            rw.issuer
                .mint_with(&good, &header("RS256", "kid-9"), "issuer"),
            "does not publish",
        ),
        (
            "other key",
            rw.issuer
                .mint_with(&good, &header("RS256", "fake-kid-1"), "other"),
            "does not verify",
        ),
        ("garbage", "not.a.jwt".into(), "not a JWT"),
    ];
    for (name, token, reason) in cases {
        let (status, answer) = dispatch(&relay, &json!({ "token": token }));
        assert_eq!(status, 401, "{name}: {answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(reason),
            "{name}: {answer}"
        );
        assert!(
            !answer.to_string().contains(&token[..20.min(token.len())]) || token.len() < 20,
            "{name}"
        );
    }
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    // Unknown kids refresh the keys at most once a minute.
    assert!(
        rw.issuer.jwks_requests() <= 2,
        "{}",
        rw.issuer.jwks_requests()
    );
}

#[test]
fn the_issuer_down_is_503_after_bounded_retries() {
    let rw = RelayWorld::new();
    rw.issuer.set_down(true);
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 6);
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": rw.push_token(ACME, "main", &sha) }),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("issuer_unavailable")),
        "{answer}"
    );
    assert_eq!(rw.issuer.jwks_requests(), 3);
    assert!(rw.w.gh.dispatches(MANAGER).is_empty());
    // Back up: a new token goes through (the keys are fetched again).
    rw.issuer.set_down(false);
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": rw.push_token(ACME, "main", &sha) }),
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);
}

#[test]
fn oversized_and_slow_bodies_are_cut_off() {
    let rw = RelayWorld::new();
    let relay = rw.start_with(16, 1);
    // 10 MB declared: refused from the header, before it is read.
    let addr = relay.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /dispatch HTTP/1.1\r\nhost: x\r\ncontent-length: 10485760\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    // 10 MB sent with no length: cut at 64 KiB.
    let big = vec![b'a'; 10 * 1024 * 1024];
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /dispatch HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let _ = write!(s, "{:x}\r\n", big.len());
    let _ = s.write_all(&big);
    let mut resp = String::new();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.read_to_string(&mut resp);
    assert!(
        resp.starts_with("HTTP/1.1 413"),
        "{}",
        &resp[..resp.len().min(200)]
    );
    // A client that sends half a head and stops is disconnected after the
    // relay's timeout (1 s here); the relay serves others meanwhile.
    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(slow, "POST /dispatch HTTP/1.1\r\n").unwrap();
    let (status, _) = http(&relay.url, "GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let started = std::time::Instant::now();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the slow client was not cut off"
    );
    let (status, answer) = http(&relay.url, "GET", "/nowhere", &[], b"");
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (status, _) = http(&relay.url, "GET", "/dispatch", &[], b"");
    assert_eq!(status, 405);
    drop(slow);
}

fn signed_delivery(
    relay: &RelayProc,
    event: &str,
    id: &str,
    body: &Value,
    secret: &str,
) -> (u16, Value) {
    let bytes = body.to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(bytes.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    http(
        &relay.url,
        "POST",
        "/webhook",
        &[
            ("x-github-event", event),
            ("x-github-delivery", id),
            ("x-hub-signature-256", &sig),
        ],
        bytes.as_bytes(),
    )
}

#[test]
fn webhooks_dispatch_pushes_and_pull_requests_once() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("feature", 7);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "seven");
    let id = rw.w.gh.repo_id(ACME);
    let pr_event = json!({
        "action": "synchronize", "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": "feature", "repo": { "id": id } } },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    // A bad signature, then the real delivery, then its replay.
    let (status, _) = signed_delivery(
        &relay,
        "pull_request",
        "d-1",
        &pr_event,
        "not-the-secret-000000",
    );
    assert_eq!(status, 401);
    let (status, answer) =
        signed_delivery(&relay, "pull_request", "d-1", &pr_event, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-plan");
    assert_eq!(answer["dispatched"]["pr"], pr);
    let (status, answer) =
        signed_delivery(&relay, "pull_request", "d-1", &pr_event, WEBHOOK_SECRET);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 1);

    // A push to main that touches the variables: an apply dispatch.
    let main = rw.w.change_acme("main", 8);
    let push = json!({
        "ref": "refs/heads/main", "after": main,
        "commits": [{ "modified": ["infra/variables.yml"], "added": [], "removed": [] }],
        "head_commit": { "message": "Raise max (#12)" },
        "repository": { "id": id, "full_name": ACME, "default_branch": "main" },
    });
    let (status, answer) = signed_delivery(&relay, "push", "d-2", &push, WEBHOOK_SECRET);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-apply");
    assert_eq!(answer["dispatched"]["pr"], 12);
    // A push touching nothing fleetform reads, and a repo without the App's
    // registration: nothing dispatched.
    let mut other = push.clone();
    other["commits"][0]["modified"] = json!(["README.md"]);
    let (status, answer) = signed_delivery(&relay, "push", "d-3", &other, WEBHOOK_SECRET);
    assert_eq!(
        (status, answer["ignored"].is_string()),
        (200, true),
        "{answer}"
    );
    let mut unknown = push.clone();
    unknown["repository"]["id"] = json!(999_999);
    unknown["repository"]["full_name"] = json!("stranger/repo");
    let (status, _) = signed_delivery(&relay, "push", "d-4", &unknown, WEBHOOK_SECRET);
    assert_eq!(status, 403);
    // A registered repo the App is no longer installed on: refused, named.
    rw.w.gh.uninstall_from(GLOBEX);
    let globex = rw.w.gh.commit(
        GLOBEX,
        "main",
        &[("infra/variables.yml", "project_name: g\n")],
    );
    let mut uninstalled = push.clone();
    uninstalled["after"] = json!(globex);
    uninstalled["repository"] =
        json!({ "id": rw.w.gh.repo_id(GLOBEX), "full_name": GLOBEX, "default_branch": "main" });
    let (status, answer) = signed_delivery(&relay, "push", "d-5", &uninstalled, WEBHOOK_SECRET);
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("not_installed")),
        "{answer}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
    rw.w.gh.assert_clean();
}

#[test]
fn pull_request_heads_must_be_the_tokens_commit() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let old = rw.w.change_acme("feature", 9);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "nine");
    let new = rw.w.change_acme("feature", 10);
    let id = rw.w.gh.repo_id(ACME);
    // A pull_request run's token: the merge commit, on refs/pull/N/merge.
    let merge = "ab".repeat(20);
    rw.w.gh.set_merge_commit(ACME, pr, &merge);
    let stale = rw.issuer.mint(&rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &old,
    ));
    let (status, answer) = dispatch(&relay, &json!({ "token": stale }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("stale_pr_head")),
        "{answer}"
    );
    let current = rw.issuer.mint(&rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        &format!("refs/pull/{pr}/merge"),
        &merge,
    ));
    let (status, answer) = dispatch(&relay, &json!({ "token": current, "pr": pr + 1 }));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("wrong_pr")),
        "{answer}"
    );
    let (status, answer) = dispatch(&relay, &json!({ "token": current }));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["dispatched"]["sha"], new);
    assert_eq!(answer["dispatched"]["ref"], "refs/heads/feature");
    assert_eq!(answer["dispatched"]["event_type"], "fleetform-plan");
}

/// The whole loop: the customer's trigger (OIDC token only) → the relay →
/// the manager's plan (trusting the App as sender) → the PR comment. No
/// customer-held secret anywhere.
#[test]
fn the_customer_loop_runs_with_no_customer_held_secret() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("feature", 11);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "eleven");
    let id = rw.w.gh.repo_id(ACME);
    rw.issuer.set_runner_claims(rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        "refs/heads/feature",
        &sha,
    ));
    let (mut cmd, _files) = rw.w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = cmd
        .env_remove("FLEETFORM_TOKEN")
        .env_remove("FLEETFORM_DISPATCH_KEY")
        .env_remove("FLEETFORM_MANAGER_REPO")
        .env("FLEETFORM_RELAY_URL", &relay.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", rw.issuer.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("dispatched fleetform-plan for acme"),
        "{}",
        stdout(&out)
    );
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["sender"]["login"], format!("{SLUG}[bot]"));

    // The manager's plan job trusts the relay's App as the sender: it
    // needs no dispatch secret for it.
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env_remove("FLEETFORM_DISPATCH_SECRET")
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
        .unwrap();
    ok(&out);
    let comments = rw.w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1, "{}", stderr(&out));

    // The same payload sent by anyone else: refused (no signature).
    let forged = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": { "login": "someone", "type": "User" } });
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", &forged, &"e".repeat(40));
    let out = cmd
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
        .unwrap();
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("only the relay App sends"),
        "{}",
        stderr(&out)
    );
}

/// 200 dispatches at once on loopback: each answered, none lost or
/// doubled (counted at the fake GitHub).
#[test]
fn two_hundred_concurrent_dispatches_none_lost_or_doubled() {
    let rw = RelayWorld::new();
    let relay = rw.start(64);
    let sha = rw.w.change_acme("main", 12);
    let tokens: Vec<String> = (0..200)
        .map(|_| rw.push_token(ACME, "main", &sha))
        .collect();
    let url = relay.url.clone();
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                http(
                    &url,
                    "POST",
                    "/dispatch",
                    &[],
                    json!({ "token": t }).to_string().as_bytes(),
                )
                .0
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 200);
    let ids: std::collections::BTreeSet<String> = sent
        .iter()
        .map(|d| {
            d["client_payload"]["dispatch_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 200, "a dispatch id twice");
}

fn poll(rw: &RelayWorld, state: &std::path::Path) -> Value {
    let out =
        rw.w.fx
            .fleetform()
            .env("GITHUB_API_URL", rw.w.gh.api_url())
            .env("FLEETFORM_APP_ID", APP_ID.to_string())
            .env("FLEETFORM_APP_PRIVATE_KEY", pem())
            .args(["poll", "--json", "--state"])
            .arg(state)
            .output()
            .unwrap();
    ok(&out);
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// `fleetform poll` from a schedule: the first run records, unchanged
/// repos cost 304s, changes are dispatched once, as the App.
#[test]
fn poll_dispatches_what_changed_once_with_conditional_requests() {
    let rw = RelayWorld::new();
    let state = rw.w.scratch.path().join("poll-state.json");
    let first = poll(&rw, &state);
    assert_eq!(first["first_seen"], json!(["acme", "globex"]), "{first}");
    assert!(first["dispatched"].as_array().unwrap().is_empty());

    let before = rw.w.gh.not_modified_count();
    let quiet = poll(&rw, &state);
    assert!(
        quiet["dispatched"].as_array().unwrap().is_empty(),
        "{quiet}"
    );
    assert_eq!(quiet["not_modified"], 4, "{quiet}");
    assert_eq!(rw.w.gh.not_modified_count() - before, 4);

    // A README commit on main changes no file fleetform reads.
    rw.w.gh.commit(ACME, "main", &[("README.md", "hello\n")]);
    let readme = poll(&rw, &state);
    assert!(
        readme["dispatched"].as_array().unwrap().is_empty(),
        "{readme}"
    );

    let main = rw.w.change_acme("main", 13);
    let feature = rw.w.change_acme("feature", 14);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "fourteen");
    let changed = poll(&rw, &state);
    let d = changed["dispatched"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{changed}");
    assert_eq!(
        (d[0]["event_type"].as_str(), d[0]["sha"].as_str()),
        (Some("fleetform-apply"), Some(main.as_str()))
    );
    assert_eq!(
        (d[1]["event_type"].as_str(), d[1]["pr"].as_u64()),
        (Some("fleetform-plan"), Some(pr))
    );
    assert_eq!(d[1]["sha"], feature);
    let sent = rw.w.gh.dispatches(MANAGER);
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|s| s["sender"]["login"] == format!("{SLUG}[bot]")));

    let again = poll(&rw, &state);
    assert!(
        again["dispatched"].as_array().unwrap().is_empty(),
        "{again}"
    );
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 2);
    rw.w.gh.assert_clean();
}

/// Behind the relay, onboarding issues no key and hands out the relay
/// trigger; `customers add` records the repository id GitHub reports.
#[test]
fn onboarding_behind_the_relay_hands_out_no_credential() {
    let rw = RelayWorld::new();
    rw.w.gh.add_repo("hooli/infra");
    let out =
        rw.w.fx
            .fleetform()
            .env_remove("FLEETFORM_DISPATCH_SECRET")
            .env("GITHUB_API_URL", rw.w.gh.api_url())
            .env("FLEETFORM_TOKEN", rw.w.gh.token())
            .args([
                "customers",
                "add",
                "hooli",
                "--repo",
                "hooli/infra",
                "--contact",
                "ops@hooli.example",
            ])
            .output()
            .unwrap();
    ok(&out);
    assert!(!stdout(&out).contains("ffdk1."), "{}", stdout(&out));
    let registry = rw.w.fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!(
            "repo: hooli/infra\n    repo_id: {}\n",
            rw.w.gh.repo_id("hooli/infra")
        )),
        "{registry}"
    );
    // Without a token to look it up, the relay's manager needs the id given.
    let out =
        rw.w.fx
            .fleetform()
            .args([
                "customers",
                "add",
                "pied",
                "--repo",
                "pied/piper",
                "--contact",
                "ops@pied.example",
            ])
            .output()
            .unwrap();
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("--repo-id"), "{}", stderr(&out));

    let out =
        rw.w.fx
            .fleetform()
            .args([
                "customers",
                "instructions",
                "hooli",
                "--manager-repo",
                MANAGER,
            ])
            .args(["--relay-url", "https://relay.provider.example"])
            .output()
            .unwrap();
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("`FLEETFORM_RELAY_URL` | `https://relay.provider.example`"),
        "{text}"
    );
    assert!(
        text.contains("relay-url: ${{ vars.FLEETFORM_RELAY_URL }}"),
        "{text}"
    );
    assert!(text.contains("id-token: write"), "{text}");
    for absent in ["MANAGER_REPO_PAT", "FLEETFORM_DISPATCH_KEY", "secrets."] {
        assert!(!text.contains(absent), "{absent}: {text}");
    }
}

/// Not a test: the measurement `bash bench/run.sh --relay-only` runs (with
/// `--ignored`): `FLEETFORM_BENCH_N` dispatches (default 200) at once
/// against the relay on loopback, each timed from connect to answer; prints
/// one JSON line with the latencies, the relay's peak memory (VmHWM) and
/// what the fake GitHub counted.
#[test]
#[ignore = "a measurement for bench/run.sh, not a test"]
fn bench_relay_load() {
    let n: usize = std::env::var("FLEETFORM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rw = RelayWorld::new();
    let relay = rw.start(64);
    let sha = rw.w.change_acme("main", 15);
    // Warm: the issuer's keys, the registry and the installation tokens.
    let (status, _) = dispatch(
        &relay,
        &json!({ "token": rw.push_token(ACME, "main", &sha) }),
    );
    assert_eq!(status, 202);
    let tokens: Vec<String> = (0..n).map(|_| rw.push_token(ACME, "main", &sha)).collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let started = std::time::Instant::now();
    let handles: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let (url, barrier) = (relay.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = json!({ "token": t }).to_string();
                barrier.wait();
                let t0 = std::time::Instant::now();
                let status = std::panic::catch_unwind(|| {
                    http(&url, "POST", "/dispatch", &[], body.as_bytes()).0
                })
                .unwrap_or(0);
                (status, t0.elapsed())
            })
        })
        .collect();
    let mut results: Vec<(u16, Duration)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wall = started.elapsed();
    results.sort_by_key(|r| r.1);
    let pct = |p: f64| {
        results[((results.len() as f64 * p).ceil() as usize).saturating_sub(1)]
            .1
            .as_secs_f64()
            * 1000.0
    };
    let vm_hwm_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", relay.child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let ok = results.iter().filter(|r| r.0 == 202).count();
    if ok < n {
        let log = std::fs::read_to_string(&relay.stderr_log).unwrap_or_default();
        let mut statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
        statuses.dedup();
        eprintln!(
            "answers other than 202: {statuses:?}; the relay's log ends:\n{}",
            log.lines().rev().take(15).collect::<Vec<_>>().join("\n")
        );
    }
    let sent = rw.w.gh.dispatches(MANAGER).len() - 1;
    println!(
        "{}",
        json!({
            "n": n, "answered_202": ok, "dispatches_at_fake": sent,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "wall_ms": wall.as_secs_f64() * 1000.0, "peak_rss_kb": vm_hwm_kb,
            "github_requests": rw.w.gh.request_count(),
        })
    );
}

/// The relay's image holds the static binary only and runs it unprivileged.
#[test]
fn the_relay_image_is_the_binary_alone_run_unprivileged() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"),
    )
    .unwrap();
    let instructions: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(instructions.first(), Some(&"FROM scratch"), "{text}");
    assert!(
        instructions.contains(&"COPY fleetform /fleetform"),
        "{text}"
    );
    assert!(
        instructions
            .iter()
            .filter(|l| l.starts_with("COPY"))
            .count()
            == 1,
        "{text}"
    );
    assert!(instructions.contains(&"USER 65532:65532"), "{text}");
    assert!(
        instructions.contains(&r#"ENTRYPOINT ["/fleetform", "-C", "/manager", "relay", "serve"]"#),
        "{text}"
    );
}

/// `GET /schema` answers a registered, active customer's run only.
#[test]
fn the_schema_is_served_to_registered_customers_only() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 16);
    let token = rw.push_token(ACME, "main", &sha);
    let auth = format!("Bearer {token}");
    let (status, answer) = http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["schema_path"], "schema/variables.schema.json");
    assert!(answer["schema"]["properties"].is_object(), "{answer}");
    assert_eq!(answer["schema_formats"], "assert", "{answer}");
    assert_eq!(answer["variables"], "infra/variables.yml");
    let (status, answer) = http(&relay.url, "GET", "/schema", &[], b"");
    assert_eq!((status, answer["error"].as_str()), (401, Some("no_token")));
    rw.w.gh.add_repo("evil/infra");
    let evil = rw.push_token("evil/infra", "main", &sha);
    let auth = format!("Bearer {evil}");
    let (status, answer) = http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("unknown_repo")),
        "{answer}"
    );
    // Reading the schema does not use up the token's one dispatch.
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
}
