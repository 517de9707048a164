//! The dispatch relay (`fleetform relay serve`), run as a process against
//! the fake GitHub and a fake OIDC issuer on loopback: customers reach the
//! manager with their run's OIDC token (or the App's webhook) and hold no
//! credential of the provider.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use crate::relay::fleet::{DISPATCH, SWEEP_PATH};
use crate::support::oidc::FakeIssuer;
use crate::support::readme_budgets::Budgets;
use crate::world::{World, ACME, MANAGER};

/// The customer App: public, installed by the customers on their repos.
pub(crate) const CUSTOMER_APP_ID: u64 = 4243;

pub(crate) const CUSTOMER_SLUG: &str = "fleetform-customer";

/// The manager App: private, installed on the manager repo only; its bot
/// sends the dispatches (`relay.app_slug`).
pub(crate) const MANAGER_APP_ID: u64 = 4244;

pub(crate) const SLUG: &str = "fleetform-relay";

pub(crate) const GLOBEX: &str = "globex/globex-app";

pub(crate) const WEBHOOK_SECRET: &str = "relay-webhook-secret-0123456789";

pub(crate) fn pem() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap()
}

pub(crate) fn manager_pem() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/manager-app.pem"),
    )
    .unwrap()
}

/// The variables of both Apps, as the relay and `fleetform poll` take them.
pub(crate) fn app_env() -> [(&'static str, String); 4] {
    [
        ("FLEETFORM_MANAGER_APP_ID", MANAGER_APP_ID.to_string()),
        ("FLEETFORM_MANAGER_APP_PRIVATE_KEY", manager_pem()),
        ("FLEETFORM_CUSTOMER_APP_ID", CUSTOMER_APP_ID.to_string()),
        ("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem()),
    ]
}

/// Registers both Apps in `gh` with exactly the permissions each may hold
/// (`apps/*.json` of `fleetform init`), the customer App public: the fake
/// then refuses any installation token asking more.
pub(crate) fn register_apps(gh: &crate::support::fake_github::FakeGitHub) {
    gh.register_app(CUSTOMER_APP_ID, &pem());
    gh.set_app_slug(CUSTOMER_APP_ID, CUSTOMER_SLUG);
    gh.set_app_settings(
        CUSTOMER_APP_ID,
        json!({"contents": "read", "metadata": "read", "pull_requests": "write", "statuses": "write", "deployments": "write"}),
        &["push", "pull_request", "issue_comment"],
        true,
    );
    gh.register_app(MANAGER_APP_ID, &manager_pem());
    gh.set_app_slug(MANAGER_APP_ID, SLUG);
    gh.set_app_settings(
        MANAGER_APP_ID,
        json!({"contents": "write", "metadata": "read"}),
        &[],
        false,
    );
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
/// repository ids; the manager App is installed on the manager only, the
/// customer App on the customers' repos only.
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
        register_apps(&w.gh);
        w.gh.install_app(MANAGER_APP_ID, "provider", &[MANAGER]);
        w.gh.install_app(CUSTOMER_APP_ID, "customers", &[ACME, GLOBEX]);
        issuer.set_audience(&RelayWorld::audience());
        // GitHub's default secondary limits at the fake too, for every
        // relay test: a request over one is answered 403 as GitHub does.
        w.gh.enforce_limits(crate::support::fake_github::Limits {
            writes_per_minute: 80,
            writes_per_hour: 500,
            points_per_minute: 900,
        });
        RelayWorld { w, issuer }
    }

    /// `cmd` (a customer's trigger step) set up as the customer's
    /// instructions say for the relay at `url`: no token, no dispatch key,
    /// no manager repo; the run's OIDC token from the fake issuer.
    pub fn through_relay<'c>(
        &self,
        cmd: &'c mut assert_cmd::Command,
        url: &str,
    ) -> &'c mut assert_cmd::Command {
        cmd.env_remove("FLEETFORM_TOKEN")
            .env_remove("FLEETFORM_DISPATCH_KEY")
            .env_remove("FLEETFORM_MANAGER_REPO")
            .env("FLEETFORM_RELAY_URL", url)
            .env("FLEETFORM_RELAY_AUDIENCE", RelayWorld::audience())
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", self.issuer.request_url())
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                crate::support::oidc::REQUEST_TOKEN,
            )
    }

    /// The audience the relay requires by default: the manager repo's
    /// address on github.com.
    pub fn audience() -> String {
        format!("https://github.com/{MANAGER}")
    }

    pub fn start(&self, concurrency: usize) -> RelayProc {
        self.start_with(concurrency, 10)
    }

    /// The relay with `timeout_secs` for a request's head and body.
    pub fn start_with(&self, concurrency: usize, timeout_secs: u64) -> RelayProc {
        self.start_args(concurrency, timeout_secs, &[])
    }

    /// The relay with `extra` arguments after `relay serve`'s own.
    pub fn start_args(&self, concurrency: usize, timeout_secs: u64, extra: &[&str]) -> RelayProc {
        self.start_env(concurrency, timeout_secs, extra, &[])
    }

    /// The relay with `extra` arguments and variables `env` besides its own.
    pub fn start_env(
        &self,
        concurrency: usize,
        timeout_secs: u64,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> RelayProc {
        self.start_on("127.0.0.1:0", (concurrency, timeout_secs), extra, env)
    }

    /// [`RelayWorld::start_env`] listening on `listen` (an address the
    /// App's webhook is set to before the relay starts).
    pub fn start_on(
        &self,
        listen: &str,
        (concurrency, timeout_secs): (usize, u64),
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> RelayProc {
        // One log per relay started, even two in the same second.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = self
            .w
            .scratch
            .path()
            .join(format!("relay-{}-{n}.log", common::unix_now()));
        // The bench (bench/run.sh --relay-only) measures the static release
        // binary; the tests run the debug build.
        let bin = std::env::var_os("FLEETFORM_BENCH_BIN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("fleetform"));
        let mut cmd = std::process::Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GITHUB_API_URL", self.w.gh.api_url())
            .envs(app_env())
            .env("FLEETFORM_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("FLEETFORM_RETRY_BASE_MS", "20")
            .env("FLEETFORM_RELAY_TIMEOUT", timeout_secs.to_string())
            // GitHub's default limits (no FLEETFORM_GITHUB_* raise): every
            // relay test runs within what github.com allows.
            .envs(env.iter().copied())
            .current_dir(self.w.fx.manager())
            .args(["relay", "serve", "--listen", listen, "--concurrency"])
            .arg(concurrency.to_string())
            .args(extra)
            .envs(env.iter().copied())
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

/// Whether the relay accepted the caller: it dispatched (202), or the
/// event had been dispatched already (200 `duplicate`: the relay
/// dispatches each event once, `tests/relay/once.rs`).
pub fn verified(status: u16, answer: &Value) -> bool {
    status == 202 || (status == 200 && answer["duplicate"].is_string())
}

/// One HTTP/1.1 request over a fresh connection: (status, JSON body).
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    http_from(
        std::net::Ipv4Addr::LOCALHOST,
        url,
        method,
        path,
        headers,
        body,
    )
}

/// A loopback connection from `source` (any 127.x.y.z): a client of its
/// own address, as runners on the internet are.
pub fn connect_from(source: std::net::Ipv4Addr, addr: &str) -> TcpStream {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from((source, 0)).into())
        .unwrap();
    s.connect(&addr.into()).unwrap();
    s.into()
}

/// [`http`] from the loopback address `source`.
pub fn http_from(
    source: std::net::Ipv4Addr,
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let addr = url.trim_start_matches("http://");
    let mut s = connect_from(source, addr);
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

pub(crate) fn dispatch(relay: &RelayProc, body: &Value) -> (u16, Value) {
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
    rw.w.gh.reset_counters();
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": token, "files": ["infra/variables.yml"] }),
    );
    assert_eq!(status, 202, "{answer}");
    // The book's "Request budgets": a push, and the first time what
    // requests share (the registry; the manager App's token for the
    // manager repo and the installation's lookup). Nothing is read on the
    // customer's repo, and no customer token is minted: the manager reads
    // the push's branch and pull request.
    let b = Budgets::from_book();
    let token_cost = b.n(DISPATCH, " per repository per 50 min")
        + b.n(DISPATCH, " for the installation's lookup");
    assert_eq!(
        rw.w.gh.request_count_but(SWEEP_PATH),
        b.lead(DISPATCH) + b.n(DISPATCH, " per 30 s)") + token_cost,
        "{}",
        rw.w.gh.request_lines()
    );
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
    // The next push: its own requests only.
    let next = rw.w.change_acme("main", 4);
    let token_next = rw.push_token(ACME, "main", &next);
    rw.w.gh.reset_counters();
    let (status, answer) = dispatch(
        &relay,
        &json!({ "token": token_next, "files": ["infra/variables.yml"] }),
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        rw.w.gh.request_count_but(SWEEP_PATH),
        b.lead(DISPATCH),
        "{}",
        rw.w.gh.request_lines()
    );
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
    // A registered repo without its id, and an unknown repo.
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
    // Cut off, the read ends (closed or reset) long before its own
    // timeout; a relay that waits on leaves the read to time out.
    slow.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut rest = Vec::new();
    if let Err(e) = slow.read_to_end(&mut rest) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the slow client was not cut off: {e}"
        );
    }
    let (status, answer) = http(&relay.url, "GET", "/nowhere", &[], b"");
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (status, _) = http(&relay.url, "GET", "/dispatch", &[], b"");
    assert_eq!(status, 405);
    drop(slow);
}
