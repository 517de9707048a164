//! A rollout's applies as GitHub deployments on the customers' repos.

use crate::output::Output;
use crate::report::customer::{deployment, Deployment};
use crate::rollout;

/// A rollout's applies as GitHub deployments on the customers' repos, when
/// a token is given (`FLEETFORM_TOKEN`, else `GITHUB_TOKEN`) and the pair's
/// last deployment record names the customer's repo and commit.
pub(super) struct Deployments<'a> {
    rt: tokio::runtime::Runtime,
    gh: crate::github::GitHub,
    manager_sha: String,
    run_url: Option<String>,
    out: &'a Output,
}

impl<'a> Deployments<'a> {
    pub(super) fn from_env(manager_sha: &str, out: &'a Output) -> Option<Deployments<'a>> {
        let token = crate::github::Token::from_env()?;
        out.mask(token.expose());
        let rt = crate::github::runtime().ok()?;
        let api = crate::github::GitHub::api_url_from_env();
        let gh = crate::github::GitHub::new(&rt, &api, Some(&token), false).ok()?;
        Some(Deployments {
            rt,
            gh,
            manager_sha: manager_sha.chars().take(12).collect(),
            run_url: crate::ci::RunContext::from_env().run_url(),
            out,
        })
    }
}

impl rollout::ApplyObserver for Deployments<'_> {
    fn started(
        &self,
        unit: &crate::config::Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
    ) -> Option<u64> {
        let (repo, sha) = (
            deployed.customer_repo.as_ref()?,
            deployed.customer_sha.as_ref()?,
        );
        let d = crate::github::NewDeployment {
            sha: sha.clone(),
            environment: unit.environment.clone(),
            description: deployment(&Deployment::Rollout {
                rollout,
                wave,
                manager_sha: &self.manager_sha,
            }),
            production: unit.environment == "production",
        };
        let note = |n: String| self.out.note(&n);
        let run_url = self.run_url.as_deref();
        self.rt
            .block_on(self.gh.apply_started(repo, &d, run_url, &note))
    }

    fn ended(&self, id: u64, deployed: &crate::records::Deployment, ok: bool, detail: &str) {
        let Some(repo) = deployed.customer_repo.as_ref() else {
            return;
        };
        let note = |n: String| self.out.note(&n);
        let run_url = self.run_url.as_deref();
        let description = deployment(&Deployment::RolloutEnded { detail });
        self.rt.block_on(
            self.gh
                .apply_ended(repo, id, ok, &description, run_url, &note),
        );
    }
}
