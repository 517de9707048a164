//! The dispatch relay (`fleetform relay serve`): customers reach the
//! manager without holding any credential of the provider.
//!
//! - `POST /dispatch`: the customer's trigger sends the GitHub Actions OIDC
//!   token of its own run ([`oidc`]); the customer is the registry entry
//!   with the token's `repository_id`, the commit and ref are the token's;
//!   for a comment command (an `issue_comment` run) the pull request's head,
//!   read from GitHub with the comment the request names ([`comment`]).
//! - `POST /webhook`: the provider's App tells the relay of pushes, pull
//!   requests and comment commands ([`webhook`]); the customer needs no
//!   workflow at all.
//! - `GET /schema`: the schema the trigger validates against, for an OIDC
//!   token.
//!
//! Either way the relay dispatches to the manager as the App, with an
//! installation token for the manager repo only; the manager's `authorise`
//! trusts a dispatch whose `sender` is the App's bot account. The registry
//! is read from the manager's default branch (at most [`REGISTRY_TTL`] old).
//! The relay keeps nothing on disk; what it remembers (installation tokens
//! and ids, the issuer's keys) is bounded and lost on restart. With an S3
//! records store the event claims, and with them the queue, live in the
//! bucket ([`events`], [`pending`]), and so do the tokens and webhook
//! deliveries already handled ([`replay`]); without one those too are in
//! memory only.
//!
//! May import: `config`, `dispatch`, `github`, `net` (the HTTP client),
//! `report::customer` (the wording of refusals about the customer's run),
//! `records` (its durable queue and events), `error`, `util`.

mod answer;
pub mod client;
pub mod clock;
mod comment;
pub mod events;
pub mod fetch;
mod first_asked;
mod gates;
pub mod oidc;
pub mod pending;
pub mod poll;
pub mod queue;
pub mod redeliver;
pub mod replay;
mod routes;
pub mod serve;
mod subject;
pub mod tokens;
pub mod webhook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::config::{Activity, Customer, Manager, Registry, RelayConfig};
use crate::dispatch::{Payload, EVENT_APPLY, EVENT_PLAN};
use crate::error::{Error, Say};
use crate::github::{ApiRoot, AppKey, AppRole, GitHub, Permissions};
use crate::report::customer::Refusal;
use crate::util::shares::Shares;

pub use answer::Answer;
use answer::{duplicate, in_flight};
pub use queue::batch_size;
pub use subject::Subject;

/// An event to send: customer, type, payload, `asked_at` (GitHub's time).
type Outgoing<'a> = (&'a str, &'static str, &'a Value, Option<u64>);

/// How old the registry read from the manager's default branch may be.
pub const REGISTRY_TTL: Duration = Duration::from_secs(30);
/// How long a request waits for GitHub's limits before its caller is
/// answered 503 with the wait as `Retry-After`.
const LIMIT_PATIENCE: Duration = Duration::from_secs(3);
/// How many token ids and webhook deliveries are remembered.
pub const REMEMBERED: usize = replay::REMEMBERED;

/// What the relay asks of the manager App on the manager repo: read the
/// registry and schema, send `repository_dispatch` (which needs Contents
/// write).
const MANAGER_ACCESS: Permissions = &[("contents", "write")];
/// What it asks of the customer App on a customer's repo: read its files
/// and pull requests (never a write).
const CUSTOMER_ACCESS: Permissions = &[("contents", "read"), ("pull_requests", "read")];

/// The relay's settings, resolved before it listens.
pub struct Settings {
    pub manager: Manager,
    pub relay: RelayConfig,
    /// The manager App: installed on the manager repo only, dispatches.
    pub manager_app: AppKey,
    /// The customer App: installed on the customers' repos, read there.
    pub customer_app: AppKey,
    pub api_root: ApiRoot,
    /// The proxies and roots every outbound request connects with.
    pub net: crate::net::Settings,
    /// The customer App's webhook secret, and during a rotation the one
    /// it replaces ([`webhook::secrets_from`]); `/webhook` answers 404
    /// without one.
    pub webhook_secrets: Vec<webhook::Secret>,
}

pub use webhook::{WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_PREVIOUS_ENV};

