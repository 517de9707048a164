//! The Apps' webhooks in the fake: an App's webhook URL and secret
//! ([`FakeGitHub::set_app_webhook`]), deliveries the fake really sends
//! there ([`FakeGitHub::deliver`]: a POST with GitHub's headers and
//! `X-Hub-Signature-256`, answered or not within GitHub's 10 s), each
//! attempt kept as GitHub lists it ("List deliveries for an app webhook":
//! newest first, `per_page`, a `cursor` in the `Link` header), and
//! redeliveries ("Redeliver a delivery for an app webhook": answered 202,
//! then sent in the background with the same guid, recorded as a new
//! attempt with what the receiver answered).
//!
//! An attempt that got no answer (nothing listening, or no answer within
//! 10 s) is recorded with `status_code` 0, as GitHub lists a delivery that
//! failed to connect or timed out.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use super::handlers::{Answer, Ctx};
use super::state::{repo_key, State};
use super::util::{epoch_secs, rfc3339};
use super::{lock, FakeGitHub, Inner};

/// GitHub gives up on a delivery not answered within this long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// An App's webhook settings.
#[derive(Debug, Clone)]
struct Hook {
    url: String,
    secret: String,
}

/// One delivery attempt, as kept.
#[derive(Debug, Clone)]
struct Attempt {
    id: u64,
    guid: String,
    app_id: u64,
    delivered_at: u64,
    redelivery: bool,
    duration: f64,
    status: String,
    status_code: u16,
    event: String,
    body: Vec<u8>,
}

/// A delivery to send: the guid, event and body it carries.
#[derive(Debug, Clone)]
struct Job {
    app_id: u64,
    guid: String,
    event: String,
    body: Vec<u8>,
    redelivery: bool,
}

/// The webhooks' state.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    config: std::collections::BTreeMap<u64, Hook>,
    attempts: Vec<Attempt>,
    /// Redeliveries answered 202, sent once the answer is out.
    outbox: Vec<Job>,
}

/// An attempt as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookAttempt {
    pub id: u64,
    pub guid: String,
    pub redelivery: bool,
    /// What the receiver answered; 0: no answer.
    pub status_code: u16,
}

impl From<&Attempt> for HookAttempt {
    fn from(a: &Attempt) -> HookAttempt {
        HookAttempt {
            id: a.id,
            guid: a.guid.clone(),
            redelivery: a.redelivery,
            status_code: a.status_code,
        }
    }
}

/// POSTs `job` to `hook` as GitHub does: (status code, status text,
/// seconds taken); status 0 when nothing answered in time.
fn send(hook: &Hook, job: &Job) -> (u16, String, f64) {
    let started = Instant::now();
    let (code, text) = match post(hook, job) {
        Ok(code) => (
            code,
            match code {
                200..=299 => "OK".to_string(),
                _ => format!("Invalid HTTP Response: {code}"),
            },
        ),
        Err(why) => (0, why),
    };
    (code, text, started.elapsed().as_secs_f64())
}

fn post(hook: &Hook, job: &Job) -> Result<u16, String> {
    let rest = hook
        .url
        .strip_prefix("http://")
        .ok_or("the fake sends to http:// URLs only")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or("failed to connect to host")?;
    let mut stream = TcpStream::connect_timeout(&addr, DELIVERY_TIMEOUT)
        .map_err(|_| "failed to connect to host".to_string())?;
    stream.set_read_timeout(Some(DELIVERY_TIMEOUT)).ok();
    stream.set_write_timeout(Some(DELIVERY_TIMEOUT)).ok();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(hook.secret.as_bytes())
        .map_err(|e| e.to_string())?;
    mac.update(&job.body);
    let signature = hex::encode(mac.finalize().into_bytes());
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: GitHub-Hookshot/fake\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-github-event: {}\r\nx-github-delivery: {}\r\nx-github-hook-installation-target-type: integration\r\nx-github-hook-installation-target-id: {}\r\nx-hub-signature-256: sha256={signature}\r\nconnection: close\r\n\r\n",
        job.body.len(),
        job.event,
        job.guid,
        job.app_id,
    );
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&job.body));
    sent.map_err(|_| "failed to connect to host".to_string())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The status line is enough; the rest is read until the end.
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) if answer.starts_with(b"HTTP/1.1 ") && answer.len() > 12 => break,
            Err(_) => return Err("timed out".into()),
        }
    }
    let line = String::from_utf8_lossy(&answer);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "Invalid HTTP Response".to_string())
}

