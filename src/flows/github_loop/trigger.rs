//! The customer side of the GitHub loop (`fleetform trigger`): validate
//! the customer's variables against the manager's schema, send
//! `repository_dispatch` to the manager and mark the commit pending; or,
//! behind the provider's relay, the same through it (`trigger_relay`).
//! The command reads the flags into [`Settings`] and calls [`trigger`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::ci::RunContext;
use crate::config::{display_path, is_slug};
use crate::context::Context;
use crate::data::Diagnostic;
use crate::dispatch::auth::DispatchKey;
use crate::dispatch::{pr_from_commit_message, Payload, EVENT_APPLY, EVENT_PLAN};
use crate::error::{Error, Result, Say};
use crate::github::{GitHub, Token};
use crate::output::Output;
use crate::report::customer::{status, trigger_line, CustomerText, Idle, Status, Trigger};
use crate::values::customer::{self, CustomerSource};
use crate::values::schema::Schema;

use super::status::set_one;

/// What `fleetform trigger` was told: its flags and tokens, checked.
pub struct Settings {
    pub manager_repo: String,
    pub schema_path: String,
    pub schema_ref: Option<String>,
    pub variables: String,
    pub overrides: String,
    pub status_context: String,
    pub dry_run: bool,
    pub json: bool,
    /// Reads the schema and dispatches to the manager repo.
    pub token: Token,
    /// Sets (and, with `--wait`, reads) the commit status on the customer's
    /// own repo: `FLEETFORM_STATUS_TOKEN`, else `token`. A fine-grained
    /// token covers the repos of one owner, so the manager's dispatch token
    /// usually cannot reach the customer's repo; the job's `GITHUB_TOKEN`
    /// (`statuses: write`) can.
    pub status_token: Option<Token>,
    /// Signs the dispatch: proves to the manager which customer sent it.
    pub key: DispatchKey,
    pub wait: Option<std::time::Duration>,
}

/// What the trigger did.
#[derive(Debug, Serialize)]
pub struct TriggerReport {
    pub event_type: Option<String>,
    pub dispatched: bool,
    pub payload: Option<Payload>,
    pub problems: Vec<Diagnostic>,
    pub requests: usize,
    pub dry_run_requests: Vec<crate::github::PlannedRequest>,
}

/// The customer commit and PR this run is about.
pub(super) struct Subject {
    pub(super) repo: String,
    pub(super) sha: String,
    pub(super) git_ref: String,
    pub(super) pr: Option<u64>,
    pub(super) event: String,
    pub(super) event_type: &'static str,
    /// A comment command's comment id (its sha and ref are read later).
    pub(super) comment: Option<u64>,
}

/// The subject of this run, or why there is none (a note).
pub(super) fn subject(ctx: &RunContext) -> Result<std::result::Result<Subject, String>> {
    let repo = ctx.repository.clone().ok_or_else(|| {
        Error::Usage(Say::new("GITHUB_REPOSITORY is not set").help("run inside GitHub Actions"))
    })?;
    let event_name = ctx.event_name.clone().unwrap_or_default();
    let event = ctx.event().map_err(Error::usage)?;
    let s = |p: &str| event.pointer(p).and_then(Value::as_str).map(str::to_string);
    Ok(Ok(match event_name.as_str() {
        "issue_comment" => match super::trigger_comment::subject(&event) {
            Err(note) => return Ok(Err(note)),
            Ok(c) => Subject {
                repo,
                sha: String::new(), // read from GitHub next
                git_ref: String::new(),
                pr: Some(c.pr),
                event: "issue_comment".into(),
                event_type: c.event_type,
                comment: Some(c.id),
            },
        },
        "pull_request" | "pull_request_target" => Subject {
            repo,
            sha: s("/pull_request/head/sha")
                .ok_or_else(|| Error::usage("event has no pull_request.head.sha"))?,
            git_ref: format!(
                "refs/heads/{}",
                s("/pull_request/head/ref").unwrap_or_default()
            ),
            pr: event.get("number").and_then(Value::as_u64),
            event: "pull_request".into(),
            event_type: EVENT_PLAN,
            comment: None,
        },
        "push" => {
            let sha = s("/after").or_else(|| ctx.sha.clone()).unwrap_or_default();
            if sha.bytes().all(|b| b == b'0') {
                return Ok(Err(trigger_line(&Trigger::Idle(Idle::BranchDeleted))));
            }
            let git_ref = s("/ref")
                .or_else(|| ctx.git_ref.clone())
                .unwrap_or_default();
            let default = s("/repository/default_branch").unwrap_or_else(|| "main".into());
            let on_default = git_ref == format!("refs/heads/{default}");
            Subject {
                repo,
                sha,
                git_ref,
                pr: if on_default {
                    s("/head_commit/message")
                        .as_deref()
                        .and_then(pr_from_commit_message)
                } else {
                    None
                },
                event: "push".into(),
                event_type: if on_default { EVENT_APPLY } else { EVENT_PLAN },
                comment: None,
            }
        }
        // A manual run; the form workflow's names its pull request
        // (`pull-request` input), which the manager plans as one.
        "workflow_dispatch" => Subject {
            repo,
            sha: ctx.sha.clone().unwrap_or_default(),
            git_ref: ctx.git_ref.clone().unwrap_or_default(),
            pr: s("/inputs/pull-request").and_then(|n| n.trim().parse().ok()),
            event: "workflow_dispatch".into(),
            event_type: EVENT_PLAN,
            comment: None,
        },
        other => {
            return Err(Error::usage(format!(
            "trigger runs on pull_request, push, workflow_dispatch or issue_comment, not {other:?}"
        )))
        }
    }))
}

