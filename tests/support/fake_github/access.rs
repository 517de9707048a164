//! Who reaches a repository, as `fleetform doctor` reads it: the
//! collaborators of a repository (with their affiliation and role), the
//! organisations (their base permission) and a repository's GitHub Pages
//! site (public or not).
//!
//! Every owner of an added repository (and every organisation with a
//! team) answers `GET /orgs/{org}` as an organisation with the base
//! permission `none` unless seeded otherwise; an account made a user with
//! [`FakeGitHub::set_user_account`], and any other name, answers 404 as
//! GitHub does for a user. Collaborators are only those seeded (GitHub
//! would also list a user-owned repository's owner and an organisation's
//! owners). No repository has a Pages site until one is set.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::handlers::{paginate, Answer, Ctx};
use super::render;
use super::state::{Repo, State};
use super::util::{node_id, now_rfc3339};
use super::FakeGitHub;

/// The roles GitHub lists, lowest first.
const ROLES: [&str; 5] = ["read", "triage", "write", "maintain", "admin"];

/// One collaborator of a repository.
#[derive(Debug, Clone)]
pub(crate) struct CollaboratorRec {
    pub login: String,
    /// `outside` (not a member of the owning organisation), `direct` (a
    /// member given the repository itself) or `team` (a member reaching it
    /// through a team or the base permission).
    pub affiliation: String,
    /// One of [`ROLES`].
    pub role: String,
}

/// Who reaches a repository, and its Pages site.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepoAccess {
    pub collaborators: Vec<CollaboratorRec>,
    /// `Some(public)`: the repository has a Pages site.
    pub pages: Option<bool>,
}

/// What the fake knows of accounts beyond their ids: organisations'
/// base permissions, and the accounts that are users.
#[derive(Debug, Clone, Default)]
pub(crate) struct Accounts {
    /// Lowercase login → `default_repository_permission`.
    pub base_permission: BTreeMap<String, String>,
    /// Lowercase logins of accounts that are users, not organisations.
    pub users: std::collections::BTreeSet<String>,
    /// Lowercase login → its GitHub plan (`free`, `pro`, `team`,
    /// `enterprise`) and whether `GET /orgs/{org}` shows it (GitHub shows
    /// `plan` to owners only). Without one, no `plan` is shown and every
    /// feature exists.
    pub plans: BTreeMap<String, (String, bool)>,
    pub created_at: String,
}

impl FakeGitHub {
    /// Make `login` a collaborator of `repo` with the role `write`;
    /// `affiliation` is `outside`, `direct` or `team` (see
    /// `CollaboratorRec`).
    pub fn add_collaborator(&self, repo: &str, login: &str, affiliation: &str) {
        self.add_collaborator_as(repo, login, affiliation, "write");
    }

    /// [`FakeGitHub::add_collaborator`] with a role (`read`, `triage`,
    /// `write`, `maintain` or `admin`).
    pub fn add_collaborator_as(&self, repo: &str, login: &str, affiliation: &str, role: &str) {
        assert!(
            ["outside", "direct", "team"].contains(&affiliation),
            "fake GitHub: affiliation {affiliation:?} is not outside, direct or team"
        );
        assert!(ROLES.contains(&role), "fake GitHub: no role {role:?}");
        let mut st = self.state();
        st.user_id(login);
        let access = &mut st.seeded(repo).settings.access;
        access
            .collaborators
            .retain(|c| !c.login.eq_ignore_ascii_case(login));
        access.collaborators.push(CollaboratorRec {
            login: login.to_string(),
            affiliation: affiliation.to_string(),
            role: role.to_string(),
        });
    }

    /// The base permission of organisation `org` (`none`, `read`,
    /// `write` or `admin`; default `none`).
    pub fn set_org_base_permission(&self, org: &str, perm: &str) {
        let mut st = self.state();
        st.user_id(org);
        let key = org.to_ascii_lowercase();
        st.accounts.users.remove(&key);
        st.accounts.base_permission.insert(key, perm.to_string());
    }

    /// Make `login` a user account: `GET /orgs/{login}` answers 404.
    pub fn set_user_account(&self, login: &str) {
        let mut st = self.state();
        let key = login.to_ascii_lowercase();
        st.accounts.base_permission.remove(&key);
        st.accounts.users.insert(key);
    }

    /// The GitHub plan of account `login`, shown in `GET /orgs/{login}`
    /// or not. On `free`, GitHub refuses a private repository's rulesets
    /// with 403 "Upgrade to GitHub Pro or make this repository public to
    /// enable this feature." (what github.com answers; the OpenAPI
    /// description documents no 403 for it).
    pub fn set_account_plan(&self, login: &str, plan: &str, shown: bool) {
        assert!(
            ["free", "pro", "team", "enterprise"].contains(&plan),
            "fake GitHub: no plan {plan:?}"
        );
        self.state()
            .accounts
            .plans
            .insert(login.to_ascii_lowercase(), (plan.to_string(), shown));
    }

