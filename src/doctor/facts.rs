//! What `doctor` read from GitHub, as plain data: filled by `github`,
//! judged by the checks next to this file. A read that failed keeps its
//! error message in place of the value, so the check can say it could not
//! look (never a pass).

/// A read that worked, or why it did not.
pub type Fetched<T> = Result<T, String>;

/// One GitHub environment of the manager repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentFacts {
    pub name: String,
    /// A `required_reviewers` protection rule is set.
    pub required_reviewers: bool,
    /// That rule has "prevent self-review" on.
    pub prevent_self_review: bool,
    /// Its reviewers: (`User` or `Team`, GitHub's id), as "Create or
    /// update an environment" takes them back.
    pub reviewers: Vec<(String, u64)>,
    pub branch_policy: BranchPolicy,
}

/// `deployment_branch_policy` of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchPolicy {
    /// `null`: every branch and tag may deploy.
    Any,
    /// Only protected branches.
    ProtectedBranches,
    /// Custom policies: each `(name pattern, type)`, type `branch` or `tag`.
    Custom(Fetched<Vec<(String, String)>>),
}

/// A ruleset of the manager repo, as `GET .../rulesets/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    pub name: String,
    /// `branch`, `tag`, `push` or `repository`.
    pub target: String,
    /// `active`, `evaluate` or `disabled`.
    pub enforcement: String,
    /// `conditions.ref_name.include`.
    pub include: Vec<String>,
    /// The rule types (`creation`, `update`, `deletion`, ...).
    pub rules: Vec<String>,
}

/// `GET .../actions/permissions/workflow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowPermissions {
    /// `read` or `write`.
    pub default: String,
    pub can_approve_pull_request_reviews: bool,
}

/// Secret scanning and its push protection, from the
/// `security_and_analysis` block of `GET /repos/{owner}/{repo}` (GitHub
/// shows it to the repository's admins only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretScanning {
    pub scanning: bool,
    pub push_protection: bool,
}

impl SecretScanning {
    /// Reads the block; `None` when the answer has none.
    pub fn from_repo(repo: &serde_json::Value) -> Option<SecretScanning> {
        let sa = repo
            .get("security_and_analysis")
            .filter(|v| v.is_object())?;
        let on = |k: &str| {
            sa.pointer(&format!("/{k}/status"))
                .and_then(serde_json::Value::as_str)
                == Some("enabled")
        };
        Some(SecretScanning {
            scanning: on("secret_scanning"),
            push_protection: on("secret_scanning_push_protection"),
        })
    }

    /// Both on.
    pub fn on(&self) -> bool {
        self.scanning && self.push_protection
    }
}

/// What the manager repo's settings are.
#[derive(Debug, Clone)]
pub struct ManagerFacts {
    pub repo: String,
    /// The manager repo's default branch.
    pub default_branch: Fetched<String>,
    pub environments: Fetched<Vec<EnvironmentFacts>>,
    /// Names of the repository's Actions secrets (never values).
    pub repo_secrets: Fetched<Vec<String>>,
    /// Names of each existing environment's secrets (never values).
    pub environment_secrets: Vec<(String, Fetched<Vec<String>>)>,
    /// Names of the repository's Actions variables (read when a template
    /// environment that needs variables exists).
    pub repo_variables: Fetched<Vec<String>>,
    /// The values of fleetform's pins among them ([`super::PINNED_VARIABLES`]
    /// it has): (name, value).
    pub pinned_variables: Vec<(String, String)>,
    /// Names of each existing template environment's variables, where
    /// its jobs need some.
    pub environment_variables: Vec<(String, Fetched<Vec<String>>)>,
    /// The template environments a file of the manager checkout's
    /// `.github/workflows/` runs jobs in: (environment, that file).
    pub installed: Vec<(String, String)>,
    pub rulesets: Fetched<Vec<Ruleset>>,
    pub workflow_permissions: Fetched<WorkflowPermissions>,
    /// Whether the manager repo is private (the same answer as
    /// `default_branch`).
    pub private: Fetched<bool>,
    /// Its secret scanning (the same answer; `Err` when it shows none).
    pub secret_scanning: Fetched<SecretScanning>,
    /// Who reaches the manager repo, and whether its Pages site is public.
    pub access: AccessFacts,
    /// GitHub's refusal of a feature for the repository's plan: the
    /// rulesets read answered 403 "Upgrade to GitHub Pro or make this
    /// repository public to enable this feature" (a private repository on
    /// GitHub Free). The message as GitHub gave it.
    pub plan_refusal: Option<String>,
}

/// The manager checkout's deploy workflow (a file in `.github/workflows/`
/// that uses fleetform's plan or apply action), as `doctor` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWorkflow {
    /// Its path, relative to the manager repo.
    pub path: String,
    /// It hands fleetform the records' own credential
    /// (`FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID`).
    pub records_credential: bool,
}

/// The manager checkout's workflow that deploys GitHub Pages (the
/// dashboard's), as `doctor` found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagesWorkflow {
    /// Its path, relative to the manager repo.
    pub path: String,
    /// It publishes only with the repository variable
    /// `FLEETFORM_DASHBOARD_PAGES=true` (fleetform's template); else on
    /// every run (an older copy).
    pub opt_in: bool,
}

