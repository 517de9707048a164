//! The rollout workflow's checks on GitHub, the same as a dispatched
//! apply's (see [`crate::rollout::gate`]):
//!
//! - the registry a tick or a rollout plan works with is the one on the
//!   manager's default branch (a customer revoked or removed during an
//!   approval wait is left out, named), never the run's checkout;
//! - a stage's applies need the approval `apply --dispatch` needs:
//!   nothing for `auto_apply: true`; with `approvals:` for the
//!   environment, approvals of the stage's plans (their digest) on the
//!   pull request that merged the rollout's change; otherwise an approval
//!   of this run's deployment to `<env>-apply` by someone other than who
//!   started or re-ran it. Either way the authors of the change never
//!   approve its waves: neither the author of a pull request that brought
//!   in one of its commits (each first-parent commit from its base to its
//!   commit: a start covers changes whose own start never ran; whatever
//!   `allow_author` says) nor who started the rollout (on a push, the
//!   pusher). The approver is the applies' actor;
//! - halt, resume, rollback and supersede are accepted only from active
//!   members of `rollout.operators` (the run's actor and, on a re-run,
//!   whoever re-ran it).
//!
//! Every check fails closed: an answer GitHub does not give is a refusal.

use crate::ci::RunContext;
use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{GitHub, Token};
use crate::rollout::gate::{ApprovalGate, Refusal};
use crate::rollout::state::{Stage, State};

use crate::flows::github_loop::session::{gh_err, manager_client, runtime};

/// The clients of a rollout job on GitHub Actions: the manager repo (the
/// job's token, `FLEETFORM_MANAGER_TOKEN`, else the token) and team
/// membership (`FLEETFORM_TEAMS_TOKEN`, else the token; only asked when a
/// team is).
pub struct RolloutGitHub {
    rt: tokio::runtime::Runtime,
    manager: (GitHub, String),
    teams: Option<GitHub>,
    ctx: RunContext,
}

impl RolloutGitHub {
    /// The clients, under GitHub Actions (`GITHUB_ACTIONS=true`); `None`
    /// outside (a command run by hand: its user is the actor).
    pub fn from_env(cx: &Context) -> Result<Option<RolloutGitHub>> {
        if !crate::ci::in_actions() {
            return Ok(None);
        }
        let ctx = RunContext::from_env();
        let rt = runtime()?;
        let manager = manager_client(&rt, &ctx, cx)?;
        let token = std::env::var("FLEETFORM_TEAMS_TOKEN")
            .ok()
            .and_then(Token::new)
            .or_else(Token::from_env);
        if let Some(t) = &token {
            cx.out.mask(t.expose());
        }
        let teams = token
            .map(|t| crate::flows::github_loop::session::client(&rt, Some(&t), false, cx))
            .transpose()
            .map_err(gh_err)?;
        Ok(Some(RolloutGitHub {
            rt,
            manager,
            teams,
            ctx,
        }))
    }

    /// The client for team membership, or why there is none.
    fn teams(&self) -> std::result::Result<&GitHub, String> {
        self.teams.as_ref().ok_or_else(|| {
            "no token to read team membership: set FLEETFORM_TEAMS_TOKEN (a token that can read the team's organisation)".to_string()
        })
    }

    /// The registry on the manager repo's default branch (1 request).
    pub fn registry(&self, manager: &Manager) -> Result<Registry> {
        let (gh, repo) = &self.manager;
        let rel = manager.config.registry.to_string_lossy().replace('\\', "/");
        let bytes = self
            .rt
            .block_on(gh.get_file(repo, &rel, None))
            .map_err(|e| {
                Error::failed(format!(
                    "reading `{rel}` on {repo}'s default branch: {e}; a rollout job works only with the registry there"
                ))
            })?
            .ok_or_else(|| Error::failed(format!("{repo} has no `{rel}` on its default branch")))?;
        let origin = format!("`{rel}` on {repo}'s default branch");
        Registry::parse(manager, &manager.path(&manager.config.registry), &bytes)
            .map(|r| r.with_origin(origin.clone()))
            .map_err(|e| Error::failed(format!("{origin}: {e}")))
    }

