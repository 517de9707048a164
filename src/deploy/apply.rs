//! `fleetform apply --dispatch`: authorise → checks (still active on the
//! manager's default branch, approval, sealed artifact, not stale) → gate
//! facts → apply → publish (status, comment) → record (audit, summary,
//! outputs).

use std::path::{Path, PathBuf};

use crate::config::{Customer, Manager, PRODUCTS_FILE};
use crate::dispatch::seal::ArtifactKey;
use crate::dispatch::{short_sha, Payload, EVENT_APPLY};
use crate::engine::{ApplyOutcome, Engine, RunError};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::policy::PullFacts;
use crate::terraform::TerraformError;
use crate::values::customer::override_path;

use super::artifact::{artifact_key, open_plan, read_record, GitHubRecord};
use super::authorise::{authorise, reviewed_by, still_active_on_default_branch};
use super::comment::mark_applied;
use super::event::{Dispatched, Stage};
use super::fetch::{first_changed, pull_for_gates};
use super::products::{at_pins, combined_digest, slot, slots, subscribed};
use super::record::{audit_refusal, audit_waivers, entry, values_free};
use super::session::{gh_err, manager_client, open_session, Session};
use super::status::Reporter;

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
    let session = open_session(settings.dry_run, super::session::access::APPLY, out)?;
    only_apply_dispatches(&session.dispatched)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    if manager.environment(&settings.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`",
            settings.environment
        )));
    }
    if !manager.has_products() {
        // Configuration errors before any request.
        crate::engine::Engine::with_terraform(&manager, settings.terraform.as_deref())?;
    }
    let manager_gh = manager_client(&session.rt, &session.ctx, out)?;
    let Session {
        rt,
        gh,
        dispatched,
        run_url,
        ..
    } = &session;
    rt.block_on(async {
        let customer = authorise(
            &registry,
            &manager,
            gh,
            dispatched,
            Stage::Apply,
            run_url.clone(),
            out,
        )
        .await?;
        super::comment_command::admit(&manager, customer, gh, dispatched, Stage::Apply, out)
            .await?;
        let reporter = Reporter::new(gh, &manager, customer, &dispatched.payload, run_url.clone());
        let env = settings.environment.as_str();
        let views = match subscribed(gh, &manager, dispatched, customer).await? {
            Ok(views) => views,
            Err(problems) => {
                let reason = format!(
                    "`{PRODUCTS_FILE}` has {} at {}; fix it and push again",
                    crate::util::text::count(problems.len(), "problem", "problems"),
                    short_sha(&dispatched.payload.sha)
                );
                return Err(reporter.refuse_apply(env, reason, out).await);
            }
        };
        let reporter = reporter.with_slots(slots(&manager, customer, &views));
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::Failed(format!("a scratch folder for pinned views: {e}")))?;
        let views = match at_pins(&manager, customer, views, scratch.path()) {
            Ok(views) => views,
            Err(e) => return Err(reporter.refuse_apply(env, e.to_string(), out).await),
        };
        let views: Vec<&Manager> = views
            .iter()
            .filter(|v| v.environment(env).is_some())
            .collect();
        let engines = views
            .iter()
            .map(|v| crate::engine::Engine::with_terraform(v, settings.terraform.as_deref()))
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
                out,
            })
            .collect();
        let approver = shared_checks(&runs, &manager, &manager_gh).await?;
        let opened = open_all(runs, &key, manager.has_products()).await?;
        apply_in_order(opened, approver).await
    })
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
        return Err(Error::Refused(
            "no product of the customer exists in this environment".into(),
        ));
    };
    let refusal = match still_active_on_default_branch(manager, manager_gh, &first.customer.slug)
        .await?
    {
        Err(reason) => reason,
        Ok(()) => match reviewed_by(manager, first.env(), &first.session.ctx, manager_gh).await? {
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
            run.out.note(&format!(
                "{}: no sealed plan; nothing to apply",
                run.label()
            ));
            continue;
        }
        let record = run.open_artifact(key).await?;
        let mut changes = true;
        if per_product {
            let summary = crate::engine::read_summary(&run.dir)
                .map_err(|e| Error::Failed(format!("{}: {e}", run.dir.display())))?;
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
async fn apply_in_order(opened: Vec<Opened<'_>>, approver: Option<String>) -> Result<()> {
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
            run.out.note(&format!(
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
        return Err(Error::Refused(format!(
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
    out: &'a Output,
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
        self.same_identity().await?;
        let approvers = self.approved_on_the_pull_request(&checked.record).await?;
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
        let deployment = self.deployment_started().await;
        let result = self.terraform_apply(pull.as_ref());
        self.deployment_ended(deployment, &result).await;
        self.settle(result, checked).await
    }

    /// The apply as a GitHub deployment on the customer's repo (environment,
    /// the applied commit, the manager commit), `in_progress`. A deployment
    /// that cannot be written is noted; it never stops the apply.
    async fn deployment_started(&self) -> Option<u64> {
        let payload = self.payload();
        let manager_sha = self
            .session
            .ctx
            .sha
            .as_deref()
            .map(short_sha)
            .unwrap_or("?".into());
        let d = crate::github::NewDeployment {
            sha: payload.sha.clone(),
            environment: self.env().to_string(),
            description: format!("fleetform: {} from manager {manager_sha}", self.place()),
            production: self.env() == "production",
        };
        let note = |n: String| self.out.note(&n);
        self.gh()
            .apply_started(
                &payload.customer_repo,
                &d,
                self.session.run_url.as_deref(),
                &note,
            )
            .await
    }

    /// The deployment's end: `success`, or `failure` with why.
    async fn deployment_ended(
        &self,
        id: Option<u64>,
        result: &std::result::Result<ApplyOutcome, RunError>,
    ) {
        let Some(id) = id else {
            return;
        };
        let (ok, description) = match result {
            Ok(done) => (
                true,
                format!(
                    "applied plan sha256:{}",
                    &done.plan_sha256[..12.min(done.plan_sha256.len())]
                ),
            ),
            Err(RunError::Refused(_)) => (false, "refused; nothing was applied".to_string()),
            Err(_) => (false, "the apply failed; see the run".to_string()),
        };
        let repo = &self.payload().customer_repo;
        let note = |n: String| self.out.note(&n);
        let run_url = self.session.run_url.as_deref();
        self.gh()
            .apply_ended(repo, id, ok, &description, run_url, &note)
            .await;
    }

    /// Marks the unit `failure` with the reason; the refusal.
    async fn refuse(&self, reason: String) -> Error {
        self.reporter
            .refuse_apply(&self.place(), reason, self.out)
            .await
    }

    /// The files the apply checks are the sealed ones from the artifact,
    /// and the plan is of this dispatch's repo and sha.
    async fn open_artifact(&self, key: &ArtifactKey) -> Result<GitHubRecord> {
        let dir = &self.dir;
        match open_plan(key, &self.customer.slug, &self.place(), dir) {
            Err(Error::Refused(reason)) => return Err(self.refuse(reason).await),
            other => other?,
        }
        let record = read_record(dir)?;
        let payload = self.payload();
        if !record
            .customer_repo
            .eq_ignore_ascii_case(&payload.customer_repo)
            || record.sha != payload.sha
        {
            return Err(self
                .refuse(format!(
                    "the plan in {} is for {}@{}, not {}@{}",
                    dir.display(),
                    record.customer_repo,
                    record.sha,
                    payload.customer_repo,
                    payload.sha
                ))
                .await);
        }
        Ok(record)
    }

    /// Stale: the default branch moved past the planned commit and
    /// changed a file fleetform reads. A newer commit that touches
    /// nothing fleetform reads (a README) does not trigger a new plan,
    /// so refusing then would leave the change unapplied forever.
    /// The apply runs as the identity fleetform.yml and the registry name
    /// now, and that is the one the plan was made for: a plan made for
    /// another account's state is refused.
    async fn same_identity(&self) -> Result<()> {
        let now = self
            .manager
            .identities_of(self.customer, self.env())
            .map_err(|m| Error::Failed(format!("the cloud identity: {m}")))?;
        let planned = crate::engine::read_summary(&self.dir)
            .ok()
            .and_then(|s| s.identity);
        if now == planned {
            return Ok(());
        }
        let shown = |i: &Option<crate::config::StageIdentities>| {
            i.as_ref()
                .map_or("none".to_string(), |i| format!("`{}`", i.apply.role_arn))
        };
        Err(self
            .refuse(format!(
                "the cloud identity changed since the plan (planned for {}, now {}); plan again",
                shown(&planned),
                shown(&now)
            ))
            .await)
    }

    /// With `approvals:` for this environment, enough approvers approved
    /// this very plan on the customer's pull request (see
    /// [`super::approvals`]); who they were, or the refusal.
    async fn approved_on_the_pull_request(&self, record: &GitHubRecord) -> Result<Vec<String>> {
        let Some(rule) = self.manager.approval_rule(self.env()) else {
            return Ok(Vec::new());
        };
        let ask = super::approvals::Ask {
            repo: &self.payload().customer_repo,
            pr: record.pr,
            digest: &self.digest,
            planned_at: record.planned_at.as_deref(),
        };
        match super::approvals::check(self.gh(), self.gh(), rule, &ask).await? {
            Ok(approvers) => {
                self.out.note(&format!(
                    "{}: approved on the pull request by {}",
                    self.label(),
                    approvers.join(", ")
                ));
                Ok(approvers)
            }
            Err(reason) => {
                if reason.starts_with("waiting for approval") {
                    self.notify(
                        crate::config::NotifyEvent::ApprovalWaiting,
                        "the apply is waiting for approvals of this plan on the customer's pull request",
                    );
                }
                Err(self.refuse(reason).await)
            }
        }
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
        crate::notify::send(self.manager, &notice, self.out);
    }

    async fn not_stale(&self) -> Result<()> {
        let (gh, payload, env) = (self.gh(), self.payload(), self.env());
        if payload.comment.is_some() {
            // A comment command applies the pull request's head.
            return match super::comment_command::still_pull_head(gh, payload).await? {
                Ok(()) => Ok(()),
                Err(why) => Err(self.refuse(why).await),
            };
        }
        let (branch, head) = gh
            .default_branch_head(&payload.customer_repo)
            .await
            .map_err(gh_err)?;
        if head == payload.sha {
            return Ok(());
        }
        let mut read = vec![
            self.manager.config.customer.variables.clone(),
            override_path(self.manager, env),
        ];
        if self.manager.product.is_some() {
            read.push(PRODUCTS_FILE.to_string());
        }
        if let Some(changed) =
            first_changed(gh, &payload.customer_repo, &payload.sha, &head, &read).await?
        {
            return Err(self
                .refuse(format!(
                    "stale plan: `{branch}` of {} is at {} now and `{changed}` changed since {}, the planned commit; the newer push plans and applies on its own",
                    payload.customer_repo,
                    short_sha(&head),
                    short_sha(&payload.sha)
                ))
                .await);
        }
        self.out.note(&format!(
            "`{branch}` moved to {} after the plan, without changing the files fleetform reads; applying the plan of {}",
            short_sha(&head),
            short_sha(&payload.sha)
        ));
        Ok(())
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
                self.out.result(&format!(
                    "dry run: every check passed ({}{approved}); would apply {} (plan sha256:{digest})",
                    verdict.short(),
                    self.label()
                ));
                Ok(())
            }
            Err(RunError::Refused(m)) => Err(Error::Refused(m)),
            Err(e) => Err(Error::Failed(e.to_string())),
        }
    }

    fn terraform_apply(
        &self,
        pull: Option<&PullFacts>,
    ) -> std::result::Result<ApplyOutcome, RunError> {
        let (env, slug) = (self.env(), &self.customer.slug);
        self.out
            .group_start(&format!("terraform apply {}", self.label()));
        let result = self
            .engine
            .apply(self.customer, env, &self.dir, Some(&self.digest), pull);
        if let Ok(done) = &result {
            audit_waivers(
                self.out,
                &done.gates,
                pull,
                slug,
                env,
                self.payload(),
                "apply",
            );
        }
        self.out.group_end();
        result
    }

    /// Reports the apply's result: applied, refused, or failed.
    async fn settle(
        &self,
        result: std::result::Result<ApplyOutcome, RunError>,
        checked: &Checked,
    ) -> Result<()> {
        match result {
            Ok(done) => self.applied(&done, checked).await,
            Err(RunError::Refused(reason)) => Err(self
                .refuse(
                    reason
                        .trim_end_matches("; nothing was applied")
                        .trim_end_matches(". Nothing was applied; plan again")
                        .to_string(),
                )
                .await),
            Err(RunError::Terraform(TerraformError::StalePlan { .. })) => Err(self
                .refuse("the saved plan is stale: the state changed after it was made".into())
                .await),
            Err(e) => Err(self.failed(e, checked).await),
        }
    }

    /// `success` on the commit, "Applied" on the plan's comment, then the
    /// audit line, summary, outputs and result. Terraform's output (it may
    /// print values and outputs) stays in the plan folder's apply.log, out
    /// of the manager's log.
    async fn applied(&self, done: &ApplyOutcome, checked: &Checked) -> Result<()> {
        let (gh, payload, env, slug) = (self.gh(), self.payload(), self.env(), &self.customer.slug);
        let summary = crate::engine::read_summary(&self.dir).ok();
        let counts = summary.as_ref().map(|s| s.counts()).unwrap_or_default();
        let place = self.place();
        self.reporter
            .report(&place, "success", format!("{place}: applied {counts}"))
            .await
            .map_err(gh_err)?;
        let run_url = self.session.run_url.as_deref();
        mark_applied(
            gh,
            &payload.customer_repo,
            checked.record.comment_id,
            &self.dir,
            &self.place(),
            run_url,
        )
        .await?;
        let role = summary
            .as_ref()
            .and_then(|s| s.identity.as_ref())
            .map(|i| i.apply.role_arn.clone());
        let audit = entry("apply", "ok", slug, env, payload)
            .product(self.manager.product.as_deref())
            .approved_by(checked.approver.as_deref())
            .approvers(&checked.approvers)
            .approval(checked.approval())
            .identity(role.as_deref())
            .plan(Some(&done.plan_sha256));
        let kept = crate::records::record_deployment(
            &crate::records::Store::for_customer_role(self.manager),
            &self.manager.unit(slug, env),
            &self.dir,
            crate::records::DeploymentFacts {
                customer_repo: Some(payload.customer_repo.clone()),
                customer_sha: Some(payload.sha.clone()),
                manager_sha: self.session.ctx.sha.clone(),
                plan_sha256: done.plan_sha256.clone(),
                actor: audit.actor.clone(),
                run_url: self.session.run_url.clone(),
            },
        );
        crate::audit::record(self.out, audit);
        if let Err(e) = kept {
            self.out.error(&format!(
                "{} was applied, but its deployment record was not kept: {e}",
                self.label()
            ));
        }
        let ctx = &self.session.ctx;
        let _ = ctx.append_summary(&format!(
            "### fleetform apply: `{slug}` / `{}`\n\nApplied plan `sha256:{}`.\n",
            self.place(),
            done.plan_sha256
        ));
        ctx.set_outputs(&[
            ("applied", "true".into()),
            ("plan_sha256", done.plan_sha256.clone()),
            ("identity", role.unwrap_or_default()),
            ("requests", gh.request_count().to_string()),
        ])
        .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
        out_applied(
            self.out,
            done,
            &self.label(),
            gh.request_count(),
            self.settings.json,
        );
        Ok(())
    }

    /// `failure` on the commit (a failed write is ignored), an audit line,
    /// and the values-free error.
    async fn failed(&self, e: RunError, checked: &Checked) -> Error {
        let (env, slug, place) = (self.env(), &self.customer.slug, self.place());
        let _ = self
            .reporter
            .report(
                &place,
                "failure",
                format!("{place}: apply failed, see the run"),
            )
            .await;
        crate::audit::record(
            self.out,
            entry("apply", "failed", slug, env, self.payload())
                .product(self.manager.product.as_deref())
                .approved_by(checked.approver.as_deref())
                .approvers(&checked.approvers)
                .approval(checked.approval())
                .detail(e.short()),
        );
        if !matches!(e, RunError::Refused(_) | RunError::Waiting(_)) {
            self.notify(
                crate::config::NotifyEvent::ApplyFailed,
                "the apply failed; see the run",
            );
        }
        match e {
            RunError::Refused(m) => Error::Refused(m),
            other => Error::Failed(format!("{}: {}", self.label(), values_free(&other))),
        }
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