    /// Give `repo` a GitHub Pages site, public (anyone on the internet may
    /// see it) or not.
    pub fn set_pages(&self, repo: &str, public: bool) {
        self.state().seeded(repo).settings.access.pages = Some(public);
    }
}

/// `GET /orgs/{org}`.
pub(crate) fn org(state: &State, ctx: &Ctx) -> Answer {
    let login = ctx.param("org");
    let key = login.to_ascii_lowercase();
    let owns = state
        .repos
        .keys()
        .any(|r| r.split('/').next() == Some(key.as_str()))
        || state
            .teams
            .keys()
            .any(|t| t.split('/').next() == Some(key.as_str()));
    let seeded = state.accounts.base_permission.get(&key);
    if state.accounts.users.contains(&key) || (seeded.is_none() && !owns) {
        return Answer::not_found();
    }
    // GitHub answers with the login as the organisation spells it.
    let login = state
        .repos
        .values()
        .map(|r| r.owner.as_str())
        .find(|o| o.eq_ignore_ascii_case(login))
        .unwrap_or(login);
    let id = state
        .users
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(login))
        .map_or(1, |(_, id)| *id);
    let api = format!("{}/orgs/{login}", state.api_url);
    let public_repos = state
        .repos
        .values()
        .filter(|r| r.owner.eq_ignore_ascii_case(login) && !r.private)
        .count();
    let at = &state.accounts.created_at;
    let mut body = json!({
            "login": login,
            "id": id,
            "node_id": node_id("Organization", id),
            "url": api,
            "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events"),
            "hooks_url": format!("{api}/hooks"),
            "issues_url": format!("{api}/issues"),
            "members_url": format!("{api}/members{{/member}}"),
            "public_members_url": format!("{api}/public_members{{/member}}"),
            "avatar_url": format!("{}/avatars/u/{id}?v=4", state.web_url),
            "description": null,
            "html_url": format!("{}/{login}", state.web_url),
            "has_organization_projects": true,
            "has_repository_projects": true,
            "public_repos": public_repos,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "type": "Organization",
            "created_at": at,
            "updated_at": at,
            "archived_at": null,
            "default_repository_permission": seeded.map_or("none", String::as_str),
            "members_can_create_repositories": false,
            "two_factor_requirement_enabled": true,
    });
    // GitHub shows the plan to owners only.
    if let Some((name, true)) = state.accounts.plans.get(&key) {
        body["plan"] = json!({
            "name": name, "space": 976_562_499, "private_repos": 999_999,
            "filled_seats": 3, "seats": 5
        });
    }
    Answer::json(200, body)
}

/// The operations served here; `None` for every other.
pub(crate) fn handle(state: &State, repo: &Repo, ctx: &Ctx) -> Option<Answer> {
    let access = &repo.settings.access;
    let answer = match ctx.op {
        "repos/list-collaborators" => {
            let affiliation = ctx.query("affiliation").unwrap_or("all");
            // `permission` filters by the GitHub permission names.
            let least = ctx.query("permission").map(|p| match p {
                "pull" => "read",
                "push" => "write",
                other => other,
            });
            let rank = |r: &str| ROLES.iter().position(|x| *x == r).unwrap_or(0);
            let items = access
                .collaborators
                .iter()
                .filter(|c| match affiliation {
                    "outside" => c.affiliation == "outside",
                    "direct" => c.affiliation != "team",
                    _ => true,
                })
                .filter(|c| least.is_none_or(|l| rank(&c.role) >= rank(l)))
                .map(|c| collaborator(state, c))
                .collect();
            paginate(state, ctx, items, state.page_size)
        }
        "repos/get-pages" => match access.pages {
            Some(public) => Answer::json(200, pages(state, repo, public)),
            None => Answer::not_found(),
        },
        _ => return None,
    };
    Some(answer)
}

fn collaborator(state: &State, c: &CollaboratorRec) -> Value {
    let rank = ROLES.iter().position(|r| *r == c.role).unwrap_or(0);
    let mut v = render::user(state, &c.login);
    v["permissions"] = json!({
        "pull": true,
        "triage": rank >= 1,
        "push": rank >= 2,
        "maintain": rank >= 3,
        "admin": rank >= 4,
    });
    v["role_name"] = json!(c.role);
    v
}

fn pages(state: &State, repo: &Repo, public: bool) -> Value {
    json!({
        "url": format!("{}/pages", render::repo_api(state, repo)),
        "status": "built",
        "cname": null,
        "protected_domain_state": null,
        "pending_domain_unverified_at": null,
        "custom_404": false,
        "html_url": format!("{}/pages/{}/", state.web_url, repo.full_name()),
        "build_type": "workflow",
        "source": { "branch": repo.default_branch, "path": "/" },
        "public": public,
        "https_enforced": true,
    })
}

impl Accounts {
    pub(crate) fn new() -> Accounts {
        Accounts {
            created_at: now_rfc3339(),
            ..Accounts::default()
        }
    }
}
