//! `POST /webhook`: the App's events. The signature (`X-Hub-Signature-256`,
//! HMAC-SHA256 of the body under the webhook secret) is checked in constant
//! time before the body is parsed; a delivery already handled (the same
//! signed body, or the same delivery id: [`super::replay`]) is answered
//! 200 and not handled again. Dispatched: a push to the default branch
//! and a pull request opened, synchronized or reopened, of an installed
//! customer repo, when the change touches a file fleetform reads; and a new
//! comment command on a pull request of one (`comment`).

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::replay::{self, Kind};
use super::subject::text;
use super::{Answer, Relay, Subject};
use crate::dispatch::command::parse;
use crate::dispatch::{is_sha, pr_from_commit_message};

/// GitHub caps webhook payloads at 25 MB.
pub const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

/// The headers of a signed delivery the relay reads.
#[derive(Debug, Default)]
pub struct Delivery<'a> {
    pub event: Option<&'a str>,
    pub id: Option<&'a str>,
}

/// The variable holding the customer App's webhook secret.
pub const WEBHOOK_SECRET_ENV: &str = "FLEETFORM_WEBHOOK_SECRET";
/// The variable holding the secret it replaces, while a rotation is under
/// way: deliveries signed with either are accepted until it is unset.
pub const WEBHOOK_SECRET_PREVIOUS_ENV: &str = crate::util::credentials::WEBHOOK_SECRET_PREVIOUS;

/// Why the webhook secrets were not accepted; never quotes them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("{0} is shorter than 16 characters; use the customer App's webhook secret (e.g. the output of `openssl rand -hex 32`)")]
    Short(&'static str),
    #[error("{WEBHOOK_SECRET_PREVIOUS_ENV} is set but {WEBHOOK_SECRET_ENV} is not: during a rotation set the new secret as {WEBHOOK_SECRET_ENV} and the old one as {WEBHOOK_SECRET_PREVIOUS_ENV}")]
    PreviousAlone,
    #[error("{WEBHOOK_SECRET_PREVIOUS_ENV} is the same as {WEBHOOK_SECRET_ENV}: set the new secret as {WEBHOOK_SECRET_ENV} and the one it replaces as {WEBHOOK_SECRET_PREVIOUS_ENV}")]
    Same,
}

/// A webhook secret, wiped when dropped.
pub type Secret = zeroize::Zeroizing<Vec<u8>>;

/// The webhook secrets of `var` (the current one) and `previous`, as
/// `get` reads them: none, the current one, or the current one then the
/// previous one (a rotation: GitHub signs with one secret, and deliveries
/// signed before the App's webhook got the new one still arrive, or are
/// redelivered, for a while).
pub fn secrets_from(get: impl Fn(&str) -> Option<String>) -> Result<Vec<Secret>, SecretError> {
    let read = |var: &'static str| match get(var).filter(|s| !s.is_empty()) {
        Some(s) if s.len() >= 16 => Ok(Some(Secret::new(s.into_bytes()))),
        Some(s) => {
            drop(Secret::new(s.into_bytes()));
            Err(SecretError::Short(var))
        }
        None => Ok(None),
    };
    match (
        read(WEBHOOK_SECRET_ENV)?,
        read(WEBHOOK_SECRET_PREVIOUS_ENV)?,
    ) {
        (None, None) => Ok(Vec::new()),
        (None, Some(_)) => Err(SecretError::PreviousAlone),
        (Some(c), Some(p)) if *c == *p => Err(SecretError::Same),
        (Some(c), p) => Ok(std::iter::once(c).chain(p).collect()),
    }
}

/// The HMACs of a delivery's body under each secret, computed as the body
/// arrives, and the signature one of them must equal.
pub struct SignatureCheck {
    macs: Vec<Hmac<Sha256>>,
    given: Vec<u8>,
}

impl SignatureCheck {
    /// A check of `signature` (`sha256=<hex>`) under any of `secrets`;
    /// None when the header is not of that form (or there is no secret).
    pub fn new(secrets: &[Secret], signature: &str) -> Option<SignatureCheck> {
        let hex_sig = signature.strip_prefix("sha256=")?;
        let given = hex::decode(hex_sig.trim()).ok()?;
        let macs = secrets
            .iter()
            .map(|s| Hmac::<Sha256>::new_from_slice(s).ok())
            .collect::<Option<Vec<_>>>()?;
        (!macs.is_empty()).then_some(SignatureCheck { macs, given })
    }

    pub fn update(&mut self, chunk: &[u8]) {
        for mac in &mut self.macs {
            mac.update(chunk);
        }
    }

