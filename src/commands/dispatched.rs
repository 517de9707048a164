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

use crate::config::{Customer, Manager, Registry};
use crate::customer::{self, override_path, CustomerSource, Diagnostic};
use crate::dispatch::{Payload, EVENT_APPLY, EVENT_PLAN};
use crate::engine::{PlanRequest, RunError};
use crate::error::{Error, Result};
use crate::github::{CommitStatus, GitHub, GitHubError, Token};
use crate::output::Output;
use crate::plan::{comment_marker, PlanSummary};
use crate::policy::PullFacts;
use crate::runner::RunContext;

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

/// The registered, active customer for the payload's repo — or a refusal.
/// A revoked customer's commit gets a failure status (its repo is known);
/// an unknown repo gets nothing written to it.
async fn authorise<'r>(
    registry: &'r Registry,
    manager: &Manager,
    gh: &GitHub,
    payload: &Payload,
    run_url: Option<String>,
    out: &Output,
) -> Result<&'r Customer> {
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
        Some(c) if !c.is_active() => {
            let why = c.revoked.as_ref().map(|r| r.date.clone()).unwrap_or_default();
            let st = CommitStatus {
                state: "failure",
                context: manager.config.status_context.clone(),
                description: format!("customer access revoked {why}; contact the provider"),
                target_url: run_url,
            };
            if let Err(e) = gh.set_status(&payload.customer_repo, &payload.sha, &st).await {
                out.note(&format!("could not set the failure status: {e}"));
            }
            Err(Error::Refused(format!(
                "customer `{}` ({}) was revoked on {why}; nothing was planned",
                c.slug, payload.customer_repo
            )))
        }
        Some(c) => Ok(c),
    }
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
        &sha[..12]
    );
    for p in problems {
        s.push_str(&format!(
            "- {}{}: {}\n",
            crate::plan::md_code(&p.location.to_string()),
            p.pointer
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!(" {}", crate::plan::md_code(p)))
                .unwrap_or_default(),
            crate::plan::md_escape(&p.message)
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
        super::audit(out, e);
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
    let Session {
        ctx,
        dispatched,
        rt,
        gh,
        run_url,
    } = open_session(settings.dry_run, out)?;
    let payload = &dispatched.payload;
    let (manager, registry) = super::load_manager(manager_dir)?;
    let engine = super::engine(&manager, true, settings.terraform.as_deref())?;
    rt.block_on(async {
        let customer = authorise(&registry, &manager, &gh, payload, run_url.clone(), out).await?;
        let envs: Vec<String> = match &settings.environments {
            Some(wanted) => {
                for e in wanted {
                    if !customer.environments.contains(e) {
                        return Err(Error::Refused(format!(
                            "environment `{e}` is not enabled for `{}`",
                            customer.slug
                        )));
                    }
                }
                wanted.clone()
            }
            None => manager
                .environment_names()
                .into_iter()
                .filter(|e| customer.environments.iter().any(|x| x == e))
                .map(str::to_string)
                .collect(),
        };
        // Only the variables file and known override names may be fetched.
        let vars_name = manager.config.customer.variables.clone();
        let allowed: BTreeMap<String, Option<String>> = std::iter::once((vars_name.clone(), None))
            .chain(manager.config.environments.iter().map(|e| (override_path(&manager, &e.name), Some(e.name.clone()))))
            .collect();
        if !payload.files.contains(&vars_name) {
            return Err(Error::Refused(format!("the dispatch does not list `{vars_name}`")));
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
            for env in &envs {
                let p = override_path(&manager, env);
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
            let bytes = gh.get_file(&payload.customer_repo, f, Some(&payload.sha)).await.map_err(gh_err)?;
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
        let source = CustomerSource {
            variables: (shown(&vars_name), variables.expect("listed and fetched")),
            overrides,
        };
        let status = |state: &'static str, description: String| CommitStatus {
            state,
            context: manager.config.status_context.clone(),
            description,
            target_url: run_url.clone(),
        };
        let docs = match customer::check(&source, &engine.schema) {
            Ok(d) => d,
            Err(problems) => {
                out.diagnostics(&problems);
                for env in &envs {
                    if let Some(pr) = payload.pr {
                        let marker = comment_marker(&customer.slug, env);
                        let body = invalid_comment(&marker, env, &customer.slug, &payload.sha, &problems);
                        sticky(&gh, &payload.customer_repo, pr, &marker, &body, out).await?;
                    }
                }
                gh.set_status(
                    &payload.customer_repo,
                    &payload.sha,
                    &status("failure", format!("invalid variables: {} problem(s)", problems.len())),
                )
                .await
                .map_err(gh_err)?;
                let _ = ctx.append_summary(&invalid_comment("", &envs.join(", "), &customer.slug, &payload.sha, &problems));
                for env in &envs {
                    super::audit(
                        out,
                        crate::audit::Entry::now("plan", "failed")
                            .customer(&customer.slug)
                            .environment(env)
                            .sha(Some(&payload.sha))
                            .dispatch(Some(&payload.dispatch_id))
                            .detail(format!("invalid variables: {} problem(s)", problems.len())),
                    );
                }
                return Err(Error::Failed(format!("{} problem(s) in the customer's variables; nothing was planned", problems.len())));
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
            if let Ok(p) = &result {
                out.raw(&p.log);
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
                        let _ = ctx.append_summary(&v.checklist());
                    }
                    gh.set_status(&payload.customer_repo, &payload.sha, &status(state, description))
                        .await
                        .map_err(gh_err)?;
                    let record = GitHubRecord {
                        customer_repo: payload.customer_repo.clone(),
                        sha: payload.sha.clone(),
                        pr: payload.pr,
                        comment_id,
                        dispatch_id: payload.dispatch_id.clone(),
                        event_type: dispatched.event_type.clone(),
                    };
                    crate::fsutil::write_atomic(&dir.join(GITHUB_FILE), &serde_json::to_vec_pretty(&record).expect("serialisable"))
                        .map_err(|e| Error::Failed(format!("writing {GITHUB_FILE}: {e}")))?;
                    let _ = ctx.append_summary(&format!("{}\n\n<details><summary>Full plan</summary>\n\n{fence}text\n{}\n{fence}\n\n</details>\n\n", p.comment, p.plan_text, fence = crate::plan::fence_for(&p.plan_text)));
                    super::audit(
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
                    let msg = match &e {
                        RunError::Values(d) => {
                            out.diagnostics(d);
                            e.short()
                        }
                        other => other.to_string(),
                    };
                    out.error(&format!("{}/{env}: {msg}", customer.slug));
                    gh.set_status(&payload.customer_repo, &payload.sha, &status("failure", format!("{env}: plan failed, see the run")))
                        .await
                        .map_err(gh_err)?;
                    super::audit(
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
        let mut outputs = vec![
            ("customer", customer.slug.clone()),
            ("customer_repo", payload.customer_repo.clone()),
            ("sha", payload.sha.clone()),
            ("event_type", dispatched.event_type.clone()),
            ("requests", report.requests.to_string()),
        ];
        if let [one] = report.results.as_slice() {
            outputs.push(("environment", one.environment.clone()));
            if let Some(s) = &one.summary {
                outputs.extend([
                    ("has_changes", s.has_changes.to_string()),
                    ("plan_sha256", s.plan_sha256.clone()),
                    ("create", s.create.to_string()),
                    ("update", s.update.to_string()),
                    ("delete", s.delete.to_string()),
                    ("replace", s.replace.to_string()),
                    ("plan_dir", settings.out.join(&customer.slug).join(&one.environment).display().to_string()),
                ]);
            }
        }
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
        super::audit(
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
    let (manager, registry) = super::load_manager(manager_dir)?;
    if manager.environment(&settings.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`",
            settings.environment
        )));
    }
    let engine = super::engine(&manager, true, settings.terraform.as_deref())?;
    let env = settings.environment.clone();
    rt.block_on(async {
        let customer = authorise(&registry, &manager, &gh, payload, run_url.clone(), out).await?;
        let record: GitHubRecord = std::fs::read(settings.plan_dir.join(GITHUB_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::Refused(format!("{} holds no plan from a dispatch; download the plan artifact first", settings.plan_dir.display())))?;
        let status = |state: &'static str, description: String| CommitStatus {
            state,
            context: manager.config.status_context.clone(),
            description,
            target_url: run_url.clone(),
        };
        let (gh_ref, status_ref, env_ref) = (&gh, &status, env.as_str());
        let refuse = move |reason: String| async move {
            let st = status_ref("failure", format!("{env_ref}: apply refused: {reason}"));
            if let Err(e) = gh_ref.set_status(&payload.customer_repo, &payload.sha, &st).await {
                out.note(&format!("could not set the failure status: {e}"));
            }
            Err::<(), Error>(Error::Refused(format!("{reason}; nothing was applied")))
        };
        if !record.customer_repo.eq_ignore_ascii_case(&payload.customer_repo) || record.sha != payload.sha {
            return refuse(format!(
                "the plan in {} is for {}@{}, not {}@{}",
                settings.plan_dir.display(), record.customer_repo, record.sha, payload.customer_repo, payload.sha
            ))
            .await;
        }
        // Stale: the default branch moved past the planned commit.
        let (branch, head) = gh.default_branch_head(&payload.customer_repo).await.map_err(gh_err)?;
        if head != payload.sha {
            return refuse(format!(
                "stale plan: `{branch}` of {} is at {} now, the plan is for {}; the newer push plans and applies on its own",
                payload.customer_repo,
                &head[..head.len().min(12)],
                &payload.sha[..12]
            ))
            .await;
        }
        // Gates are checked again against the PR as it is now.
        let pull = pull_for_gates(&gh, &manager, &payload.customer_repo, record.pr, &env).await?;
        if settings.dry_run {
            // Every check, no apply, no writes.
            return match engine.check_apply(customer, &env, &settings.plan_dir, Some(&settings.plan_sha256), pull.as_ref()) {
                Ok((digest, verdict)) => {
                    out.result(&format!(
                        "dry run: every check passed ({}); would apply {}/{env} (plan sha256:{digest})",
                        verdict.short(),
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
        let summary = crate::engine::read_summary(&settings.plan_dir).ok();
        match result {
            Ok(done) => {
                if let Some(o) = Some(&done.output) {
                    out.raw(o);
                }
                let counts = summary.as_ref().map(|s| s.counts()).unwrap_or_default();
                gh.set_status(&payload.customer_repo, &payload.sha, &status("success", format!("{env}: applied {counts}")))
                    .await
                    .map_err(gh_err)?;
                if let (Some(id), Ok(comment)) = (record.comment_id, std::fs::read_to_string(settings.plan_dir.join("comment.md"))) {
                    let body = format!(
                        "{comment}\n---\n**Applied** to `{env}`{}.\n",
                        run_url.as_ref().map(|u| format!(" in [this run]({u})")).unwrap_or_default()
                    );
                    gh.update_comment(&payload.customer_repo, id, &body).await.map_err(gh_err)?;
                }
                super::audit(
                    out,
                    crate::audit::Entry::now("apply", "ok")
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
                let _ = gh
                    .set_status(&payload.customer_repo, &payload.sha, &status("failure", format!("{env}: apply failed, see the run")))
                    .await;
                super::audit(
                    out,
                    crate::audit::Entry::now("apply", "failed")
                        .customer(&customer.slug)
                        .environment(&env)
                        .sha(Some(&payload.sha))
                        .dispatch(Some(&payload.dispatch_id))
                        .detail(e.short()),
                );
                Err(match e {
                    RunError::Terraform(t) => Error::Terraform(t),
                    RunError::Values(d) => Error::Values(d),
                    RunError::Io(e) => Error::Other(e),
                    RunError::Refused(m) => Error::Refused(m),
                })
            }
        }
    })
}
