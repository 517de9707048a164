//! The manager side of the GitHub loop: `fleetform plan --dispatch` and
//! `fleetform apply --dispatch`, run on `repository_dispatch`.
//!
//! The payload is hostile: the customer must be registered and active, the
//! files are fetched from the customer's repo at the dispatched sha with the
//! manager's token, and the same engine as local mode plans and applies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ci::RunContext;
use crate::config::{Customer, Manager, Registry};
use crate::dispatch::{auth, short_sha, Payload, EVENT_APPLY, EVENT_PLAN};
use crate::error::{Error, Result};
use crate::github::{CommitStatus, GitHub, GitHubError, Token};
use crate::output::Output;
use crate::policy::PullFacts;
use crate::report::comment::comment_marker;
use crate::terraform::engine::{PlanRequest, RunError};
use crate::terraform::summary::PlanSummary;
use crate::values::customer::{self, override_path, CustomerSource, Diagnostic};

/// Written next to the plan: what the apply job needs to report back.
pub const GITHUB_FILE: &str = "github.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitHubRecord {
    pub customer_repo: String,
    pub sha: String,
    pub pr: Option<u64>,
    pub comment_id: Option<u64>,
    pub dispatch_id: String,
    pub event_type: String,
}

/// The parsed event: which action and the checked payload.
pub struct Dispatched {
    pub event_type: String,
    pub payload: Payload,
}

/// Reads and checks the `repository_dispatch` event.
pub fn read_event(ctx: &RunContext) -> Result<Dispatched> {
    if ctx.event_name.as_deref() != Some("repository_dispatch") {
        return Err(Error::Usage(format!(
            "--dispatch runs on repository_dispatch events, not `{}`",
            ctx.event_name
                .as_deref()
                .unwrap_or("(GITHUB_EVENT_NAME unset)")
        )));
    }
    let event = ctx.event().map_err(Error::Usage)?;
    let event_type = event
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if event_type != EVENT_PLAN && event_type != EVENT_APPLY {
        return Err(Error::Refused(format!(
            "dispatch type must be `{EVENT_PLAN}` or `{EVENT_APPLY}`"
        )));
    }
    let payload = Payload::parse(event.get("client_payload").unwrap_or(&Value::Null))
        .map_err(|e| Error::Refused(e.to_string()))?;
    Ok(Dispatched {
        event_type,
        payload,
    })
}

/// Which job checks the dispatch; it decides how old a signature may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Plan,
    Apply,
}

impl Stage {
    /// The end of a refusal message.
    fn nothing_done(self) -> &'static str {
        match self {
            Stage::Plan => "nothing was planned",
            Stage::Apply => "nothing was applied",
        }
    }
}

/// The registered, active customer that signed the dispatch — or a
/// refusal. In this order, so that nothing unauthenticated causes a request
/// or a write: the payload's repo must be registered (with its registered
/// spelling), the signature must be that customer's, and only then does a
/// revoked customer's commit get its failure status.
pub async fn authorise<'r>(
    registry: &'r Registry,
    manager: &Manager,
    gh: &GitHub,
    dispatched: &Dispatched,
    stage: Stage,
    run_url: Option<String>,
    out: &Output,
) -> Result<&'r Customer> {
    let payload = &dispatched.payload;
    let customer = registered(registry, payload)?;
    authenticate(customer, dispatched, stage, out)?;
    if !customer.is_active() {
        let why = customer
            .revoked
            .as_ref()
            .map(|r| r.date.clone())
            .unwrap_or_default();
        let st = CommitStatus {
            state: "failure",
            context: manager.config.status_context.clone(),
            description: format!("customer access revoked {why}; contact the provider"),
            target_url: run_url,
        };
        if let Err(e) = gh
            .set_status(&payload.customer_repo, &payload.sha, &st)
            .await
        {
            out.note(&format!("could not set the failure status: {e}"));
        }
        return Err(Error::Refused(format!(
            "customer `{}` ({}) was revoked on {why}; {}",
            customer.slug,
            payload.customer_repo,
            stage.nothing_done()
        )));
    }
    Ok(customer)
}

/// The registry entry of the payload's repo. An unknown repo gets nothing
/// written to it.
fn registered<'r>(registry: &'r Registry, payload: &Payload) -> Result<&'r Customer> {
    match registry.by_repo(&payload.customer_repo) {
        None => Err(Error::Refused(format!(
            "`{}` is not a registered customer; nothing was planned (register it with the provider first)",
            payload.customer_repo
        ))),
        // GitHub names are case-insensitive, but the spelling is what the
        // workflows' concurrency groups key on: only the registered one counts.
        Some(c) if c.repo.as_deref() != Some(payload.customer_repo.as_str()) => Err(Error::Refused(format!(
            "`{}` is registered as `{}`; dispatches must use the registered spelling",
            payload.customer_repo,
            c.repo.as_deref().unwrap_or_default()
        ))),
        Some(c) => Ok(c),
    }
}

