//! The repository settings `doctor --fix` sets besides environments:
//! a ruleset ("Create a repository ruleset"), the default workflow
//! permissions ("Set default workflow permissions for a repository") and
//! secret scanning with push protection (`security_and_analysis` of
//! "Update a repository"). Each needs an admin (Administration write),
//! as GitHub's pages for them say, and a repository variable, which a
//! collaborator may set; what GitHub refuses, the fake refuses, each
//! rule with its page.

use serde_json::{json, Value};

use super::handlers::{Answer, Ctx};
use super::settings::Ruleset;
use super::state::{repo_key, State};
use super::FakeGitHub;

/// Whether secret scanning and its push protection are on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretScanning {
    pub scanning: bool,
    pub push_protection: bool,
}

impl FakeGitHub {
    /// Secret scanning and push protection of `repo` (both off unless set).
    pub fn set_secret_scanning(&self, repo: &str, to: SecretScanning) {
        self.state().seeded(repo).settings.secret_scanning = to;
    }

    /// What `repo`'s secret scanning is now.
    pub fn secret_scanning(&self, repo: &str) -> SecretScanning {
        self.state().seeded(repo).settings.secret_scanning
    }

    /// Remove environment `name` of `repo` (with its secrets).
    pub fn delete_environment(&self, repo: &str, name: &str) {
        self.state().seeded(repo).settings.environments.remove(name);
    }

    /// The value of `repo`'s own Actions variable `name`, if set.
    pub fn repo_variable(&self, repo: &str, name: &str) -> Option<String> {
        let st = self.state();
        let s = &st.repo(repo)?.settings;
        s.variables.contains(name).then(|| {
            s.variable_values
                .get(&(String::new(), name.to_string()))
                .cloned()
                .unwrap_or_default()
        })
    }

    /// `repo`'s rulesets, in creation order.
    pub fn rulesets(&self, repo: &str) -> Vec<Ruleset> {
        let st = self.state();
        st.repo(repo)
            .map(|r| r.settings.rulesets.iter().map(|(_, r)| r.clone()).collect())
            .unwrap_or_default()
    }

    /// The default `GITHUB_TOKEN` permission and whether Actions may
    /// approve pull requests.
    pub fn workflow_permissions(&self, repo: &str) -> (String, bool) {
        self.state()
            .seeded(repo)
            .settings
            .workflow_permissions
            .clone()
    }
}

/// The `security_and_analysis` block of `GET /repos/{owner}/{repo}`,
/// shown to admins only ("In order to see the security_and_analysis
/// block for a repository you must have admin permissions for the
/// repository", the `security_and_analysis` field of "Get a repository").
pub(crate) fn security_and_analysis(
    state: &State,
    full_name: &str,
    s: SecretScanning,
) -> Option<Value> {
    if state.not_admin.contains(&repo_key(full_name)) {
        return None;
    }
    let status = |on: bool| json!({ "status": if on { "enabled" } else { "disabled" } });
    Some(json!({
        "secret_scanning": status(s.scanning),
        "secret_scanning_push_protection": status(s.push_protection),
    }))
}

/// The writes served here; `None` for every other operation.
pub(crate) fn write(state: &mut State, repo_name: &str, ctx: &Ctx) -> Option<Answer> {
    if !matches!(
        ctx.op,
        "repos/create-repo-ruleset"
            | "actions/set-github-actions-default-workflow-permissions-repository"
            | "repos/update"
            | "actions/create-repo-variable"
            | "actions/update-repo-variable"
    ) {
        return None;
    }
    // "Authenticated users must have collaborator access to a repository
    // to create, update, or read variables": no admin needed.
    if ctx.op.ends_with("-repo-variable") {
        state.repo(repo_name)?;
        return Some(set_variable(state, repo_name, ctx));
    }
    let private = state.repo(repo_name)?.private;
    let owner = state.repo(repo_name)?.owner.clone();
    // Each page: "The fine-grained token must have ... Administration
    // repository permissions (write)"; a user without it gets 403.
    if state.not_admin.contains(&repo_key(repo_name)) {
        return Some(Answer::error(403, "Must have admin rights to Repository."));
    }
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    Some(match ctx.op {
        "repos/create-repo-ruleset" if private && state.on_free_plan(&owner) => Answer::error(
            403,
            "Upgrade to GitHub Pro or make this repository public to enable this feature.",
        ),
        "repos/create-repo-ruleset" => create_ruleset(state, repo_name, &body),
        "repos/update" => update_repo(state, repo_name, private, &body),
        _ => set_workflow_permissions(state, repo_name, &body),
    })
}