    /// The run's actor, when it (and whoever re-ran the run) is an active
    /// member of `rollout.operators`; else the refusal, naming the team.
    pub fn operator(&self, manager: &Manager, action: &str) -> Result<String> {
        let refuse = |why: String| Error::refused(format!("{why}; nothing was {action}"));
        let team = manager
            .config
            .rollout
            .as_ref()
            .and_then(|r| r.operators.clone())
            .ok_or_else(|| {
                refuse(
                    "on GitHub only active members of the operators team (`rollout.operators` in fleetform.yml) control rollouts, and none is named: set `rollout: {operators: org/team}`".to_string(),
                )
            })?;
        let actor = self
            .ctx
            .actor
            .clone()
            .ok_or_else(|| refuse("GITHUB_ACTOR is not set".into()))?;
        let mut who = vec![actor.clone()];
        if let Some(t) = std::env::var("GITHUB_TRIGGERING_ACTOR")
            .ok()
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case(&actor))
        {
            who.push(t);
        }
        let (org, slug) = team.split_once('/').unwrap_or((&team, ""));
        let teams = self.teams().map_err(refuse)?;
        for login in who {
            let member = self
                .rt
                .block_on(teams.is_team_member(org, slug, &login))
                .map_err(|e| {
                    refuse(format!(
                        "cannot check whether `{login}` is an active member of `{team}` (rollout.operators): {e}; FLEETFORM_TEAMS_TOKEN must be able to read the team's organisation"
                    ))
                })?;
            if !member {
                return Err(refuse(format!(
                    "`{login}` is not an active member of `{team}`, the operators team (rollout.operators)"
                )));
            }
        }
        Ok(actor)
    }

    /// The approval check of a tick (see the module docs), for a rollout
    /// whose change is `change`.
    pub fn gate<'a>(&'a self, manager: &'a Manager, change: ChangeCommits) -> Gate<'a> {
        Gate {
            gh: self,
            manager,
            change,
        }
    }
}

/// The commits a rollout's change is made of: its first-parent commits
/// from its base to its commit, newest first (the rollout's own commit
/// alone for a rollback), as the checkout's history has them.
#[derive(Debug, Clone)]
pub struct ChangeCommits {
    pub commits: Vec<String>,
    /// More than [`ChangeCommits::MAX`]: their authors are not all read.
    pub more: bool,
}

impl ChangeCommits {
    /// The most commits whose pull requests a tick reads (1 request each).
    pub const MAX: usize = 50;
}

/// [`ApprovalGate`] through the GitHub API.
pub struct Gate<'a> {
    gh: &'a RolloutGitHub,
    manager: &'a Manager,
    change: ChangeCommits,
}

impl ApprovalGate for Gate<'_> {
    fn approve(&self, s: &State, stage: &Stage) -> std::result::Result<Option<String>, Refusal> {
        let env = &stage.environment;
        let refused = |reason: String| Refusal {
            reason,
            wanted: None,
        };
        let environment = self
            .manager
            .environment(env)
            .ok_or_else(|| refused(format!("`{env}` is not an environment of fleetform.yml")))?;
        if environment.auto_apply {
            return Ok(None);
        }
        let change = self.change_of(s)?;
        match self.manager.approval_rule(env) {
            Some(rule) => self.pull_request_approvals(s, stage, rule, &change),
            None => {
                let (gh, ctx) = (&self.gh.manager, &self.gh.ctx);
                let answer = self.gh.rt.block_on(
                    crate::flows::github_loop::authorise::reviewed_by_excluding(
                        self.manager,
                        env,
                        ctx,
                        gh,
                        &change.authors,
                        None,
                    ),
                );
                match answer {
                    Ok(Ok(who)) => Ok(who),
                    Ok(Err(reason)) => Err(refused(reason)),
                    Err(e) => Err(refused(format!("cannot check the run's approval: {e}"))),
                }
            }
        }
    }
}

/// The change a rollout rolls out, as GitHub knows it: the pull request
/// that brought its commit in, and who wrote or pushed the change.
struct Change {
    pr: Option<u64>,
    /// The authors of the pull requests of the change's commits and who
    /// started the rollout (on a push, the pusher): never approvers of its
    /// waves.
    authors: Vec<String>,
}