/// The dispatch must be signed with `customer`'s current dispatch key
/// (derived from the manager's secret), for this event type, and every
/// payload field (repo, sha, ref, pr, event, files, ...) as received.
///
/// How old the signature may be depends on the job:
/// - **plan**: at most [`auth::PLAN_MAX_AGE_SECS`] (1 h), so a captured
///   dispatch cannot be replayed later. A re-run keeps the original event,
///   so a plan job re-run after that hour is refused; the customer's
///   trigger runs again instead.
/// - **apply**: at most [`auth::APPLY_MAX_AGE_SECS`] (30 days, GitHub's
///   longest wait for an environment's reviewers). The apply job runs in
///   the same workflow run as the plan job it `needs`, after an approval
///   that may take days, with the same event: demanding an hour would refuse
///   every approved production apply. Freshness was enforced by that plan
///   job; the apply still checks the MAC against the *current* key (so a
///   rotation or revocation after planning voids a pending apply), that it
///   is a `fleetform-apply` dispatch, and then that its sha is still the
///   head of the default branch (a replay can only re-apply what the
///   customer's default branch already holds).
fn authenticate(
    customer: &Customer,
    dispatched: &Dispatched,
    stage: Stage,
    out: &Output,
) -> Result<()> {
    let refuse = |e: auth::AuthError| {
        Error::Refused(format!(
            "dispatch not authenticated: {e}; {}",
            stage.nothing_done()
        ))
    };
    let secret = auth::ManagerSecret::from_env().map_err(refuse)?;
    out.mask(secret.expose());
    let key = secret.customer_key(&customer.slug, customer.key_generation());
    let max_age = match stage {
        Stage::Plan => auth::PLAN_MAX_AGE_SECS,
        Stage::Apply => auth::APPLY_MAX_AGE_SECS,
    };
    auth::verify(
        &key,
        &dispatched.event_type,
        &dispatched.payload,
        auth::Freshness::now(max_age),
    )
    .map_err(refuse)?;
    out.verbose(&format!(
        "dispatch signed by `{}` (key generation {})",
        customer.slug,
        key.generation()
    ));
    Ok(())
}

fn gh_err(e: GitHubError) -> Error {
    e.into()
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    crate::github::runtime().map_err(gh_err)
}

fn token() -> Result<Token> {
    Token::from_env().ok_or_else(|| {
        Error::Usage(
            "no token: set FLEETFORM_TOKEN (the SOURCE_REPOS_PAT secret) or GITHUB_TOKEN".into(),
        )
    })
}

/// Markdown for values that failed validation.
fn invalid_comment(
    marker: &str,
    env: &str,
    slug: &str,
    sha: &str,
    problems: &[Diagnostic],
) -> String {
    let mut s = format!(
        "{marker}\n### fleetform plan: `{slug}` / `{env}`\n\n**Invalid variables** at `{}`: nothing was planned. Fix these and push again:\n\n",
        short_sha(sha)
    );
    for p in problems {
        s.push_str(&format!(
            "- {}{}: {}\n",
            crate::report::markdown::md_code(&p.location.to_string()),
            p.pointer
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" {}", crate::report::markdown::md_code(p)))
                .unwrap_or_default(),
            crate::report::markdown::md_escape(&p.message)
        ));
    }
    s
}

/// Writes the sticky comment. A PR that does not exist (or cannot take
/// comments) is reported and skipped: the commit status still tells.
async fn sticky(
    gh: &GitHub,
    repo: &str,
    pr: u64,
    marker: &str,
    body: &str,
    out: &Output,
) -> Result<Option<u64>> {
    match gh.upsert_sticky_comment(repo, pr, marker, body).await {
        Ok(id) => Ok(id),
        Err(e) if matches!(e.status(), Some(403 | 404 | 410 | 422)) => {
            out.note(&format!("warning: no comment on {repo}#{pr}: {e}"));
            Ok(None)
        }
        Err(e) => Err(gh_err(e)),
    }
}

