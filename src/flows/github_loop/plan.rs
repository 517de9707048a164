//! `fleetform plan --dispatch`: authorise → fetch → check the values →
//! for each environment: gate facts → plan → publish (comment, status,
//! sealed artifact) → record (summary, audit) → report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Customer, Manager, Unit};
use crate::context::Context;
use crate::data::summary::PlanSummary;
use crate::data::Diagnostic;
use crate::dispatch::seal::ArtifactKey;
use crate::dispatch::{Payload, EVENT_APPLY};
use crate::engine::{Engine, PlanOutcome, PlanRequest};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::policy::PullFacts;
use crate::report::comment::product_marker;
use crate::report::customer::{comment, plan_status, status, Comment, Status};
use crate::values::customer::{self, CustomerDocs, CustomerSource};

use super::artifact::{artifact_key, seal_plan, write_record, GitHubRecord};
use super::authorise::authorise_session;
use super::comment::sticky;
use super::event::Stage;
use super::fetch::{fetch_source, planned_environments, pull_for_gates};
use super::invalid::InvalidRun;
use super::products::{at_pins, settle, slot, slots, subscribed, Blocked, Planned};
use super::record::{audit_refusal, audit_waivers, entry, values_free};
use super::relayed_push;
use super::session::{gh_err, open_session, Session};
use super::status::Reporter;

mod report;

use report::finish;

pub struct PlanSettings {
    pub environments: Option<Vec<String>>,
    pub out: PathBuf,
    pub dry_run: bool,
    pub json: bool,
    pub terraform: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct EnvResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<String>,
    environment: String,
    summary: Option<PlanSummary>,
    error: Option<String>,
    /// Why the plan was not made yet (a needed product is not applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting: Option<String>,
    comment_id: Option<u64>,
}

impl EnvResult {
    fn failed(view: &Manager, env: &str, error: String) -> EnvResult {
        EnvResult {
            product: view.product.clone(),
            environment: env.to_string(),
            summary: None,
            error: Some(error),
            waiting: None,
            comment_id: None,
        }
    }

    fn unit(&self, customer: &str) -> Unit {
        Unit::new(customer, self.product.as_deref(), &self.environment)
    }

    /// How this plan ended, for the products that need it.
    fn planned(&self) -> Planned {
        match (&self.summary, &self.waiting) {
            (Some(s), _) => Planned::Outputs(!s.outputs.is_empty()),
            (None, Some(_)) => Planned::Waiting,
            (None, None) => Planned::Failed,
        }
    }
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

impl PlanReport {
    /// How each unit planned so far in this run ended.
    fn planned(&self) -> Vec<(Unit, Planned)> {
        self.results
            .iter()
            .map(|r| (r.unit(&self.customer), r.planned()))
            .collect()
    }

