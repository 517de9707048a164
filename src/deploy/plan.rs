//! `fleetform plan --dispatch`: authorise → fetch → check the values →
//! for each environment: gate facts → plan → publish (comment, status,
//! sealed artifact) → record (summary, audit) → report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Customer, Manager};
use crate::dispatch::seal::ArtifactKey;
use crate::dispatch::Payload;
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::policy::PullFacts;
use crate::report::comment::comment_marker;
use crate::terraform::engine::{Engine, PlanOutcome, PlanRequest, RunError};
use crate::terraform::summary::PlanSummary;
use crate::values::customer::{self, CustomerDocs, CustomerSource, Diagnostic};

use super::artifact::{artifact_key, seal_plan, write_record, GitHubRecord, BUNDLE_FILE};
use super::authorise::authorise;
use super::comment::sticky;
use super::event::Stage;
use super::fetch::{fetch_source, planned_environments, pull_for_gates};
use super::invalid::InvalidRun;
use super::record::{audit_refusal, audit_waivers, entry, values_free};
use super::session::{gh_err, open_session, Session};
use super::status::{plan_status, Reporter};

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

impl PlanReport {
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

pub fn plan(settings: PlanSettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let r = plan_inner(settings, manager_dir, out);
    audit_refusal(&r, "plan", out);
    r
}

fn plan_inner(settings: PlanSettings, manager_dir: &Path, out: &Output) -> Result<()> {
    let key = artifact_key()?;
    let session = open_session(settings.dry_run, out)?;
    let (manager, registry) = crate::config::load(manager_dir)?;
    let engine = crate::terraform::engine::build(&manager, true, settings.terraform.as_deref())?;
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
            Stage::Plan,
            run_url.clone(),
            out,
        )
        .await?;
        let envs = planned_environments(&manager, customer, settings.environments.as_deref())?;
        let source = fetch_source(gh, &manager, dispatched, &envs).await?;
        let run = PlanRun {
            session: &session,
            manager: &manager,
            engine: &engine,
            customer,
            key: &key,
            out_dir: &settings.out,
            reporter: Reporter::new(gh, &manager, customer, &dispatched.payload, run_url.clone()),
            out,
        };
        let docs = run.check_values(&source, &envs).await?;
        let mut report = PlanReport::new(customer, &dispatched.payload);
        for env in &envs {
            report.results.push(run.environment(env, &docs).await?);
        }
        finish(&session, &settings, report, out)
    })
}

/// One dispatched plan of one customer, once authorised.
struct PlanRun<'a> {
    session: &'a Session,
    manager: &'a Manager,
    engine: &'a Engine<'a>,
    customer: &'a Customer,
    key: &'a ArtifactKey,
    out_dir: &'a Path,
    reporter: Reporter<'a>,
    out: &'a Output,
}

impl PlanRun<'_> {
    fn gh(&self) -> &GitHub {
        &self.session.gh
    }

    fn payload(&self) -> &Payload {
        &self.session.dispatched.payload
    }

    /// The customer's documents checked against the schema; invalid ones
    /// are reported ([`InvalidRun`]) and end the step.
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
                    reporter: &self.reporter,
                };
                Err(invalid.report(&problems, self.out).await?)
            }
        }
    }

    /// gate facts → plan → publish and record, or report the failure.
    async fn environment(&self, env: &str, docs: &CustomerDocs) -> Result<EnvResult> {
        let dir = self.out_dir.join(&self.customer.slug).join(env);
        let payload = self.payload();
        let pull = pull_for_gates(
            self.gh(),
            self.manager,
            &payload.customer_repo,
            payload.pr,
            env,
        )
        .await?;
        match self.terraform_plan(env, docs, &dir, pull.as_ref()) {
            Ok(p) => self.publish(env, &dir, p, pull.as_ref()).await,
            Err(e) => self.failed(env, e).await,
        }
    }

    fn terraform_plan(
        &self,
        env: &str,
        docs: &CustomerDocs,
        dir: &Path,
        pull: Option<&PullFacts>,
    ) -> std::result::Result<PlanOutcome, RunError> {
        let slug = &self.customer.slug;
        self.out
            .group_start(&format!("terraform plan {slug}/{env}"));
        let result = self.engine.plan(&PlanRequest {
            customer: self.customer,
            environment: env,
            docs,
            out_dir: dir.to_path_buf(),
            sha: Some(self.payload().sha.clone()),
            run_url: self.session.run_url.clone(),
            refresh_only: false,
            pull,
            awaiting: Vec::new(),
        });
        // Terraform's log quotes the customer's values: it goes into the
        // sealed bundle, never into the manager's log.
        if let Ok(p) = &result {
            self.out.note(&format!(
                "{slug}/{env}: {} (the plan is on the customer's pull request; the log is in the sealed bundle)",
                p.summary.headline()
            ));
        }
        self.out.group_end();
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
        let (slug, payload, out) = (&self.customer.slug, self.payload(), self.out);
        let comment_id = match payload.pr {
            Some(pr) => {
                sticky(
                    self.gh(),
                    &payload.customer_repo,
                    pr,
                    &comment_marker(slug, env),
                    &p.comment,
                    out,
                )
                .await?
            }
            None => None,
        };
        let (state, description) = plan_status(&p.summary);
        if let Some(v) = &p.summary.gates {
            audit_waivers(out, v, pull, slug, env, payload, "plan");
        }
        self.reporter
            .report(env, state, description)
            .await
            .map_err(gh_err)?;
        write_record(dir, &self.record(comment_id))?;
        seal_plan(self.key, slug, env, dir)?;
        self.record_planned(env, &p.summary);
        Ok(EnvResult {
            environment: env.to_string(),
            summary: Some(p.summary),
            error: None,
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
        }
    }

    /// The values-free step summary and the audit line of a plan.
    fn record_planned(&self, env: &str, s: &PlanSummary) {
        let (slug, payload) = (&self.customer.slug, self.payload());
        let _ = self
            .session
            .ctx
            .append_summary(&crate::report::summary::manager_plan(
                slug,
                env,
                &payload.sha,
                s,
            ));
        let result = if s.has_changes {
            "changes"
        } else {
            "no-changes"
        };
        crate::audit::record(
            self.out,
            entry("plan", result, slug, env, payload)
                .plan(Some(&s.plan_sha256))
                .detail(s.headline()),
        );
    }

    /// A failed plan: the short form in the manager's log (Terraform's
    /// output and the customer's values stay out of it), `failure` on the
    /// commit, an audit line.
    async fn failed(&self, env: &str, e: RunError) -> Result<EnvResult> {
        let slug = &self.customer.slug;
        self.out
            .error(&format!("{slug}/{env}: {}", values_free(&e)));
        self.reporter
            .report(env, "failure", format!("{env}: plan failed, see the run"))
            .await
            .map_err(gh_err)?;
        crate::audit::record(
            self.out,
            entry("plan", "failed", slug, env, self.payload()).detail(e.short()),
        );
        Ok(EnvResult {
            environment: env.to_string(),
            summary: None,
            error: Some(e.short()),
            comment_id: None,
        })
    }
}