/// Keeps the attempt `job` came to, started at `at`.
fn record(
    st: &mut State,
    job: &Job,
    at: u64,
    (code, text, secs): (u16, String, f64),
) -> HookAttempt {
    let a = Attempt {
        id: st.next_id(),
        guid: job.guid.clone(),
        app_id: job.app_id,
        delivered_at: at,
        redelivery: job.redelivery,
        duration: secs,
        status: text,
        status_code: code,
        event: job.event.clone(),
        body: job.body.clone(),
    };
    let seen = HookAttempt::from(&a);
    st.hooks.attempts.push(a);
    seen
}

/// Sends `job` now (no lock held while it is sent) and keeps the attempt.
fn deliver_now(inner: &Inner, job: Job) -> HookAttempt {
    let hook = lock(&inner.state).hooks.config.get(&job.app_id).cloned();
    let at = epoch_secs();
    let outcome = match &hook {
        Some(h) => send(h, &job),
        None => (0, "failed to connect to host".into(), 0.0),
    };
    record(&mut lock(&inner.state), &job, at, outcome)
}

/// Sends the redeliveries answered 202, each from a thread of its own.
pub(super) fn send_queued(inner: &Arc<Inner>) {
    let jobs = std::mem::take(&mut lock(&inner.state).hooks.outbox);
    for job in jobs {
        let inner = inner.clone();
        std::thread::spawn(move || deliver_now(&inner, job));
    }
}

fn delivery_json(st: &State, a: &Attempt) -> Value {
    let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let repo = body
        .pointer("/repository/full_name")
        .and_then(Value::as_str);
    let installation = repo.and_then(|r| {
        st.installations
            .iter()
            .find(|i| i.app_id == a.app_id && i.repos.iter().any(|x| repo_key(x) == repo_key(r)))
            .map(|i| i.id)
    });
    json!({
        "id": a.id,
        "guid": a.guid,
        "delivered_at": rfc3339(a.delivered_at),
        "redelivery": a.redelivery,
        "duration": a.duration,
        "status": a.status,
        "status_code": a.status_code,
        "event": a.event,
        "action": body.get("action").and_then(Value::as_str),
        "installation_id": installation,
        "repository_id": body.pointer("/repository/id").and_then(Value::as_u64),
        "throttled_at": null,
    })
}

/// `GET /app/hook/deliveries`: the App's attempts, newest first; `cursor`
/// (`v1_<id>`) starts a page at that attempt, `status` keeps `success`
/// (200-399) or `failure` (400-599), as GitHub documents.
pub(crate) fn list(st: &mut State, ctx: &Ctx) -> Answer {
    let Some(app) = st.current_app else {
        return Answer::error(401, "A JSON web token could not be decoded");
    };
    let start = match ctx.query("cursor") {
        None => u64::MAX,
        Some(c) => match c.strip_prefix("v1_").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Answer::error(400, "Bad request: the cursor is not one GitHub gave"),
        },
    };
    let wanted = |code: u16| match ctx.query("status") {
        Some("success") => (200..400).contains(&code),
        Some("failure") => (400..600).contains(&code),
        _ => true,
    };
    let per_page = ctx
        .query("per_page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let mut mine: Vec<&Attempt> = st
        .hooks
        .attempts
        .iter()
        .filter(|a| a.app_id == app && a.id <= start && wanted(a.status_code))
        .collect();
    mine.sort_by_key(|a| std::cmp::Reverse(a.id));
    let page: Vec<Value> = mine
        .iter()
        .take(per_page)
        .map(|a| delivery_json(st, a))
        .collect();
    let mut answer = Answer::json(200, Value::Array(page));
    if let Some(next) = mine.get(per_page) {
        let mut query = format!("per_page={per_page}&cursor=v1_{}", next.id);
        if let Some(s) = ctx.query("status") {
            query.push_str(&format!("&status={s}"));
        }
        let link = format!("<{}/app/hook/deliveries?{query}>; rel=\"next\"", st.api_url);
        answer = answer.header("link", link);
    }
    answer
}

