//! Every GitHub deployment the manager writes on a customer's repo, in
//! one place: an apply's from a dispatch ([`dispatched_started`],
//! [`dispatched_ended`]), a day-2 operation's ([`state_operation`]), and a
//! rollout's applies with the ones owed (their writes did not fit
//! GitHub's budget) sent later ([`Deployments`]). Each description is a
//! customer text worded in `report::customer`.

use crate::context::Context;
use crate::engine::ApplyOutcome;
use crate::error::Error;
use crate::github::{GitHub, GitHubError, Started};
use crate::output::Output;
use crate::report::customer::{deployment, Deployment};
use crate::rollout::{self, Owes, Shown};
use crate::rollout::{Late, LateDeployment};

/// A rollout's applies as GitHub deployments on the customers' repos, when
/// the customer App is configured (a token per repository with
/// `deployments: write`) or a token is given (`FLEETFORM_TOKEN`, else
/// `GITHUB_TOKEN`), and the pair's last deployment record names the
/// customer's repo and commit.
pub struct Deployments<'a> {
    rt: tokio::runtime::Runtime,
    repos: crate::github::CustomerRepos,
    manager_sha: String,
    run_url: Option<String>,
    cx: &'a Context,
}

impl<'a> Deployments<'a> {
    /// With the token from the environment; `None` without one or when
    /// the client cannot be set up (the applies are then not shown).
    pub fn from_env(manager_sha: &str, cx: &'a Context) -> Option<Deployments<'a>> {
        Deployments::try_from_env(manager_sha, cx).ok().flatten()
    }

    /// [`Deployments::from_env`], saying why a client cannot be set up.
    pub fn try_from_env(
        manager_sha: &str,
        cx: &'a Context,
    ) -> Result<Option<Deployments<'a>>, GitHubError> {
        let rt = crate::github::runtime()?;
        let repos =
            match super::session::customer_repos(&rt, super::session::access::DEPLOYMENTS, cx) {
                Ok(Some(repos)) => repos,
                Ok(None) => return Ok(None),
                Err(e) => return Err(GitHubError::Setup(e.to_string())),
            };
        Ok(Some(Deployments {
            rt,
            repos,
            manager_sha: short(manager_sha),
            run_url: crate::ci::RunContext::from_env().run_url(),
            cx,
        }))
    }

    /// No request waits past `secs` from now: what would stays owed.
    pub fn with_deadline(mut self, secs: Option<u64>) -> Self {
        if let Some(secs) = secs {
            let at = std::time::SystemTime::now() + std::time::Duration::from_secs(secs);
            self.repos = self.repos.with_deadline(at);
        }
        self
    }

    /// Keeps the hour's writes at `log` as each is made.
    pub fn keep_writes_in(mut self, log: Option<&std::path::Path>) -> Self {
        if let Some(log) = log {
            self.repos = self.repos.keep_writes_in(log);
        }
        self
    }

    /// Counts the writes an earlier run made this hour (a write log's).
    pub fn count_earlier_writes(&self, times: Vec<u64>) {
        self.repos.count_earlier_writes(times);
    }

    /// The times of this hour's writes, for the write log.
    pub fn writes_of_the_hour(&self) -> Vec<u64> {
        self.repos.writes_of_the_hour()
    }

