//! `fleetform apply --dispatch`: authorise → checks (still active on the
//! manager's default branch, approval, sealed artifact, not stale) → gate
//! facts → apply → publish (status, comment) → record (audit, summary,
//! outputs).

use std::path::{Path, PathBuf};

use crate::config::{Customer, Manager, PRODUCTS_FILE};
use crate::context::Context;
use crate::dispatch::seal::ArtifactKey;
use crate::dispatch::{short_sha, Payload, EVENT_APPLY};
use crate::engine::{ApplyOutcome, Engine};
use crate::error::{Error, Result, Say};
use crate::github::GitHub;
use crate::output::Output;
use crate::policy::PullFacts;
use crate::terraform::TerraformError;

use super::artifact::{artifact_key, open_plan, read_record, GitHubRecord};
use super::authorise::{authorise_session, reviewed_plan_by, still_active_on_default_branch};
use super::comment::mark_applied;
use super::event::{Dispatched, Stage};
use super::fetch::{first_changed, pull_for_gates};
use super::products::{at_pins, combined_digest, slot, slots, subscribed};
use super::record::{audit_refusal, audit_waivers, entry, values_free};
use super::session::{gh_err, manager_client, open_session, Session};
use super::status::Reporter;

mod checks;
mod outcome;

pub struct ApplySettings {
    pub environment: String,
    pub plan_dir: PathBuf,
    pub plan_sha256: String,
    pub dry_run: bool,
    pub json: bool,
    pub terraform: Option<PathBuf>,
}

pub fn apply(settings: ApplySettings, manager_dir: &Path, cx: &Context) -> Result<()> {
    let r = apply_inner(settings, manager_dir, cx);
    audit_refusal(&r, "apply", manager_dir, cx);
    r
}

fn apply_inner(settings: ApplySettings, manager_dir: &Path, cx: &Context) -> Result<()> {
    let key = artifact_key()?;
    let session = open_session(settings.dry_run, super::session::access::APPLY, cx)?;
    only_apply_dispatches(&session.dispatched)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    if manager.environment(&settings.environment).is_none() {
        return Err(Error::usage(format!(
            "unknown environment `{}`",
            settings.environment
        )));
    }
    if !manager.has_products() {
        // Configuration errors before any request.
        crate::engine::Engine::with_terraform(&manager, settings.terraform.as_deref())?;
    }
    let manager_gh = manager_client(&session.rt, &session.ctx, cx)?;
    let teams_gh = teams_client(&session.rt, &manager, &settings.environment, cx)?;
    let (gh, dispatched) = (&session.gh, &session.dispatched);
    session.rt.block_on(async {
        let customer =
            authorise_session(&session, &registry, &manager, Stage::Apply, &cx.out).await?;
        super::comment_command::admit(&manager, customer, gh, dispatched, Stage::Apply, &cx.out)
            .await?;
        let reporter = Reporter::for_session(&session, &manager, customer);
        let env = settings.environment.as_str();
        let views = match subscribed(gh, &manager, dispatched, customer).await? {
            Ok(views) => views,
            Err(problems) => {
                let reason = format!(
                    "`{PRODUCTS_FILE}` has {} at {}; fix it and push again",
                    crate::util::text::count(problems.len(), "problem", "problems"),
                    short_sha(&dispatched.payload.sha)
                );
                return Err(reporter.refuse_apply(env, reason.into(), &cx.out).await);
            }
        };
        let reporter = reporter.with_slots(slots(&manager, customer, &views));
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::failed(format!("a scratch folder for pinned views: {e}")))?;
        let views = match at_pins(&manager, customer, views, scratch.path()) {
            Ok(views) => views,
            Err(e) => {
                return Err(reporter
                    .refuse_apply(env, e.to_string().into(), &cx.out)
                    .await)
            }
        };
        let views: Vec<&Manager> = views
            .iter()
            .filter(|v| v.environment(env).is_some())
            .collect();
        let handed = super::handoff::handed_keys(
            &customer.slug,
            std::slice::from_ref(&settings.environment),
            &session.ctx,
        )?;
        let engines = views
            .iter()
            .map(|v| {
                let mut engine =
                    crate::engine::Engine::with_terraform(v, settings.terraform.as_deref())?;
                engine.handed_keys = handed.clone();
                Ok(engine)
            })
            .collect::<Result<Vec<_>>>()?;
        let runs: Vec<ApplyRun> = views
            .iter()
            .zip(&engines)
            .map(|(view, engine)| ApplyRun {
                session: &session,
                manager: view,
                engine,
                customer,
                settings: &settings,
                dir: plan_dir(&settings, view, &customer.slug),
                digest: settings.plan_sha256.clone(),
                reporter: &reporter,
                teams: teams_gh.as_ref(),
                cx,
            })
            .collect();
        let approver = shared_checks(&runs, &manager, &manager_gh).await?;
        // The go-ahead: when GitHub made this run (a merge, `/fleetform
        // apply`); the approval is measured from once known.
        let asked = super::sla::apply_asked(&manager, env, &manager_gh, &session.ctx, &cx.out);
        let times = crate::audit::Times {
            event: asked.await,
            ..Default::default()
        };
        let opened = open_all(runs, &key, manager.has_products()).await?;
        apply_in_order(opened, approver, times).await
    })
}