/// `POST /app/hook/deliveries/{delivery_id}/attempts`: 202, and the
/// delivery is sent again once the answer is out.
pub(crate) fn redeliver(st: &mut State, ctx: &Ctx) -> Answer {
    let Some(app) = st.current_app else {
        return Answer::error(401, "A JSON web token could not be decoded");
    };
    let id = ctx.number("delivery_id");
    let Some(a) = st
        .hooks
        .attempts
        .iter()
        .find(|a| a.id == id && a.app_id == app)
    else {
        return Answer::not_found();
    };
    if a.delivered_at + 3 * 24 * 3600 < epoch_secs() {
        return Answer::error(422, "Validation Failed: the delivery is older than 3 days");
    }
    let job = Job {
        app_id: app,
        guid: a.guid.clone(),
        event: a.event.clone(),
        body: a.body.clone(),
        redelivery: true,
    };
    st.hooks.outbox.push(job);
    Answer::json(202, json!({}))
}

impl FakeGitHub {
    /// App `app_id`'s webhook: where its deliveries go and the secret they
    /// are signed with.
    pub fn set_app_webhook(&self, app_id: u64, url: &str, secret: &str) {
        let hook = Hook {
            url: url.to_string(),
            secret: secret.to_string(),
        };
        self.state().hooks.config.insert(app_id, hook);
    }

    /// GitHub sends App `app_id`'s webhook for `event` now, with a new
    /// guid; the attempt as kept (status 0: nothing answered).
    pub fn deliver(&self, app_id: u64, event: &str, body: &Value) -> HookAttempt {
        let n = self.state().next_id();
        let job = Job {
            app_id,
            guid: format!("00000000-0000-4000-8000-{n:012x}"),
            event: event.to_string(),
            body: body.to_string().into_bytes(),
            redelivery: false,
        };
        deliver_now(&self.inner, job)
    }

    /// Someone redelivers attempt `id` from the App's settings page: sent
    /// again now, with its guid.
    pub fn redeliver_by_hand(&self, id: u64) -> HookAttempt {
        let job = {
            let st = self.state();
            let a = st
                .hooks
                .attempts
                .iter()
                .find(|a| a.id == id)
                .expect("fake GitHub: no such delivery");
            Job {
                app_id: a.app_id,
                guid: a.guid.clone(),
                event: a.event.clone(),
                body: a.body.clone(),
                redelivery: true,
            }
        };
        deliver_now(&self.inner, job)
    }

    /// The attempts of `guid`, oldest first.
    pub fn hook_attempts(&self, guid: &str) -> Vec<HookAttempt> {
        let st = self.state();
        st.hooks
            .attempts
            .iter()
            .filter(|a| a.guid == guid)
            .map(HookAttempt::from)
            .collect()
    }

    /// Redelivery requests answered 202 (`apps/redeliver-webhook-delivery`).
    pub fn redelivery_requests(&self) -> usize {
        let st = self.state();
        st.requests
            .iter()
            .filter(|r| {
                r.operation.as_deref() == Some("apps/redeliver-webhook-delivery") && r.status == 202
            })
            .count()
    }
}
