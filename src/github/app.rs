//! GitHub App authentication: a JWT signed with the App's private key
//! (RS256, ring), the App's installation on a repository, and an
//! installation token restricted to that one repository and the
//! permissions a command needs ("Authenticating as a GitHub App
//! installation").
//!
//! The provider has two Apps ([`AppRole`]), each with its own variables:
//! the customer App (`FLEETFORM_CUSTOMER_APP_ID`,
//! `FLEETFORM_CUSTOMER_APP_PRIVATE_KEY`), public, installed by customers on
//! their repos, which reads them and writes statuses, comments and
//! deployments there and never pushes; and the manager App
//! (`FLEETFORM_MANAGER_APP_ID`, `FLEETFORM_MANAGER_APP_PRIVATE_KEY`),
//! private, installed on the manager repo only, which dispatches to it.
//! The single App of older releases (`FLEETFORM_APP_ID`,
//! `FLEETFORM_APP_PRIVATE_KEY`) is refused with a message naming the new
//! variables. The key is PEM (PKCS#1 as GitHub issues it, or PKCS#8);
//! neither id nor key is ever shown (`Debug` prints the App id only).

use std::fmt;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

use super::client::{GitHub, Method};
use super::error::{GitHubError, Token};
use super::paths::{repo_path, seg};

pub use crate::util::apps::{AppRole, Permissions, CUSTOMER_APP, MANAGER_APP, RETIRED_APP_VARS};

/// A GitHub App: its id (or client id) and private key.
pub struct AppKey {
    id: String,
    key: RsaKeyPair,
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppKey({}, ***)", self.id)
    }
}

/// What is wrong with an App's settings; never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    #[error("{id} is set but {key} is not (or the other way round); set both from the {label}'s settings, or neither to use FLEETFORM_TOKEN")]
    Half {
        id: &'static str,
        key: &'static str,
        label: &'static str,
    },
    /// Never quotes the value: a token pasted into the wrong secret would
    /// be printed.
    #[error("{0} is not an App id (digits) or client id (`Iv` and letters or digits); set it to the id on the App's settings page")]
    Id(&'static str),
    #[error("{var} is not an RSA private key in PEM (`-----BEGIN RSA PRIVATE KEY-----` as GitHub issues it, or PKCS#8): {why}; paste the whole .pem file into the secret")]
    Key {
        var: &'static str,
        why: &'static str,
    },
    #[error("{0} is set, but fleetform no longer uses one App for everything: the plan, apply, authorise and conclude jobs (and the relay's reads) take the customer App's FLEETFORM_CUSTOMER_APP_ID and FLEETFORM_CUSTOMER_APP_PRIVATE_KEY, the relay and `fleetform poll` also the manager App's FLEETFORM_MANAGER_APP_ID and FLEETFORM_MANAGER_APP_PRIVATE_KEY; create the Apps from the manifests `fleetform init` writes (README, \"The Apps\"), set the new variables and remove FLEETFORM_APP_ID and FLEETFORM_APP_PRIVATE_KEY")]
    Retired(&'static str),
}

impl AppKey {
    /// The `role` App of its two variables, if both are set. Either
    /// variable of the single App of older releases is refused.
    pub fn from_env(role: AppRole) -> Result<Option<AppKey>, AppKeyError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(old) = RETIRED_APP_VARS.into_iter().find(|v| get(v).is_some()) {
            return Err(AppKeyError::Retired(old));
        }
        match (get(role.id_var()), get(role.key_var())) {
            (None, None) => Ok(None),
            (Some(id), Some(pem)) => AppKey::parse(role, &id, &pem).map(Some),
            _ => Err(AppKeyError::Half {
                id: role.id_var(),
                key: role.key_var(),
                label: role.label(),
            }),
        }
    }

    pub fn parse(role: AppRole, id: &str, pem: &str) -> Result<AppKey, AppKeyError> {
        let id = id.trim();
        let digits = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
        let client = id.starts_with("Iv")
            && id.len() <= 40
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
        if !digits && !client {
            return Err(AppKeyError::Id(role.id_var()));
        }
        let bad = |why| AppKeyError::Key {
            var: role.key_var(),
            why,
        };
        // Secrets are sometimes stored with `\n` for line breaks.
        let pem = pem.replace("\\n", "\n");
        let (label, der) = pem_body(&pem).map_err(bad)?;
        let key = match label {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            _ => return Err(bad("not an RSA private key block")),
        }
        .map_err(|_| bad("the key does not parse (RSA, 2048 bits or more)"))?;
        Ok(AppKey {
            id: id.to_string(),
            key,
        })
    }

    /// The App's id as configured (no secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A JWT for the App's own endpoints: issued a minute in the past
    /// (clock drift), valid nine minutes (GitHub allows ten).
    pub fn jwt(&self, now_secs: u64) -> Result<Token, GitHubError> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({
            "iat": now_secs.saturating_sub(60),
            "exp": now_secs + 540,
            "iss": self.id,
        });
        let claims = b64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| GitHubError::Setup("signing the App's JWT failed".into()))?;
        Token::new(format!("{signing_input}.{}", b64.encode(sig)))
            .ok_or_else(|| GitHubError::Setup("empty JWT".into()))
    }
}

