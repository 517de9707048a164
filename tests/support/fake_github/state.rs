//! The fake's in-memory model of GitHub: repositories, commits, issues and
//! pull requests, statuses, comments, plus the request log and violations.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use super::util::{epoch_secs, is_full_sha, now_rfc3339, object_id};
use super::{Comment, Fault, RequestRecord, Review, Status, Violation};

/// A commit: a full snapshot of the files plus its parents.
#[derive(Debug, Clone)]
pub(crate) struct Commit {
    pub sha: String,
    pub tree_sha: String,
    pub parents: Vec<String>,
    pub files: BTreeMap<String, Vec<u8>>,
    pub message: String,
    pub date: String,
    /// Its author and committer time (Unix seconds), part of its id.
    pub secs: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct PullRec {
    pub id: u64,
    /// `owner/name` of the repository holding the head branch.
    pub head_repo: String,
    pub head_ref: String,
    /// Head commit when the branch is gone (GitHub keeps showing it).
    pub head_sha: String,
    pub base_ref: String,
    pub draft: bool,
    pub merged_at: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub maintainer_can_modify: bool,
    pub reviews: Vec<Review>,
}

/// An issue, or the issue half of a pull request (`pull` is set).
#[derive(Debug, Clone)]
pub(crate) struct IssueRec {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub user: String,
    pub assignees: Vec<String>,
    pub locked: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub pull: Option<PullRec>,
}

/// A reviewer's answer to a run's deployment to an environment
/// (`actions/get-reviews-for-run`).
#[derive(Debug, Clone)]
pub(crate) struct RunReview {
    pub environment: String,
    /// approved, rejected
    pub state: String,
    pub login: String,
    pub comment: String,
    pub at: String,
}

/// A workflow run as `actions/get-workflow-run` shows it: who started
/// it, who re-ran it, which workflow file, on which branch.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowRun {
    pub path: String,
    pub actor: String,
    pub triggering_actor: String,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    pub at: String,
    /// The run's attempt (1, then each re-run's).
    pub attempt: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct SecretRec {
    pub encrypted_value: String,
    pub key_id: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub archived: bool,
    pub private: bool,
    /// `owner/name` of the parent repository when this is a fork.
    pub upstream: Option<String>,
    /// Full ref name (`refs/heads/main`) to commit SHA.
    pub refs: BTreeMap<String, String>,
    pub statuses: Vec<Status>,
    pub issues: BTreeMap<u64, IssueRec>,
    pub comments: Vec<Comment>,
    /// Reactions to comments: (comment id, login, content), oldest first.
    pub reactions: Vec<(u64, String, String)>,
    /// Label name to label id.
    pub labels: BTreeMap<String, u64>,
    pub dispatches: Vec<Value>,
    /// Workflow dispatch events (`actions/create-workflow-dispatch`),
    /// oldest first: the workflow's path, ref, sha, inputs and sender.
    pub workflow_dispatches: Vec<Value>,
    pub check_runs: Vec<Value>,
    pub secrets: BTreeMap<String, SecretRec>,
    /// Actions secrets public key: (key_id, base64 key).
    pub public_key: (String, String),
    /// Deployment reviews of workflow runs, by run id, oldest first.
    pub run_reviews: BTreeMap<u64, Vec<RunReview>>,
    /// Workflow runs `actions/get-workflow-run` answers, by run id.
    pub workflow_runs: BTreeMap<u64, WorkflowRun>,
    /// Deployments (the Deployments API), oldest first.
    pub deployments: Vec<super::Deployment>,
    /// Settings `fleetform doctor` reads: environments, rulesets, the
    /// default workflow permissions.
    pub settings: super::settings::RepoSettings,
    pub next_number: u64,
    pub created_at: String,
    pub pushed_at: String,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn branch(&self, name: &str) -> Option<&String> {
        self.refs.get(&format!("refs/heads/{name}"))
    }
}

pub(crate) struct QueuedFault {
    pub method: Option<String>,
    pub path_contains: String,
    pub fault: Fault,
}

pub(crate) struct State {
    /// `http://127.0.0.1:PORT` plus the API prefix.
    pub api_url: String,
    /// `http://127.0.0.1:PORT`, used for `html_url` links.
    pub web_url: String,
    pub token: String,
    pub allow_anonymous: bool,
    /// Further tokens, each accepted only for requests under
    /// `/repos/<owner>/<name>/` of the repos listed with it (keys as in
    /// [`repo_key`]), like a fine-grained token scoped to those repos.
    pub scoped_tokens: Vec<(String, Vec<String>)>,
    /// The permissions of fine-grained tokens made with
    /// `FakeGitHub::add_fine_grained_token`, by token.
    pub fine_grained: std::collections::HashMap<String, serde_json::Value>,
    /// When each installation token minted expires (Unix seconds): used
    /// after that, it is answered 401 "Bad credentials", as GitHub does.
    pub token_expiry: std::collections::HashMap<String, u64>,
    /// How long an installation token lasts (GitHub: an hour).
    pub installation_token_life: u64,
    pub bot_login: String,
    pub comment_page_size: usize,
    pub page_size: usize,
    pub max_page_size: usize,
    pub check_responses: bool,
    /// Require the request headers GitHub documents (see
    /// `FakeGitHub::check_api_headers`).
    pub check_api_headers: bool,
    pub repos: BTreeMap<String, Repo>,
    pub commits: HashMap<String, Commit>,
    pub users: BTreeMap<String, u64>,
    next_id: u64,
    pub faults: VecDeque<QueuedFault>,
    pub requests: Vec<RequestRecord>,
    pub violations: Vec<Violation>,
    pub rate_limit_used: u64,
    /// Secondary limits: GitHub's by default ([`super::limits::Limits::GITHUB`]);
    /// a test may raise or lift them, saying why.
    pub limits: Option<super::limits::Enforcer>,
    /// Whether limit answers leave `retry-after` out.
    pub limits_without_retry_after: bool,
    /// Whether ETags hash the request's token with the body (GitHub's
    /// differ per token; [`super::FakeGitHub::etags_across_tokens`]).
    pub etags_per_token: bool,
    /// The primary limit per token, enforced when a test asks.
    pub primary: Option<super::limits::Primary>,
    /// Team memberships: `org/team` (lowercase) → (login, `active` or
    /// `pending`).
    pub teams: BTreeMap<String, Vec<(String, String)>>,
    /// Each team's id (`org/team`, lower case), given when a test makes it.
    pub team_ids: BTreeMap<String, u64>,
    /// The repositories each team has access to (`org/team` → repos).
    pub team_repos: BTreeMap<String, Vec<String>>,
    /// Registered GitHub Apps, their installations and the installation
    /// tokens minted; `current_app` is the App whose JWT the request being
    /// served carries.
    pub apps: Vec<super::apps::App>,
    pub installations: Vec<super::apps::Installation>,
    pub minted: Vec<super::apps::MintedToken>,
    pub current_app: Option<u64>,
    /// The request being handled came without an Authorization header.
    pub current_anonymous: bool,
    /// The account the request being served acts as: `<slug>[bot]` for an
    /// App's installation token, else `bot_login` (the account of the
    /// fake's token). Repository dispatches record it as `sender`.
    pub current_sender: String,
    /// App slugs by App id (default `app-<id>`).
    pub app_slugs: BTreeMap<u64, String>,
    /// Requests answered 304 Not Modified.
    pub not_modified: usize,
    /// Sent as `github-authentication-token-expiration` on every answer.
    pub token_expiration: Option<String>,
    /// Old name (key as in [`repo_key`]) → new `owner/name`: requests for
    /// the old name are answered 301, as GitHub does after a rename.
    pub renamed: BTreeMap<String, String>,
    /// Repositories (keys as in [`repo_key`]) the tests' token may not
    /// administer: their `permissions.admin` is false and their settings'
    /// writes are refused 403, as GitHub answers a collaborator with write
    /// access only ([`super::FakeGitHub::set_token_admin`]).
    pub not_admin: std::collections::BTreeSet<String>,
    /// Organisations' base permissions and the accounts that are users
    /// (`GET /orgs/{org}`; see `access`).
    pub accounts: super::access::Accounts,
    /// Apps' webhooks, their delivery attempts and redeliveries to send.
    pub hooks: super::hooks::Hooks,
    /// The manifest flow's codes, each until exchanged
    /// (`manifest_web`).
    pub manifest_codes: BTreeMap<String, super::manifest_web::Pending>,
}

/// Key of a repository in [`State::repos`]: GitHub names are case-insensitive.
pub(crate) fn repo_key(full_name: &str) -> String {
    full_name.to_ascii_lowercase()
}

impl State {
    /// Whether account `login` is on GitHub Free
    /// (`FakeGitHub::set_account_plan`).
    pub(crate) fn on_free_plan(&self, login: &str) -> bool {
        self.accounts
            .plans
            .get(&login.to_ascii_lowercase())
            .is_some_and(|(p, _)| p == "free")
    }

