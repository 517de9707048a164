//! The checks an apply makes before Terraform runs: the sealed artifact
//! is this dispatch's, the identity is the plan's, the pull request's
//! approvals, and the plan is not stale.

use super::*;

impl ApplyRun<'_> {
    /// The files the apply checks are the sealed ones from the artifact,
    /// and the plan is of this dispatch's repo and sha.
    pub(super) async fn open_artifact(&self, key: &ArtifactKey) -> Result<GitHubRecord> {
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
    pub(super) async fn same_identity(&self) -> Result<()> {
        let now = self
            .manager
            .identities_of(self.customer, self.env())
            .map_err(|m| Error::failed(format!("the cloud identity: {m}")))?;
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
    /// [`super::approvals`]); who they were and when it was approved, or
    /// the refusal.
    pub(super) async fn approved_on_the_pull_request(
        &self,
        record: &GitHubRecord,
    ) -> Result<(Vec<String>, Option<String>)> {
        let Some(rule) = self.manager.approval_rule(self.env()) else {
            return Ok((Vec::new(), None));
        };
        let ask = super::super::approvals::Ask {
            repo: &self.payload().customer_repo,
            pr: record.pr,
            digest: &self.digest,
            planned_at: record.planned_at.as_deref(),
        };
        let teams = match (self.teams, rule.teams.is_empty()) {
            (Some(teams), _) => teams,
            // Users only: no team is ever read.
            (None, true) => self.gh(),
            (None, false) => {
                return Err(self
                    .refuse(
                        crate::error::Say::new(format!(
                            "approvals by team ({}) need a token that reads the provider's teams; this job has no {}",
                            rule.teams.join(", "),
                            super::TEAMS_TOKEN_VAR
                        ))
                        .help(format!(
                            "store a token with the organisation's Members: read as the secret {} of this job's environment (the apply action's teams-token input); the customer's token cannot read the provider's teams",
                            super::TEAMS_TOKEN_VAR
                        )),
                    )
                    .await)
            }
        };
        match super::super::approvals::check(self.gh(), teams, rule, &ask).await? {
            Ok((approvers, at)) => {
                self.cx.out.note(&format!(
                    "{}: approved on the pull request by {}",
                    self.label(),
                    approvers.join(", ")
                ));
                Ok((approvers, at))
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

    /// The manager code this run applies with is not older than what the
    /// pair's last deployment record says it was applied with: "Re-run
    /// failed jobs" of a weeks-old run (any manager writer may, for 30
    /// days) would otherwise apply a plan made with an older manager
    /// commit over a newer one. Older is an ancestor in the checkout's
    /// history (the templates fetch it whole); a recorded commit the
    /// history does not hold (a rewritten branch) is only noted.
    pub(super) async fn not_behind_the_last_apply(&self) -> Result<()> {
        let Some(now) = self.session.ctx.sha.as_deref() else {
            return Ok(());
        };
        let store = crate::records::Store::for_customer_role(self.manager, &self.cx.net);
        let unit = self.manager.unit(&self.customer.slug, self.env());
        let last = match crate::records::last_deployment(&store, &unit) {
            Ok(last) => last,
            Err(e) => {
                return Err(self
                    .refuse(format!(
                        "the last deployment record of {} cannot be read ({e}), so whether this run's manager code is older than the applied one cannot be told",
                        self.label()
                    ))
                    .await)
            }
        };
        let Some(applied) = last.and_then(|d| d.manager_sha) else {
            return Ok(());
        };
        if applied == now {
            return Ok(());
        }
        match crate::util::git::is_ancestor(&self.manager.root, now, &applied) {
            Ok(true) => Err(self
                .refuse(
                    crate::error::Say::new(format!(
                        "this run's manager commit {} is older than {}, which {} was last applied with: applying now would roll it back to older manager code",
                        crate::dispatch::short_sha(now),
                        crate::dispatch::short_sha(&applied),
                        self.label()
                    ))
                    .help("push to the customer's repository again (or re-run its trigger) for a plan with the current manager code"),
                )
                .await),
            Ok(false) => Ok(()),
            Err(e) => {
                self.cx.out.note(&format!(
                    "{}: the last apply's manager commit {} is not in this checkout's history ({e}); not compared",
                    self.label(),
                    crate::dispatch::short_sha(&applied)
                ));
                Ok(())
            }
        }
    }

    pub(super) async fn not_stale(&self) -> Result<()> {
        let (gh, payload, env) = (self.gh(), self.payload(), self.env());
        if payload.comment.is_some() {
            // A comment command applies the pull request's head.
            return match super::super::comment_command::still_pull_head(gh, payload).await? {
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
        // Every file the plan was made from, its secrets file included.
        let read = self.manager.files_planned_from(env);
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
        self.cx.out.note(&format!(
            "`{branch}` moved to {} after the plan, without changing the files fleetform reads; applying the plan of {}",
            short_sha(&head),
            short_sha(&payload.sha)
        ));
        Ok(())
    }
}
