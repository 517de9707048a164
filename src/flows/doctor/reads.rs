//! What doctor reads beyond the manager's own environments: the template
//! environments that exist (their secrets' and variables' names, the
//! repository's variables with fleetform's pins' values) and the refs
//! the workflows pin fleetform's actions to.

use std::collections::BTreeMap;

use crate::config::Manager;
use crate::doctor;
use crate::doctor::facts::Fetched;
use crate::github::GitHub;

/// What the template environments that exist hold: their secrets' and
/// variables' names, and the repository's variables when one needs some.
pub(super) struct TemplateFacts {
    pub secrets: Vec<(String, Fetched<Vec<String>>)>,
    pub variables: Vec<(String, Fetched<Vec<String>>)>,
    pub repo_variables: Fetched<Vec<String>>,
    /// The values of fleetform's pins among them.
    pub pinned: Vec<(String, String)>,
}

/// Reads [`TemplateFacts`]: 1 request per existing template environment
/// with secrets, 1 per one needing variables, and 1 for the repository's
/// variables when any does or `repo_variables` asks for them.
pub(super) async fn read_template_environments(
    gh: &GitHub,
    repo: &str,
    manager: &Manager,
    environments: &std::result::Result<Vec<crate::doctor::facts::EnvironmentFacts>, String>,
    repo_variables: bool,
) -> TemplateFacts {
    let text = |e: crate::github::GitHubError| e.to_string();
    let mut facts = TemplateFacts {
        secrets: Vec::new(),
        variables: Vec::new(),
        repo_variables: Err("not read: no template environment needs variables".into()),
        pinned: Vec::new(),
    };
    let read_repo_variables = |facts: &mut TemplateFacts, read| match read {
        Ok((names, pinned)) => {
            facts.repo_variables = Ok(names);
            facts.pinned = pinned;
        }
        Err(e) => facts.repo_variables = Err(text(e)),
    };
    if repo_variables {
        let read = gh.repo_variables(repo, &doctor::PINNED_VARIABLES).await;
        read_repo_variables(&mut facts, read);
    }
    let Ok(envs) = environments else {
        return facts;
    };
    let existing = doctor::TEMPLATE_ENVIRONMENTS
        .iter()
        .filter(|x| envs.iter().any(|e| e.name == x.name));
    for x in existing {
        if !x.secrets.is_empty() {
            let names = gh.environment_secret_names(repo, x.name).await;
            facts
                .secrets
                .push((x.name.to_string(), names.map_err(text)));
        }
        if !x.variables_needed(manager).is_empty() {
            let names = gh.environment_variable_names(repo, x.name).await;
            facts
                .variables
                .push((x.name.to_string(), names.map_err(text)));
        }
    }
    if !facts.variables.is_empty() && !repo_variables {
        let read = gh.repo_variables(repo, &doctor::PINNED_VARIABLES).await;
        read_repo_variables(&mut facts, read);
    }
    facts
}

/// The refs the manager checkout's workflows pin fleetform's actions
/// to, and whether GitHub resolves each (1 to 2 requests per ref).
pub(super) async fn read_action_refs(
    gh: &GitHub,
    manager: &Manager,
) -> (
    Vec<doctor::PinnedRef>,
    BTreeMap<(String, String), Fetched<bool>>,
) {
    let pinned = doctor::pinned_refs(&doctor::workflows(&manager.root));
    let mut resolved = BTreeMap::new();
    for p in &pinned {
        let found = gh
            .ref_resolves(&p.repo, &p.reference)
            .await
            .map_err(|e| e.to_string());
        resolved.insert((p.repo.clone(), p.reference.clone()), found);
    }
    (pinned, resolved)
}