/// The `role` App from its share or the environment, which the relay
/// cannot do without.
fn relay_app(role: AppRole, shares: &Shares) -> crate::error::Result<AppKey> {
    let why = match role {
        AppRole::Manager => "dispatches to the manager repo",
        AppRole::Customer => "reads the customers' repos",
        AppRole::Sync => "never uses the sync App",
    };
    AppKey::from_lookup(role, |v| shares.get(v))
        .map_err(|e| Error::usage(e.to_string()))?
        .ok_or_else(|| {
            Error::usage(format!(
                "the relay {why} as the provider's {}: set {} and {}, or give the share `doctor --register-app --relay-secrets` wrote with --credentials FILE (README, \"The Apps\")",
                role.label(),
                role.id_var(),
                role.key_var()
            ))
        })
}

impl Settings {
    /// The relay's settings from fleetform.yml, the Apps' shares and the
    /// environment (also `fleetform poll`'s, with no shares), checked
    /// before anything listens or is sent; it connects with `net`.
    pub fn load(
        manager_dir: &std::path::Path,
        net: crate::net::Settings,
        shares: &Shares,
    ) -> crate::error::Result<Settings> {
        let manager = Manager::load(manager_dir)?;
        let relay = manager.config.relay.clone().ok_or_else(|| {
            Error::usage(Say::new("fleetform.yml has no `relay:` section").help("name the manager App (`app_slug`) and the manager repo (`manager_repo`); see README, \"The dispatch relay\""))
        })?;
        let manager_app = relay_app(AppRole::Manager, shares)?;
        let customer_app = relay_app(AppRole::Customer, shares)?;
        let api_root = ApiRoot::from_env().map_err(|e| Error::usage(e.to_string()))?;
        let webhook_secrets =
            webhook::secrets_from(|v| shares.get(v)).map_err(|e| Error::usage(e.to_string()))?;
        Ok(Settings {
            manager,
            relay,
            manager_app,
            customer_app,
            api_root,
            net,
            webhook_secrets,
        })
    }
}

/// The relay: settings and what it remembers between requests.
pub struct Relay {
    pub settings: Settings,
    jwks: oidc::Jwks,
    pub(crate) tokens: tokens::Tokens,
    registry: Mutex<Option<(Arc<Registry>, Instant)>>,
    /// The tokens and webhook deliveries handled ([`replay`]).
    pub(crate) replays: replay::Replays,
    pub events: events::Events,
    pub queue: queue::Queue,
    /// Recovery sweeps finished ([`Relay::recover`] ran through the
    /// records store), shown by `/healthz`: what an operator (or a test)
    /// waits on to know a sweep ran since a moment, instead of a clock.
    pub sweeps: std::sync::atomic::AtomicU64,
    /// When each event was first asked for: its place in the queue.
    asked: first_asked::FirstAsked,
}

impl Relay {
    pub fn new(settings: Settings) -> Relay {
        let jwks = oidc::Jwks::new(settings.relay.jwks_url(), settings.net.clone());
        // Claims are shared through a bucket; a folder in the manager
        // checkout (read-only in the image) is no store instances share.
        let store = matches!(
            settings.manager.config.records,
            crate::config::Records::S3 { .. }
        )
        .then(|| crate::records::Store::for_manager(&settings.manager, &settings.net));
        Relay {
            replays: replay::Replays::new(store.clone()),
            events: events::Events::new(store),
            queue: queue::Queue::new(1),
            tokens: tokens::Tokens::new(
                settings.api_root.clone(),
                settings.net.clone(),
                LIMIT_PATIENCE,
            ),
            settings,
            jwks,
            registry: Mutex::new(None),
            sweeps: std::sync::atomic::AtomicU64::new(0),
            asked: first_asked::FirstAsked::default(),
        }
    }

    fn expect(&self) -> oidc::Expect {
        oidc::Expect {
            issuer: self.settings.relay.issuer.clone(),
            audience: self.settings.relay.audience(),
            workflows: self.settings.relay.workflows.clone(),
        }
    }

    /// The claims of a caller's OIDC token, or the refusal.
    pub async fn claims(&self, token: &str) -> Result<oidc::Claims, Answer> {
        match oidc::verify(&self.jwks, token, &self.expect(), crate::util::now_unix()).await {
            Ok(c) => Ok(c),
            Err(oidc::VerifyError::Token(e)) => {
                Err(Answer::refuse(401, "bad_token", e.to_string()))
            }
            Err(oidc::VerifyError::Workflow(e)) => {
                Err(Answer::refuse(403, "workflow_not_allowed", e.to_string()))
            }
            Err(oidc::VerifyError::Keys(e)) => {
                Err(Answer::refuse(503, "issuer_unavailable", e.to_string()))
            }
        }
    }

