//! Who reaches a repository, read for `fleetform doctor`'s tenant
//! isolation checks: its collaborators (by affiliation), its owner's
//! organisation base permission, and its GitHub Pages site. Answers land
//! in the plain facts of `doctor::facts`.

use serde_json::Value;

use super::answers::required_str;
use super::client::{GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::{repo_path, seg};
use crate::doctor::facts::{Collaborator, Owner, Pages};

impl GitHub {
    /// The repository's collaborators of one `affiliation` (`all`,
    /// `direct` or `outside`), each with its role: 1 request per 100.
    pub async fn collaborators(
        &self,
        repo: &str,
        affiliation: &str,
    ) -> Result<Vec<Collaborator>, GitHubError> {
        let p = format!(
            "{}/collaborators?affiliation={}&per_page=100",
            repo_path(repo),
            seg(affiliation)
        );
        let mut items = Vec::new();
        self.paginate(p.clone(), |v| items.push(v)).await?;
        items
            .iter()
            .map(|i| {
                let login = required_str(i, "/login", &p, "login")?;
                if !is_login(login) {
                    return Err(bad_value("GET", &p, "login", "is not a GitHub login"));
                }
                Ok(Collaborator {
                    login: login.to_string(),
                    role: role(i),
                    id: i.get("id").and_then(Value::as_u64).unwrap_or(0),
                })
            })
            .collect()
    }

    /// The account `owner` as `GET /orgs/{owner}` answers: an organisation
    /// (with its `default_repository_permission` and its plan's name when
    /// GitHub shows them), or, on 404, a user.
    pub async fn owner_account(&self, owner: &str) -> Result<Owner, GitHubError> {
        let p = format!("/orgs/{}", seg(owner));
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(Owner::User),
            Err(e) => return Err(e),
        };
        let base_permission = match r.body.get("default_repository_permission") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(bad_value(
                    "GET",
                    &p,
                    "default_repository_permission",
                    "is not a string",
                ))
            }
        };
        let plan = match r.body.pointer("/plan/name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= 64
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_ ".contains(&b)) =>
            {
                Some(s.to_ascii_lowercase())
            }
            Some(_) => return Err(bad_value("GET", &p, "plan.name", "is not a plan name")),
        };
        Ok(Owner::Organisation {
            base_permission,
            plan,
        })
    }

    /// The repository's GitHub Pages site and whether it is public; on 404
    /// none.
    pub async fn pages(&self, repo: &str) -> Result<Pages, GitHubError> {
        let p = format!("{}/pages", repo_path(repo));
        let r = match self.send(Method::Get, &p, None).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(Pages::None),
            Err(e) => return Err(e),
        };
        let public = r
            .body
            .get("public")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad_value("GET", &p, "public", "is not true or false"))?;
        Ok(Pages::Site { public })
    }
}

/// `role_name`, else the highest of `permissions`, else `unknown`.
fn role(item: &Value) -> String {
    if let Some(r) = item.get("role_name").and_then(Value::as_str) {
        if !r.is_empty() && r.len() <= 100 && !r.chars().any(char::is_control) {
            return r.to_string();
        }
    }
    let perms = item.get("permissions");
    ["admin", "maintain", "push", "triage", "pull"]
        .into_iter()
        .find(|k| perms.and_then(|p| p.get(*k)).and_then(Value::as_bool) == Some(true))
        .map(|k| match k {
            "push" => "write",
            "pull" => "read",
            other => other,
        })
        .unwrap_or("unknown")
        .to_string()
}

/// A GitHub login: 1 to 39 ASCII letters, digits and hyphens (bots end
/// in `[bot]`).
fn is_login(s: &str) -> bool {
    let name = s.strip_suffix("[bot]").unwrap_or(s);
    !name.is_empty()
        && name.len() <= 39
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_come_from_role_name_or_the_permissions() {
        assert_eq!(role(&json!({ "role_name": "maintain" })), "maintain");
        assert_eq!(
            role(&json!({ "permissions": { "pull": true, "push": true, "admin": false } })),
            "write"
        );
        assert_eq!(
            role(&json!({ "role_name": "", "permissions": { "pull": true } })),
            "read"
        );
        assert_eq!(role(&json!({})), "unknown");
    }

    #[test]
    fn logins() {
        for ok in ["acme-corp", "a", "dependabot[bot]", "A1-b2"] {
            assert!(is_login(ok), "{ok}");
        }
        for bad in ["", "a b", "x\u{1b}[31m", "[bot]", &"a".repeat(40)] {
            assert!(!is_login(bad), "{bad:?}");
        }
    }
}