    /// Whether the body seen is signed with one of the secrets; each
    /// compared in constant time, and every one compared.
    pub fn verify(self) -> bool {
        let given = self.given;
        self.macs
            .into_iter()
            .fold(false, |ok, mac| mac.verify_slice(&given).is_ok() | ok)
    }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `body` under one of
/// `secrets`; compared in constant time.
pub fn signature_ok(secrets: &[Secret], body: &[u8], signature: &str) -> bool {
    SignatureCheck::new(secrets, signature).is_some_and(|mut c| {
        c.update(body);
        c.verify()
    })
}

fn ignored(why: impl Into<String>) -> Answer {
    Answer::ok(200, json!({ "ignored": why.into() }))
}

impl Relay {
    /// The check of a delivery's signature header, before its body is
    /// read: 404 without a webhook secret, 401 without a well-formed
    /// `X-Hub-Signature-256`.
    pub fn signature_check(&self, signature: Option<&str>) -> Result<SignatureCheck, Answer> {
        let secrets = &self.settings.webhook_secrets;
        if secrets.is_empty() {
            return Err(Answer::refuse(
                404,
                "no_webhook",
                "this relay has no webhook secret (FLEETFORM_WEBHOOK_SECRET)",
            ));
        }
        signature
            .and_then(|s| SignatureCheck::new(secrets, s))
            .ok_or_else(|| {
                Answer::refuse(
                    401,
                    "bad_signature",
                    "X-Hub-Signature-256 is missing or not `sha256=<hex>`; only the App's signed deliveries are read",
                )
            })
    }

    /// A delivery whose signature was checked against its whole body. A
    /// delivery handled before is answered 200 and not handled again: one
    /// with the same `X-GitHub-Delivery` id (GitHub's redelivery), or the
    /// same signed body under another id (a replay: the id is not signed).
    pub async fn handle_signed_webhook(&self, headers: &Delivery<'_>, body: &[u8]) -> Answer {
        let Some(id) = headers.id.filter(|i| !i.is_empty() && i.len() <= 100) else {
            return Answer::refuse(400, "no_delivery", "X-GitHub-Delivery is missing");
        };
        let until = crate::util::now_unix() + replay::DELIVERY_KEPT.as_secs();
        let event = headers.event.unwrap_or("");
        // Only the body is signed: neither the id nor the event header is
        // part of what is compared.
        let by_body = replay::digest(&[body]);
        let by_id = replay::digest(&[id.as_bytes()]);
        let mut marks = Vec::new();
        for (kind, digest) in [(Kind::Body, by_body), (Kind::Delivery, by_id)] {
            let found = self.replays.first(kind, &digest, until).await;
            if let Ok(Some(mark)) = found {
                marks.push(mark);
                continue;
            }
            for m in marks {
                self.replays.release(m).await;
            }
            return found
                .err()
                .unwrap_or_else(|| ignored("delivery already handled"));
        }
        let answer = self.webhook_event(event, body).await;
        if answer.status >= 500 {
            // GitHub may redeliver it: let it through then.
            for m in marks {
                self.replays.release(m).await;
            }
        }
        answer
    }

    async fn webhook_event(&self, event: &str, body: &[u8]) -> Answer {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Answer::refuse(400, "bad_request", "the delivery is not JSON");
        };
        match event {
            "push" => self.on_push(&v).await,
            "pull_request" => self.on_pull_request(&v).await,
            "issue_comment" => self.on_issue_comment(&v).await,
            "ping" => ignored("ping"),
            _ => ignored("an event the relay does not act on"),
        }
    }

    /// The customer of a delivery's repository, by its id.
    async fn delivery_customer(&self, v: &Value) -> Result<crate::config::Customer, Answer> {
        let id = v
            .pointer("/repository/id")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let name = text(v, "/repository/full_name").unwrap_or("(unnamed)");
        let registry = self.registry().await?;
        Relay::customer(&registry, id, name).cloned()
    }

    /// The files a dispatch may list: the manager's customer files
    /// (`Manager::customer_files`: variables, overrides, secrets, the
    /// products file), the same list the manager checks a dispatch with.
    pub(super) fn read_files(&self) -> Vec<String> {
        self.settings.manager.customer_file_paths()
    }