    /// The manager App's client for the manager repo.
    pub(crate) async fn manager_client(&self) -> Result<Arc<GitHub>, Answer> {
        let repo = tokens::Repo {
            name: &self.settings.relay.manager_repo,
            id: None,
        };
        let app = (AppRole::Manager, &self.settings.manager_app);
        self.tokens.client(app, repo, MANAGER_ACCESS).await
    }

    /// The customer App's client for a customer's repo `repo` (GitHub's id
    /// `id`; reads only).
    pub(crate) async fn customer_client(
        &self,
        repo: &str,
        id: Option<u64>,
    ) -> Result<Arc<GitHub>, Answer> {
        self.customer_app_client(repo, id, CUSTOMER_ACCESS).await
    }

    /// The customer App's client for `repo` (GitHub's id `id`) with
    /// `access`.
    pub(crate) async fn customer_app_client(
        &self,
        repo: &str,
        id: Option<u64>,
        access: Permissions,
    ) -> Result<Arc<GitHub>, Answer> {
        let repo = tokens::Repo { name: repo, id };
        let app = (AppRole::Customer, &self.settings.customer_app);
        self.tokens.client(app, repo, access).await
    }

    /// The registry on the manager's default branch (cached briefly).
    pub(crate) async fn registry(&self) -> Result<Arc<Registry>, Answer> {
        let mut cached = self.registry.lock().await;
        if let Some((r, at)) = cached.as_ref() {
            if at.elapsed() < REGISTRY_TTL {
                return Ok(r.clone());
            }
        }
        let manager = &self.settings.manager;
        let gh = self.manager_client().await?;
        let rel = manager.config.registry.to_string_lossy().replace('\\', "/");
        let repo = &self.settings.relay.manager_repo;
        let bytes = gh
            .get_file(repo, &rel, None)
            .await
            .map_err(|e| Answer::github(&e))?
            .ok_or_else(|| {
                Answer::refuse(
                    503,
                    "no_registry",
                    format!("{repo} has no `{rel}` on its default branch"),
                )
            })?;
        let registry = Registry::parse(manager, &manager.path(&manager.config.registry), &bytes)
            .map_err(|e| {
                Answer::refuse(
                    503,
                    "bad_registry",
                    format!("the registry on {repo}'s default branch: {e}"),
                )
            })?;
        let registry = Arc::new(registry);
        *cached = Some((registry.clone(), Instant::now()));
        Ok(registry)
    }

