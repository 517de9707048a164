//! Comment commands: `/fleetform plan` or `/fleetform apply`, optionally
//! `-e <environment>`, written on a customer's pull request, re-run the
//! loop for that pull request's head.
//!
//! The customer's trigger (on `issue_comment`, `created` only) reads the
//! command with [`parse`], the pull request's head from GitHub, and sends
//! a signed dispatch (`event: issue_comment`) naming the comment's id. The
//! manager trusts none of the comment's content from the payload: [`admit`]
//! reads the comment from GitHub (its author, its text, its pull request),
//! refuses an edited one, parses it again, and checks that its author has
//! `write` (or `admin`) permission on the customer's repository; an apply
//! only for environments with `auto_apply: true` (approvals, where
//! `approvals:` asks for them, are checked by the apply as for any apply).
//! Each refusal is said on the pull request; an admitted command gets a
//! reaction on the comment.

use crate::config::{Customer, Manager};
pub use crate::dispatch::command::{parse, Command};
use crate::dispatch::Payload;
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::output::Output;
use crate::report::customer::{comment, Comment};

use super::comment::reply;
use super::event::{Dispatched, Stage};
use super::fetch::enabled_in_order;
use super::session::gh_err;

/// For a comment command's dispatch, the command, read from GitHub and
/// checked (see the module docs); `None` for any other dispatch. A refusal
/// is said on the pull request (a failed reply is only noted) and returned.
/// Cost: 3 requests (the comment, its author's permission, the pull
/// request), plus 1 for the reaction or the reply.
pub async fn admit(
    manager: &Manager,
    customer: &Customer,
    gh: &GitHub,
    dispatched: &Dispatched,
    stage: Stage,
    out: &Output,
) -> Result<Option<Command>> {
    let payload = &dispatched.payload;
    let (Some(id), Some(pr)) = (payload.comment, payload.pr) else {
        return Ok(None);
    };
    let repo = payload.customer_repo.as_str();
    let refuse = |why: String| Error::refused(format!("{why}; {}", stage.nothing_done()));
    let facts = gh
        .issue_comment(repo, id)
        .await
        .map_err(gh_err)?
        .ok_or_else(|| refuse(format!("comment {id} of {repo} does not exist (deleted?)")))?;
    if facts.issue != pr {
        return Err(refuse(format!(
            "comment {id} is on #{} of {repo}, not on #{pr}",
            facts.issue
        )));
    }
    let reply = Reply {
        gh,
        payload,
        pr,
        id,
        out,
    };
    let author = facts.author.as_str();
    let checked = if facts.edited {
        Err("the comment was edited after it was written; write a new one".to_string())
    } else {
        match parse(&facts.body) {
            None => Err(format!("this is not a command fleetform runs: {USAGE}")),
            Some(c) if c.event_type() != dispatched.event_type => {
                Err("the dispatch does not match the comment".into())
            }
            Some(c) => allowed(manager, customer, &c).map(|()| c),
        }
    };
    let command = match checked {
        Ok(c) => c,
        Err(why) => return Err(reply.refuse(why, refuse).await),
    };
    let permission = gh.permission_of(repo, author).await.map_err(gh_err)?;
    if !matches!(permission.as_str(), "write" | "admin") {
        let why = format!(
            "@{author} has `{permission}` permission on {repo}; comment commands need `write`"
        );
        return Err(reply.refuse(why, refuse).await);
    }
    if let Err(why) = own_branch(gh, repo, pr).await? {
        return Err(reply.refuse(why, refuse).await);
    }
    out.note(&format!(
        "comment command of @{author} ({permission}) on #{pr}: {}",
        describe(&command)
    ));
    if stage == Stage::Plan {
        reply
            .react(if command.apply { "rocket" } else { "eyes" })
            .await;
    }
    Ok(Some(command))
}

/// The pull request's head is a branch of `repo` itself, as GitHub has it
/// now (1 request): the manager's own fork check, whatever path the
/// dispatch came by. `Ok(Err(reason))` is a refusal.
pub(super) async fn own_branch(
    gh: &GitHub,
    repo: &str,
    pr: u64,
) -> Result<std::result::Result<(), String>> {
    Ok(match gh.pull_head(repo, pr).await.map_err(gh_err)? {
        None => Err(format!("#{pr} of {repo} is not a pull request")),
        Some(h) if h.is_own_branch() => Ok(()),
        Some(h) if h.head_repo_id.is_none() => Err(format!(
            "#{pr}'s head repository no longer exists, so it cannot be told to be {repo}; fleetform plans and applies only branches of {repo}"
        )),
        Some(_) => Err(format!(
            "#{pr} comes from another repository (a fork); fleetform plans and applies only branches of {repo}"
        )),
    })
}