    fn new(customer: &Customer, payload: &Payload) -> Self {
        PlanReport {
            customer: customer.slug.clone(),
            customer_repo: payload.customer_repo.clone(),
            sha: payload.sha.clone(),
            dispatch_id: payload.dispatch_id.clone(),
            results: Vec::new(),
            problems: Vec::new(),
            requests: 0,
            dry_run_requests: Vec::new(),
        }
    }
}

pub fn plan(settings: PlanSettings, manager_dir: &Path, cx: &Context) -> Result<()> {
    let r = plan_inner(settings, manager_dir, cx);
    audit_refusal(&r, "plan", manager_dir, cx);
    r
}

fn plan_inner(settings: PlanSettings, manager_dir: &Path, cx: &Context) -> Result<()> {
    let key = artifact_key()?;
    let mut session = open_session(settings.dry_run, super::session::access::PLAN, cx)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    if !manager.has_products() {
        // Configuration errors before any request.
        crate::engine::Engine::with_terraform(&manager, settings.terraform.as_deref())?;
    }
    let customer = session.rt.block_on(authorise_session(
        &session,
        &registry,
        &manager,
        Stage::Plan,
        &cx.out,
    ))?;
    let resolved =
        relayed_push::resolve(&manager, &session.gh, &mut session.dispatched, Stage::Plan);
    session.rt.block_on(resolved)?;
    let (gh, dispatched) = (&session.gh, &session.dispatched);
    let rerun = super::authorise::rerun_client(
        &session.rt,
        &manager,
        dispatched,
        &session.ctx,
        Stage::Plan,
        cx,
    )?;
    let sla = super::sla::client(&session.rt, &manager, dispatched, (&session.ctx, cx))?;
    session.rt.block_on(async {
        super::authorise::not_a_stale_rerun(rerun.as_ref(), &session.ctx).await?;
        let command =
            super::comment_command::admit(&manager, customer, gh, dispatched, Stage::Plan, &cx.out);
        let mut envs = planned_environments(&manager, customer, settings.environments.as_deref())?;
        if let Some(only) = command.await?.and_then(|c| c.environment) {
            envs.retain(|e| *e == only); // the authorise job runs no other
        }
        let handed = super::handoff::handed_keys(&customer.slug, &envs, &session.ctx)?;
        let mut report = PlanReport::new(customer, &dispatched.payload);
        let reporter = Reporter::for_session(&session, &manager, customer);
        let views = match subscribed(gh, &manager, dispatched, customer).await? {
            Ok(views) => views,
            Err(problems) => {
                let invalid = InvalidRun {
                    gh,
                    ctx: &session.ctx,
                    slug: &customer.slug,
                    payload: &dispatched.payload,
                    envs: &envs,
                    product: None,
                    reporter: &reporter,
                };
                return Err(invalid.report(&problems, cx).await?);
            }
        };
        let reporter = reporter.with_slots(slots(&manager, customer, &views));
        let scratch = tempfile::tempdir()
            .map_err(|e| Error::failed(format!("a scratch folder for pinned views: {e}")))?;
        let views = at_pins(&manager, customer, views, scratch.path())?;
        let products = Products {
            session: &session,
            manager: &manager,
            customer,
            key: &key,
            settings: &settings,
            reporter: &reporter,
            handed: handed.as_ref(),
            event_at: super::sla::plan_start(
                &manager,
                dispatched,
                sla.as_ref(),
                &session.ctx,
                &cx.out,
            )
            .await,
            cx,
        };
        for view in &views {
            products.run(view, &envs, &mut report).await?;
        }
        finish(&session, &settings, report, &cx.out)
    })
}

/// The products of one dispatched plan, each run in turn.
struct Products<'a> {
    session: &'a Session,
    manager: &'a Manager,
    customer: &'a Customer,
    key: &'a ArtifactKey,
    settings: &'a PlanSettings,
    reporter: &'a Reporter<'a>,
    /// The customer's secrets identities the key job handed over.
    handed: Option<&'a crate::values::secret_files::Keys>,
    /// When the customer's event asked, and which time that is (with
    /// `sla:`), see [`super::sla::plan_start`].
    event_at: (Option<String>, Option<String>),
    cx: &'a Context,
}