/// Override files present in the checkout, by environment.
fn local_overrides(pattern: &str) -> Vec<(String, PathBuf)> {
    let (prefix, suffix) = pattern
        .split_once("{environment}")
        .expect("checked in resolve");
    let dir = Path::new(prefix)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &dir
    }) else {
        return found;
    };
    for e in entries.flatten() {
        let rel = dir.join(e.file_name());
        let rel_s = rel.to_string_lossy().to_string();
        if let Some(env) = rel_s
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
        {
            if is_slug(env) {
                found.push((env.to_string(), rel));
            }
        }
    }
    found.sort();
    found
}

/// Checks the customer's values and dispatches them to the manager.
pub fn trigger(settings: &Settings, cx: &Context) -> Result<()> {
    let ctx = RunContext::from_env();
    mask_secrets(settings, &cx.out);
    let mut subject = match subject(&ctx)? {
        Ok(s) => s,
        Err(note) => {
            cx.out.note(&note);
            return Ok(());
        }
    };
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let clients = Clients::new(&rt, &cx.net, settings)?;
    if let Some(pr) = subject.pr.filter(|_| subject.comment.is_some()) {
        let gh = clients.status();
        let head = super::trigger_comment::pull_head(gh, &subject.repo, pr, &cx.out);
        let Some((sha, git_ref)) = rt.block_on(head)? else {
            return Ok(());
        };
        (subject.sha, subject.git_ref) = (sha, git_ref);
    }
    if !crate::dispatch::is_sha(&subject.sha) {
        return Err(Error::usage(format!(
            "`{}` is not a commit sha",
            subject.sha
        )));
    }
    // Local files first: no request is spent on a checkout without variables.
    let per_product = product_files(settings);
    let local = match &per_product {
        Some(_) => None,
        None => Some(local_source(settings)?),
    };
    let run_url = ctx.run_url();
    let report = rt.block_on(async {
        let sender = Sender {
            clients: &clients,
            settings,
            subject: &subject,
            run_url: run_url.clone(),
        };
        let Some((source, files)) = local else {
            // Per product: each product has its own schema in the manager,
            // which checks the values and says so on the pull request.
            cx.out
                .note("products: the manager checks each product's values");
            let files = per_product.clone().unwrap_or_default();
            return sender
                .dispatch(sender.payload(files, ctx.run_id.as_deref()))
                .await;
        };
        let schema = fetch_schema(&clients.gh, settings).await?;
        match customer::check(&source, &schema) {
            Err(problems) => sender.refuse(problems).await,
            Ok(_) => {
                let payload = sender.payload(files, ctx.run_id.as_deref());
                sender.dispatch(payload).await
            }
        }
    })?;
    record(&subject, &report, cx);
    publish(&ctx, settings, &report, &cx.out);
    if !report.problems.is_empty() {
        return Err(Error::failed(trigger_line(&Trigger::Invalid {
            problems: report.problems.len(),
        })));
    }
    match (settings.wait, &report.payload) {
        (Some(wait), Some(p)) if !settings.dry_run => rt.block_on(wait_for_manager(
            clients.status(),
            settings,
            p,
            wait,
            run_url,
            &cx.out,
        )),
        _ => Ok(()),
    }
}