const USAGE: &str = "`/fleetform plan` or `/fleetform apply`, optionally followed by `-e <environment>`, alone on one line";

fn describe(c: &Command) -> String {
    format!(
        "{} {}",
        if c.apply { "apply" } else { "plan" },
        c.environment
            .as_deref()
            .map_or("every environment".to_string(), |e| format!("`{e}`"))
    )
}

/// The named environment is enabled for the customer, and an apply only
/// goes where `auto_apply` lets it go without a reviewer.
fn allowed(manager: &Manager, customer: &Customer, c: &Command) -> std::result::Result<(), String> {
    let envs = match &c.environment {
        Some(e) if !customer.environments.contains(e) => {
            return Err(format!(
                "`{e}` is not an environment of `{}`",
                customer.slug
            ))
        }
        Some(e) => vec![e.clone()],
        None => enabled_in_order(manager, customer),
    };
    if !c.apply {
        return Ok(());
    }
    let held: Vec<String> = envs
        .iter()
        .filter(|e| !manager.environment(e).is_some_and(|x| x.auto_apply))
        .map(|e| format!("`{e}`"))
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    // Say which environments a comment may apply (issue #52), not only
    // which it may not.
    let may: Vec<String> = enabled_in_order(manager, customer)
        .into_iter()
        .filter(|e| manager.environment(e).is_some_and(|x| x.auto_apply))
        .map(|e| format!("`/fleetform apply -e {e}`"))
        .collect();
    let instead = match may.as_slice() {
        [] => format!(
            "no environment of `{}` applies from a comment (none has `auto_apply: true`)",
            customer.slug
        ),
        [one] => format!("a comment may apply only {one}"),
        many => format!("a comment may apply {}", many.join(" or ")),
    };
    Err(format!(
        "{} not `auto_apply`: {} only after the pull request is merged and the apply approved; {instead}",
        held.join(", "),
        if held.len() == 1 { "it applies" } else { "they apply" }
    ))
}

/// Answers on the pull request.
struct Reply<'a> {
    gh: &'a GitHub,
    payload: &'a Payload,
    pr: u64,
    id: u64,
    out: &'a Output,
}

impl Reply<'_> {
    async fn react(&self, content: &str) {
        let repo = &self.payload.customer_repo;
        if let Err(e) = self.gh.react_to_comment(repo, self.id, content).await {
            self.out
                .note(&format!("could not react to comment {}: {e}", self.id));
        }
    }

    /// A reply naming the refusal, then the refusal.
    async fn refuse(&self, why: String, refuse: impl Fn(String) -> Error) -> Error {
        let body = comment(&Comment::Refused {
            comment_id: self.id,
            why: &why,
        });
        let repo = &self.payload.customer_repo;
        if let Err(e) = reply(self.gh, repo, self.pr, &body).await {
            self.out
                .note(&format!("could not reply on #{}: {e}", self.pr));
        }
        refuse(why)
    }
}

/// For an apply of a comment command: the pull request is still open and
/// its head is still the planned commit (1 request). `Ok(Err(reason))` is
/// a refusal.
pub async fn still_pull_head(
    gh: &GitHub,
    payload: &Payload,
) -> Result<std::result::Result<(), String>> {
    let pr = payload.pr.unwrap_or_default();
    let head = gh
        .pull_head(&payload.customer_repo, pr)
        .await
        .map_err(gh_err)?;
    Ok(match head {
        Some(h) if !h.is_own_branch() => Err(format!(
            "#{pr}'s head is not a branch of {} (a fork, or a head repository deleted since)",
            payload.customer_repo
        )),
        Some(h) if h.open && h.head_sha == payload.sha => Ok(()),
        Some(h) if h.open => Err(format!(
            "stale plan: #{pr} is at {} now, not at the planned {}; comment again",
            crate::dispatch::short_sha(&h.head_sha),
            crate::dispatch::short_sha(&payload.sha)
        )),
        _ => Err(format!("#{pr} is no longer open")),
    })
}