pub struct PlanSettings {
    pub environments: Option<Vec<String>>,
    pub out: PathBuf,
    pub dry_run: bool,
    pub json: bool,
    pub terraform: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct EnvResult {
    environment: String,
    summary: Option<PlanSummary>,
    error: Option<String>,
    comment_id: Option<u64>,
}

#[derive(Debug, Serialize)]
struct PlanReport {
    customer: String,
    customer_repo: String,
    sha: String,
    dispatch_id: String,
    results: Vec<EnvResult>,
    problems: Vec<Diagnostic>,
    requests: usize,
    dry_run_requests: Vec<crate::github::PlannedRequest>,
}

pub fn plan(settings: PlanSettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let r = plan_inner(settings, manager_dir, out);
    audit_refusal(&r, "plan", out);
    r
}

/// Records a refusal (with the payload's repo when it could be read).
fn audit_refusal(r: &Result<()>, what: &str, out: &Output) {
    if let Err(Error::Refused(m)) = r {
        let ctx = RunContext::from_env();
        let payload = read_event(&ctx).ok().map(|d| d.payload);
        let mut e = crate::audit::Entry::now("refusal", "refused").detail(format!("{what}: {m}"));
        if let Some(p) = payload {
            e = e
                .customer(&p.customer_repo)
                .sha(Some(&p.sha))
                .dispatch(Some(&p.dispatch_id));
        }
        crate::audit::record(out, e);
    }
}

/// What both dispatched commands start from: the run, its checked event,
/// and a GitHub client holding the manager's token.
struct Session {
    ctx: RunContext,
    dispatched: Dispatched,
    rt: tokio::runtime::Runtime,
    gh: GitHub,
    run_url: Option<String>,
}

fn open_session(dry_run: bool, out: &Output) -> Result<Session> {
    let ctx = RunContext::from_env();
    let token = token()?;
    out.mask(token.expose());
    let dispatched = read_event(&ctx)?;
    let rt = runtime()?;
    let gh =
        GitHub::new(&rt, &GitHub::api_url_from_env(), Some(&token), dry_run).map_err(gh_err)?;
    let run_url = ctx.run_url();
    Ok(Session {
        ctx,
        dispatched,
        rt,
        gh,
        run_url,
    })
}

fn plan_inner(settings: PlanSettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let key = artifact_key()?;
    let Session {
        ctx,
        dispatched,
        rt,
        gh,
        run_url,
    } = open_session(settings.dry_run, out)?;
    let payload = &dispatched.payload;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let engine = crate::terraform::engine::build(&manager, true, settings.terraform.as_deref())?;
    rt.block_on(async {
        let customer = authorise(&registry, &manager, &gh, &dispatched, Stage::Plan, run_url.clone(), out).await?;
        let envs = planned_environments(&manager, customer, settings.environments.as_deref())?;
        let source = fetch_source(&gh, &manager, &dispatched, &envs).await?;
        let status = |state: &'static str, description: String| CommitStatus {
            state,
            context: manager.config.status_context.clone(),
            description,
            target_url: run_url.clone(),
        };
        let customer_envs = enabled_in_order(&manager, customer);
        let docs = match customer::check(&source, &engine.schema) {
            Ok(d) => d,
            Err(problems) => {
                let failed = InvalidRun { gh: &gh, ctx: &ctx, manager: &manager, customer, payload, envs: &envs, run_url: run_url.clone() };
                return Err(failed.report(&problems, out).await?);
            }
        };
        let mut report = PlanReport {
            customer: customer.slug.clone(),
            customer_repo: payload.customer_repo.clone(),
            sha: payload.sha.clone(),
            dispatch_id: payload.dispatch_id.clone(),
            results: Vec::new(),
            problems: Vec::new(),
            requests: 0,
            dry_run_requests: Vec::new(),
        };
        let mut failed = 0;
        for env in &envs {
            let dir = settings.out.join(&customer.slug).join(env);
            let pull = pull_for_gates(&gh, &manager, &payload.customer_repo, payload.pr, env).await?;
            out.group_start(&format!("terraform plan {}/{env}", customer.slug));
            let result = engine.plan(&PlanRequest {
                customer,
                environment: env,
                docs: &docs,
                out_dir: dir.clone(),
                sha: Some(payload.sha.clone()),
                run_url: run_url.clone(),
                refresh_only: false,
                pull: pull.as_ref(),
            });
            // Terraform's log quotes the customer's values: it goes into the
            // sealed bundle, never into the manager's log.
            if let Ok(p) = &result {
                out.note(&format!(
                    "{}/{env}: {} (the plan is on the customer's pull request; the log is in the sealed bundle)",
                    customer.slug,
                    p.summary.headline()
                ));
            }
            out.group_end();
            match result {
                Ok(p) => {
                    let comment_id = match payload.pr {
                        Some(pr) => sticky(&gh, &payload.customer_repo, pr, &comment_marker(&customer.slug, env), &p.comment, out).await?,
                        None => None,
                    };
                    let (state, description) = match &p.summary.gates {
                        Some(v) if !v.allows() => ("failure", format!("{} · {}", p.summary.headline(), v.short())),
                        Some(v) => ("success", format!("{} · {}", p.summary.headline(), v.short())),
                        None => ("success", p.summary.headline()),
                    };
                    if let Some(v) = &p.summary.gates {
                        audit_waivers(out, v, pull.as_ref(), &customer.slug, env, payload, "plan");
                    }
                    report_status(&gh, &customer_envs, &payload.customer_repo, &payload.sha, env, status(state, description)).await.map_err(gh_err)?;
                    let record = GitHubRecord {
                        customer_repo: payload.customer_repo.clone(),
                        sha: payload.sha.clone(),
                        pr: payload.pr,
                        comment_id,
                        dispatch_id: payload.dispatch_id.clone(),
                        event_type: dispatched.event_type.clone(),
                    };
                    crate::util::fs::write_atomic(&dir.join(GITHUB_FILE), &serde_json::to_vec_pretty(&record).expect("serialisable"))
                        .map_err(|e| Error::Failed(format!("writing {GITHUB_FILE}: {e}")))?;
                    seal_plan(&key, &customer.slug, env, &dir)?;
                    let _ = ctx.append_summary(&manager_summary(&customer.slug, env, &payload.sha, &p.summary));
                    crate::audit::record(
                        out,
                        crate::audit::Entry::now("plan", if p.summary.has_changes { "changes" } else { "no-changes" })
                            .customer(&customer.slug)
                            .environment(env)
                            .sha(Some(&payload.sha))
                            .plan(Some(&p.summary.plan_sha256))
                            .dispatch(Some(&payload.dispatch_id))
                            .detail(p.summary.headline()),
                    );
                    report.results.push(EnvResult {
                        environment: env.clone(),
                        summary: Some(p.summary),
                        error: None,
                        comment_id,
                    });
                }
                Err(e) => {
                    failed += 1;
                    // The short form: Terraform's output and the customer's
                    // values stay out of the manager's log.
                    out.error(&format!("{}/{env}: {}", customer.slug, values_free(&e)));
                    report_status(&gh, &customer_envs, &payload.customer_repo, &payload.sha, env, status("failure", format!("{env}: plan failed, see the run")))
                        .await
                        .map_err(gh_err)?;
                    crate::audit::record(
                        out,
                        crate::audit::Entry::now("plan", "failed")
                            .customer(&customer.slug)
                            .environment(env)
                            .sha(Some(&payload.sha))
                            .dispatch(Some(&payload.dispatch_id))
                            .detail(e.short()),
                    );
                    report.results.push(EnvResult {
                        environment: env.clone(),
                        summary: None,
                        error: Some(e.short()),
                        comment_id: None,
                    });
                }
            }
        }
        report.requests = gh.request_count();
        report.dry_run_requests = gh.withheld();
        for r in &report.dry_run_requests {
            out.note(&format!("dry run: would send {} {} {}", r.method, r.path, r.body.as_ref().map(|b| b.to_string()).unwrap_or_default()));
        }
        out.verbose(&format!("{} GitHub API request(s)", report.requests));
        let outputs = plan_outputs(&report, &dispatched.event_type, &settings.out);
        ctx.set_outputs(&outputs).map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
        if settings.json {
            out.result(&serde_json::to_string_pretty(&report).expect("serialisable"));
        } else {
            for r in &report.results {
                out.result(&match &r.summary {
                    Some(s) => format!("planned {}/{}: {} (sha256:{})", customer.slug, r.environment, s.counts(), s.plan_sha256),
                    None => format!("FAILED {}/{}: {}", customer.slug, r.environment, r.error.as_deref().unwrap_or("")),
                });
            }
        }
        if failed > 0 {
            return Err(Error::Failed(format!("{failed} of {} plans failed", envs.len())));
        }
        Ok(())
    })
}

