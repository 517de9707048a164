//! `doctor --inbox OWNER/NAME`: each customer's inbox repo read with the
//! manager's token (the provider's repos, not the customers'), judged by
//! `doctor::inbox_checks`.
//!
//! API budget per inbox repo: 1 (repo) + 1 (environments) + 1 (repository
//! secrets) + 1 (repository variables) + 1 + 1 per ruleset, and with
//! `fleetform-inbox` +1 (its secrets) +1 (its variables) +1 when its branch
//! policy is a custom one.

use crate::doctor::facts::InboxFacts;
use crate::doctor::{self, Check, INBOX_ENVIRONMENT, MANAGER_REPO};
use crate::github::{GitHub, GitHubError};

/// Reads every inbox repo in turn.
pub(super) async fn read_inboxes(gh: &GitHub, repos: &[String]) -> Vec<InboxFacts> {
    let mut out = Vec::new();
    for repo in repos {
        out.push(read_inbox(gh, repo).await);
    }
    out
}

/// Every inbox repo, unread for one reason (GitHub could not be reached).
pub(super) fn unread_inboxes(repos: &[String], reason: &str) -> Vec<InboxFacts> {
    let e = reason.to_string();
    repos
        .iter()
        .map(|repo| InboxFacts {
            repo: repo.clone(),
            default_branch: Err(e.clone()),
            environments: Err(e.clone()),
            repo_secrets: Err(e.clone()),
            environment_secrets: None,
            manager_repo: Err(e.clone()),
            rulesets: Err(e.clone()),
        })
        .collect()
}

/// The rows of every inbox repo.
pub(super) fn checks(manager: &str, inboxes: &[InboxFacts]) -> Vec<Check> {
    inboxes
        .iter()
        .flat_map(|f| doctor::inbox_checks(manager, f))
        .collect()
}

/// One inbox repo's settings; a read that fails is kept as its message.
async fn read_inbox(gh: &GitHub, repo: &str) -> InboxFacts {
    let text = |e: GitHubError| e.to_string();
    let default_branch = gh
        .repo_info(repo)
        .await
        .map(|i| i.default_branch)
        .map_err(text);
    let environments = gh.environments(repo).await.map_err(text);
    let exists = environments
        .as_ref()
        .is_ok_and(|envs| envs.iter().any(|e| e.name == INBOX_ENVIRONMENT));
    let environment_secrets = match exists {
        true => Some(
            gh.environment_secret_names(repo, INBOX_ENVIRONMENT)
                .await
                .map_err(text),
        ),
        false => None,
    };
    // A job sees the environment's variable over the repository's.
    let own = match (&environments, exists) {
        (Err(e), _) => Err(format!("the environments were not read: {e}")),
        (Ok(_), true) => gh
            .variable_value(repo, Some(INBOX_ENVIRONMENT), MANAGER_REPO)
            .await
            .map_err(text),
        (Ok(_), false) => Ok(None),
    };
    let repository = gh
        .variable_value(repo, None, MANAGER_REPO)
        .await
        .map_err(text);
    InboxFacts {
        repo: repo.to_string(),
        default_branch,
        environments,
        repo_secrets: gh.repo_secret_names(repo).await.map_err(text),
        environment_secrets,
        manager_repo: match own {
            Ok(None) => repository,
            own => own,
        },
        rulesets: gh.rulesets(repo).await.map_err(text),
    }
}