    async fn on_push(&self, v: &Value) -> Answer {
        let (Some(git_ref), Some(after), Some(default)) = (
            text(v, "/ref"),
            text(v, "/after"),
            text(v, "/repository/default_branch"),
        ) else {
            return Answer::refuse(
                400,
                "bad_request",
                "a push delivery without ref, after or repository.default_branch",
            );
        };
        if git_ref != format!("refs/heads/{default}") {
            return ignored(
                "a push to a branch other than the default branch (pull requests are planned)",
            );
        }
        if !is_sha(after) || after.bytes().all(|b| b == b'0') {
            return ignored("the branch was deleted");
        }
        let customer = match self.delivery_customer(v).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let read = self.read_files();
        let touched = v
            .get("commits")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|c| ["added", "modified", "removed"].map(|k| c.get(k)))
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            .any(|f| read.iter().any(|r| r == f));
        if !touched {
            return ignored("the push changes no file fleetform reads");
        }
        let repo = text(v, "/repository/full_name")
            .unwrap_or_default()
            .to_string();
        let files = match self.present_files((&repo, customer.repo_id), after).await {
            Ok(f) => f,
            Err(a) => return a,
        };
        let subject = Subject {
            repo,
            sha: after.to_string(),
            git_ref: git_ref.to_string(),
            pr: text(v, "/head_commit/message").and_then(pr_from_commit_message),
            event: "push".into(),
            apply: true,
            run_url: None,
            comment: None,
            dispatch_id: delivery_dispatch_id(v, after),
            files,
        };
        let asked_at = github_time(v, "/repository/pushed_at");
        self.dispatch(&customer, &subject, asked_at).await
    }

    async fn on_pull_request(&self, v: &Value) -> Answer {
        let action = text(v, "/action").unwrap_or("");
        if !matches!(action, "opened" | "synchronize" | "reopened") {
            return ignored("a pull request action that changes no commit");
        }
        let (Some(n), Some(sha), Some(head_ref)) = (
            v.pointer("/pull_request/number").and_then(Value::as_u64),
            text(v, "/pull_request/head/sha"),
            text(v, "/pull_request/head/ref"),
        ) else {
            return Answer::refuse(
                400,
                "bad_request",
                "a pull_request delivery without number or head",
            );
        };
        let customer = match self.delivery_customer(v).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let repo_id = v.pointer("/repository/id").and_then(Value::as_u64);
        if v.pointer("/pull_request/head/repo/id")
            .and_then(Value::as_u64)
            != repo_id
        {
            return ignored("a pull request from another repository (a fork) is not planned");
        }
        let repo = text(v, "/repository/full_name")
            .unwrap_or_default()
            .to_string();
        let gh = match self.customer_client(&repo, customer.repo_id).await {
            Ok(gh) => gh,
            Err(a) => return a,
        };
        let changed = match gh.pull_files(&repo, n).await {
            Ok(f) => f,
            Err(e) => return Answer::github(&e),
        };
        let read = self.read_files();
        if !changed.iter().any(|f| read.contains(f)) {
            return ignored("the pull request changes no file fleetform reads");
        }
        let files = match self.present_files((&repo, customer.repo_id), sha).await {
            Ok(f) => f,
            Err(a) => return a,
        };
        let subject = Subject {
            repo,
            sha: sha.to_string(),
            git_ref: format!("refs/heads/{head_ref}"),
            pr: Some(n),
            event: "pull_request".into(),
            apply: false,
            run_url: None,
            comment: None,
            dispatch_id: delivery_dispatch_id(v, sha),
            files,
        };
        let asked_at = github_time(v, "/pull_request/updated_at");
        self.dispatch(&customer, &subject, asked_at).await
    }

    /// A new comment on a pull request whose text is a command: the relay
    /// reads the comment and the pull request's head from GitHub itself
    /// (`Relay::comment_subject`), as for a trigger's run.
    async fn on_issue_comment(&self, v: &Value) -> Answer {
        if text(v, "/action") != Some("created") {
            return ignored("only a new comment runs a command");
        }
        if !v
            .pointer("/issue/pull_request")
            .is_some_and(Value::is_object)
        {
            return ignored("a comment on an issue, not on a pull request");
        }
        if text(v, "/comment/body").and_then(parse).is_none() {
            return ignored("the comment is not a fleetform command");
        }
        let number = |p: &str| v.pointer(p).and_then(Value::as_u64).filter(|n| *n > 0);
        let (Some(id), Some(n), Some(repo_id)) = (
            number("/comment/id"),
            number("/issue/number"),
            number("/repository/id"),
        ) else {
            return Answer::refuse(
                400,
                "bad_request",
                "an issue_comment delivery without comment id, issue number or repository id",
            );
        };
        let customer = match self.delivery_customer(v).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let repo = text(v, "/repository/full_name")
            .unwrap_or_default()
            .to_string();
        let mut subject = Subject {
            repo: repo.clone(),
            sha: String::new(),
            git_ref: String::new(),
            pr: Some(n),
            event: "issue_comment".into(),
            apply: false,
            run_url: None,
            comment: None,
            dispatch_id: format!("w{repo_id}-c{id}"),
            files: Vec::new(),
        };
        let read = self
            .comment_subject((&repo, repo_id), Some(id), Some(n), &mut subject)
            .await;
        if let Err(a) = read {
            return a;
        }
        subject.files = match self
            .present_files((&repo, Some(repo_id)), &subject.sha)
            .await
        {
            Ok(f) => f,
            Err(a) => return a,
        };
        let asked_at = github_time(v, "/comment/created_at");
        self.dispatch(&customer, &subject, asked_at).await
    }

    /// Which of the files fleetform reads exist at `sha`.
    async fn present_files(
        &self,
        (repo, id): (&str, Option<u64>),
        sha: &str,
    ) -> Result<Vec<String>, Answer> {
        let gh = self.customer_client(repo, id).await?;
        let mut present = Vec::new();
        for f in self.read_files() {
            match gh.get_file(repo, &f, Some(sha)).await {
                Ok(Some(_)) => present.push(f),
                Ok(None) => {}
                Err(e) => return Err(Answer::github(&e)),
            }
        }
        if present.is_empty() {
            return Err(ignored_err(format!(
                "{repo} has no `{}` at {}",
                self.settings.manager.config.customer.variables,
                crate::dispatch::short_sha(sha)
            )));
        }
        Ok(present)
    }
}