/// The PR facts the environment's gates need (0, 1 or 2 requests).
async fn pull_for_gates(
    gh: &GitHub,
    manager: &Manager,
    repo: &str,
    pr: Option<u64>,
    env: &str,
) -> Result<Option<PullFacts>> {
    let policies = &manager.config.policies;
    let (labels, reviews) = (policies.needs_labels(env), policies.needs_reviews(env));
    match pr {
        Some(n) if labels || reviews => gh
            .pull_facts(repo, n, reviews)
            .await
            .map(Some)
            .map_err(gh_err),
        _ => Ok(None),
    }
}

/// One audit line per waived gate: who waived (the PR author who carries
/// the label, and the actor of this run) and why.
fn audit_waivers(
    out: &Output,
    verdict: &crate::policy::Verdict,
    pull: Option<&PullFacts>,
    customer: &str,
    env: &str,
    payload: &Payload,
    stage: &str,
) {
    let Some(label) = &verdict.waiver else { return };
    for r in verdict.results.iter().filter(|r| r.waived) {
        crate::audit::record(
            out,
            crate::audit::Entry::now("waiver", "waived")
                .customer(customer)
                .environment(env)
                .sha(Some(&payload.sha))
                .dispatch(Some(&payload.dispatch_id))
                .detail(format!(
                    "{stage}: gate `{}` waived by label `{label}` on PR #{} (author {}): {}",
                    r.gate,
                    pull.map(|p| p.number).unwrap_or_default(),
                    pull.and_then(|p| p.author.clone()).unwrap_or_else(|| "unknown".into()),
                    pull.and_then(|p| p.waiver_reason.clone()).unwrap_or_else(|| "no reason given (add a `fleetform-waiver: <reason>` line to the PR description)".into())
                )),
        );
    }
}

pub struct ApplySettings {
    pub environment: String,
    pub plan_dir: PathBuf,
    pub plan_sha256: String,
    pub dry_run: bool,
    pub json: bool,
    pub terraform: Option<PathBuf>,
}

pub fn apply(settings: ApplySettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let r = apply_inner(settings, manager_dir, out);
    audit_refusal(&r, "apply", out);
    r
}