fn mask_secrets(settings: &Settings, out: &Output) {
    out.mask(settings.token.expose());
    if let Some(t) = &settings.status_token {
        out.mask(t.expose());
    }
    for m in settings.key.mask_strings() {
        out.mask(&m);
    }
}

/// The manager's client and, with its own token, the customer repo's.
struct Clients {
    gh: GitHub,
    status: Option<GitHub>,
}

impl Clients {
    fn new(
        rt: &tokio::runtime::Runtime,
        net: &crate::net::Settings,
        settings: &Settings,
    ) -> Result<Clients> {
        let api = GitHub::api_url_from_env();
        let gh = GitHub::new(rt, net, &api, Some(&settings.token), settings.dry_run)
            .map_err(Error::from)?;
        let status = match &settings.status_token {
            Some(t) => {
                Some(GitHub::new(rt, net, &api, Some(t), settings.dry_run).map_err(Error::from)?)
            }
            None => None,
        };
        Ok(Clients { gh, status })
    }

    /// The client for the customer commit's status.
    fn status(&self) -> &GitHub {
        self.status.as_ref().unwrap_or(&self.gh)
    }

    fn requests(&self) -> usize {
        self.gh.request_count() + self.status.as_ref().map_or(0, |c| c.request_count())
    }

    fn withheld(&self) -> Vec<crate::github::PlannedRequest> {
        let mut w = self.gh.withheld();
        if let Some(c) = &self.status {
            w.extend(c.withheld());
        }
        w
    }
}

/// The checkout's variables file and override files, and their paths for
/// the payload's `files`.
fn local_source(settings: &Settings) -> Result<(CustomerSource, Vec<String>)> {
    checkout_source(&settings.variables, &settings.overrides)
}

/// [`local_source`] for a variables file and override pattern.
pub(super) fn checkout_source(
    variables_path: &str,
    overrides_pattern: &str,
) -> Result<(CustomerSource, Vec<String>)> {
    let variables = crate::util::fs::read_input(variables_path).map_err(|e| {
        Error::Usage(
            Say::new(format!(
                "{variables_path}: cannot read the variables file: {e}"
            ))
            .help("create it (see the provider's instructions)"),
        )
    })?;
    let mut overrides = std::collections::BTreeMap::new();
    let mut files = vec![variables_path.to_string()];
    for (env, path) in local_overrides(overrides_pattern) {
        let bytes = crate::util::fs::read_input(&path)
            .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
        files.push(path.to_string_lossy().to_string());
        overrides.insert(env, (display_path(&path), bytes));
    }
    let source = CustomerSource {
        variables: (PathBuf::from(variables_path), variables),
        overrides,
        secrets: Default::default(),
    };
    Ok((source, files))
}

/// A checkout that subscribes to products (it has the products file, or
/// no variables file but a product's, `infra/<product>/variables.yml`):
/// the files the dispatch lists, the products file and every product's
/// variables and override files. `None`: a checkout of one product.
fn product_files(settings: &Settings) -> Option<Vec<String>> {
    checkout_product_files(&settings.variables)
}

/// [`product_files`] of the checkout whose variables file is `variables`.
pub(super) fn checkout_product_files(variables: &str) -> Option<Vec<String>> {
    let infra = Path::new(variables)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let products_file = infra.join("products.yml");
    let mut files = Vec::new();
    let mut dirs: Vec<String> = std::fs::read_dir(if infra.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &infra
    })
    .map(|entries| {
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|name| is_slug(name))
            .collect()
    })
    .unwrap_or_default();
    dirs.sort();
    for product in dirs {
        let dir = infra.join(&product);
        if !dir.join("variables.yml").is_file() {
            continue;
        }
        files.push(dir.join("variables.yml").to_string_lossy().to_string());
        let pattern = dir.join("variables.{environment}.yml");
        for (_, path) in local_overrides(&pattern.to_string_lossy()) {
            files.push(path.to_string_lossy().to_string());
        }
    }
    let subscribes =
        products_file.is_file() || (!Path::new(variables).exists() && !files.is_empty());
    if !subscribes {
        return None;
    }
    if products_file.is_file() {
        files.insert(0, products_file.to_string_lossy().to_string());
    }
    Some(files)
}

