//! A dispatched plan whose customer values are invalid: nothing is
//! planned; the problems go to the customer's pull request, never to the
//! manager's log.

use crate::ci::RunContext;
use crate::context::Context;
use crate::data::Diagnostic;
use crate::dispatch::{short_sha, Payload};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::report::comment::product_marker;
use crate::report::customer::{comment, status, Comment, Status};

use super::comment::sticky;
use super::products::slot;
use super::record::entry;
use super::session::gh_err;
use super::status::Reporter;

/// A dispatched plan whose customer values are invalid.
pub(super) struct InvalidRun<'a> {
    pub gh: &'a GitHub,
    pub ctx: &'a RunContext,
    pub slug: &'a str,
    pub payload: &'a Payload,
    pub envs: &'a [String],
    /// The product whose values are invalid (`None`: the manager has no
    /// products, or its products file is wrong).
    pub product: Option<&'a str>,
    pub reporter: &'a Reporter<'a>,
}

impl InvalidRun<'_> {
    /// Lists the problems on the customer's PR (they quote the customer's
    /// keys and values, so never in the manager's log), marks every
    /// environment `failure`, writes a values-free summary and audit lines,
    /// and returns the error to end the step with.
    pub async fn report(&self, problems: &[Diagnostic], cx: &Context) -> Result<Error> {
        let n = crate::util::text::count(problems.len(), "problem", "problems");
        cx.out.error(&format!(
            "{}: {} in the customer's variables (listed on the customer's pull request, not here: the manager's log is readable by everyone with access to the manager repo)",
            self.slug,
            n
        ));
        self.comment(problems, &cx.out).await?;
        for env in self.envs {
            let place = slot(self.product, env);
            let description = status(&Status::Invalid {
                place: &place,
                problems: problems.len(),
            });
            self.reporter
                .report(&place, "failure", description)
                .await
                .map_err(gh_err)?;
        }
        let _ = self.ctx.append_summary(&format!(
            "### fleetform plan: `{}`\n\nInvalid variables at `{}`: {n}, listed on the customer's pull request.\n",
            self.slug,
            short_sha(&self.payload.sha),
        ));
        for env in self.envs {
            cx.record(
                entry("plan", "failed", self.slug, env, self.payload)
                    .product(self.product)
                    .detail(format!("invalid variables: {n}")),
            );
        }
        Ok(Error::failed(format!(
            "{n} in the customer's variables; nothing was planned"
        )))
    }

    /// One sticky comment per environment on the PR, when there is one.
    pub(super) async fn comment(&self, problems: &[Diagnostic], out: &Output) -> Result<()> {
        let Some(pr) = self.payload.pr else {
            return Ok(());
        };
        for env in self.envs {
            let marker = product_marker(self.slug, self.product, env);
            let place = match self.product {
                Some(p) => format!("{p}` / `{env}"),
                None => env.to_string(),
            };
            let body = comment(&Comment::Invalid {
                marker: &marker,
                place: &place,
                slug: self.slug,
                sha: &self.payload.sha,
                problems,
            });
            sticky(
                self.gh,
                &self.payload.customer_repo,
                pr,
                &marker,
                &body,
                out,
            )
            .await?;
        }
        Ok(())
    }
}
