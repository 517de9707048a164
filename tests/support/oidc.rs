//! A fake OIDC issuer on loopback, standing in for GitHub Actions'
//! (`token.actions.githubusercontent.com`): it publishes its RSA key as a
//! JWKS at `/.well-known/jwks`, mints tokens with the claims a test asks
//! for, and serves the runner's token endpoint (`GET /token?audience=..`
//! with the request token), as `ACTIONS_ID_TOKEN_REQUEST_URL` points at.
//! The JWKS can be taken down (503), made to hang (the connection is
//! accepted and never answered), and its key rotated; its requests are
//! counted.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

use super::fake_github::http::{HttpRequest, HttpResponse, Reply, Server};

pub const KID: &str = "fake-kid-1";
/// The `kid` of the key the JWKS publishes after [`FakeIssuer::rotate`]
/// (the fixture key `other`).
pub const ROTATED_KID: &str = "fake-kid-2";
/// Where customers keep the trigger workflow (`relay.workflows`' default).
pub const TRIGGER_WORKFLOW: &str = ".github/workflows/customer-trigger.yml";
/// The request token the fake runner endpoint accepts.
pub const REQUEST_TOKEN: &str = "fake-actions-id-token-request-token";

fn key(name: &str) -> RsaKeyPair {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/oidc/{name}.pem")),
    )
    .unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    RsaKeyPair::from_der(&der).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Inner {
    key: RsaKeyPair,
    down: AtomicBool,
    hang: AtomicBool,
    /// The JWKS publishes the `other` key under `ROTATED_KID`, and no
    /// longer the issuer's.
    rotated: AtomicBool,
    jwks_requests: AtomicUsize,
    /// Tokens asked of the runner's endpoint.
    token_requests: AtomicUsize,
    /// The `aud` of the tokens [`FakeIssuer::claims`] makes.
    audience: Mutex<String>,
    /// Claims of the token the runner endpoint hands out next.
    runner_claims: Mutex<Value>,
    addr: Mutex<String>,
}

pub struct FakeIssuer {
    inner: Arc<Inner>,
    _server: Server,
}

impl FakeIssuer {
    pub fn start() -> FakeIssuer {
        let inner = Arc::new(Inner {
            key: key("issuer"),
            down: AtomicBool::new(false),
            hang: AtomicBool::new(false),
            rotated: AtomicBool::new(false),
            jwks_requests: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            audience: Mutex::new("fleetform".into()),
            runner_claims: Mutex::new(Value::Null),
            addr: Mutex::new(String::new()),
        });
        let handler_inner = inner.clone();
        let server = Server::start(
            Arc::new(move |req: HttpRequest| serve(&handler_inner, req)),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        *inner.addr.lock().unwrap() = format!("http://{}", server.addr());
        FakeIssuer {
            inner,
            _server: server,
        }
    }

    /// The issuer (`iss`), an http URL on loopback.
    pub fn url(&self) -> String {
        self.inner.addr.lock().unwrap().clone()
    }

    /// What `ACTIONS_ID_TOKEN_REQUEST_URL` is set to.
    pub fn request_url(&self) -> String {
        format!("{}/token?api-version=2.0", self.url())
    }

    /// The `aud` of the tokens [`FakeIssuer::claims`] makes from now on.
    pub fn set_audience(&self, audience: &str) {
        *self.inner.audience.lock().unwrap() = audience.to_string();
    }

    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// JWKS requests are accepted and not answered until `hang` is
    /// cleared (they are then answered as usual).
    pub fn set_hang(&self, hang: bool) {
        self.inner.hang.store(hang, Ordering::SeqCst);
    }

    /// The JWKS drops the issuer's key (`KID`) and publishes the fixture
    /// key `other` under `ROTATED_KID` instead.
    pub fn rotate(&self) {
        self.inner.rotated.store(true, Ordering::SeqCst);
    }

    /// Tokens the runner's endpoint was asked for.
    pub fn token_requests(&self) -> usize {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// Down or hanging now.
    pub fn in_trouble(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst) || self.inner.hang.load(Ordering::SeqCst)
    }

    pub fn jwks_requests(&self) -> usize {
        self.inner.jwks_requests.load(Ordering::SeqCst)
    }

    /// Claims of a token for a run of `repo` (`id`) on `git_ref` at `sha`,
    /// of the trigger workflow at its default path, for the audience set,
    /// valid now.
    pub fn claims(&self, repo: &str, id: u64, event: &str, git_ref: &str, sha: &str) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        static SEQ: AtomicUsize = AtomicUsize::new(1);
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        json!({
            "iss": self.url(),
            "aud": self.inner.audience.lock().unwrap().clone(),
            "iat": now, "nbf": now, "exp": now + 300,
            "jti": format!("00000000-0000-4000-8000-{n:012}"),
            "sub": format!("repo:{repo}:ref:{git_ref}"),
            "repository": repo,
            "repository_id": id.to_string(),
            "repository_owner": repo.split('/').next().unwrap(),
            "ref": git_ref,
            "sha": sha,
            "event_name": event,
            "job_workflow_ref": format!("{repo}/{TRIGGER_WORKFLOW}@{git_ref}"),
            "run_id": (4000 + n).to_string(),
            "run_attempt": "1",
            "actor": "customer-dev",
        })
    }

