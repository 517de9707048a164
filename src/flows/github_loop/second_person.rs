//! The second person every change to infrastructure or state needs, on
//! the paths an operator starts (day-2 operations, targeted and replace
//! applies, offboarding): a preview made and sealed in one job, applied in
//! another only after someone other than who asked for it approved,
//! read from GitHub's own history and failing closed.
//!
//! Two kinds of evidence count, both written by GitHub, never by the
//! operator:
//!
//! - **A review of this run's deployment** to the apply environment
//!   (`GET .../actions/runs/{id}/approvals`) by someone other than who
//!   started or re-ran the run: the environment's required reviewers
//!   (GitHub Enterprise, or a public repository).
//! - **A confirming run** (`--confirms RUN`): where environments cannot
//!   have required reviewers (a private repository on Team/Pro), a second
//!   operator starts the same workflow naming the preview's run and typing
//!   its digest. GitHub says who started each run
//!   (`GET .../actions/runs/{id}`); no one who started or re-ran the
//!   preview run may start or re-run the confirming one.
//!
//! Outside GitHub Actions there is no second person to ask: the change
//! runs only with `--unreviewed`, and the audit log says so.

use crate::audit::Approval;
use crate::ci::RunContext;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::github::{GitHub, WorkflowRun};
use crate::policy::approval::{approver, Dispatchers};

use super::session::{manager_client, runtime};

/// What the second person is asked to let through.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// The GitHub environment the applying job runs in (`<env>-apply`,
    /// `fleetform-offboard`).
    pub environment: &'a str,
    /// `--confirms RUN`: the preview's run, started by someone else.
    pub confirms: Option<u64>,
    /// `--unreviewed`: a workstation run with no second person.
    pub unreviewed: bool,
    /// Past participle for refusals: "applied", "changed", "destroyed".
    pub done: &'a str,
}

/// Who asked and who let it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Who let it through (`None` for `--unreviewed`).
    pub approver: Option<String>,
    /// Who asked for it (started the preview).
    pub requester: String,
    pub approval: Approval,
}

impl Verdict {
    /// The audit line's words for it: `approved by b (asked by a)`.
    pub fn describe(&self) -> String {
        match &self.approver {
            Some(a) => format!("approved by {a} (asked by {})", self.requester),
            None => format!("unreviewed: run by {} with --unreviewed", self.requester),
        }
    }
}

/// The verdict for `ask`, or the refusal (nothing was `ask.done`).
pub fn check(ask: &Ask<'_>, cx: &Context) -> Result<Verdict> {
    if !crate::ci::in_actions() {
        return local(ask);
    }
    if ask.unreviewed {
        return Err(Error::refused(format!(
            "--unreviewed is for a workstation: on GitHub Actions a second person approves; nothing was {}",
            ask.done
        )));
    }
    let ctx = RunContext::from_env();
    let rt = runtime()?;
    let (gh, repo) = manager_client(&rt, &ctx, cx)?;
    let this_run = run_id(&ctx)?;
    let verdict = match ask.confirms {
        None => rt.block_on(reviewed(&gh, &repo, this_run, &ctx, ask)),
        Some(preview) => rt.block_on(confirmed(&gh, &repo, preview, this_run, &ctx)),
    };
    verdict.map_err(|why| Error::refused(format!("{why}; nothing was {}", ask.done)))
}

/// Outside Actions: only with `--unreviewed`.
fn local(ask: &Ask<'_>) -> Result<Verdict> {
    if !ask.unreviewed {
        return Err(Error::refused(
            Say::new(format!(
                "this change needs a second person, which only a GitHub Actions run can show; nothing was {}",
                ask.done
            ))
            .help("run it from the manager's workflow, or, on a workstation where no one else can review, add --unreviewed (the audit log records it as unreviewed)"),
        ));
    }
    if ask.confirms.is_some() {
        return Err(Error::usage(
            "--confirms names a GitHub Actions run and only works inside one",
        ));
    }
    Ok(Verdict {
        approver: None,
        requester: crate::audit::Entry::now("state", "").actor,
        approval: Approval::Unreviewed,
    })
}

fn run_id(ctx: &RunContext) -> Result<u64> {
    ctx.run_id
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            Error::usage("GITHUB_RUN_ID is not set to a run number: the second person is read from the run's history")
        })
}

/// Who started or re-ran this run.
fn starters(ctx: &RunContext) -> Vec<String> {
    let mut who: Vec<String> = ctx.actor.iter().cloned().collect();
    if let Ok(t) = std::env::var("GITHUB_TRIGGERING_ACTOR") {
        if !t.is_empty() && !who.iter().any(|w| w.eq_ignore_ascii_case(&t)) {
            who.push(t);
        }
    }
    who
}

/// A review of this run's deployment to the environment by someone who
/// did not start or re-run it.
async fn reviewed(
    gh: &GitHub,
    repo: &str,
    run: u64,
    ctx: &RunContext,
    ask: &Ask<'_>,
) -> std::result::Result<Verdict, String> {
    let reviews = gh
        .run_reviews(repo, run)
        .await
        .map_err(|e| format!("cannot read who approved run {run} (its deployment reviews): {e}"))?;
    let who = starters(ctx);
    let requester = who.first().cloned().ok_or("GITHUB_ACTOR is not set")?;
    let dispatchers = Dispatchers::new(who.into_iter().map(Some));
    match approver(&reviews, ask.environment, &dispatchers, run) {
        Ok(login) => Ok(Verdict {
            approver: Some(login),
            requester,
            approval: Approval::Approved,
        }),
        Err(why) => Err(format!(
            "{why}; where environments cannot have required reviewers (a private repository on GitHub Team or Pro), another operator confirms instead: they run this workflow with `confirms: {run}` and the digest"
        )),
    }
}