impl Products<'_> {
    /// One product view in the planned environments where it exists:
    /// its files, its values, then each environment once the products it
    /// needs are planned. Without products a fetch or values problem ends
    /// the step; with products it fails that product alone.
    async fn run(&self, view: &Manager, envs: &[String], report: &mut PlanReport) -> Result<()> {
        let envs: Vec<String> = envs
            .iter()
            .filter(|e| view.environment(e).is_some())
            .cloned()
            .collect();
        if envs.is_empty() {
            return Ok(());
        }
        let mut engine =
            crate::engine::Engine::with_terraform(view, self.settings.terraform.as_deref())?;
        engine.handed_keys = self.handed.cloned();
        let per_product = self.manager.has_products();
        let source = fetch_source(
            &self.session.gh,
            self.manager,
            view,
            &self.session.dispatched,
            &envs,
        )
        .await;
        if let Ok(source) = &source {
            engine.changed_settings = super::changed_settings::changed_settings(
                &self.session.gh,
                view,
                &self.session.dispatched.payload,
                source,
                &engine.schema,
                &self.session.ctx.server_url,
            )
            .await;
        }
        let run = PlanRun {
            session: self.session,
            manager: view,
            engine: &engine,
            customer: self.customer,
            key: self.key,
            out_dir: &self.settings.out,
            reporter: self.reporter,
            event_at: self.event_at.clone(),
            cx: self.cx,
        };
        let source = match source {
            Ok(source) => source,
            Err(e) if per_product => {
                for env in &envs {
                    let failed = run.failed(env, Error::refused(e.to_string())).await?;
                    report.results.push(failed);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let docs = match run.check_values(&source, &envs).await {
            Ok(docs) => docs,
            Err(e) if per_product => {
                // Reported on the pull request and the commit already.
                for env in &envs {
                    report
                        .results
                        .push(EnvResult::failed(view, env, e.to_string()));
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for env in &envs {
            let planned = report.planned();
            let result = match settle(&planned, view, &self.customer.slug, env) {
                Ok(awaiting) => run.environment(env, &docs, awaiting).await?,
                Err(Blocked::Failed(reason)) => run.failed(env, Error::refused(reason)).await?,
                Err(Blocked::Waiting(reason)) => run.waiting(env, reason).await?,
            };
            report.results.push(result);
        }
        Ok(())
    }
}

/// One dispatched plan of one customer's product, once authorised.
struct PlanRun<'a> {
    session: &'a Session,
    manager: &'a Manager,
    engine: &'a Engine<'a>,
    customer: &'a Customer,
    key: &'a ArtifactKey,
    out_dir: &'a Path,
    reporter: &'a Reporter<'a>,
    event_at: (Option<String>, Option<String>),
    cx: &'a Context,
}

impl PlanRun<'_> {
    fn gh(&self) -> &GitHub {
        &self.session.gh
    }

    fn payload(&self) -> &Payload {
        &self.session.dispatched.payload
    }

    fn product(&self) -> Option<&str> {
        self.manager.product.as_deref()
    }

    /// The unit's name in the log, statuses and seals.
    fn label(&self, env: &str) -> String {
        self.manager.unit(&self.customer.slug, env).to_string()
    }

    /// The customer's documents checked against the schema; invalid ones
    /// are reported ([`InvalidRun`]) and end the step (the product).
    async fn check_values(&self, source: &CustomerSource, envs: &[String]) -> Result<CustomerDocs> {
        match customer::check(source, &self.engine.schema) {
            Ok(docs) => Ok(docs),
            Err(problems) => {
                let invalid = InvalidRun {
                    gh: self.gh(),
                    ctx: &self.session.ctx,
                    slug: &self.customer.slug,
                    payload: self.payload(),
                    envs,
                    product: self.product(),
                    reporter: self.reporter,
                };
                Err(invalid.report(&problems, self.cx).await?)
            }
        }
    }

    /// gate facts → plan → publish and record, or report the failure.
    async fn environment(
        &self,
        env: &str,
        docs: &CustomerDocs,
        awaiting: Vec<String>,
    ) -> Result<EnvResult> {
        let unit = self.manager.unit(&self.customer.slug, env);
        let dir = self.out_dir.join(unit.rel_dir());
        let payload = self.payload();
        let pull = pull_for_gates(
            self.gh(),
            self.manager,
            &payload.customer_repo,
            payload.pr,
            env,
        )
        .await?;
        match self.terraform_plan(env, docs, &dir, pull.as_ref(), awaiting) {
            Ok(p) => self.publish(env, &dir, p, pull.as_ref()).await,
            Err(Error::Waiting(reason)) => self.waiting(env, reason.into()).await,
            Err(e) => self.failed(env, e).await,
        }
    }

    fn terraform_plan(
        &self,
        env: &str,
        docs: &CustomerDocs,
        dir: &Path,
        pull: Option<&PullFacts>,
        awaiting: Vec<String>,
    ) -> std::result::Result<PlanOutcome, Error> {
        let label = self.label(env);
        let cost_baseline = self
            .manager
            .config
            .policies
            .has_infracost(env)
            .then(|| {
                let store = crate::records::Store::for_customer_role(self.manager, &self.cx.net);
                let unit = self.manager.unit(&self.customer.slug, env);
                crate::records::cost_baseline(&store, &unit, dir)
            })
            .flatten();
        self.cx.out.group_start(&format!("terraform plan {label}"));
        let result = self.engine.plan(&PlanRequest {
            customer: self.customer,
            environment: env,
            docs,
            out_dir: dir.to_path_buf(),
            sha: Some(self.payload().sha.clone()),
            run_url: self.session.run_url.clone(),
            refresh_only: false,
            pull,
            awaiting,
            policy_tools: true,
            cost_baseline,
        });
        // Terraform's log quotes the customer's values: it goes into the
        // sealed bundle, never into the manager's log.
        if let Ok(p) = &result {
            self.cx.out.note(&format!(
                "{label}: {} (the plan is on the customer's pull request; the log is in the sealed bundle)",
                p.summary.headline()
            ));
        }
        self.cx.out.group_end();
        result
    }

    /// The sticky comment, the commit status, the sealed artifact, then
    /// the summary and audit line.
    async fn publish(
        &self,
        env: &str,
        dir: &Path,
        p: PlanOutcome,
        pull: Option<&PullFacts>,
    ) -> Result<EnvResult> {
        let (slug, payload, cx) = (&self.customer.slug, self.payload(), self.cx);
        let marker = product_marker(slug, self.product(), env);
        let written = match payload.pr {
            Some(pr) => {
                sticky(
                    self.gh(),
                    &payload.customer_repo,
                    pr,
                    &marker,
                    &comment(&Comment::Plan {
                        rendered: &p.comment,
                    }),
                    &cx.out,
                )
                .await?
            }
            None => None,
        };
        let comment_id = written.as_ref().map(|w| w.id);
        let times = crate::audit::Times {
            event: self.event_at.0.clone(),
            event_from: self.event_at.1.clone(),
            comment: written.and_then(|w| w.at),
            ..Default::default()
        };
        let apply_follows = self.session.dispatched.event_type == EVENT_APPLY;
        let (state, description) = plan_status(&p.summary, apply_follows);
        if let Some(v) = &p.summary.gates {
            audit_waivers(cx, v, pull, slug, env, payload, "plan");
        }
        let place = slot(self.product(), env);
        self.reporter
            .report(&place, state, description)
            .await
            .map_err(gh_err)?;
        write_record(dir, &self.record(comment_id))?;
        seal_plan(self.key, slug, &place, dir)?;
        self.record_planned(env, &p.summary, times);
        Ok(EnvResult {
            product: self.manager.product.clone(),
            environment: env.to_string(),
            summary: Some(p.summary),
            error: None,
            waiting: None,
            comment_id,
        })
    }

    /// What the apply job reports back to.
    fn record(&self, comment_id: Option<u64>) -> GitHubRecord {
        let payload = self.payload();
        GitHubRecord {
            customer_repo: payload.customer_repo.clone(),
            sha: payload.sha.clone(),
            pr: payload.pr,
            comment_id,
            dispatch_id: payload.dispatch_id.clone(),
            event_type: self.session.dispatched.event_type.clone(),
            planned_at: Some(crate::audit::rfc3339_now()),
        }
    }

    /// The values-free step summary and the audit line of a plan.
    fn record_planned(&self, env: &str, s: &PlanSummary, times: crate::audit::Times) {
        let payload = self.payload();
        let place = slot(self.product(), env);
        // In a run of a batch of several one approval of an environment
        // releases every entry's apply: each plan is approved by its
        // digest.
        if self.session.dispatched.in_batch_of_several() && s.has_changes {
            let _ = self.session.ctx.append_summary(&format!(
                "In this batch run, approve `{}`'s apply by its digest: the review's comment holds `{} {}`\n\n",
                self.customer.slug,
                crate::policy::approval::APPROVE_COMMAND,
                s.plan_sha256.get(..crate::policy::approval::MIN_DIGEST_PREFIX).unwrap_or(&s.plan_sha256)
            ));
        }
        let _ = self
            .session
            .ctx
            .append_summary(&crate::report::summary::manager_plan(
                &self.customer.slug,
                &place,
                &payload.sha,
                s,
                payload.pr.map(|number| crate::report::summary::PullRef {
                    server_url: &self.session.ctx.server_url,
                    repo: &payload.customer_repo,
                    number,
                }),
            ));
        let result = if s.has_changes {
            "changes"
        } else {
            "no-changes"
        };
        let e = self
            .entry("plan", result, env)
            .plan(Some(&s.plan_sha256))
            .identity(s.identity.as_ref().map(|i| i.plan.role_arn.as_str()))
            .detail(s.headline())
            .times(times);
        super::sla::notify_breach(self.manager, &e, self.cx);
        self.cx.record(e);
    }

    /// An audit line about this unit.
    fn entry(&self, action: &str, result: &str, env: &str) -> crate::audit::Entry {
        entry(action, result, &self.customer.slug, env, self.payload()).product(self.product())
    }

    /// A failed plan: the short form in the manager's log (Terraform's
    /// output and the customer's values stay out of it), `failure` on the
    /// commit, an audit line.
    async fn failed(&self, env: &str, e: Error) -> Result<EnvResult> {
        let label = self.label(env);
        self.cx.out.error(&format!("{label}: {}", values_free(&e)));
        if let Error::Values(problems) = &e {
            // Found while rendering (a template's result): listed where the
            // schema's problems are, on the customer's pull request.
            let envs = [env.to_string()];
            let invalid = InvalidRun {
                gh: self.gh(),
                ctx: &self.session.ctx,
                slug: &self.customer.slug,
                payload: self.payload(),
                envs: &envs,
                product: self.product(),
                reporter: self.reporter,
            };
            invalid.comment(problems, &self.cx.out).await?;
        }
        let place = slot(self.product(), env);
        self.reporter
            .report(
                &place,
                "failure",
                status(&Status::PlanFailed { place: &place }),
            )
            .await
            .map_err(gh_err)?;
        self.cx
            .record(self.entry("plan", "failed", env).detail(e.short()));
        Ok(EnvResult::failed(self.manager, env, e.short()))
    }

    /// A product that cannot plan before a product it needs is applied
    /// here: said on the pull request and the commit, not a failure.
    async fn waiting(&self, env: &str, reason: String) -> Result<EnvResult> {
        let (slug, payload, cx) = (&self.customer.slug, self.payload(), self.cx);
        let label = self.label(env);
        cx.out.note(&format!("{label}: {reason}"));
        let place = slot(self.product(), env);
        let comment_id = match payload.pr {
            Some(pr) => {
                let marker = product_marker(slug, self.product(), env);
                let body = comment(&Comment::Waiting {
                    marker: &marker,
                    label: &label,
                    sha: &payload.sha,
                    reason: &reason,
                });
                sticky(
                    self.gh(),
                    &payload.customer_repo,
                    pr,
                    &marker,
                    &body,
                    &cx.out,
                )
                .await?
                .map(|w| w.id)
            }
            None => None,
        };
        self.reporter
            .report(
                &place,
                "success",
                status(&Status::NotPlannedYet {
                    place: &place,
                    reason: &reason,
                }),
            )
            .await
            .map_err(gh_err)?;
        cx.record(self.entry("plan", "waiting", env).detail(reason.clone()));
        Ok(EnvResult {
            product: self.manager.product.clone(),
            environment: env.to_string(),
            summary: None,
            error: None,
            waiting: Some(reason),
            comment_id,
        })
    }
}