/// The schema, from the manager repo (1 request).
async fn fetch_schema(gh: &GitHub, settings: &Settings) -> Result<Schema> {
    let bytes = gh
        .get_file(
            &settings.manager_repo,
            &settings.schema_path,
            settings.schema_ref.as_deref(),
        )
        .await
        .map_err(|e| {
            Error::failed(format!(
                "cannot fetch the schema from {}: {e}",
                settings.manager_repo
            ))
        })?
        .ok_or_else(|| {
            Error::Failed(
                Say::new(format!(
                    "{} has no `{}`",
                    settings.manager_repo, settings.schema_path
                ))
                .help("check MANAGER_REPO_OWNER/MANAGER_REPO_NAME and the schema path"),
            )
        })?;
    Ok(Schema::from_bytes(
        &bytes,
        Path::new(&format!(
            "{}:{}",
            settings.manager_repo, settings.schema_path
        )),
    )?)
}

/// Sends what the check decided: a failure status, or the signed dispatch
/// and a pending status.
struct Sender<'a> {
    clients: &'a Clients,
    settings: &'a Settings,
    subject: &'a Subject,
    run_url: Option<String>,
}

impl Sender<'_> {
    /// Our status on the customer's commit (1 request).
    async fn mark(&self, state: &'static str, description: CustomerText) -> Result<()> {
        let (s, context) = (self.subject, &self.settings.status_context);
        let url = self.run_url.clone();
        set_one(
            self.clients.status(),
            &s.repo,
            &s.sha,
            context,
            state,
            &description,
            url,
        )
        .await
        .map_err(|e| Error::failed(e.to_string()))
    }

    fn report(&self, payload: Option<Payload>, problems: Vec<Diagnostic>) -> TriggerReport {
        TriggerReport {
            event_type: payload
                .as_ref()
                .map(|_| self.subject.event_type.to_string()),
            dispatched: payload.is_some() && !self.settings.dry_run,
            payload,
            problems,
            requests: self.clients.requests(),
            dry_run_requests: self.clients.withheld(),
        }
    }

    /// Invalid variables: the failure status (1 request), no dispatch.
    async fn refuse(&self, problems: Vec<Diagnostic>) -> Result<TriggerReport> {
        let problem_count = problems.len();
        let what = Status::TriggerInvalid {
            problems: problem_count,
        };
        self.mark("failure", status(&what)).await?;
        Ok(self.report(None, problems))
    }

    /// The payload, signed with the customer's dispatch key.
    fn payload(&self, files: Vec<String>, run_id: Option<&str>) -> Payload {
        let s = self.subject;
        let mut payload = Payload {
            v: 1,
            customer_repo: s.repo.clone(),
            sha: s.sha.clone(),
            git_ref: s.git_ref.clone(),
            // A manual run's pull request is the relay's to check (its head
            // must be the run's commit); the token path names none.
            pr: s.pr.filter(|_| s.event != "workflow_dispatch"),
            event: s.event.clone(),
            // A comment command names its comment instead (10 keys at most).
            trigger_run_url: self.run_url.clone().filter(|_| s.comment.is_none()),
            dispatch_id: dispatch_id(&s.repo, &s.sha, run_id),
            files,
            sig: None,
            repo_id: None,
            comment: s.comment,
        };
        payload.sig = Some(self.settings.key.sign(s.event_type, &payload, unix_now()));
        payload
    }

    /// The dispatch, then the pending status (2 requests).
    async fn dispatch(&self, payload: Payload) -> Result<TriggerReport> {
        let (settings, s) = (self.settings, self.subject);
        self.clients
            .gh
            .dispatch(
                &settings.manager_repo,
                s.event_type,
                &serde_json::to_value(&payload).expect("serialisable"),
            )
            .await
            .map_err(|e| {
                Error::failed(format!("cannot dispatch to {}: {e}", settings.manager_repo))
            })?;
        self.mark("pending", status(&Status::Queued)).await?;
        Ok(self.report(Some(payload), Vec::new()))
    }
}

/// The problems, the audit record and what a dry run withheld.
fn record(subject: &Subject, report: &TriggerReport, cx: &Context) {
    cx.out.diagnostics(&report.problems);
    let result = if report.problems.is_empty() {
        "dispatched"
    } else {
        "invalid"
    };
    cx.record(
        crate::audit::Entry::now("trigger", result)
            .customer(&subject.repo)
            .sha(Some(&subject.sha))
            .dispatch(report.payload.as_ref().map(|p| p.dispatch_id.as_str()))
            .detail(report.event_type.clone().unwrap_or_else(|| {
                crate::util::text::count(report.problems.len(), "problem", "problems")
            })),
    );
    super::record::note_requests(&cx.out, report.requests, &report.dry_run_requests);
}