/// When GitHub says the delivery's event happened, as Unix seconds: the
/// signed payload's own time at `pointer`, which the plan is measured from
/// against `sla:` (a batch entry's `asked_at`, as a trigger's token `iat`
/// is). A push's `repository.pushed_at` is Unix seconds; other events'
/// times (`pull_request.updated_at`, `comment.created_at`) are ISO 8601
/// ("Webhook events and payloads"). `None` when absent or unreadable: the
/// plan is then measured from the manager's run.
fn github_time(v: &Value, pointer: &str) -> Option<u64> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| u64::try_from(t.as_second()).ok()),
        _ => None,
    }
}

fn ignored_err(why: String) -> Answer {
    ignored(why)
}

/// A dispatch id for a delivery: the commit and the repository.
fn delivery_dispatch_id(v: &Value, sha: &str) -> String {
    let id = v
        .pointer("/repository/id")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    format!("w{id}-{}", &sha[..12.min(sha.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &[u8]) -> Secret {
        Secret::new(s.to_vec())
    }

    #[test]
    fn signatures() {
        let secrets = [secret(b"s3cret")];
        let body = br#"{"a":1}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_ok(&secrets, body, &good));
        assert!(!signature_ok(&secrets, b"{\"a\":2}", &good));
        assert!(!signature_ok(&[secret(b"other")], body, &good));
        // During a rotation: either secret, in either place.
        assert!(signature_ok(
            &[secret(b"new"), secret(b"s3cret")],
            body,
            &good
        ));
        assert!(signature_ok(
            &[secret(b"s3cret"), secret(b"new")],
            body,
            &good
        ));
        assert!(!signature_ok(&[], body, &good));
        assert!(!signature_ok(
            &secrets,
            body,
            &good.replace("sha256=", "sha1=")
        ));
        assert!(!signature_ok(&secrets, body, "sha256=zz"));
        assert!(!signature_ok(&secrets, body, ""));
    }

    #[test]
    fn github_times_of_a_delivery() {
        let v = serde_json::json!({
            "repository": {"pushed_at": 1795849338},
            "pull_request": {"updated_at": "2026-11-28T07:00:00Z"},
            "comment": {"created_at": "not a time"},
        });
        assert_eq!(github_time(&v, "/repository/pushed_at"), Some(1795849338));
        assert_eq!(
            github_time(&v, "/pull_request/updated_at"),
            Some(1795849200)
        );
        assert_eq!(github_time(&v, "/comment/created_at"), None);
        assert_eq!(github_time(&v, "/missing"), None);
    }

    #[test]
    fn the_secrets_of_a_rotation() {
        let env = |cur: Option<&'static str>, prev: Option<&'static str>| {
            move |v: &str| match v {
                WEBHOOK_SECRET_ENV => cur.map(String::from),
                WEBHOOK_SECRET_PREVIOUS_ENV => prev.map(String::from),
                _ => None,
            }
        };
        let (a, b) = ("a-secret-of-16-chars", "b-secret-of-16-chars");
        assert!(secrets_from(env(None, None)).unwrap().is_empty());
        assert_eq!(secrets_from(env(Some(a), None)).unwrap().len(), 1);
        let both = secrets_from(env(Some(a), Some(b))).unwrap();
        assert_eq!((&both[0][..], &both[1][..]), (a.as_bytes(), b.as_bytes()));
        assert_eq!(
            secrets_from(env(None, Some(b))).unwrap_err(),
            SecretError::PreviousAlone
        );
        assert_eq!(
            secrets_from(env(Some(a), Some("short"))).unwrap_err(),
            SecretError::Short(WEBHOOK_SECRET_PREVIOUS_ENV)
        );
        assert_eq!(
            secrets_from(env(Some(a), Some(a))).unwrap_err(),
            SecretError::Same
        );
    }
}