/// "Create a repository ruleset": a name unique in the repository, a
/// target of `branch`, `tag` or `push`, an enforcement of `disabled` or
/// `active` (`evaluate` is for GitHub Enterprise only). 201 with it.
fn create_ruleset(state: &mut State, repo_name: &str, body: &Value) -> Answer {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, target, enforcement) = (text("name"), text("target"), text("enforcement"));
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let rules: Vec<String> = body
        .get("rules")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r["type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let repo = state.seeded(repo_name);
    if name.is_empty() || repo.settings.rulesets.iter().any(|(_, r)| r.name == name) {
        return Answer::invalid("Ruleset", "name", "invalid", Some("Name must be unique"));
    }
    if !matches!(target.as_str(), "branch" | "tag" | "push")
        || !matches!(enforcement.as_str(), "disabled" | "active")
    {
        return Answer::invalid(
            "Ruleset",
            "target",
            "invalid",
            Some("Invalid target or enforcement"),
        );
    }
    let ruleset = Ruleset {
        name,
        target,
        enforcement,
        include: strings(body.pointer("/conditions/ref_name/include")),
        rules,
    };
    let id = state.next_id();
    state
        .seeded(repo_name)
        .settings
        .rulesets
        .push((id, ruleset));
    let repo = state.repo(repo_name).expect("seeded");
    let (_, r) = repo.settings.rulesets.last().expect("pushed");
    Answer::json(201, super::settings::ruleset_json(state, repo, id, r, true))
}

/// "Set default workflow permissions for a repository":
/// `default_workflow_permissions` `read` or `write`,
/// `can_approve_pull_request_reviews` a boolean; 204.
fn set_workflow_permissions(state: &mut State, repo_name: &str, body: &Value) -> Answer {
    let s = &mut state.seeded(repo_name).settings;
    if let Some(d) = body.get("default_workflow_permissions") {
        match d.as_str() {
            Some(v @ ("read" | "write")) => s.workflow_permissions.0 = v.to_string(),
            _ => {
                return Answer::invalid(
                    "Actions",
                    "default_workflow_permissions",
                    "invalid",
                    Some("must be read or write"),
                )
            }
        }
    }
    if let Some(b) = body
        .get("can_approve_pull_request_reviews")
        .and_then(Value::as_bool)
    {
        s.workflow_permissions.1 = b;
    }
    Answer::no_content()
}

/// "Update a repository", its `security_and_analysis` only (the fake
/// serves no other change): secret scanning on a private repository
/// needs GitHub Secret Protection ("About secret scanning":
/// availability), which no account of the fake has (422); push
/// protection needs secret scanning on ("Enabling push protection for
/// your repository"). 200 with the repository.
fn update_repo(state: &mut State, repo_name: &str, private: bool, body: &Value) -> Answer {
    let Some(sa) = body.get("security_and_analysis") else {
        return Answer::invalid(
            "Repository",
            "body",
            "invalid",
            Some("the fake serves security_and_analysis only"),
        );
    };
    let status = |k: &str| {
        sa.pointer(&format!("/{k}/status"))
            .and_then(Value::as_str)
            .map(|s| s == "enabled")
    };
    if private && sa.get("secret_scanning").is_some() {
        return Answer::invalid(
            "Repository",
            "security_and_analysis",
            "invalid",
            Some("Secret scanning is not available for this repository"),
        );
    }
    let now = state.seeded(repo_name).settings.secret_scanning;
    let next = SecretScanning {
        scanning: status("secret_scanning").unwrap_or(now.scanning),
        push_protection: status("secret_scanning_push_protection").unwrap_or(now.push_protection),
    };
    if next.push_protection && !next.scanning {
        return Answer::invalid(
            "Repository",
            "security_and_analysis",
            "invalid",
            Some("Secret scanning push protection requires secret scanning to be enabled"),
        );
    }
    state.seeded(repo_name).settings.secret_scanning = next;
    let repo = state.repo(repo_name).expect("seeded");
    Answer::json(200, super::render::repository(state, repo))
}

/// "Create a repository variable" (201) and "Update a repository
/// variable" (204, 404 for one that does not exist). A name follows
/// "Naming conventions for configuration variables" (letters, digits,
/// `_`, not starting with a digit or `GITHUB_`); creating a name taken is
/// refused (the description documents 201 only; the fake answers 422).
fn set_variable(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let create = ctx.op == "actions/create-repo-variable";
    let name = match create {
        true => ctx.str_field("name").unwrap_or_default().to_string(),
        false => ctx.param("name").to_string(),
    };
    let value = ctx.str_field("value").unwrap_or_default().to_string();
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    if !valid {
        return Answer::invalid("Variable", "name", "invalid", Some("Variable names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_"));
    }
    let s = &mut state.seeded(repo_name).settings;
    let exists = s.variables.contains(&name);
    match (create, exists) {
        (true, true) => {
            Answer::invalid("Variable", "name", "already_exists", Some("Already exists"))
        }
        (false, false) => Answer::not_found(),
        _ => {
            s.variables.insert(name.clone());
            s.variable_values.insert((String::new(), name), value);
            match create {
                true => Answer::json(201, json!({})),
                false => Answer::no_content(),
            }
        }
    }
}