fn apply_inner(settings: ApplySettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let key = artifact_key()?;
    let Session {
        ctx,
        dispatched,
        rt,
        gh,
        run_url,
    } = open_session(settings.dry_run, out)?;
    let payload = &dispatched.payload;
    if dispatched.event_type != EVENT_APPLY {
        return Err(Error::Refused(format!(
            "applies run only for `{EVENT_APPLY}` dispatches (default-branch pushes), not `{}`",
            dispatched.event_type
        )));
    }
    let (manager, registry) = crate::config::load(manager_dir)?;
    if manager.environment(&settings.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`",
            settings.environment
        )));
    }
    let engine = crate::terraform::engine::build(&manager, true, settings.terraform.as_deref())?;
    let env = settings.environment.clone();
    let manager_gh = manager_client(&rt, &ctx, out)?;
    rt.block_on(async {
        let customer = authorise(&registry, &manager, &gh, &dispatched, Stage::Apply, run_url.clone(), out).await?;
        let status = |state: &'static str, description: String| CommitStatus {
            state,
            context: manager.config.status_context.clone(),
            description,
            target_url: run_url.clone(),
        };
        let customer_envs = enabled_in_order(&manager, customer);
        let (gh_ref, status_ref, env_ref, envs_ref) = (&gh, &status, env.as_str(), &customer_envs);
        let refuse = move |reason: String| async move {
            let st = status_ref("failure", format!("{env_ref}: apply refused: {reason}"));
            if let Err(e) = report_status(gh_ref, envs_ref, &payload.customer_repo, &payload.sha, env_ref, st).await {
                out.note(&format!("could not set the failure status: {e}"));
            }
            Err::<(), Error>(Error::Refused(format!("{reason}; nothing was applied")))
        };
        // Revocation during the approval wait: the registry as it is now on
        // the manager's default branch, not the checkout the dispatch ran on.
        if let Err(reason) = still_active_on_default_branch(&manager, &manager_gh, &customer.slug).await? {
            return refuse(reason).await;
        }
        // `auto_apply: false`: someone other than the dispatcher approved
        // this run's deployment to the apply environment.
        let approver = match reviewed_by(&manager, &env, &ctx, &manager_gh).await? {
            Ok(approver) => approver,
            Err(reason) => return refuse(reason).await,
        };
        // The files the apply checks are the sealed ones from the artifact.
        match open_plan(&key, &customer.slug, &env, &settings.plan_dir) {
            Err(Error::Refused(reason)) => return refuse(reason).await,
            other => other?,
        }
        let record: GitHubRecord = std::fs::read(settings.plan_dir.join(GITHUB_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::Refused(format!("{} holds no plan from a dispatch; download the plan artifact first", settings.plan_dir.display())))?;
        if !record.customer_repo.eq_ignore_ascii_case(&payload.customer_repo) || record.sha != payload.sha {
            return refuse(format!(
                "the plan in {} is for {}@{}, not {}@{}",
                settings.plan_dir.display(), record.customer_repo, record.sha, payload.customer_repo, payload.sha
            ))
            .await;
        }
        // Stale: the default branch moved past the planned commit and
        // changed a file fleetform reads. A newer commit that touches
        // nothing fleetform reads (a README) does not trigger a new plan,
        // so refusing then would leave the change unapplied forever.
        let (branch, head) = gh.default_branch_head(&payload.customer_repo).await.map_err(gh_err)?;
        if head != payload.sha {
            let read = [manager.config.customer.variables.clone(), override_path(&manager, &env)];
            if let Some(changed) = first_changed(&gh, &payload.customer_repo, &payload.sha, &head, &read).await? {
                return refuse(format!(
                    "stale plan: `{branch}` of {} is at {} now and `{changed}` changed since {}, the planned commit; the newer push plans and applies on its own",
                    payload.customer_repo,
                    short_sha(&head),
                    short_sha(&payload.sha)
                ))
                .await;
            }
            out.note(&format!(
                "`{branch}` moved to {} after the plan, without changing the files fleetform reads; applying the plan of {}",
                short_sha(&head),
                short_sha(&payload.sha)
            ));
        }
        // Gates are checked again against the PR as it is now.
        let pull = pull_for_gates(&gh, &manager, &payload.customer_repo, record.pr, &env).await?;
        if settings.dry_run {
            // Every check, no apply, no writes.
            return match engine.check_apply(customer, &env, &settings.plan_dir, Some(&settings.plan_sha256), pull.as_ref()) {
                Ok((digest, verdict)) => {
                    out.result(&format!(
                        "dry run: every check passed ({}{}); would apply {}/{env} (plan sha256:{digest})",
                        verdict.short(),
                        approver.as_deref().map(|a| format!(", approved by {a}")).unwrap_or_default(),
                        customer.slug
                    ));
                    Ok(())
                }
                Err(RunError::Refused(m)) => Err(Error::Refused(m)),
                Err(e) => Err(Error::Failed(e.to_string())),
            };
        }
        out.group_start(&format!("terraform apply {}/{env}", customer.slug));
        let result = engine.apply(customer, &env, &settings.plan_dir, Some(&settings.plan_sha256), pull.as_ref());
        if let Ok(done) = &result {
            audit_waivers(out, &done.gates, pull.as_ref(), &customer.slug, &env, payload, "apply");
        }
        out.group_end();
        let summary = crate::terraform::engine::read_summary(&settings.plan_dir).ok();
        match result {
            Ok(done) => {
                // Terraform's output (it may print values and outputs) stays
                // in the plan folder's apply.log, out of the manager's log.
                let counts = summary.as_ref().map(|s| s.counts()).unwrap_or_default();
                report_status(&gh, &customer_envs, &payload.customer_repo, &payload.sha, &env, status("success", format!("{env}: applied {counts}")))
                    .await
                    .map_err(gh_err)?;
                if let (Some(id), Ok(comment)) = (record.comment_id, std::fs::read_to_string(settings.plan_dir.join("comment.md"))) {
                    let body = format!(
                        "{comment}\n---\n**Applied** to `{env}`{}.\n",
                        run_url.as_ref().map(|u| format!(" in [this run]({u})")).unwrap_or_default()
                    );
                    gh.update_comment(&payload.customer_repo, id, &body).await.map_err(gh_err)?;
                }
                crate::audit::record(
                    out,
                    crate::audit::Entry::now("apply", "ok")
                        .approved_by(approver.as_deref())
                        .customer(&customer.slug)
                        .environment(&env)
                        .sha(Some(&payload.sha))
                        .plan(Some(&done.plan_sha256))
                        .dispatch(Some(&payload.dispatch_id)),
                );
                let _ = ctx.append_summary(&format!("### fleetform apply: `{}` / `{env}`\n\nApplied plan `sha256:{}`.\n", customer.slug, done.plan_sha256));
                ctx.set_outputs(&[("applied", "true".into()), ("plan_sha256", done.plan_sha256.clone()), ("requests", gh.request_count().to_string())])
                    .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
                out.verbose(&format!("{} GitHub API request(s)", gh.request_count()));
                if settings.json {
                    out.result(&serde_json::to_string_pretty(&serde_json::json!({"applied": done, "requests": gh.request_count()})).expect("serialisable"));
                } else {
                    out.result(&format!("applied {}/{env} (plan sha256:{})", customer.slug, done.plan_sha256));
                }
                Ok(())
            }
            Err(RunError::Refused(reason)) => refuse(reason.trim_end_matches("; nothing was applied").trim_end_matches(". Nothing was applied; plan again").to_string()).await,
            Err(RunError::Terraform(crate::terraform::TerraformError::StalePlan { .. })) => {
                refuse("the saved plan is stale: the state changed after it was made".into()).await
            }
            Err(e) => {
                let _ = report_status(&gh, &customer_envs, &payload.customer_repo, &payload.sha, &env, status("failure", format!("{env}: apply failed, see the run")))
                    .await;
                crate::audit::record(
                    out,
                    crate::audit::Entry::now("apply", "failed")
                        .approved_by(approver.as_deref())
                        .customer(&customer.slug)
                        .environment(&env)
                        .sha(Some(&payload.sha))
                        .dispatch(Some(&payload.dispatch_id))
                        .detail(e.short()),
                );
                Err(match e {
                    RunError::Refused(m) => Error::Refused(m),
                    other => Error::Failed(format!("{}/{env}: {}", customer.slug, values_free(&other))),
                })
            }
        }
    })
}

/// The sealed bundle in each plan folder: the only file a workflow uploads.
pub const BUNDLE_FILE: &str = "bundle.sealed";

/// The plan folder's files that go into the bundle.
const BUNDLED: &[&str] = &[
    crate::terraform::engine::PLAN_FILE,
    crate::terraform::engine::SUMMARY_FILE,
    GITHUB_FILE,
    "comment.md",
    "plan.txt",
    "variables.tfvars.json",
    "terraform.log",
];

fn artifact_key() -> Result<crate::dispatch::seal::ArtifactKey> {
    crate::dispatch::seal::ArtifactKey::from_env().map_err(|e| Error::Usage(e.to_string()))
}

/// Seals the plan folder's files into [`BUNDLE_FILE`] for the artifact.
fn seal_plan(
    key: &crate::dispatch::seal::ArtifactKey,
    customer: &str,
    env: &str,
    dir: &Path,
) -> Result<()> {
    let bundle = crate::dispatch::seal::seal_dir(key, customer, env, dir, BUNDLED)
        .map_err(|e| Error::Failed(e.to_string()))?;
    crate::util::fs::write_atomic(&dir.join(BUNDLE_FILE), &bundle)
        .map_err(|e| Error::Failed(e.to_string()))
}

/// Opens the downloaded bundle into the plan folder: the files the apply
/// checks are the sealed ones, whatever else lies in the folder.
fn open_plan(
    key: &crate::dispatch::seal::ArtifactKey,
    customer: &str,
    env: &str,
    dir: &Path,
) -> Result<()> {
    let bundle = dir.join(BUNDLE_FILE);
    if !bundle.is_file() {
        return Err(Error::Refused(format!(
            "{} holds no sealed plan ({BUNDLE_FILE}); download the plan job's artifact into it",
            dir.display()
        )));
    }
    crate::dispatch::seal::open_into(key, customer, env, &bundle, dir)
        .map(drop)
        .map_err(|e| match e {
            crate::dispatch::seal::SealError::Fs(f) => Error::Failed(f.to_string()),
            other => Error::Refused(other.to_string()),
        })
}

/// A run error without the customer's values or Terraform's output, for
/// the manager's log: those go to the customer's pull request.
fn values_free(e: &RunError) -> String {
    match e {
        RunError::Values(d) => format!(
            "{} problem(s) in the customer's variables (listed on the customer's pull request)",
            d.len()
        ),
        RunError::Terraform(_) => format!("{} (the log is in the sealed bundle)", e.short()),
        RunError::Refused(m) => format!("refused: {m}"),
        RunError::Io(_) => e.to_string(),
    }
}

/// The step summary of a plan on the manager: counts, digest and gate
/// verdict only. The plan itself quotes the customer's values and goes to
/// the customer's pull request; the manager's summaries are readable by
/// everyone with access to the manager repo.
fn manager_summary(customer: &str, env: &str, sha: &str, s: &PlanSummary) -> String {
    let gates = s
        .gates
        .as_ref()
        .map(|v| {
            format!(
                " · gates: {}",
                crate::report::markdown::md_escape(&v.short())
            )
        })
        .unwrap_or_default();
    format!(
        "### fleetform plan: `{customer}` / `{env}`\n\n{} at `{}`{gates}. Plan digest `sha256:{}`. The full plan is on the customer's pull request; the plan files travel in the sealed artifact.\n\n",
        s.headline(),
        short_sha(sha),
        s.plan_sha256
    )
}

/// The first of `files` whose content differs between two commits (by
/// blob sha; a file added or removed counts as changed).
async fn first_changed(
    gh: &GitHub,
    repo: &str,
    planned: &str,
    head: &str,
    files: &[String],
) -> Result<Option<String>> {
    for f in files {
        let at_plan = gh
            .get_file_with_sha(repo, f, Some(planned))
            .await
            .map_err(gh_err)?;
        let at_head = gh
            .get_file_with_sha(repo, f, Some(head))
            .await
            .map_err(gh_err)?;
        if at_plan.map(|(_, sha)| sha) != at_head.map(|(_, sha)| sha) {
            return Ok(Some(f.clone()));
        }
    }
    Ok(None)
}

/// The customer's enabled environments, in fleetform.yml's order.
pub(crate) fn enabled_in_order(manager: &Manager, customer: &Customer) -> Vec<String> {
    manager
        .environment_names()
        .into_iter()
        .filter(|e| customer.environments.iter().any(|x| x == e))
        .map(str::to_string)
        .collect()
}

/// Sets the environment's own status (`<context>/<env>`), then the combined
/// `<context>` (the seed's `infra/terraform-deploy`): the worst state over
/// the customer's environments, an environment without a status yet
/// counting as pending. Parallel environment jobs each own their context,
/// so one can never overwrite another's failure; each recomputes the
/// combined one from what GitHub holds after its own write.
pub(crate) async fn report_status(
    gh: &GitHub,
    envs: &[String],
    repo: &str,
    sha: &str,
    env: &str,
    st: CommitStatus,
) -> Result<(), GitHubError> {
    let own = CommitStatus {
        context: format!("{}/{env}", st.context),
        ..st.clone()
    };
    gh.set_status(repo, sha, &own).await?;
    let held = gh.combined_status(repo, sha).await?;
    let (state, description) = worst_of(&held, &st.context, envs, &own);
    gh.set_status(
        repo,
        sha,
        &CommitStatus {
            state,
            context: st.context,
            description,
            target_url: st.target_url,
        },
    )
    .await
}

/// The worst state over `envs` (failure or error, then pending, then
/// success) and the description that goes with it.
fn worst_of(
    held: &Value,
    base: &str,
    envs: &[String],
    written: &CommitStatus,
) -> (&'static str, String) {
    let rank = |s: &str| match s {
        "error" | "failure" => 3,
        "pending" => 2,
        _ => 1,
    };
    let latest = held.get("statuses").and_then(Value::as_array);
    let mut worst: Option<(&'static str, String)> = None;
    for env in envs {
        let context = format!("{base}/{env}");
        let (state, description): (&'static str, String) = if context == written.context {
            (written.state, written.description.clone())
        } else {
            let found = latest.and_then(|all| {
                all.iter()
                    .find(|s| s.get("context").and_then(Value::as_str) == Some(context.as_str()))
            });
            match found.and_then(|s| s.get("state")).and_then(Value::as_str) {
                Some("error") => ("error", description_of(found)),
                Some("failure") => ("failure", description_of(found)),
                Some("success") => ("success", description_of(found)),
                Some(_) => ("pending", description_of(found)),
                None => ("pending", format!("{env}: no result yet")),
            }
        };
        if worst.as_ref().is_none_or(|(w, _)| rank(state) > rank(w)) {
            worst = Some((state, description));
        }
    }
    worst.unwrap_or((written.state, written.description.clone()))
}

fn description_of(status: Option<&Value>) -> String {
    status
        .and_then(|s| s.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The client and repo for reading the manager repo itself: the job's
/// token for it (`FLEETFORM_MANAGER_TOKEN`, else the token).
fn manager_client(
    rt: &tokio::runtime::Runtime,
    ctx: &RunContext,
    out: &Output,
) -> Result<(GitHub, String)> {
    let repo = ctx.repository.clone().ok_or_else(|| {
        Error::Usage("GITHUB_REPOSITORY is not set: apply --dispatch runs inside the manager repo's workflow".into())
    })?;
    let token = match std::env::var("FLEETFORM_MANAGER_TOKEN")
        .ok()
        .and_then(Token::new)
    {
        Some(t) => t,
        None => token()?,
    };
    out.mask(token.expose());
    // Reads only: nothing is ever written to the manager repo here.
    let gh = GitHub::new(rt, &GitHub::api_url_from_env(), Some(&token), false).map_err(gh_err)?;
    Ok((gh, repo))
}

/// Who approved this run's deployment to `env`'s apply environment: `None`
/// for `auto_apply: true`; for `auto_apply: false` a reviewer other than
/// the dispatcher, read from the run's deployment reviews (1 request), or
/// `Ok(Err(reason))`, a refusal naming the missing protection.
async fn reviewed_by(
    manager: &Manager,
    env: &str,
    ctx: &RunContext,
    (gh, repo): &(GitHub, String),
) -> Result<std::result::Result<Option<String>, String>> {
    let environment = manager
        .environment(env)
        .ok_or_else(|| Error::Usage(format!("unknown environment `{env}`")))?;
    if environment.auto_apply {
        return Ok(Ok(None));
    }
    let run_id: u64 = ctx
        .run_id
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            Error::Usage(
                "GITHUB_RUN_ID is not set to a run number: apply --dispatch checks the run's approvals, so it runs inside the manager repo's workflow".into(),
            )
        })?;
    let reviews = gh.run_reviews(repo, run_id).await.map_err(gh_err)?;
    let dispatchers = crate::policy::approval::Dispatchers::new([
        ctx.actor.clone(),
        std::env::var("GITHUB_TRIGGERING_ACTOR").ok(),
    ]);
    Ok(crate::policy::approval::approver(
        &reviews,
        &environment.apply_environment(),
        &dispatchers,
        run_id,
    )
    .map(Some))
}

/// Whether the customer is still registered and active in the registry
/// on the manager repo's default branch. An apply may wait up to 30 days
/// for its approval; the checkout it runs on is the one of the dispatch,
/// and a revocation merged since must stop it. `Ok(Err(reason))` is a
/// refusal.
async fn still_active_on_default_branch(
    manager: &Manager,
    (gh, repo): &(GitHub, String),
    slug: &str,
) -> Result<std::result::Result<(), String>> {
    let rel = manager.config.registry.to_string_lossy().replace('\\', "/");
    let Some(bytes) = gh.get_file(repo, &rel, None).await.map_err(gh_err)? else {
        return Ok(Err(format!("{repo} has no `{rel}` on its default branch")));
    };
    let current = Registry::parse(manager, &manager.path(&manager.config.registry), &bytes)
        .map_err(|e| Error::Failed(format!("the registry on {repo}'s default branch: {e}")))?;
    Ok(match current.get(slug) {
        Some(c) if c.is_active() => Ok(()),
        Some(_) => Err(format!(
            "`{slug}` was revoked on {repo}'s default branch after the plan"
        )),
        None => Err(format!(
            "`{slug}` is no longer in the registry on {repo}'s default branch"
        )),
    })
}

/// The environments to plan: those asked for (each must be enabled for the
/// customer), else every enabled one in fleetform.yml's order.
fn planned_environments(
    manager: &Manager,
    customer: &Customer,
    wanted: Option<&[String]>,
) -> Result<Vec<String>> {
    let Some(wanted) = wanted else {
        return Ok(enabled_in_order(manager, customer));
    };
    if let Some(e) = wanted.iter().find(|e| !customer.environments.contains(e)) {
        return Err(Error::Refused(format!(
            "environment `{e}` is not enabled for `{}`",
            customer.slug
        )));
    }
    Ok(wanted.to_vec())
}

/// Fetches the customer's files at the dispatched sha, from the registered
/// repo, with the manager's token: only the variables file and the
/// manager's own override names, and for plans that lead to an apply the
/// override of every planned environment whatever the payload lists.
async fn fetch_source(
    gh: &GitHub,
    manager: &Manager,
    dispatched: &Dispatched,
    envs: &[String],
) -> Result<CustomerSource> {
    let payload = &dispatched.payload;
    // Only the variables file and known override names may be fetched.
    let vars_name = manager.config.customer.variables.clone();
    let allowed: BTreeMap<String, Option<String>> = std::iter::once((vars_name.clone(), None))
        .chain(
            manager
                .config
                .environments
                .iter()
                .map(|e| (override_path(manager, &e.name), Some(e.name.clone()))),
        )
        .collect();
    if !payload.files.contains(&vars_name) {
        return Err(Error::Refused(format!(
            "the dispatch does not list `{vars_name}`"
        )));
    }
    for f in &payload.files {
        if !allowed.contains_key(f) {
            return Err(Error::Refused(format!(
                "the dispatch lists `{}`, which is not a variables file of this manager",
                f.escape_debug()
            )));
        }
    }
    // Plans that lead to an apply never trust the payload's file list for
    // overrides: the override of every planned environment is looked up
    // (one request each, even when absent).
    let mut wanted: Vec<String> = payload.files.clone();
    if dispatched.event_type == EVENT_APPLY {
        for env in envs {
            let p = override_path(manager, env);
            if !wanted.contains(&p) {
                wanted.push(p);
            }
        }
    }
    // Fetch at the sha, from the customer's repo, with our token.
    let shown = |f: &str| PathBuf::from(f);
    let mut variables = None;
    let mut overrides = BTreeMap::new();
    for f in &wanted {
        let env = allowed[f].clone();
        if env.as_ref().is_some_and(|e| !envs.contains(e)) {
            continue; // another environment's file: not needed here
        }
        let bytes = gh
            .get_file(&payload.customer_repo, f, Some(&payload.sha))
            .await
            .map_err(gh_err)?;
        match (bytes, env) {
            (Some(b), None) => variables = Some(b),
            (Some(b), Some(e)) => {
                overrides.insert(e, (shown(f), b));
            }
            (None, Some(_)) if !payload.files.contains(f) => {} // probed, absent
            (None, _) => {
                return Err(Error::Failed(format!(
                    "`{f}` does not exist in {} at {}",
                    payload.customer_repo, payload.sha
                )))
            }
        }
    }
    let variables =
        variables.ok_or_else(|| Error::Failed(format!("`{vars_name}` was not fetched")))?;
    Ok(CustomerSource {
        variables: (shown(&vars_name), variables),
        overrides,
    })
}

/// The plan step's outputs; the per-plan ones only when exactly one
/// environment was planned.
fn plan_outputs(
    report: &PlanReport,
    event_type: &str,
    out_dir: &Path,
) -> Vec<(&'static str, String)> {
    let mut outputs = vec![
        ("customer", report.customer.clone()),
        ("customer_repo", report.customer_repo.clone()),
        ("sha", report.sha.clone()),
        ("event_type", event_type.to_string()),
        ("requests", report.requests.to_string()),
    ];
    let [one] = report.results.as_slice() else {
        return outputs;
    };
    outputs.push(("environment", one.environment.clone()));
    if let Some(s) = &one.summary {
        let dir = out_dir.join(&report.customer).join(&one.environment);
        outputs.extend([
            ("has_changes", s.has_changes.to_string()),
            ("plan_sha256", s.plan_sha256.clone()),
            ("create", s.create.to_string()),
            ("update", s.update.to_string()),
            ("delete", s.delete.to_string()),
            ("replace", s.replace.to_string()),
            ("plan_dir", dir.display().to_string()),
            ("bundle", dir.join(BUNDLE_FILE).display().to_string()),
            (
                "gates_pass",
                s.gates.as_ref().is_none_or(|v| v.allows()).to_string(),
            ),
        ]);
    }
    outputs
}

/// A dispatched plan whose customer values are invalid: nothing is planned.
struct InvalidRun<'a> {
    gh: &'a GitHub,
    ctx: &'a RunContext,
    manager: &'a Manager,
    customer: &'a Customer,
    payload: &'a Payload,
    envs: &'a [String],
    run_url: Option<String>,
}

impl InvalidRun<'_> {
    /// Lists the problems on the customer's PR (they quote the customer's
    /// keys and values, so never in the manager's log), marks every
    /// environment `failure`, writes a values-free summary and audit lines,
    /// and returns the error to end the step with.
    async fn report(&self, problems: &[Diagnostic], out: &Output) -> Result<Error> {
        let (customer, payload, n) = (self.customer, self.payload, problems.len());
        out.error(&format!(
            "{}: {n} problem(s) in the customer's variables (listed on the customer's pull request, not here: the manager's log is readable by everyone with access to the manager repo)",
            customer.slug
        ));
        if let Some(pr) = payload.pr {
            for env in self.envs {
                let marker = comment_marker(&customer.slug, env);
                let body = invalid_comment(&marker, env, &customer.slug, &payload.sha, problems);
                sticky(self.gh, &payload.customer_repo, pr, &marker, &body, out).await?;
            }
        }
        let customer_envs = enabled_in_order(self.manager, customer);
        for env in self.envs {
            let st = CommitStatus {
                state: "failure",
                context: self.manager.config.status_context.clone(),
                description: format!("{env}: invalid variables: {n} problem(s)"),
                target_url: self.run_url.clone(),
            };
            report_status(
                self.gh,
                &customer_envs,
                &payload.customer_repo,
                &payload.sha,
                env,
                st,
            )
            .await
            .map_err(gh_err)?;
        }
        let _ = self.ctx.append_summary(&format!(
            "### fleetform plan: `{}`\n\nInvalid variables at `{}`: {n} problem(s), listed on the customer's pull request.\n",
            customer.slug,
            short_sha(&payload.sha),
        ));
        for env in self.envs {
            crate::audit::record(
                out,
                crate::audit::Entry::now("plan", "failed")
                    .customer(&customer.slug)
                    .environment(env)
                    .sha(Some(&payload.sha))
                    .dispatch(Some(&payload.dispatch_id))
                    .detail(format!("invalid variables: {n} problem(s)")),
            );
        }
        Ok(Error::Failed(format!(
            "{n} problem(s) in the customer's variables; nothing was planned"
        )))
    }
}
