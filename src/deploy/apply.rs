//! `fleetform apply --dispatch`: authorise → checks (still active on the
//! manager's default branch, approval, sealed artifact, not stale) → gate
//! facts → apply → publish (status, comment) → record (audit, summary,
//! outputs).

use std::path::{Path, PathBuf};

use crate::config::{Customer, Manager};
use crate::dispatch::seal::ArtifactKey;
use crate::dispatch::{short_sha, Payload, EVENT_APPLY};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::policy::PullFacts;
use crate::terraform::engine::{ApplyOutcome, Engine, RunError};
use crate::terraform::TerraformError;
use crate::values::customer::override_path;

use super::artifact::{artifact_key, open_plan, read_record, GitHubRecord};
use super::authorise::{authorise, reviewed_by, still_active_on_default_branch};
use super::comment::mark_applied;
use super::event::{Dispatched, Stage};
use super::fetch::{first_changed, pull_for_gates};
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
    let session = open_session(settings.dry_run, out)?;
    only_apply_dispatches(&session.dispatched)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    if manager.environment(&settings.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`",
            settings.environment
        )));
    }
    let engine = crate::terraform::engine::build(&manager, true, settings.terraform.as_deref())?;
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
        let run = ApplyRun {
            session: &session,
            manager: &manager,
            engine: &engine,
            customer,
            settings: &settings,
            reporter: Reporter::new(gh, &manager, customer, &dispatched.payload, run_url.clone()),
            out,
        };
        let checked = run.checks(&key, &manager_gh).await?;
        // Gates are checked again against the PR as it is now.
        let pull = pull_for_gates(
            gh,
            &manager,
            &dispatched.payload.customer_repo,
            checked.record.pr,
            &settings.environment,
        )
        .await?;
        if settings.dry_run {
            return run.dry_run(&checked, pull.as_ref());
        }
        let result = run.terraform_apply(pull.as_ref());
        run.settle(result, &checked).await
    })
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
struct Checked {
    approver: Option<String>,
    record: GitHubRecord,
}

/// One dispatched apply of one customer × environment, once authorised.
struct ApplyRun<'a> {
    session: &'a Session,
    manager: &'a Manager,
    engine: &'a Engine<'a>,
    customer: &'a Customer,
    settings: &'a ApplySettings,
    reporter: Reporter<'a>,
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

    /// Marks the environment `failure` with the reason; the refusal.
    async fn refuse(&self, reason: String) -> Error {
        self.reporter
            .refuse_apply(self.env(), reason, self.out)
            .await
    }

    /// revocation → approval → artifact → stale, each refusal reported on
    /// the customer's commit.
    async fn checks(&self, key: &ArtifactKey, manager_gh: &(GitHub, String)) -> Result<Checked> {
        // Revocation during the approval wait: the registry as it is now on
        // the manager's default branch, not the checkout the dispatch ran on.
        if let Err(reason) =
            still_active_on_default_branch(self.manager, manager_gh, &self.customer.slug).await?
        {
            return Err(self.refuse(reason).await);
        }
        // `auto_apply: false`: someone other than the dispatcher approved
        // this run's deployment to the apply environment.
        let approver =
            match reviewed_by(self.manager, self.env(), &self.session.ctx, manager_gh).await? {
                Ok(approver) => approver,
                Err(reason) => return Err(self.refuse(reason).await),
            };
        let record = self.open_artifact(key).await?;
        self.not_stale().await?;
        Ok(Checked { approver, record })
    }

    /// The files the apply checks are the sealed ones from the artifact,
    /// and the plan is of this dispatch's repo and sha.
    async fn open_artifact(&self, key: &ArtifactKey) -> Result<GitHubRecord> {
        let dir = &self.settings.plan_dir;
        match open_plan(key, &self.customer.slug, self.env(), dir) {
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
    async fn not_stale(&self) -> Result<()> {
        let (gh, payload, env) = (self.gh(), self.payload(), self.env());
        let (branch, head) = gh
            .default_branch_head(&payload.customer_repo)
            .await
            .map_err(gh_err)?;
        if head == payload.sha {
            return Ok(());
        }
        let read = [
            self.manager.config.customer.variables.clone(),
            override_path(self.manager, env),
        ];
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
        let (s, env) = (self.settings, self.env());
        match self
            .engine
            .check_apply(self.customer, env, &s.plan_dir, Some(&s.plan_sha256), pull)
        {
            Ok((digest, verdict)) => {
                let approved = checked
                    .approver
                    .as_deref()
                    .map(|a| format!(", approved by {a}"))
                    .unwrap_or_default();
                self.out.result(&format!(
                    "dry run: every check passed ({}{approved}); would apply {}/{env} (plan sha256:{digest})",
                    verdict.short(),
                    self.customer.slug
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
        let (s, env, slug) = (self.settings, self.env(), &self.customer.slug);
        self.out
            .group_start(&format!("terraform apply {slug}/{env}"));
        let result = self
            .engine
            .apply(self.customer, env, &s.plan_dir, Some(&s.plan_sha256), pull);
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
        let summary = crate::terraform::engine::read_summary(&self.settings.plan_dir).ok();
        let counts = summary.as_ref().map(|s| s.counts()).unwrap_or_default();
        self.reporter
            .report(env, "success", format!("{env}: applied {counts}"))
            .await
            .map_err(gh_err)?;
        let run_url = self.session.run_url.as_deref();
        mark_applied(
            gh,
            &payload.customer_repo,
            checked.record.comment_id,
            &self.settings.plan_dir,
            env,
            run_url,
        )
        .await?;
        let audit = entry("apply", "ok", slug, env, payload)
            .approved_by(checked.approver.as_deref())
            .plan(Some(&done.plan_sha256));
        let kept = crate::records::record_deployment(
            &crate::records::Store::for_manager(self.manager),
            &self.manager.unit(slug, env),
            &self.settings.plan_dir,
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
                "{slug}/{env} was applied, but its deployment record was not kept: {e}"
            ));
        }
        let ctx = &self.session.ctx;
        let _ = ctx.append_summary(&format!(
            "### fleetform apply: `{slug}` / `{env}`\n\nApplied plan `sha256:{}`.\n",
            done.plan_sha256
        ));
        ctx.set_outputs(&[
            ("applied", "true".into()),
            ("plan_sha256", done.plan_sha256.clone()),
            ("requests", gh.request_count().to_string()),
        ])
        .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
        out_applied(
            self.out,
            done,
            slug,
            env,
            gh.request_count(),
            self.settings.json,
        );
        Ok(())
    }

    /// `failure` on the commit (a failed write is ignored), an audit line,
    /// and the values-free error.
    async fn failed(&self, e: RunError, checked: &Checked) -> Error {
        let (env, slug) = (self.env(), &self.customer.slug);
        let _ = self
            .reporter
            .report(env, "failure", format!("{env}: apply failed, see the run"))
            .await;
        crate::audit::record(
            self.out,
            entry("apply", "failed", slug, env, self.payload())
                .approved_by(checked.approver.as_deref())
                .detail(e.short()),
        );
        match e {
            RunError::Refused(m) => Error::Refused(m),
            other => Error::Failed(format!("{slug}/{env}: {}", values_free(&other))),
        }
    }
}

/// The request count and the result line (or JSON) of an apply.
fn out_applied(
    out: &Output,
    done: &ApplyOutcome,
    slug: &str,
    env: &str,
    requests: usize,
    json: bool,
) {
    out.verbose(&format!("{requests} GitHub API request(s)"));
    if json {
        out.result(
            &serde_json::to_string_pretty(
                &serde_json::json!({"applied": done, "requests": requests}),
            )
            .expect("serialisable"),
        );
    } else {
        out.result(&format!(
            "applied {slug}/{env} (plan sha256:{})",
            done.plan_sha256
        ));
    }
}