/// The variable holding the token that reads the provider's teams.
pub(crate) const TEAMS_TOKEN_VAR: &str = "FLEETFORM_TEAMS_TOKEN";

/// The client that reads team membership for `approvals:` by team in
/// `env`: a team is the provider's organisation's, which the customer's
/// token (the customer App's, a customer owner's fine-grained token) can
/// never read; `None` without such a rule or without the token (the
/// approvals check then says what to set).
fn teams_client(
    rt: &tokio::runtime::Runtime,
    manager: &Manager,
    env: &str,
    cx: &Context,
) -> Result<Option<GitHub>> {
    let asks_teams = manager
        .approval_rule(env)
        .is_some_and(|rule| !rule.teams.is_empty());
    let token = std::env::var(TEAMS_TOKEN_VAR)
        .ok()
        .and_then(crate::github::Token::new);
    let (true, Some(token)) = (asks_teams, token) else {
        return Ok(None);
    };
    cx.out.mask(token.expose());
    super::session::client(rt, Some(&token), false, cx)
        .map(Some)
        .map_err(gh_err)
}

/// Where one view's plan is: `--plan-dir` itself without products, else
/// its `<product>/<env>` folder below it.
fn plan_dir(settings: &ApplySettings, view: &Manager, slug: &str) -> PathBuf {
    match &view.product {
        None => settings.plan_dir.clone(),
        Some(_) => {
            let rel = view.unit(slug, &settings.environment).rel_dir();
            settings
                .plan_dir
                .join(rel.strip_prefix(slug).unwrap_or(&rel))
        }
    }
}

/// Checks that hold for every product of the environment: the customer is
/// still active on the manager's default branch, and the run was approved
/// (`auto_apply: false`). A refusal marks every product `failure`.
async fn shared_checks(
    runs: &[ApplyRun<'_>],
    manager: &Manager,
    manager_gh: &(GitHub, String),
) -> Result<Option<String>> {
    let Some(first) = runs.first() else {
        return Err(Error::refused(
            "no product of the customer exists in this environment",
        ));
    };
    let refusal =
        match still_active_on_default_branch(manager, manager_gh, &first.customer.slug).await? {
            Err(reason) => reason,
            Ok(()) => match reviewed_plan_by(
                manager,
                first.env(),
                &first.session.ctx,
                manager_gh,
                first
                    .session
                    .dispatched
                    .in_batch_of_several()
                    .then_some((&first.settings.plan_sha256, &first.customer.slug)),
            )
            .await?
            {
                Ok(approver) => return Ok(approver),
                Err(reason) => reason,
            },
        };
    let mut error = None;
    for run in runs {
        error = Some(run.refuse(refusal.clone()).await);
    }
    Err(error.expect("at least one run"))
}

/// Opens every product's sealed plan. Without products the one plan must
/// be there; with products a product without a bundle did not plan (it
/// waits for another), and the set of plans opened must be the one the
/// plan job made: their combined digest is `--plan-sha256`.
async fn open_all<'a>(
    runs: Vec<ApplyRun<'a>>,
    key: &ArtifactKey,
    per_product: bool,
) -> Result<Vec<Opened<'a>>> {
    let mut opened = Vec::new();
    for mut run in runs {
        if per_product && !run.dir.join(super::artifact::BUNDLE_FILE).is_file() {
            run.cx.out.note(&format!(
                "{}: no sealed plan; nothing to apply",
                run.label()
            ));
            continue;
        }
        let record = run.open_artifact(key).await?;
        let mut changes = true;
        if per_product {
            let summary = crate::engine::read_summary(&run.dir)
                .map_err(|e| Error::failed(format!("{}: {e}", run.dir.display())))?;
            run.digest = summary.plan_sha256;
            // A plan made with outputs its needed products were about to
            // change goes through the apply's checks even without changes:
            // once they changed, it is refused and must be made again.
            let awaiting = summary
                .product
                .as_ref()
                .is_some_and(|p| !p.awaiting.is_empty());
            changes = summary.has_changes || awaiting;
        }
        opened.push(Opened {
            run,
            record,
            changes,
        });
    }
    if let (true, Some(first)) = (per_product, opened.first()) {
        let combined = combined_digest(opened.iter().map(|o| {
            (
                o.run.manager.product.clone().unwrap_or_default(),
                o.run.digest.clone(),
            )
        }));
        let expected = &first.run.settings.plan_sha256;
        if combined != *expected {
            let reason = format!(
                "the plans in {} (combined sha256:{combined}) are not the ones planned (sha256:{expected})",
                first.run.settings.plan_dir.display()
            );
            let mut error = None;
            for o in &opened {
                error = Some(o.run.refuse(reason.clone()).await);
            }
            return Err(error.expect("one run"));
        }
    }
    Ok(opened)
}