impl Gate<'_> {
    /// The rollout's change (1 request per commit of it); failing closed
    /// when GitHub does not answer or the change has too many commits.
    fn change_of(&self, s: &State) -> std::result::Result<Change, Refusal> {
        let refused = |reason: String| Refusal {
            reason,
            wanted: None,
        };
        if self.change.more {
            return Err(refused(format!(
                "the change of rollout {} spans more than {} first-parent commits since its base, and the authors of their pull requests may not approve its waves: fleetform reads at most {} and does not guess the rest; roll out fewer changes at a time (let each merge's start run before the next merge)",
                s.id,
                ChangeCommits::MAX,
                ChangeCommits::MAX
            )));
        }
        let (gh, repo) = &self.gh.manager;
        let mut pr = None;
        let mut authors = Vec::new();
        let commits = match self.change.commits.is_empty() {
            true => std::slice::from_ref(&s.manager_sha),
            false => self.change.commits.as_slice(),
        };
        for sha in commits {
            let found = self
                .gh
                .rt
                .block_on(gh.authored_pull_of_commit(repo, sha))
                .map_err(|e| {
                    refused(format!(
                        "cannot find the pull request of {sha} (its author may not approve the waves): {e}"
                    ))
                })?;
            let Some((n, author)) = found else { continue };
            if *sha == s.manager_sha {
                pr = Some(n);
            }
            authors.extend(author);
        }
        authors.push(s.started_by.clone());
        let mut unique: Vec<String> = Vec::new();
        for a in authors {
            if !a.trim().is_empty() && !unique.iter().any(|u| u.eq_ignore_ascii_case(&a)) {
                unique.push(a);
            }
        }
        Ok(Change {
            pr,
            authors: unique,
        })
    }

    /// `approvals:` for the stage's environment: enough approvers of the
    /// stage's reviewed plans (their digest), after the newest of them was
    /// made, on the pull request that merged the rollout's change.
    fn pull_request_approvals(
        &self,
        s: &State,
        stage: &Stage,
        rule: &crate::config::ApprovalRule,
        change: &Change,
    ) -> std::result::Result<Option<String>, Refusal> {
        let refused = |reason: String| Refusal {
            reason,
            wanted: None,
        };
        let digest = s.stage_digest(stage).ok_or_else(|| {
            refused(format!(
                "`{}` needs approvals (fleetform.yml `approvals:`) of the wave's reviewed plans, and this stage has none: plan it with `rollout plan` and tick with --plans-from",
                stage.environment
            ))
        })?;
        let (gh, repo) = &self.gh.manager;
        let Some(pr) = change.pr else {
            return Err(refused(format!(
                "`{}` needs approvals on the pull request that brought the rollout's change, but {} came without one; merge manager changes through pull requests",
                stage.environment,
                crate::dispatch::short_sha(&s.manager_sha)
            )));
        };
        let planned_at = crate::audit::rfc3339(digest.planned_at);
        let ask = crate::flows::github_loop::approvals::Ask {
            repo,
            pr: Some(pr),
            digest: &digest.digest,
            planned_at: Some(&planned_at),
        };
        let teams = match rule.teams.is_empty() {
            // Listed users only: no team to ask about.
            true => gh,
            false => self.gh.teams().map_err(refused)?,
        };
        let answer = self
            .gh
            .rt
            .block_on(crate::flows::github_loop::approvals::check_excluding(
                gh,
                teams,
                rule,
                &ask,
                &change.authors,
            ));
        match answer {
            Ok(Ok(approvers)) => Ok(Some(approvers.join(", "))),
            Ok(Err(reason)) => Err(Refusal {
                reason: format!(
                    "the {} of wave `{}` in `{}` (sha256:{}): {reason}",
                    crate::util::text::count(digest.pairs, "plan", "plans"),
                    stage.wave,
                    stage.environment,
                    digest.digest
                ),
                wanted: Some(digest.digest),
            }),
            Err(e) => Err(refused(format!("cannot check the approvals: {e}"))),
        }
    }
}