    pub fn new(api_url: String, web_url: String) -> State {
        State {
            api_url,
            web_url,
            token: "ghp_fakegithubtoken000000000000000000000".to_string(),
            allow_anonymous: false,
            scoped_tokens: Vec::new(),
            fine_grained: std::collections::HashMap::new(),
            token_expiry: std::collections::HashMap::new(),
            installation_token_life: 3600,
            bot_login: "fleetform-bot".to_string(),
            comment_page_size: 30,
            page_size: 30,
            max_page_size: 100,
            check_responses: true,
            check_api_headers: true,
            repos: BTreeMap::new(),
            commits: HashMap::new(),
            users: BTreeMap::new(),
            next_id: 1000,
            faults: VecDeque::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            rate_limit_used: 0,
            limits: Some(super::limits::Enforcer::new(super::limits::Limits::GITHUB)),
            limits_without_retry_after: false,
            etags_per_token: true,
            primary: None,
            teams: BTreeMap::new(),
            team_ids: BTreeMap::new(),
            team_repos: BTreeMap::new(),
            apps: Vec::new(),
            installations: Vec::new(),
            minted: Vec::new(),
            current_app: None,
            current_anonymous: false,
            current_sender: String::new(),
            app_slugs: BTreeMap::new(),
            not_modified: 0,
            token_expiration: None,
            renamed: BTreeMap::new(),
            not_admin: Default::default(),
            accounts: super::access::Accounts::new(),
            hooks: Default::default(),
            manifest_codes: BTreeMap::new(),
        }
    }