/// The request count, the step outputs and the result lines; an error
/// when any environment failed to plan.
fn finish(
    session: &Session,
    settings: &PlanSettings,
    mut report: PlanReport,
    out: &Output,
) -> Result<()> {
    report.requests = session.gh.request_count();
    report.dry_run_requests = session.gh.withheld();
    for r in &report.dry_run_requests {
        out.note(&format!(
            "dry run: would send {} {} {}",
            r.method,
            r.path,
            r.body.as_ref().map(|b| b.to_string()).unwrap_or_default()
        ));
    }
    out.verbose(&format!("{} GitHub API request(s)", report.requests));
    let outputs = plan_outputs(&report, &session.dispatched.event_type, &settings.out);
    session
        .ctx
        .set_outputs(&outputs)
        .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    print_report(&report, settings.json, out);
    let failed = report.results.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} of {} plans failed",
            report.results.len()
        )));
    }
    Ok(())
}

fn print_report(report: &PlanReport, json: bool, out: &Output) {
    if json {
        out.result(&serde_json::to_string_pretty(report).expect("serialisable"));
        return;
    }
    let slug = &report.customer;
    for r in &report.results {
        out.result(&match &r.summary {
            Some(s) => format!(
                "planned {slug}/{}: {} (sha256:{})",
                r.environment,
                s.counts(),
                s.plan_sha256
            ),
            None => format!(
                "FAILED {slug}/{}: {}",
                r.environment,
                r.error.as_deref().unwrap_or("")
            ),
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(env: &str, planned: bool) -> EnvResult {
        EnvResult {
            environment: env.into(),
            summary: planned.then(|| PlanSummary {
                customer: "acme".into(),
                environment: env.into(),
                create: 3,
                update: 1,
                delete: 0,
                replace: 2,
                resources: Vec::new(),
                outputs: Vec::new(),
                has_changes: true,
                plan_sha256: "f".repeat(64),
                state_key: format!("acme/{env}"),
                sha: None,
                gates: None,
                product: None,
            }),
            error: (!planned).then(|| "terraform failed".to_string()),
            comment_id: None,
        }
    }

    fn report(results: Vec<EnvResult>) -> PlanReport {
        PlanReport {
            customer: "acme".into(),
            customer_repo: "acme/infra".into(),
            sha: "a".repeat(40),
            dispatch_id: "d-1".into(),
            results,
            problems: Vec::new(),
            requests: 5,
            dry_run_requests: Vec::new(),
        }
    }

    fn names(outputs: &[(&'static str, String)]) -> Vec<&'static str> {
        outputs.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn per_plan_outputs_only_for_a_single_planned_environment() {
        let common = ["customer", "customer_repo", "sha", "event_type", "requests"];
        let out = Path::new("plans");
        let two = plan_outputs(
            &report(vec![result("staging", true), result("production", true)]),
            "fleetform-plan",
            out,
        );
        assert_eq!(names(&two), common);
        let failed = plan_outputs(
            &report(vec![result("staging", false)]),
            "fleetform-plan",
            out,
        );
        assert_eq!(names(&failed), [&common[..], &["environment"]].concat());
        let one = plan_outputs(
            &report(vec![result("staging", true)]),
            "fleetform-apply",
            out,
        );
        let get = |k: &str| one.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("event_type"), Some("fleetform-apply"));
        assert_eq!(get("requests"), Some("5"));
        assert_eq!(get("environment"), Some("staging"));
        assert_eq!(get("has_changes"), Some("true"));
        assert_eq!(get("create"), Some("3"));
        assert_eq!(get("replace"), Some("2"));
        assert_eq!(get("gates_pass"), Some("true"));
        let bundle = Path::new("plans")
            .join("acme")
            .join("staging")
            .join(BUNDLE_FILE);
        assert_eq!(get("bundle"), Some(bundle.display().to_string().as_str()));
    }
}