/// This run confirms the preview of run `preview`: the same workflow,
/// started by other people.
async fn confirmed(
    gh: &GitHub,
    repo: &str,
    preview: u64,
    this_run: u64,
    ctx: &RunContext,
) -> std::result::Result<Verdict, String> {
    if preview == this_run {
        return Err(format!(
            "run {this_run} cannot confirm itself: --confirms names the run of the preview"
        ));
    }
    let ours = workflow_path(ctx)?;
    let theirs = gh
        .workflow_run(repo, preview)
        .await
        .map_err(|e| format!("cannot read run {preview} (the preview to confirm): {e}"))?;
    if theirs.path != ours {
        return Err(format!(
            "run {preview} is of `{}`, not of `{ours}`: only a preview of this workflow is confirmed here",
            theirs.path
        ));
    }
    // The preview a second person confirms is one an operator started by
    // hand on the default branch: the reviewed code made it, and no run of
    // another branch or event (which the branch policies do not hold back)
    // stands in for it.
    if theirs.event.as_deref() != Some("workflow_dispatch") {
        return Err(format!(
            "run {preview} was started by `{}`, not by an operator (workflow_dispatch): only a preview an operator started is confirmed",
            theirs.event.as_deref().unwrap_or("an unknown event")
        ));
    }
    let default = gh
        .repo_info(repo)
        .await
        .map_err(|e| format!("cannot read {repo}'s default branch: {e}"))?
        .default_branch;
    if theirs.head_branch.as_deref() != Some(default.as_str()) {
        return Err(format!(
            "run {preview} ran on `{}`, not on the default branch `{default}`: only a preview made by the default branch's code is confirmed",
            theirs.head_branch.as_deref().unwrap_or("no branch")
        ));
    }
    let who = starters(ctx);
    if let Some(both) = started_both(&theirs, &who) {
        return Err(format!(
            "`{both}` started the preview (run {preview}) and this run: a second person, who neither started nor re-ran the preview, confirms it"
        ));
    }
    let approver = who.first().cloned().ok_or("GITHUB_ACTOR is not set")?;
    Ok(Verdict {
        approver: Some(approver),
        requester: theirs.actor,
        approval: Approval::Approved,
    })
}

/// Someone among this run's starters who also started or re-ran the
/// preview.
fn started_both(preview: &WorkflowRun, ours: &[String]) -> Option<String> {
    ours.iter()
        .find(|o| {
            o.eq_ignore_ascii_case(&preview.actor)
                || o.eq_ignore_ascii_case(&preview.triggering_actor)
        })
        .cloned()
}

/// This run's workflow file (`.github/workflows/x.yml`) from
/// `GITHUB_WORKFLOW_REF` (`owner/repo/.github/workflows/x.yml@ref`).
fn workflow_path(ctx: &RunContext) -> std::result::Result<String, String> {
    let full = std::env::var("GITHUB_WORKFLOW_REF").map_err(|_| {
        "GITHUB_WORKFLOW_REF is not set: the confirming run's workflow is unknown".to_string()
    })?;
    let repo = ctx.repository.as_deref().unwrap_or_default();
    full.strip_prefix(repo)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.split_once('@'))
        .map(|(path, _)| path.to_string())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("GITHUB_WORKFLOW_REF `{full}` does not name a workflow of {repo}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(actor: &str, triggering: &str) -> WorkflowRun {
        WorkflowRun {
            id: 7,
            path: ".github/workflows/manager-ops.yml".into(),
            actor: actor.into(),
            triggering_actor: triggering.into(),
            head_branch: Some("main".into()),
            event: Some("workflow_dispatch".into()),
            created_at: None,
        }
    }

    #[test]
    fn whoever_started_or_reran_the_preview_cannot_confirm_it() {
        let ours = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(started_both(&run("alice", "alice"), &ours(&["bob"])), None);
        assert_eq!(
            started_both(&run("alice", "alice"), &ours(&["Alice"])).as_deref(),
            Some("Alice")
        );
        // Bob re-ran Alice's preview: he asked for it too.
        assert_eq!(
            started_both(&run("alice", "bob"), &ours(&["bob"])).as_deref(),
            Some("bob")
        );
        // Bob started the confirmation, Alice re-ran it.
        assert_eq!(
            started_both(&run("alice", "alice"), &ours(&["bob", "alice"])).as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn outside_actions_only_with_unreviewed() {
        let ask = Ask {
            environment: "staging-apply",
            confirms: None,
            unreviewed: false,
            done: "changed",
        };
        let e = local(&ask).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.help.as_deref().is_some_and(|h| h.contains("--unreviewed"))),
            "{e:?}"
        );
        let v = local(&Ask {
            unreviewed: true,
            ..ask.clone()
        })
        .unwrap();
        assert_eq!(v.approval, Approval::Unreviewed);
        assert_eq!(v.approver, None);
        let e = local(&Ask {
            unreviewed: true,
            confirms: Some(3),
            ..ask
        })
        .unwrap_err();
        assert!(matches!(e, Error::Usage(_)));
    }
}
