//! What the relay answers a customer's trigger about the customer's own
//! run (its registration, its pull request, its comment), which the
//! trigger prints in the customer's log: each refusal's HTTP status, its
//! stable `error` code and its wording. The relay's protocol errors (a
//! body too large, a wrong method, a bad webhook signature: the caller's
//! HTTP, not the customer's situation) stay with the server in
//! `src/relay/`.

use super::CustomerText;

/// The hint that closes every refusal only the provider can lift.
pub const CONTACT_PROVIDER: &str = "contact the provider";

/// A refusal about the customer's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// The registry's entry for the repository is revoked.
    Revoked { slug: &'a str },
    /// No registry entry has the token's repository.
    UnknownRepo { repo: &'a str },
    /// The entry's `repo_id` is another repository's (deleted and created
    /// again).
    RegisteredIdDiffers { repo: &'a str, slug: &'a str },
    /// The entry has no `repo_id`.
    NoRepoId { slug: &'a str },
    /// The OIDC token was used before.
    TokenUsed,
    /// The pull request's head is in another repository.
    Fork { repo: &'a str, pr: u64 },
    /// The pull request moved on since the run's commit.
    StaleHead { pr: u64 },
    /// The repository has no such pull request.
    NoPullRequest { repo: &'a str, pr: u64 },
    /// The run names another pull request than its own.
    WrongPullRequest { run: u64, named: u64 },
    /// A run not on a branch.
    NotABranch,
    /// A run of an event the relay does not dispatch (name filtered).
    UnsupportedEvent { event: &'a str },
    /// A comment on a run that is not `issue_comment`.
    NotACommentRun,
    /// An `issue_comment` run without its comment's id.
    CommentNotNamed,
    /// No comment of that id on a pull request of the repository.
    NoComment { repo: &'a str, id: u64 },
    /// The comment is on another pull request than the one named.
    CommentElsewhere { repo: &'a str, id: u64, on: u64 },
    /// The comment, as GitHub has it, is not a command.
    NotACommand { repo: &'a str, id: u64 },
    /// The comment's issue is not a pull request.
    NotAPullRequest { repo: &'a str, number: u64 },
    /// The pull request is closed.
    ClosedPullRequest { repo: &'a str, pr: u64 },
    /// The pull request's head repository is gone (deleted or made
    /// inaccessible): whose branch it is cannot be told.
    HeadRepoGone { repo: &'a str, pr: u64 },
    /// The comment's author may not write to the repository.
    NotAWriter {
        repo: &'a str,
        login: &'a str,
        permission: &'a str,
    },
    /// A file named in `files` is not one fleetform reads.
    NotAReadFile { file: &'a str },
}

impl Refusal<'_> {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        use Refusal::*;
        match self {
            Revoked { .. } | UnknownRepo { .. } | RegisteredIdDiffers { .. } | NoRepoId { .. } => {
                403
            }
            Fork { .. } | HeadRepoGone { .. } => 403,
            NotAWriter { .. } => 403,
            NotAReadFile { .. } => 400,
            TokenUsed | StaleHead { .. } | ClosedPullRequest { .. } => 409,
            NoPullRequest { .. } | NoComment { .. } => 404,
            WrongPullRequest { .. } | NotABranch | UnsupportedEvent { .. } | NotACommentRun => 400,
            CommentNotNamed | CommentElsewhere { .. } | NotACommand { .. } => 400,
            NotAPullRequest { .. } => 400,
        }
    }

    /// The stable `error` code of the answer.
    pub fn code(&self) -> &'static str {
        use Refusal::*;
        match self {
            Revoked { .. } => "revoked",
            UnknownRepo { .. } => "unknown_repo",
            RegisteredIdDiffers { .. } => "repo_id_mismatch",
            NoRepoId { .. } => "no_repo_id",
            TokenUsed => "token_used",
            Fork { .. } => "fork",
            StaleHead { .. } => "stale_pr_head",
            NoPullRequest { .. } => "no_pr",
            WrongPullRequest { .. } | CommentElsewhere { .. } => "wrong_pr",
            NotABranch => "not_a_branch",
            UnsupportedEvent { .. } => "unsupported_event",
            NotACommentRun => "not_a_comment_run",
            CommentNotNamed | NoComment { .. } => "no_comment",
            NotACommand { .. } => "not_a_command",
            NotAPullRequest { .. } => "not_a_pull_request",
            ClosedPullRequest { .. } => "closed_pr",
            HeadRepoGone { .. } => "fork",
            NotAWriter { .. } => "not_a_writer",
            NotAReadFile { .. } => "bad_files",
        }
    }

    /// The wording, one line, neutralised for the runner's log.
    pub fn message(&self) -> CustomerText {
        CustomerText::answer(&self.words())
    }

    fn words(&self) -> String {
        use Refusal::*;
        match self {
            Revoked { slug } => format!("customer `{slug}` is revoked; {CONTACT_PROVIDER}"),
            UnknownRepo { repo } => format!("{repo} is not a registered customer repository; {CONTACT_PROVIDER}"),
            RegisteredIdDiffers { repo, slug } => format!("{repo} is not the repository registered for `{slug}` (its id differs: the repository was deleted and created again); the provider must register it anew"),
            NoRepoId { slug } => format!("`{slug}` is registered without `repo_id`; the provider must add it (`fleetform customers add` resolves it, `fleetform doctor` shows it)"),
            TokenUsed => "this OIDC token was already used for a dispatch; run the trigger again for a new one".into(),
            Fork { repo, pr } => format!("pull request #{pr} comes from another repository; only branches of {repo} are planned"),
            StaleHead { pr } => format!("pull request #{pr}'s head is not the commit this run is on (it moved on, or the run is not for it); the run for the new head dispatches it"),
            NoPullRequest { repo, pr } => format!("{repo} has no pull request #{pr}"),
            WrongPullRequest { run, named } => format!("the run is for pull request #{run}, not #{named}"),
            NotABranch => "only runs on a branch (refs/heads/...) are dispatched".into(),
            UnsupportedEvent { event } => {
                let event: String = event
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(40)
                    .collect();
                format!("runs of `{event}` events are not dispatched (push, pull_request, workflow_dispatch, issue_comment are)")
            }
            NotACommentRun => "only an `issue_comment` run names a `comment`".into(),
            CommentNotNamed => "an `issue_comment` run names its comment (`comment`: the comment's id); update the trigger action".into(),
            NoComment { repo, id } => format!("{repo} has no comment {id} on a pull request (a comment command names a comment of the repository its run is in)"),
            CommentElsewhere { repo, id, on } => format!("comment {id} is on #{on} of {repo}, not on the pull request named"),
            NotACommand { repo, id } => format!("comment {id} of {repo} is not a fleetform command (`/fleetform plan` or `/fleetform apply`, optionally `-e <environment>`, alone on one line)"),
            NotAPullRequest { repo, number } => format!("#{number} of {repo} is not a pull request: comment commands run on pull requests only"),
            ClosedPullRequest { repo, pr } => format!("pull request #{pr} of {repo} is closed: nothing to run"),
            HeadRepoGone { repo, pr } => format!("pull request #{pr}'s head repository no longer exists, so it cannot be told to be {repo}; only branches of {repo} are planned (push the branch to {repo} and open a new pull request)"),
            NotAWriter { repo, login, permission } => format!("@{login} has `{permission}` permission on {repo}; comment commands need `write`"),
            NotAReadFile { file } => format!("`files` names `{file}`, which is not a file fleetform reads (the variables file and each environment's override file); update the trigger action"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refusal, with hostile names where it takes any.
    fn all(s: &str) -> Vec<Refusal<'_>> {
        use Refusal::*;
        vec![
            Revoked { slug: s },
            UnknownRepo { repo: s },
            RegisteredIdDiffers { repo: s, slug: s },
            NoRepoId { slug: s },
            TokenUsed,
            Fork { repo: s, pr: 7 },
            StaleHead { pr: 7 },
            NoPullRequest { repo: s, pr: 7 },
            WrongPullRequest { run: 7, named: 8 },
            NotABranch,
            UnsupportedEvent { event: s },
            NotACommentRun,
            CommentNotNamed,
            NoComment { repo: s, id: 9 },
            CommentElsewhere {
                repo: s,
                id: 9,
                on: 7,
            },
            NotACommand { repo: s, id: 9 },
            NotAPullRequest { repo: s, number: 7 },
            ClosedPullRequest { repo: s, pr: 7 },
            HeadRepoGone { repo: s, pr: 7 },
            NotAWriter {
                repo: s,
                login: s,
                permission: s,
            },
            NotAReadFile { file: s },
        ]
    }

    #[test]
    fn refusals_are_one_neutral_line_within_the_limit() {
        let hostile = format!("a\n::error::x ##[warning]y {}", "z".repeat(2_000));
        for r in all(&hostile) {
            let m = r.message();
            let m = m.as_str();
            assert!(m.chars().count() <= super::super::ANSWER_LIMIT, "{r:?}");
            assert!(!m.contains('\n') && !m.contains("##["), "{r:?}: {m}");
            assert!(!m.trim_start().starts_with("::"), "{r:?}: {m}");
            assert!((400..500).contains(&r.status()), "{r:?}");
            assert!(!r.code().is_empty());
        }
        // Plain names read as they are, whole.
        let m = Refusal::Revoked { slug: "acme" }.message();
        assert_eq!(
            m.as_str(),
            "customer `acme` is revoked; contact the provider"
        );
        let long =
            "an-organisation-name-of-thirty9/a-repository-name-of-sixty-characters-to-be-long";
        for r in all(long) {
            assert!(!r.message().as_str().ends_with('…'), "{r:?}");
        }
    }
}