    /// A token with `claims`, signed by the issuer's key under `KID`.
    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with(
            claims,
            &json!({ "alg": "RS256", "typ": "JWT", "kid": KID }),
            "issuer",
        )
    }

    /// A token with any header, signed (RS256) by the fixture key `key`.
    pub fn mint_with(&self, claims: &Value, header: &Value, key_name: &str) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let k = if key_name == "issuer" {
            &self.inner.key
        } else {
            &key(key_name)
        };
        let mut sig = vec![0u8; k.public().modulus_len()];
        k.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64(&sig))
    }

    /// A token signed with HMAC-SHA256 under `secret` (the classic
    /// algorithm-confusion attack uses the public key as the secret).
    pub fn mint_hs256(&self, claims: &Value, secret: &[u8]) -> String {
        use hmac::{KeyInit, Mac};
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": KID });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    }

    /// The JWKS document's modulus, decoded (what HS256 attacks sign with).
    pub fn public_modulus(&self) -> Vec<u8> {
        let c: ring::rsa::PublicKeyComponents<Vec<u8>> = self.inner.key.public().into();
        c.n
    }

    /// The claims the runner endpoint's next token carries.
    pub fn set_runner_claims(&self, claims: Value) {
        *self.inner.runner_claims.lock().unwrap() = claims;
    }
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        // A hanging request would keep the server's connection thread,
        // which the server joins, from ending.
        self.set_hang(false);
    }
}

fn answer(status: u16, body: Value) -> Reply {
    Reply::Send(HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

fn serve(inner: &Inner, req: HttpRequest) -> Reply {
    match req.path.as_str() {
        "/.well-known/jwks" => {
            inner.jwks_requests.fetch_add(1, Ordering::SeqCst);
            // Polled: the fake's handlers are plain threads.
            while inner.hang.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if inner.down.load(Ordering::SeqCst) {
                return answer(503, json!({ "message": "down" }));
            }
            let (kid, public): (_, ring::rsa::PublicKeyComponents<Vec<u8>>) =
                if inner.rotated.load(Ordering::SeqCst) {
                    (ROTATED_KID, key("other").public().into())
                } else {
                    (KID, inner.key.public().into())
                };
            answer(
                200,
                json!({ "keys": [{
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                    "n": b64(&public.n),
                    "e": b64(&public.e),
                }]}),
            )
        }
        "/token" => {
            inner.token_requests.fetch_add(1, Ordering::SeqCst);
            if req.header("authorization") != Some(&format!("bearer {REQUEST_TOKEN}"))
                && req.header("authorization") != Some(&format!("Bearer {REQUEST_TOKEN}"))
            {
                return answer(401, json!({ "message": "bad request token" }));
            }
            let audience = req
                .query
                .split('&')
                .find_map(|kv| kv.strip_prefix("audience="))
                .map(|a| percent_encoding::percent_decode_str(a).decode_utf8_lossy())
                .unwrap_or_default()
                .to_string();
            let mut claims = inner.runner_claims.lock().unwrap().clone();
            if claims.is_null() {
                return answer(500, json!({ "message": "the test set no runner claims" }));
            }
            claims["aud"] = json!(audience);
            let header = json!({ "alg": "RS256", "typ": "JWT", "kid": KID });
            let input = format!(
                "{}.{}",
                b64(header.to_string().as_bytes()),
                b64(claims.to_string().as_bytes())
            );
            let mut sig = vec![0u8; inner.key.public().modulus_len()];
            inner
                .key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
            answer(200, json!({ "value": format!("{input}.{}", b64(&sig)) }))
        }
        _ => answer(404, json!({ "message": "not found" })),
    }
}