/// One collaborator of a repository, as `GET .../collaborators` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collaborator {
    pub login: String,
    /// `role_name`: `read`, `triage`, `write`, `maintain`, `admin` or a
    /// custom role's name.
    pub role: String,
    /// GitHub's id of the account (0 when the answer has none).
    pub id: u64,
}

/// The manager repo's owner, as `GET /orgs/{owner}` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// 404: a user account, which has no organisation settings.
    User,
    /// `default_repository_permission`: `None` when GitHub did not show
    /// it (only an organisation owner's token sees it); `plan`: the
    /// organisation's GitHub plan (`plan.name`: `free`, `team`,
    /// `enterprise`, …), `None` when GitHub did not show it (only to an
    /// owner, or an App with *Organization plan*).
    Organisation {
        base_permission: Option<String>,
        plan: Option<String>,
    },
}

/// The manager repo's GitHub Pages site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// 404: no site.
    None,
    /// A site; `public`: anyone on the internet may see it.
    Site { public: bool },
}

/// Who reaches the manager repo besides the provider: every collaborator
/// (`affiliation=all`), the outside collaborators (`affiliation=outside`),
/// the owner's organisation base permission, and the Pages site.
#[derive(Debug, Clone)]
pub struct AccessFacts {
    pub collaborators: Fetched<Vec<Collaborator>>,
    pub outside_collaborators: Fetched<Vec<Collaborator>>,
    pub owner: Fetched<Owner>,
    pub pages: Fetched<Pages>,
}

/// The `permissions` of a repository answer (what the token may do there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoPermissions {
    pub pull: bool,
    pub push: bool,
    /// The token may change the repository's settings (`doctor --fix`).
    pub admin: bool,
}

/// How `GET /repos/{owner}/{repo}` answered for a customer repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoReach {
    Found {
        /// GitHub's numeric id: kept across renames, new for a repository
        /// deleted and created again under the same name.
        id: u64,
        full_name: String,
        archived: bool,
        permissions: Option<RepoPermissions>,
        /// `None` when the answer shows none (the token is no admin).
        secret_scanning: Option<SecretScanning>,
    },
    /// 404: gone, or the token cannot see it.
    Missing,
    /// 301: the repository was renamed or transferred.
    Moved,
    /// Any other failure.
    Failed(String),
}

/// One active customer's repo.
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    pub slug: String,
    pub repo: String,
    /// The registry's `repo_id` of it.
    pub repo_id: Option<u64>,
    pub reach: RepoReach,
    /// With a GitHub App configured: its installation on the repo, if
    /// installed (`Err`: the question could not be asked); `None` without
    /// an App.
    pub app_installed: Option<Result<Option<Installed>, String>>,
}

/// The customer App's installation on a customer's repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The customer granted every repository of its account (GitHub's
    /// `repository_selection: all`), not only the one fleetform reads.
    pub all_repositories: bool,
}

/// One token and the expiry GitHub stated for it.
#[derive(Debug, Clone)]
pub struct TokenFacts {
    /// Which token (`manager token`, `customer token`).
    pub label: String,
    /// The `GitHub-Authentication-Token-Expiration` header, unparsed.
    pub expiration: Option<String>,
    /// Whether GitHub answered any request sent with it (any status).
    pub used: bool,
}

/// What an App's settings grant, as `GET /app` (with its JWT) answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppGrant {
    pub slug: String,
    /// Permission name → `read`, `write` or `admin`.
    pub permissions: std::collections::BTreeMap<String, String>,
    /// The webhook events it subscribes to.
    pub events: Vec<String>,
}

/// One of the provider's Apps whose key doctor was given.
#[derive(Debug, Clone)]
pub struct AppFacts {
    pub role: crate::util::apps::AppRole,
    pub grant: Fetched<AppGrant>,
    /// `GET /apps/{slug}` without a credential answered (GitHub answers
    /// it for a public App only); `None` when the slug is unknown.
    pub public: Option<Fetched<bool>>,
    /// The manager App: installed on the manager repo.
    pub on_manager: Option<Fetched<bool>>,
    /// The API is a GitHub Enterprise one (where an internal App can be
    /// installed by the enterprise's other organisations).
    pub enterprise: bool,
}

/// A customer's inbox repo (`workflows/inbox-relay.yml`), named with
/// `doctor --inbox`, read with the manager's token.
#[derive(Debug, Clone)]
pub struct InboxFacts {
    pub repo: String,
    pub default_branch: Fetched<String>,
    pub environments: Fetched<Vec<EnvironmentFacts>>,
    /// Names of the repository's Actions secrets (never values).
    pub repo_secrets: Fetched<Vec<String>>,
    /// Names of `fleetform-inbox`'s secrets; `None` when that environment
    /// was not found (so not read).
    pub environment_secrets: Option<Fetched<Vec<String>>>,
    /// The value a job in `fleetform-inbox` sees as `vars.MANAGER_REPO`:
    /// the environment's variable, else the repository's; `Ok(None)`:
    /// neither is set.
    pub manager_repo: Fetched<Option<String>>,
    pub rulesets: Fetched<Vec<Ruleset>>,
}