/// A product's opened plan.
struct Opened<'a> {
    run: ApplyRun<'a>,
    record: GitHubRecord,
    /// Whether the plan changes anything or waited for a needed product's
    /// new outputs (always `true` without products: the workflow applies
    /// only plans with changes).
    changes: bool,
}

/// Each product in dependency order: not stale → gates → apply → report.
/// A product whose needed product failed here is not applied; the first
/// failure is the step's.
async fn apply_in_order(
    opened: Vec<Opened<'_>>,
    approver: Option<String>,
    times: crate::audit::Times,
) -> Result<()> {
    let mut failed: Vec<String> = Vec::new();
    let mut first_error = None;
    for Opened {
        run,
        record,
        changes,
    } in opened
    {
        let product = run.manager.product.clone().unwrap_or_default();
        if !changes {
            run.cx.out.note(&format!(
                "{}: the plan changes nothing; nothing to apply",
                run.label()
            ));
            continue;
        }
        if let Some(dep) = run.manager.needs().keys().find(|d| failed.contains(d)) {
            let reason = format!("needs `{dep}`, whose apply did not succeed here");
            failed.push(product);
            first_error.get_or_insert(run.refuse(reason).await);
            continue;
        }
        let checked = Checked {
            approver: approver.clone(),
            approvers: Vec::new(),
            record,
            times: times.clone(),
        };
        if let Err(e) = run.one(&checked).await {
            failed.push(product);
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Applies run only for `fleetform-apply` dispatches.
fn only_apply_dispatches(dispatched: &Dispatched) -> Result<()> {
    if dispatched.event_type != EVENT_APPLY {
        return Err(Error::refused(format!(
            "applies run only for `{EVENT_APPLY}` dispatches (default-branch pushes), not `{}`",
            dispatched.event_type
        )));
    }
    Ok(())
}

/// What the checks found: who approved, and the plan's record.
#[derive(Clone)]
struct Checked {
    approver: Option<String>,
    /// Who approved this plan on the pull request (`approvals:`).
    approvers: Vec<String>,
    record: GitHubRecord,
    /// GitHub's times of this apply, for `sla:` (see [`super::sla`]).
    times: crate::audit::Times,
}

impl Checked {
    /// Approved when someone approved it, else automatic (`auto_apply`).
    fn approval(&self) -> crate::audit::Approval {
        if self.approver.is_some() || !self.approvers.is_empty() {
            crate::audit::Approval::Approved
        } else {
            crate::audit::Approval::Automatic
        }
    }
}

/// One dispatched apply of one customer's product × environment, once
/// authorised.
struct ApplyRun<'a> {
    session: &'a Session,
    /// The product view (the manager itself without products).
    manager: &'a Manager,
    engine: &'a Engine<'a>,
    customer: &'a Customer,
    settings: &'a ApplySettings,
    /// This plan's folder.
    dir: PathBuf,
    /// The digest this plan must have.
    digest: String,
    reporter: &'a Reporter<'a>,
    /// Reads team membership for `approvals:` by team
    /// ([`TEAMS_TOKEN_VAR`]).
    teams: Option<&'a GitHub>,
    cx: &'a Context,
}

impl ApplyRun<'_> {
    fn gh(&self) -> &GitHub {
        &self.session.gh
    }

    fn payload(&self) -> &Payload {
        &self.session.dispatched.payload
    }

    fn env(&self) -> &str {
        &self.settings.environment
    }

    /// The status slot: the environment, or `<product>/<env>`.
    fn place(&self) -> String {
        slot(self.manager.product.as_deref(), self.env())
    }

    /// The unit's name in the log.
    fn label(&self) -> String {
        self.manager
            .unit(&self.customer.slug, self.env())
            .to_string()
    }

    /// not stale → gates → apply (or the dry run) → report.
    async fn one(&self, checked: &Checked) -> Result<()> {
        self.not_stale().await?;
        self.not_behind_the_last_apply().await?;
        self.same_identity().await?;
        let (approvers, approved_at) = self.approved_on_the_pull_request(&checked.record).await?;
        let checked = &Checked {
            approvers,
            ..checked.clone()
        };
        // Gates are checked again against the PR as it is now.
        let pull = pull_for_gates(
            self.gh(),
            self.manager,
            &self.payload().customer_repo,
            checked.record.pr,
            self.env(),
        )
        .await?;
        if self.settings.dry_run {
            return self.dry_run(checked, pull.as_ref());
        }
        let (deployment, began) = self.deployment_started().await;
        let result = self.terraform_apply(pull.as_ref());
        let ended = self.deployment_ended(deployment, &result).await;
        let approval = super::sla::approval_time(
            checked.times.event.as_deref(),
            approved_at.as_deref(),
            (checked.approver.is_some(), began.as_deref()),
        );
        let checked = &Checked {
            times: crate::audit::Times {
                approval,
                apply: ended,
                ..checked.times.clone()
            },
            ..checked.clone()
        };
        self.settle(result, checked).await
    }

    /// The apply as a GitHub deployment on the customer's repo,
    /// `in_progress` (see [`super::deployments`]).
    async fn deployment_started(&self) -> (Option<u64>, Option<String>) {
        let payload = self.payload();
        let manager_sha = self
            .session
            .ctx
            .sha
            .as_deref()
            .map(short_sha)
            .unwrap_or("?".into());
        super::deployments::dispatched_started(
            self.gh(),
            (&payload.customer_repo, &payload.sha, self.env()),
            &self.place(),
            &manager_sha,
            self.session.run_url.as_deref(),
            &self.cx.out,
        )
        .await
    }

    /// The deployment's end: `success`, or `failure` with why; when GitHub
    /// wrote it.
    async fn deployment_ended(
        &self,
        id: Option<u64>,
        result: &std::result::Result<ApplyOutcome, Error>,
    ) -> Option<String> {
        let id = id?;
        let repo = &self.payload().customer_repo;
        let run_url = self.session.run_url.as_deref();
        super::deployments::dispatched_ended(self.gh(), (repo, id), result, run_url, &self.cx.out)
            .await
    }

    /// Marks the unit `failure` with the reason; the refusal.
    async fn refuse(&self, reason: impl Into<Say>) -> Error {
        self.reporter
            .refuse_apply(&self.place(), reason.into(), &self.cx.out)
            .await
    }

    /// Tells the targets that asked for `event` about this unit: `what`,
    /// the plan digest's prefix and the run.
    fn notify(&self, event: crate::config::NotifyEvent, what: &str) {
        let prefix: String = self.digest.chars().take(12).collect();
        let notice = crate::notify::Notice::new(event, format!("{what} (plan sha256:{prefix})"))
            .unit(
                &self.customer.slug,
                self.env(),
                self.manager.product.as_deref(),
            );
        self.cx.notify(self.manager, &notice);
    }

    /// Every check, no apply, no writes.
    fn dry_run(&self, checked: &Checked, pull: Option<&PullFacts>) -> Result<()> {
        let env = self.env();
        match self
            .engine
            .check_apply(self.customer, env, &self.dir, Some(&self.digest), pull)
        {
            Ok((digest, verdict)) => {
                let approved = checked
                    .approver
                    .as_deref()
                    .map(|a| format!(", approved by {a}"))
                    .unwrap_or_default();
                self.cx.out.result(&format!(
                    "dry run: every check passed ({}{approved}); would apply {} (plan sha256:{digest})",
                    verdict.short(),
                    self.label()
                ));
                Ok(())
            }
            Err(Error::Refused(m)) => Err(Error::Refused(m)),
            Err(e) => Err(Error::failed(e.to_string())),
        }
    }

    fn terraform_apply(
        &self,
        pull: Option<&PullFacts>,
    ) -> std::result::Result<ApplyOutcome, Error> {
        let (env, slug) = (self.env(), &self.customer.slug);
        self.cx
            .out
            .group_start(&format!("terraform apply {}", self.label()));
        let result = self
            .engine
            .apply(self.customer, env, &self.dir, Some(&self.digest), pull);
        if let Ok(done) = &result {
            audit_waivers(
                self.cx,
                &done.gates,
                pull,
                slug,
                env,
                self.payload(),
                "apply",
            );
        }
        self.cx.out.group_end();
        result
    }
}

/// The request count and the result line (or JSON) of an apply.
fn out_applied(out: &Output, done: &ApplyOutcome, label: &str, requests: usize, json: bool) {
    out.verbose(&crate::util::text::count(
        requests,
        "GitHub API request",
        "GitHub API requests",
    ));
    if json {
        out.json(&serde_json::json!({"applied": done, "requests": requests}))
            .expect("serialisable");
    } else {
        out.result(&format!(
            "applied {label} (plan sha256:{})",
            done.plan_sha256
        ));
    }
}