    fn note(&self) -> impl Fn(String) + Sync + '_ {
        |n: String| self.cx.out.note(&n)
    }

    /// The owed deployment made (and whether by this call), or found made
    /// by an earlier run that did not record it (its marker).
    async fn made(&self, late: &LateDeployment<'_>) -> Result<(u64, bool), GitHubError> {
        let d = late.owed;
        if let Some(id) = d.id {
            return Ok((id, false));
        }
        let gh = self.repos.client(&d.repo).await?;
        let found = gh
            .find_deployment(&d.repo, &d.sha, &d.environment, &late.marker)
            .await?;
        if let Some(id) = found {
            return Ok((id, false));
        }
        let applied_at = crate::audit::rfc3339(d.applied_at);
        let new = crate::github::NewDeployment {
            sha: d.sha.clone(),
            environment: d.environment.clone(),
            description: deployment(&Deployment::RolloutLate {
                rollout: late.rollout,
                wave: &d.wave,
                manager_sha: &short(late.manager_sha),
                applied_at: &applied_at,
            }),
            production: d.environment == "production",
            marker: Some(late.marker.clone()),
        };
        let made = gh.create_deployment(&d.repo, &new).await?;
        let id = made.ok_or_else(|| GitHubError::Setup("a dry run makes no deployment".into()))?;
        Ok((id, true))
    }

    async fn send(&self, late: &LateDeployment<'_>) -> Result<(), GitHubError> {
        let d = late.owed;
        // Applied again since, as the records say or GitHub shows (a newer
        // deployment in the environment, made before its apply's record).
        let gh = self.repos.client(&d.repo).await?;
        let newer = gh.made_since(&d.repo, &d.environment, d.applied_at, &late.marker);
        let superseded = late.superseded || newer.await?;
        let (id, fresh) = self.made(late).await?;
        if !fresh && gh.has_final_status(&d.repo, id).await? {
            return Ok(());
        }
        let applied_at = crate::audit::rfc3339(d.applied_at);
        let description = deployment(&Deployment::RolloutEndedLate {
            detail: &d.detail,
            applied_at: &applied_at,
            superseded,
        });
        // Applied again since: shown, never as the environment's current
        // deployment.
        let state = match (d.ok, superseded) {
            (false, _) => "failure",
            (true, true) => "inactive",
            (true, false) => "success",
        };
        let run_url = d.run_url.as_deref();
        gh.set_late_deployment_status(&d.repo, id, state, &description, run_url)
            .await
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// A dispatched apply as a GitHub deployment on the customer's repo (its
/// environment, the applied commit, the manager commit), `in_progress`:
/// its id and when GitHub wrote that status (the apply's start, by
/// GitHub's clock). A deployment that cannot be written is noted; it never
/// stops the apply.
pub(super) async fn dispatched_started(
    gh: &GitHub,
    (repo, sha, env): (&str, &str, &str),
    place: &str,
    manager_sha: &str,
    run_url: Option<&str>,
    out: &Output,
) -> (Option<u64>, Option<String>) {
    let d = crate::github::NewDeployment {
        sha: sha.to_string(),
        environment: env.to_string(),
        description: deployment(&Deployment::Dispatched { place, manager_sha }),
        production: env == "production",
        marker: None,
    };
    let note = |n: String| out.note(&n);
    let (started, at) = gh.apply_started_at(repo, &d, run_url, &note).await;
    (started.made(), at)
}

/// The dispatched apply's deployment ends: `success`, or `failure` with
/// why; when GitHub wrote that status. One apply's deployment (3 writes)
/// is not carried over: a status that could not be written is noted, as
/// the deployment is.
pub(super) async fn dispatched_ended(
    gh: &GitHub,
    (repo, id): (&str, u64),
    result: &std::result::Result<ApplyOutcome, Error>,
    run_url: Option<&str>,
    out: &Output,
) -> Option<String> {
    let (ok, what) = match result {
        Ok(done) => (
            true,
            Deployment::Applied {
                plan_sha256: &done.plan_sha256,
            },
        ),
        Err(Error::Refused(_)) => (false, Deployment::Refused),
        Err(_) => (false, Deployment::Failed),
    };
    let description = deployment(&what);
    let note = |n: String| out.note(&n);
    gh.apply_ended_at(repo, id, ok, &description, run_url, &note)
        .await
        .1
}

/// What a day-2 operation's deployment says.
pub(crate) struct StateOperation<'a> {
    /// Plain: `rm`, `replace`, ...
    pub operation: &'a str,
    pub actor: &'a str,
    pub reason: &'a str,
    pub ok: bool,
}

/// A day-2 operation as a deployment of the default branch's head (`branch`:
/// GitHub resolves it) in `env`, `success` or `failure`.
pub(crate) async fn state_operation(
    gh: &GitHub,
    (repo, branch, env): (&str, &str, &str),
    r: &StateOperation<'_>,
    run_url: Option<&str>,
) -> Result<(), GitHubError> {
    let d = crate::github::NewDeployment {
        sha: branch.to_string(),
        environment: env.to_string(),
        description: deployment(&Deployment::StateOp {
            operation: r.operation,
            actor: r.actor,
            reason: r.reason,
        }),
        production: env == "production",
        marker: None,
    };
    if let Some(id) = gh.create_deployment(repo, &d).await? {
        let state = if r.ok { "success" } else { "failure" };
        let desc = deployment(&Deployment::StateOpEnded {
            operation: r.operation,
            ok: r.ok,
        });
        gh.set_deployment_status(repo, id, state, &desc, run_url)
            .await?;
    }
    Ok(())
}

impl rollout::ApplyObserver for Deployments<'_> {
    fn started(
        &self,
        unit: &crate::config::Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
        marker: &str,
    ) -> Option<Shown> {
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
            marker: Some(marker.to_string()),
        };
        let note = self.note();
        let run_url = self.run_url.as_deref();
        let started = self.rt.block_on(async {
            match self.repos.client(repo).await {
                Ok(gh) => gh.apply_started(repo, &d, run_url, &note).await,
                Err(e) => {
                    note(format!("no deployment on {repo}: {e}"));
                    if crate::github::may_go_later(&e) {
                        Started::Later
                    } else {
                        Started::Not
                    }
                }
            }
        });
        match started {
            Started::Made(id) => Some(Shown::Made(id)),
            Started::Later => Some(Shown::Owed),
            Started::Not => None,
        }
    }

    fn ended(
        &self,
        shown: Shown,
        deployed: &crate::records::Deployment,
        ok: bool,
        detail: &str,
    ) -> Option<Owes> {
        let Shown::Made(id) = shown else {
            return Some(Owes { id: None });
        };
        let repo = deployed.customer_repo.as_ref()?;
        let note = self.note();
        let run_url = self.run_url.as_deref();
        let description = deployment(&Deployment::RolloutEnded { detail });
        let written = self.rt.block_on(async {
            match self.repos.client(repo).await {
                Ok(gh) => {
                    gh.apply_ended(repo, id, ok, &description, run_url, &note)
                        .await
                }
                Err(e) => {
                    note(format!("deployment {id} on {repo} not ended: {e}"));
                    false
                }
            }
        });
        (!written).then_some(Owes { id: Some(id) })
    }

    fn send_late(&self, late: &LateDeployment<'_>) -> Late {
        match self.rt.block_on(self.send(late)) {
            Ok(()) => Late::Sent,
            Err(e @ GitHubError::Deferred { .. }) => Late::Deferred(e.to_string()),
            Err(e) if crate::github::may_go_later(&e) => Late::Later(e.to_string()),
            Err(e) => Late::Dropped(e.to_string()),
        }
    }
}