    /// A fresh id, unique across all objects of this server.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The numeric id of a user, created on first use.
    pub fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.next_id();
        self.users.insert(login.to_string(), id);
        id
    }

    pub fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&repo_key(full_name))
    }

    pub fn repo_mut(&mut self, full_name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&repo_key(full_name))
    }

    /// The repository, for seeding helpers: panics with a helpful message.
    pub fn seeded(&mut self, full_name: &str) -> &mut Repo {
        self.repos
            .get_mut(&repo_key(full_name))
            .unwrap_or_else(|| panic!("fake GitHub: repository {full_name} was not added"))
    }

    pub fn add_repo(&mut self, full_name: &str, upstream: Option<String>) {
        let (owner, name) = full_name
            .split_once('/')
            .unwrap_or_else(|| panic!("fake GitHub: repository {full_name:?} is not owner/name"));
        let id = self.next_id();
        self.user_id(owner);
        // A fork starts with its parent's branches; a new repository with an
        // empty initial commit on `main`.
        let parent = upstream.as_deref().and_then(|u| self.repo(u));
        let (default_branch, refs) = match parent {
            Some(p) => (p.default_branch.clone(), p.refs.clone()),
            None => {
                let root = self.create_commit(None, &[], "Initial commit");
                (
                    "main".to_string(),
                    BTreeMap::from([("refs/heads/main".to_string(), root)]),
                )
            }
        };
        let now = now_rfc3339();
        let key_id = format!("{}", 3_380_204_578_043_523_366u64.wrapping_add(id));
        let key =
            super::util::b64(&object_id(&[b"public key", full_name.as_bytes()]).as_bytes()[..32]);
        let repo = Repo {
            id,
            owner: owner.to_string(),
            name: name.to_string(),
            default_branch,
            archived: false,
            private: false,
            upstream,
            refs,
            statuses: Vec::new(),
            issues: BTreeMap::new(),
            comments: Vec::new(),
            reactions: Vec::new(),
            labels: BTreeMap::new(),
            dispatches: Vec::new(),
            workflow_dispatches: Vec::new(),
            check_runs: Vec::new(),
            secrets: BTreeMap::new(),
            public_key: (key_id, key),
            run_reviews: BTreeMap::new(),
            workflow_runs: BTreeMap::new(),
            deployments: Vec::new(),
            settings: Default::default(),
            next_number: 1,
            created_at: now.clone(),
            pushed_at: now,
        };
        self.repos.insert(repo_key(full_name), repo);
    }

    /// Create a commit: the parent's files plus `changes` (`None` deletes).
    pub fn create_commit(
        &mut self,
        parent: Option<&str>,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
    ) -> String {
        let mut files = parent
            .and_then(|p| self.commits.get(p))
            .map(|c| c.files.clone())
            .unwrap_or_default();
        for (path, content) in changes {
            let path = path.trim_matches('/').to_string();
            match content {
                Some(bytes) => {
                    files.insert(path, bytes.clone());
                }
                None => {
                    files.remove(&path);
                }
            }
        }
        let parents = parent.map(str::to_string).into_iter().collect();
        self.insert_commit(parents, files, message)
    }

    /// Store a commit with exactly these parents and files.
    pub fn insert_commit(
        &mut self,
        parents: Vec<String>,
        files: BTreeMap<String, Vec<u8>>,
        message: &str,
    ) -> String {
        let objects = super::git_objects::tree_objects(&files);
        let tree_sha = objects.last().expect("a root tree").id.clone();
        // The id `git` gives this commit; two alike in the same second
        // would be one commit, so the later one is a second later.
        let mut secs = epoch_secs();
        let mut object = super::git_objects::commit_object(&tree_sha, &parents, secs, message);
        while self.commits.contains_key(&object.id) {
            secs += 1;
            object = super::git_objects::commit_object(&tree_sha, &parents, secs, message);
        }
        let sha = object.id;
        let commit = Commit {
            sha: sha.clone(),
            tree_sha,
            parents,
            files,
            message: message.to_string(),
            date: super::util::rfc3339(secs),
            secs,
        };
        self.commits.insert(sha.clone(), commit);
        sha
    }

    /// Three-way merge of `theirs` into `ours` at file level. Returns the
    /// merged files, or the paths changed differently on both sides.
    pub fn merge_files(
        &self,
        ours: &str,
        theirs: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, Vec<String>> {
        let empty = BTreeMap::new();
        let files = |sha: &str| self.commits.get(sha).map(|c| &c.files).unwrap_or(&empty);
        let base = self.merge_base(ours, theirs);
        let (b, o, t) = (
            base.as_deref().map(files).unwrap_or(&empty),
            files(ours),
            files(theirs),
        );
        let mut merged = BTreeMap::new();
        let mut conflicts = Vec::new();
        let paths: std::collections::BTreeSet<&String> =
            b.keys().chain(o.keys()).chain(t.keys()).collect();
        for path in paths {
            let (bv, ov, tv) = (b.get(path), o.get(path), t.get(path));
            let pick = if ov == tv || tv == bv {
                ov
            } else if ov == bv {
                tv
            } else {
                conflicts.push(path.clone());
                continue;
            };
            if let Some(content) = pick {
                merged.insert(path.clone(), content.clone());
            }
        }
        if conflicts.is_empty() {
            Ok(merged)
        } else {
            Err(conflicts)
        }
    }

    /// The nearest common ancestor of two commits.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        let mut ancestors = std::collections::HashSet::new();
        let mut stack = vec![a.to_string()];
        while let Some(sha) = stack.pop() {
            if ancestors.insert(sha.clone()) {
                if let Some(c) = self.commits.get(&sha) {
                    stack.extend(c.parents.iter().cloned());
                }
            }
        }
        let mut queue = VecDeque::from([b.to_string()]);
        let mut seen = std::collections::HashSet::new();
        while let Some(sha) = queue.pop_front() {
            if ancestors.contains(&sha) {
                return Some(sha);
            }
            if seen.insert(sha.clone()) {
                if let Some(c) = self.commits.get(&sha) {
                    queue.extend(c.parents.iter().cloned());
                }
            }
        }
        None
    }

    /// Resolve a branch name, `heads/x`, `refs/heads/x`, tag, full SHA or an
    /// unambiguous SHA prefix (7+ hex digits) to a commit SHA.
    pub fn resolve(&self, repo: &Repo, reference: &str) -> Option<String> {
        if is_full_sha(reference) {
            let sha = reference.to_ascii_lowercase();
            return self.commits.contains_key(&sha).then_some(sha);
        }
        let candidates = [
            reference.to_string(),
            format!("refs/{reference}"),
            format!("refs/heads/{reference}"),
            format!("refs/tags/{reference}"),
        ];
        for name in candidates {
            if let Some(sha) = repo.refs.get(&name) {
                return Some(sha.clone());
            }
        }
        if reference.len() >= 7 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            let prefix = reference.to_ascii_lowercase();
            let mut matches = self.commits.keys().filter(|sha| sha.starts_with(&prefix));
            if let (Some(sha), None) = (matches.next(), matches.next()) {
                return Some(sha.clone());
            }
        }
        None
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        let mut queue = vec![descendant.to_string()];
        let mut seen = std::collections::HashSet::new();
        while let Some(sha) = queue.pop() {
            if sha == ancestor {
                return true;
            }
            if seen.insert(sha.clone()) {
                if let Some(c) = self.commits.get(&sha) {
                    queue.extend(c.parents.iter().cloned());
                }
            }
        }
        false
    }

    /// The id of a label in a repository, created on first use.
    pub fn label_id(&mut self, repo_name: &str, label: &str) -> u64 {
        if let Some(id) = self.repo(repo_name).and_then(|r| r.labels.get(label)) {
            return *id;
        }
        let id = self.next_id();
        if let Some(repo) = self.repo_mut(repo_name) {
            repo.labels.insert(label.to_string(), id);
        }
        id
    }

    /// Open an issue or pull request with the next number of the repository.
    pub fn new_issue(
        &mut self,
        repo_name: &str,
        title: &str,
        body: Option<String>,
        user: &str,
        pull: Option<PullRec>,
    ) -> u64 {
        let id = self.next_id();
        self.user_id(user);
        let now = now_rfc3339();
        let repo = self.seeded(repo_name);
        let number = repo.next_number;
        repo.next_number += 1;
        repo.issues.insert(
            number,
            IssueRec {
                number,
                id,
                title: title.to_string(),
                body,
                state: "open".to_string(),
                state_reason: None,
                labels: Vec::new(),
                user: user.to_string(),
                assignees: Vec::new(),
                locked: false,
                created_at: now.clone(),
                updated_at: now,
                closed_at: None,
                pull,
            },
        );
        number
    }

    /// Remaining requests in the current rate-limit window (for headers).
    pub fn rate_limit_remaining(&self) -> u64 {
        5000u64.saturating_sub(self.rate_limit_used)
    }

    /// Reset time of the rate-limit window, an hour from now.
    pub fn rate_limit_reset(&self) -> u64 {
        epoch_secs() + 3600
    }
}