/// The label and decoded body of the first PEM block.
fn pem_body(pem: &str) -> Result<(&str, Vec<u8>), &'static str> {
    let start = pem.find("-----BEGIN ").ok_or("no `-----BEGIN` line")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or("a malformed BEGIN line")?;
    let end = format!("-----END {label}-----");
    let body = rest
        .split_once(end.as_str())
        .ok_or("no matching END line")?
        .0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the body is not base64")?;
    Ok((label, der))
}

impl GitHub {
    /// Whether the App (this client holds its JWT) is installed on `repo`.
    pub async fn app_installed(&self, repo: &str) -> Result<bool, GitHubError> {
        match self
            .send(
                Method::Get,
                &format!("{}/installation", repo_path(repo)),
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// An installation token for `repo` only, with `permissions` only.
    /// This client must hold the App's JWT.
    pub async fn installation_token(
        &self,
        repo: &str,
        permissions: Permissions,
    ) -> Result<Token, GitHubError> {
        let r = self
            .send(
                Method::Get,
                &format!("{}/installation", repo_path(repo)),
                None,
            )
            .await?;
        let id = r.body.get("id").and_then(Value::as_u64).ok_or_else(|| {
            GitHubError::Setup(format!("the App's installation on {repo} has no id"))
        })?;
        let name = repo.split_once('/').map_or(repo, |(_, n)| n);
        let perms: serde_json::Map<String, Value> = permissions
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        let body = json!({ "repositories": [name], "permissions": perms });
        let r = self
            .send(
                Method::Post,
                &format!("/app/installations/{}/access_tokens", seg(&id.to_string())),
                Some(&body),
            )
            .await?;
        r.body
            .get("token")
            .and_then(Value::as_str)
            .and_then(|t| Token::new(t.to_string()))
            .filter(|t| t.is_sendable())
            .ok_or_else(|| {
                GitHubError::Setup(format!(
                    "GitHub answered no usable installation token for {repo}"
                ))
            })
    }
}

impl GitHub {
    /// The App this client holds the JWT of, as `GET /app` answers.
    pub async fn app_grant(&self) -> Result<crate::doctor::facts::AppGrant, GitHubError> {
        let r = self.send(Method::Get, "/app", None).await?;
        let slug = r.body.get("slug").and_then(Value::as_str).ok_or_else(|| {
            super::error::bad_value("GET", "/app", "slug", "is missing or not a string")
        })?;
        let permissions = r
            .body
            .get("permissions")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let events = r
            .body
            .get("events")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(crate::doctor::facts::AppGrant {
            slug: slug.to_string(),
            permissions,
            events,
        })
    }

    /// Whether the App `slug` is public: GitHub answers `GET
    /// /apps/{app_slug}` without a credential for a public App only. This
    /// client must hold no token.
    pub async fn app_is_public(&self, slug: &str) -> Result<bool, GitHubError> {
        match self
            .send(Method::Get, &format!("/apps/{}", seg(slug)), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys_are_checked_without_quoting_the_key() {
        let c = AppRole::Customer;
        assert!(matches!(
            AppKey::parse(c, "12a", "x"),
            Err(AppKeyError::Id(_))
        ));
        let token = "ghp_0123456789abcdefABCDEF0123456789abcd";
        let e = AppKey::parse(AppRole::Manager, token, "x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("FLEETFORM_MANAGER_APP_ID") && !e.contains("ghp_"),
            "{e}"
        );
        let e = AppKey::parse(
            c,
            "123",
            "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not base64") && !e.contains("not base64!"));
        assert!(e.contains("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"), "{e}");
        let e = AppKey::parse(
            c,
            "123",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not parse"), "{e}");
        assert!(matches!(
            AppKey::parse(c, "123", "hello"),
            Err(AppKeyError::Key { .. })
        ));
    }
}