/// Step outputs and the result line (or JSON).
fn publish(ctx: &RunContext, settings: &Settings, report: &TriggerReport, out: &Output) {
    let dispatch_id = report
        .payload
        .as_ref()
        .map(|p| p.dispatch_id.clone())
        .unwrap_or_default();
    let _ = ctx.set_outputs(&[
        ("dispatched", report.dispatched.to_string()),
        ("event_type", report.event_type.clone().unwrap_or_default()),
        ("dispatch_id", dispatch_id),
    ]);
    if settings.json {
        out.json(report).expect("serialisable");
    } else if let Some(p) = &report.payload {
        out.result(&trigger_line(&Trigger::Sent {
            dry_run: settings.dry_run,
            event_type: report.event_type.as_deref().unwrap_or(""),
            manager_repo: &settings.manager_repo,
            customer_repo: &p.customer_repo,
            sha: &p.sha,
            dispatch_id: &p.dispatch_id,
        }));
    }
}

/// Polls the customer commit's combined status until the manager answers
/// on our context (anything but the `pending` the trigger set), or the
/// deadline passes. Backoff: 5 s, doubling to at most 60 s, so a wait of W
/// costs at most 4 + W/60 s requests (plus 1 to mark the commit when the
/// manager never answers). `FLEETFORM_POLL_BASE_MS` shortens the first
/// interval (tests).
async fn wait_for_manager(
    gh: &GitHub,
    settings: &Settings,
    payload: &Payload,
    wait: std::time::Duration,
    run_url: Option<String>,
    out: &Output,
) -> Result<()> {
    use std::time::{Duration, Instant};
    let base = std::env::var("FLEETFORM_POLL_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5));
    let cap = Duration::from_secs(60).max(base);
    let deadline = Instant::now() + wait;
    let mut interval = base;
    let mut polls = 0;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(cap);
        polls += 1;
        let (state, description, link) = manager_answer(gh, settings, payload).await?;
        let answer = Trigger::Answered {
            state: &state,
            description: &description,
            link: &link,
        };
        match state.as_str() {
            "pending" => continue,
            "success" => {
                out.result(&trigger_line(&answer));
                out.verbose(&crate::util::text::count(
                    polls,
                    "status poll",
                    "status polls",
                ));
                return Ok(());
            }
            _ => return Err(Error::failed(trigger_line(&answer))),
        }
    }
    let note = trigger_line(&Trigger::NeverAnswered {
        secs: wait.as_secs(),
        dispatch_id: &payload.dispatch_id,
        manager_repo: &settings.manager_repo,
    });
    let (repo, context) = (&payload.customer_repo, &settings.status_context);
    let silent = status(&Status::ManagerSilent {
        secs: wait.as_secs(),
    });
    let set = set_one(gh, repo, &payload.sha, context, "error", &silent, run_url);
    if let Err(e) = set.await {
        out.note(&format!("could not mark the commit: {e}"));
    }
    Err(Error::failed(note))
}

/// The state, description and link of our context on the customer commit
/// (1 request); `pending` while the manager has not answered.
async fn manager_answer(
    gh: &GitHub,
    settings: &Settings,
    payload: &Payload,
) -> Result<(String, String, String)> {
    let combined = gh
        .combined_status(&payload.customer_repo, &payload.sha)
        .await
        .map_err(|e| Error::failed(format!("cannot read the commit status: {e}")))?;
    let ours = combined
        .get("statuses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter().find(|s| {
                s.get("context").and_then(Value::as_str) == Some(settings.status_context.as_str())
            })
        });
    let field = |name: &str, default: &str| {
        ours.and_then(|s| s.get(name))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    Ok((
        field("state", "pending"),
        field("description", ""),
        field("target_url", ""),
    ))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A short id correlating the trigger and the manager's runs.
fn dispatch_id(repo: &str, sha: &str, run_id: Option<&str>) -> String {
    use sha2::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = sha2::Sha256::digest(format!(
        "{repo}\n{sha}\n{}\n{nanos}\n{}",
        run_id.unwrap_or(""),
        std::process::id()
    ));
    crate::util::fs::hex(&h[..8])
}
