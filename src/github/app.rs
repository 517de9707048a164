//! GitHub App authentication: a JWT signed with the App's private key
//! (RS256, ring), the App's installation on a repository, and an
//! installation token restricted to that one repository and the
//! permissions a command needs ("Authenticating as a GitHub App
//! installation").
//!
//! The key comes from `FLEETFORM_APP_PRIVATE_KEY` (PEM, PKCS#1 as GitHub
//! issues it, or PKCS#8) and the App from `FLEETFORM_APP_ID`; neither is
//! ever shown (`Debug` prints the App id only).

use std::fmt;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

use super::client::{GitHub, Method};
use super::error::{GitHubError, Token};
use super::paths::{repo_path, seg};

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

/// What is wrong with the App's settings; never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    #[error("FLEETFORM_APP_ID is set but FLEETFORM_APP_PRIVATE_KEY is not (or the other way round); set both from the App's settings, or neither to use FLEETFORM_TOKEN")]
    Half,
    /// Never quotes the value: a token pasted into the wrong secret would
    /// be printed.
    #[error("FLEETFORM_APP_ID is not an App id (digits) or client id (`Iv` and letters or digits); set it to the id on the App's settings page")]
    Id,
    #[error("FLEETFORM_APP_PRIVATE_KEY is not an RSA private key in PEM (`-----BEGIN RSA PRIVATE KEY-----` as GitHub issues it, or PKCS#8): {0}; paste the whole .pem file into the secret")]
    Key(&'static str),
}

impl AppKey {
    /// The App of `FLEETFORM_APP_ID` and `FLEETFORM_APP_PRIVATE_KEY`, if
    /// both are set.
    pub fn from_env() -> Result<Option<AppKey>, AppKeyError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        match (get("FLEETFORM_APP_ID"), get("FLEETFORM_APP_PRIVATE_KEY")) {
            (None, None) => Ok(None),
            (Some(id), Some(pem)) => AppKey::parse(&id, &pem).map(Some),
            _ => Err(AppKeyError::Half),
        }
    }

    pub fn parse(id: &str, pem: &str) -> Result<AppKey, AppKeyError> {
        let id = id.trim();
        let digits = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
        let client = id.starts_with("Iv")
            && id.len() <= 40
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
        if !digits && !client {
            return Err(AppKeyError::Id);
        }
        // Secrets are sometimes stored with `\n` for line breaks.
        let pem = pem.replace("\\n", "\n");
        let (label, der) = pem_body(&pem)?;
        let key = match label {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            _ => return Err(AppKeyError::Key("not an RSA private key block")),
        }
        .map_err(|_| AppKeyError::Key("the key does not parse (RSA, 2048 bits or more)"))?;
        Ok(AppKey {
            id: id.to_string(),
            key,
        })
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
fn pem_body(pem: &str) -> Result<(&str, Vec<u8>), AppKeyError> {
    let start = pem
        .find("-----BEGIN ")
        .ok_or(AppKeyError::Key("no `-----BEGIN` line"))?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or(AppKeyError::Key("a malformed BEGIN line"))?;
    let end = format!("-----END {label}-----");
    let body = rest
        .split_once(end.as_str())
        .ok_or(AppKeyError::Key("no matching END line"))?
        .0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| AppKeyError::Key("the body is not base64"))?;
    Ok((label, der))
}

/// Permissions an installation token is asked for: `(name, read|write)`.
pub type Permissions = &'static [(&'static str, &'static str)];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys_are_checked_without_quoting_the_key() {
        assert!(matches!(AppKey::parse("12a", "x"), Err(AppKeyError::Id)));
        let token = "ghp_0123456789abcdefABCDEF0123456789abcd";
        let e = AppKey::parse(token, "x").unwrap_err().to_string();
        assert!(e.contains("FLEETFORM_APP_ID") && !e.contains("ghp_"), "{e}");
        let e = AppKey::parse(
            "123",
            "-----BEGIN RSA PRIVATE KEY-----\nnot base64!\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not base64") && !e.to_string().contains("not base64!"));
        let e = AppKey::parse(
            "123",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not parse"), "{e}");
        assert!(matches!(
            AppKey::parse("123", "hello"),
            Err(AppKeyError::Key(_))
        ));
    }
}
