//! How an apply ends: applied (status, comment, records, audit, outputs),
//! refused, or failed.

use super::*;
use crate::report::customer::{status, Status};

impl ApplyRun<'_> {
    /// Reports the apply's result: applied, refused, or failed.
    pub(super) async fn settle(
        &self,
        result: std::result::Result<ApplyOutcome, Error>,
        checked: &Checked,
    ) -> Result<()> {
        match result {
            Ok(done) => self.applied(&done, checked).await,
            Err(Error::Refused(reason)) => Err(self
                .refuse(
                    reason
                        .trim_end_matches("; nothing was applied")
                        .trim_end_matches(". Nothing was applied; plan again")
                        .to_string(),
                )
                .await),
            Err(Error::Terraform(TerraformError::StalePlan { .. })) => Err(self
                .refuse("the saved plan is stale: the state changed after it was made")
                .await),
            Err(Error::Terraform(e @ TerraformError::OtherVersion { .. })) => {
                let help = miette::Diagnostic::help(&e).map(|h| h.to_string());
                Err(self
                    .refuse(crate::error::Say::new(e.to_string()).help(help.unwrap_or_default()))
                    .await)
            }
            Err(e) => Err(self.failed(e, checked).await),
        }
    }

    /// `success` on the commit, "Applied" on the plan's comment, then the
    /// audit line, summary, outputs and result. Terraform's output (it may
    /// print values and outputs) stays in the plan folder's apply.log, out
    /// of the manager's log.
    pub(super) async fn applied(&self, done: &ApplyOutcome, checked: &Checked) -> Result<()> {
        let (gh, payload, env, slug) = (self.gh(), self.payload(), self.env(), &self.customer.slug);
        let summary = crate::engine::read_summary(&self.dir).ok();
        let counts = summary.as_ref().map(|s| s.counts()).unwrap_or_default();
        let place = self.place();
        self.reporter
            .report(
                &place,
                "success",
                status(&Status::Applied {
                    place: &place,
                    counts: &counts,
                }),
            )
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
            .plan(Some(&done.plan_sha256))
            .times(checked.times.clone());
        let kept = crate::records::record_deployment(
            &crate::records::Store::for_customer_role(self.manager, &self.cx.net),
            &self.manager.unit(slug, env),
            &self.dir,
            crate::records::DeploymentFacts {
                customer_repo: Some(payload.customer_repo.clone()),
                customer_sha: Some(payload.sha.clone()),
                manager_sha: self.session.ctx.sha.clone(),
                plan_sha256: done.plan_sha256.clone(),
                actor: audit.actor.clone(),
                run_url: self.session.run_url.clone(),
                pr: payload.pr,
            },
        );
        super::super::sla::notify_breach(self.manager, &audit, self.cx);
        self.cx.record(audit);
        if let Err(e) = kept {
            self.cx.out.error(&format!(
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
        .map_err(|e| Error::failed(format!("writing GITHUB_OUTPUT: {e}")))?;
        out_applied(
            &self.cx.out,
            done,
            &self.label(),
            gh.request_count(),
            self.settings.json,
        );
        Ok(())
    }

    /// `failure` on the commit (a failed write is ignored), an audit line,
    /// and the values-free error.
    pub(super) async fn failed(&self, e: Error, checked: &Checked) -> Error {
        let (env, slug, place) = (self.env(), &self.customer.slug, self.place());
        let _ = self
            .reporter
            .report(
                &place,
                "failure",
                status(&Status::ApplyFailed { place: &place }),
            )
            .await;
        self.cx.record(
            entry("apply", "failed", slug, env, self.payload())
                .product(self.manager.product.as_deref())
                .approved_by(checked.approver.as_deref())
                .approvers(&checked.approvers)
                .approval(checked.approval())
                .detail(e.short()),
        );
        if !matches!(e, Error::Refused(_) | Error::Waiting(_)) {
            self.notify(
                crate::config::NotifyEvent::ApplyFailed,
                "the apply failed; see the run",
            );
        }
        match e {
            Error::Refused(m) => Error::Refused(m),
            other => Error::failed(format!("{}: {}", self.label(), values_free(&other))),
        }
    }
}