    /// The active customer whose repo has GitHub's id `id` (`name` is the
    /// repo's name now, for the messages).
    pub(crate) fn customer<'r>(
        registry: &'r Registry,
        id: u64,
        name: &str,
    ) -> Result<&'r Customer, Answer> {
        let Some(c) = registry.by_repo_id(id) else {
            return Err(match registry.by_repo(name) {
                Some(c) if c.repo_id.is_some() => Answer::refused(Refusal::RegisteredIdDiffers {
                    repo: name,
                    slug: &c.slug,
                }),
                Some(c) => Answer::refused(Refusal::NoRepoId { slug: &c.slug }),
                None => Answer::refused(Refusal::UnknownRepo { repo: name }),
            });
        };
        if !c.takes_part(Activity::Dispatch) {
            return Err(Answer::refused(Refusal::Revoked { slug: &c.slug }));
        }
        Ok(c)
    }

    /// Sends `subject` to the manager as `repository_dispatch`; `asked_at`,
    /// a verified OIDC token's `iat`, rides in its batch entry.
    pub(crate) async fn dispatch(
        &self,
        customer: &Customer,
        subject: &Subject,
        asked_at: Option<u64>,
    ) -> Answer {
        let payload = Payload {
            v: 1,
            customer_repo: subject.repo.clone(),
            sha: subject.sha.clone(),
            git_ref: subject.git_ref.clone(),
            pr: subject.pr,
            event: subject.event.clone(),
            trigger_run_url: subject.run_url.clone(),
            dispatch_id: subject.dispatch_id.clone(),
            files: subject.files.clone(),
            sig: None,
            repo_id: customer.repo_id,
            comment: subject.comment,
        };
        let value = match serde_json::to_value(&payload) {
            Ok(v) => v,
            Err(e) => return Answer::refuse(500, "internal", e.to_string()),
        };
        if let Err(e) = Payload::parse(&value) {
            return Answer::refuse(400, "bad_payload", e.to_string());
        }
        let event_type = if subject.apply {
            EVENT_APPLY
        } else {
            EVENT_PLAN
        };
        let dispatched = json!({
            "event_type": event_type,
            "customer": customer.slug,
            "customer_repo": payload.customer_repo,
            "sha": payload.sha,
            "ref": payload.git_ref,
            "pr": payload.pr,
            "dispatch_id": payload.dispatch_id,
            "files": payload.files,
            "comment": payload.comment,
        });
        let key = events::EventKey::of(customer.repo_id.unwrap_or_default(), subject);
        // What a claim in the store keeps: enough to dispatch the event
        // after this process stopped (`pending`).
        let event = json!({
            "customer": customer.slug,
            "event_type": event_type,
            "payload": value,
            "dispatched": dispatched,
            "asked_at": asked_at,
        });
        let ticket = match self.events.claim(&key, &event).await {
            Ok(events::Claim::Won(t)) => t,
            Ok(events::Claim::Done(before)) => return duplicate(before),
            Ok(events::Claim::InFlight) => return in_flight(),
            Err(a) => return a,
        };
        let sent = (&customer.slug[..], event_type, &value, asked_at);
        self.send_claimed(ticket, sent, &dispatched).await
    }

    /// Sends a claimed event and records how it ended.
    async fn send_claimed(
        &self,
        ticket: events::Ticket,
        sent: Outgoing<'_>,
        dispatched: &Value,
    ) -> Answer {
        let sent = self.send_dispatch(sent, &ticket.key).await;
        let ok = sent.is_ok();
        self.events.finish(ticket, ok.then_some(dispatched)).await;
        match sent {
            Ok(()) => Answer::ok(202, json!({ "dispatched": dispatched })),
            Err(a) => a,
        }
    }

    /// Takes over the events other (stopped) instances claimed and never
    /// finished within `window` ([`pending`]) and dispatches them, all
    /// at once through the queue; the answers, for the log.
    pub async fn recover(self: &Arc<Relay>, window: Duration) -> Result<Vec<Answer>, String> {
        let mut taken = Vec::new();
        if window >= pending::START_WINDOW {
            // At start: also what a relay down for longer left queued.
            taken = self
                .events
                .take_over_old()
                .await
                .map_err(|e| e.to_string())?;
        }
        taken.extend(
            self.events
                .take_over(window)
                .await
                .map_err(|e| e.to_string())?,
        );
        let tasks: Vec<_> = taken
            .into_iter()
            .map(|t| {
                let relay = self.clone();
                tokio::spawn(async move { relay.send_taken_over(t).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            if let Ok(a) = t.await {
                answers.push(a);
            }
        }
        Ok(answers)
    }

    async fn send_taken_over(&self, t: pending::TakenOver) -> Answer {
        let e = &t.event;
        let event_type = match e["event_type"].as_str() {
            Some(EVENT_APPLY) => EVENT_APPLY,
            Some(EVENT_PLAN) => EVENT_PLAN,
            _ => {
                self.events.finish(t.ticket, None).await;
                return Answer::refuse(500, "bad_claim", "the claim names no event type");
            }
        };
        let customer = e["customer"].as_str().unwrap_or_default();
        let (payload, dispatched) = (&e["payload"], &e["dispatched"]);
        let sent = (customer, event_type, payload, e["asked_at"].as_u64());
        match self.send_dispatch(sent, &t.ticket.key).await {
            Ok(()) => {
                self.events.finish(t.ticket, Some(dispatched)).await;
                Answer::ok(202, json!({ "dispatched": dispatched }))
            }
            // Busy (GitHub's limits, the queue): nothing was sent and no
            // caller is waiting; the claim goes stale and a later sweep
            // (this instance's or another's) takes the event over again.
            Err(a) if matches!(a.status, 429 | 503) => {
                self.events.release(t.ticket);
                a
            }
            Err(a) => {
                self.events.finish(t.ticket, None).await;
                a
            }
        }
    }

    /// Sends the event through the queue (alone or in a batch), with the
    /// earliest time its customer asked at.
    async fn send_dispatch(
        &self,
        (customer, event_type, value, asked_at): Outgoing<'_>,
        key: &events::EventKey,
    ) -> Result<(), Answer> {
        let (since, asked_at) = self.asked.of(key, asked_at);
        let event = queue::Event {
            customer: customer.to_string(),
            event_type,
            payload: value.clone(),
            since,
            asked_at,
        };
        self.queue.submit(event, || self.sender()).await
    }

    /// What sends one dispatch to the manager repo as the manager App.
    fn sender(&self) -> queue::SenderFuture<'_> {
        Box::pin(async move {
            let gh = self.manager_client().await?;
            let paced = gh.clone();
            self.queue
                .set_pace(Arc::new(move |n| paced.wait_for_writes(n)));
            let repo = self.settings.relay.manager_repo.clone();
            let send: queue::Sender = Box::new(move |event_type, payload| {
                Box::pin(async move {
                    gh.dispatch(&repo, &event_type, &payload)
                        .await
                        .map_err(|e| Answer::github(&e))
                })
            });
            Ok(send)
        })
    }

    /// Claims events in memory only (`poll`: its job holds no records
    /// credential, and its sealed state remembers what it dispatched).
    pub fn with_events_in_memory(mut self) -> Relay {
        self.events = events::Events::new(None);
        self
    }

    /// Sends events in batches of up to `n` (the manager has the batch
    /// workflow).
    pub fn with_batch(mut self, n: usize) -> Relay {
        self.queue = queue::Queue::new(n);
        self
    }

    /// `POST /dispatch`: `{"token": <OIDC token>, "pr": N?, "files": [..]?,
    /// "comment": <id>?}`.
    pub async fn handle_dispatch(&self, body: &[u8]) -> Answer {
        let req = match subject::DispatchRequest::parse(body) {
            Ok(r) => r,
            Err(a) => return a,
        };
        let claims = match self.claims(&req.token).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let registry = match self.registry().await {
            Ok(r) => r,
            Err(a) => return a,
        };
        let customer = match Relay::customer(&registry, claims.repository_id, &claims.repository) {
            Ok(c) => c,
            Err(a) => return a,
        };
        // One dispatch per token: a replayed token is refused, whichever
        // instance sees it and after a restart ([`replay`]).
        let mark = match self.token_first_use(&claims).await {
            Ok(m) => m,
            Err(a) => return a,
        };
        let answer = match self.subject_of(customer, &claims, &req).await {
            Ok(subject) => self.dispatch(customer, &subject, Some(claims.iat)).await,
            Err(a) => a,
        };
        if answer.status != 202 {
            // Nothing was dispatched: the token may be used again.
            self.replays.release(mark).await;
        }
        answer
    }

    /// Marks the token (its issuer and `jti`) used until its own `exp`:
    /// a token without `jti` is refused, one used before too.
    async fn token_first_use(&self, claims: &oidc::Claims) -> Result<replay::Mark, Answer> {
        let Some(jti) = claims.jti.as_deref().filter(|j| !j.is_empty()) else {
            return Err(Answer::refuse(
                401,
                "bad_token",
                oidc::TokenError::Claim("jti").to_string(),
            ));
        };
        let issuer = self.settings.relay.issuer.as_bytes();
        let digest = replay::digest(&[issuer, jti.as_bytes()]);
        let until = claims.exp.saturating_add(oidc::SKEW_SECS);
        self.replays
            .first(replay::Kind::Token, &digest, until)
            .await?
            .ok_or_else(|| Answer::refused(Refusal::TokenUsed))
    }

    /// `GET /schema`: the schema the customer's trigger validates against,
    /// from the manager's default branch, for a registered, active caller.
    pub async fn handle_schema(&self, token: &str) -> Answer {
        let claims = match self.claims(token).await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let registry = match self.registry().await {
            Ok(r) => r,
            Err(a) => return a,
        };
        if let Err(a) = Relay::customer(&registry, claims.repository_id, &claims.repository) {
            return a;
        }
        let manager = &self.settings.manager;
        let Some(schema) = manager.config.schema.as_ref() else {
            return Answer::refuse(404, "no_schema", "the manager has one schema per product: list yours in infra/products.yml (the provider's instructions); the trigger then asks for no schema and the manager checks each product's values");
        };
        let rel = schema.to_string_lossy().replace('\\', "/");
        let gh = match self.manager_client().await {
            Ok(gh) => gh,
            Err(a) => return a,
        };
        match gh
            .get_file(&self.settings.relay.manager_repo, &rel, None)
            .await
        {
            Ok(Some(bytes)) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(schema) => Answer::ok(
                    200,
                    json!({
                        "schema_path": rel,
                        "schema": schema,
                        // The trigger checks `format` as `validate` does.
                        "schema_formats": manager.config.schema_formats,
                        "variables": manager.config.customer.variables,
                        "overrides": manager.config.customer.overrides,
                    }),
                ),
                Err(e) => Answer::refuse(
                    503,
                    "bad_schema",
                    format!("`{rel}` on the manager's default branch is not JSON: {e}"),
                ),
            },
            Ok(None) => Answer::refuse(
                503,
                "no_schema",
                format!("`{rel}` is not on the manager's default branch"),
            ),
            Err(e) => Answer::github(&e),
        }
    }
}
