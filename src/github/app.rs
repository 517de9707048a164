//! GitHub App authentication: a JWT signed with the App's private key
//! (RS256, made by `jsonwebtoken`), the App's installation on a repository, and an
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
//! neither id nor key is ever shown (`Debug` prints the App id only), and
//! the key is wiped from memory when the [`AppKey`] is dropped.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::Value;
use zeroize::Zeroizing;

use super::client::{GitHub, Method};
use super::error::{GitHubError, Token};
use super::paths::{repo_path, seg};
use super::renewal::{expiry, Mint, Minted, OnCredential, Renewal};
use super::root::ApiRoot;

pub use crate::util::apps::{AppRole, Permissions, CUSTOMER_APP, MANAGER_APP, RETIRED_APP_VARS};

/// A GitHub App: its id (or client id) and private key.
pub struct AppKey {
    id: String,
    /// The key block alone as PEM (PKCS#1 or PKCS#8, what `jsonwebtoken`
    /// reads), checked by signing once when it was read; wiped when
    /// dropped. Each JWT is signed through an `EncodingKey` read from it
    /// for that JWT and dropped with it, so no other lasting copy is kept.
    pem: Zeroizing<String>,
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
        AppKey::from_lookup(role, |k| {
            std::env::var(k).ok().filter(|v| !v.trim().is_empty())
        })
    }

    /// [`AppKey::from_env`] with the variables read by `get` (a share
    /// file's, then the environment's: `util::shares`).
    pub fn from_lookup(
        role: AppRole,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AppKey>, AppKeyError> {
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
        let pem = Zeroizing::new(pem.replace("\\n", "\n"));
        let key = Zeroizing::new(
            PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| bad(pem_problem(&e)))?,
        );
        let (label, der) = match &*key {
            PrivateKeyDer::Pkcs1(k) => ("RSA PRIVATE KEY", k.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(k) => ("PRIVATE KEY", k.secret_pkcs8_der()),
            _ => return Err(bad("not an RSA private key block")),
        };
        // The key block alone, as jsonwebtoken reads PEM (PKCS#1, or PKCS#8
        // of an RSA key): nothing of the secret around it is kept.
        let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
        let app = AppKey {
            id: id.to_string(),
            pem: Zeroizing::new(format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                body.as_str()
            )),
        };
        if matches!(&*key, PrivateKeyDer::Pkcs8(_)) && app.encoding_key().is_err() {
            return Err(bad("the PKCS#8 block holds no RSA key"));
        }
        app.jwt(0)
            .map_err(|_| bad("the key does not parse (RSA, 2048 bits or more)"))?;
        Ok(app)
    }

    /// The signing key, read from the key block for one JWT.
    fn encoding_key(&self) -> Result<EncodingKey, jsonwebtoken::errors::Error> {
        EncodingKey::from_rsa_pem(self.pem.as_bytes())
    }

    /// The App's id as configured (no secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A JWT for the App's own endpoints: issued a minute in the past
    /// (clock drift), valid nine minutes (GitHub allows ten).
    pub fn jwt(&self, now_secs: u64) -> Result<Token, GitHubError> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iat: u64,
            exp: u64,
            iss: &'a str,
        }
        let claims = Claims {
            iat: now_secs.saturating_sub(60),
            exp: now_secs + 540,
            iss: &self.id,
        };
        let key = self
            .encoding_key()
            .map_err(|e| GitHubError::Setup(format!("reading the App's key failed: {e}")))?;
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
            .map_err(|e| GitHubError::Setup(format!("signing the App's JWT failed: {e}")))?;
        Token::new(jwt).ok_or_else(|| GitHubError::Setup("empty JWT".into()))
    }
}

/// Why a PEM text holds no private key, in words (never quoting it).
fn pem_problem(e: &rustls::pki_types::pem::Error) -> &'static str {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::NoItemsFound => "no private key block (`-----BEGIN`) in it",
        E::MissingSectionEnd { .. } => "no matching END line",
        E::IllegalSectionStart { .. } => "a malformed BEGIN line",
        E::Base64Decode(_) => "the body is not base64",
        _ => "the PEM text does not parse",
    }
}

impl GitHub {
    /// Whether the App (this client holds its JWT) is installed on `repo`.
    pub async fn app_installed(&self, repo: &str) -> Result<bool, GitHubError> {
        Ok(self.app_installation(repo).await?.is_some())
    }

    /// The App's installation on `repo`, as its repository selection
    /// (`all`: every repository of the account, present and future;
    /// `selected`), or `None` when it is not installed there (`GET
    /// /repos/{owner}/{repo}/installation`).
    pub async fn app_installation(
        &self,
        repo: &str,
    ) -> Result<Option<crate::doctor::facts::Installed>, GitHubError> {
        let r = match self
            .send(
                Method::Get,
                &format!("{}/installation", repo_path(repo)),
                None,
            )
            .await
        {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let all = r.body["repository_selection"].as_str() == Some("all");
        Ok(Some(crate::doctor::facts::Installed {
            all_repositories: all,
        }))
    }

    /// An installation token for `repo` only, with `permissions` only.
    /// This client must hold the App's JWT.
    pub async fn installation_token(
        &self,
        repo: &str,
        permissions: Permissions,
    ) -> Result<Token, GitHubError> {
        let id = self.installation_id(repo).await?;
        self.installation_access_token(id, repo, permissions).await
    }

    /// The id of the App's installation on `repo` (`GET
    /// /repos/{owner}/{repo}/installation`, a read).
    pub async fn installation_id(&self, repo: &str) -> Result<u64, GitHubError> {
        // Raw: octocrab's Installation requires `account` as a user; GitHub may answer null or an enterprise.
        let r = self
            .send(
                Method::Get,
                &format!("{}/installation", repo_path(repo)),
                None,
            )
            .await?;
        r.body.get("id").and_then(Value::as_u64).ok_or_else(|| {
            GitHubError::Setup(format!("the App's installation on {repo} has no id"))
        })
    }

    /// A token of installation `id` for `repo` only, with `permissions`
    /// (`POST /app/installations/{id}/access_tokens`).
    pub async fn installation_access_token(
        &self,
        id: u64,
        repo: &str,
        permissions: Permissions,
    ) -> Result<Token, GitHubError> {
        Ok(self.mint_token(id, repo, permissions).await?.token)
    }

    /// [`GitHub::installation_access_token`] with the token's expiry.
    async fn mint_token(
        &self,
        id: u64,
        repo: &str,
        permissions: Permissions,
    ) -> Result<Minted, GitHubError> {
        let name = repo.split_once('/').map_or(repo, |(_, n)| n);
        let body = octocrab::models::apps::CreateInstallationAccessToken {
            repositories: Some(vec![name.to_string()]),
            permissions: Some(
                permissions
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        // octocrab's typed call, through the client's layers: the
        // installation id is a number (nothing to escape), and the token's
        // answer is octocrab's model. (octocrab's own installation
        // authentication is not used: it scopes a token to repositories
        // but not to permissions, and fleetform asks for each command's
        // own; see `transport`.)
        let path = format!("/app/installations/{id}/access_tokens");
        let answer = self
            .typed(Method::Post, &path, |crab| async move {
                crab.apps()
                    .create_installation_access_token(octocrab::models::InstallationId(id), &body)
                    .await
            })
            .await?;
        let expires_at = expiry(answer.expires_at.as_deref());
        let token = Token::new(answer.token)
            .filter(|t| t.is_sendable())
            .ok_or_else(|| {
                GitHubError::Setup(format!(
                    "GitHub answered no usable installation token for {repo}"
                ))
            })?;
        Ok(Minted { token, expires_at })
    }

    /// A client for `repo` holding an installation token of `app`'s
    /// installation there, restricted to `repo` and `permissions`, and
    /// renewed before it expires ([`super::renewal`]): a job that
    /// outlasts a token (an apply of more than an hour) still writes its
    /// results. Each JWT and token is handed to `on_credential` (the
    /// output layer masks it) before it is used. Runs on the runtime the
    /// client is for; `dry_run` withholds the client's writes (minting a
    /// token is sent all the same).
    pub async fn installation_client(
        net: &crate::net::Settings,
        root: ApiRoot,
        app: Arc<AppKey>,
        repo: &str,
        permissions: Permissions,
        dry_run: bool,
        on_credential: OnCredential,
    ) -> Result<GitHub, GitHubError> {
        let minter = Arc::new(Minter {
            app,
            net: net.clone(),
            root: root.clone(),
            repo: repo.to_string(),
            permissions,
            on_credential: on_credential.clone(),
        });
        let jwt_client = minter.jwt_client()?;
        let id = jwt_client.installation_id(repo).await?;
        let minted_at = crate::util::now_unix();
        let first = jwt_client.mint_token(id, repo, permissions).await?;
        on_credential(&first.token);
        let gh = GitHub::in_runtime(net, root, Some(&first.token), dry_run)?;
        let mint: Mint = Arc::new(move || {
            let minter = minter.clone();
            Box::pin(async move { minter.mint(id).await })
        });
        Ok(gh.renewing(Renewal::after(&first, minted_at, mint, on_credential)))
    }
}

/// What an installation client mints its tokens with.
struct Minter {
    app: Arc<AppKey>,
    net: crate::net::Settings,
    root: ApiRoot,
    repo: String,
    permissions: Permissions,
    on_credential: OnCredential,
}

impl Minter {
    /// A client holding a JWT of the App made now (a JWT lasts minutes).
    fn jwt_client(&self) -> Result<GitHub, GitHubError> {
        let jwt = self.app.jwt(crate::util::now_unix())?;
        (self.on_credential)(&jwt);
        GitHub::in_runtime(&self.net, self.root.clone(), Some(&jwt), false)
    }

    async fn mint(&self, id: u64) -> Result<Minted, GitHubError> {
        self.jwt_client()?
            .mint_token(id, &self.repo, self.permissions)
            .await
    }
}

impl GitHub {
    /// The App this client holds the JWT of, as `GET /app` answers.
    pub async fn app_grant(&self) -> Result<crate::doctor::facts::AppGrant, GitHubError> {
        // Raw: octocrab's App drops permissions it does not name and requires `owner` as a user, not an enterprise.
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
    use ring::signature::RsaKeyPair;
    use serde_json::json;

    /// The key is held where it is wiped on drop (and nowhere else: each
    /// JWT is signed from it), `Debug` shows the id only, and a JWT made
    /// from it verifies with the key's public half.
    #[test]
    fn the_key_is_wiped_never_shown_and_signs() {
        let pem = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/app/test-app.pem"),
        )
        .unwrap();
        let k = AppKey::parse(AppRole::Customer, "42", &pem).unwrap();
        let held: &Zeroizing<String> = &k.pem;
        assert!(held.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let held = rustls::pki_types::PrivatePkcs1KeyDer::from_pem_slice(held.as_bytes()).unwrap();
        let held = held.secret_pkcs1_der();
        let shown = format!("{k:?}");
        assert_eq!(shown, "AppKey(42, ***)");
        let jwt = k.jwt(1_000_000).unwrap();
        let jwt = jwt.expose();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let pair = RsaKeyPair::from_der(held).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            ring::signature::KeyPair::public_key(&pair).as_ref(),
        );
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims,
            json!({ "iat": 999_940, "exp": 1_000_540, "iss": "42" })
        );
    }

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
        let e = AppKey::parse(c, "123", "hello").unwrap_err().to_string();
        assert!(e.contains("no private key block"), "{e}");
        let e = AppKey::parse(
            c,
            "123",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not an RSA private key block"), "{e}");
    }

    fn fixture_pem() -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/app/test-app.pem"),
        )
        .unwrap()
    }

    /// The App's JWT: RS256 over `{"typ":"JWT","alg":"RS256"}`, iat a
    /// minute back, exp nine minutes on, iss the App id; it verifies with
    /// the key's public half.
    fn check_jwt(app: &AppKey, public: &ring::rsa::PublicKeyComponents<Vec<u8>>) {
        let jwt = app.jwt(1_000_000).unwrap();
        let jwt = jwt.expose();
        let parts: Vec<&str> = jwt.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"typ": "JWT", "alg": "RS256"}));
        let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            json!({"iat": 1_000_000 - 60, "exp": 1_000_000 + 540, "iss": "123"})
        );
        let input = format!("{}.{}", parts[0], parts[1]);
        ring::signature::RsaPublicKeyComponents {
            n: &public.n,
            e: &public.e,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &b64.decode(parts[2]).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn the_jwt_is_signed_with_the_apps_key_given_as_pkcs1_or_pkcs8() {
        let pem = fixture_pem();
        let pkcs1 = match PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap() {
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der().to_vec(),
            _ => panic!("the fixture is PKCS#1"),
        };
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> =
            RsaKeyPair::from_der(&pkcs1).unwrap().public().into();
        check_jwt(
            &AppKey::parse(AppRole::Customer, "123", &pem).unwrap(),
            &public,
        );
        // The same key wrapped as PKCS#8 (PrivateKeyInfo around it).
        let mut inner = vec![0x02, 0x01, 0x00, 0x30, 0x0d];
        inner.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
        ]);
        inner.extend_from_slice(&der_header(0x04, pkcs1.len()));
        inner.extend_from_slice(&pkcs1);
        let mut pkcs8 = der_header(0x30, inner.len());
        pkcs8.extend_from_slice(&inner);
        assert!(RsaKeyPair::from_pkcs8(&pkcs8).is_ok(), "a real PKCS#8 key");
        let pem8 = |der: &[u8]| {
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(der)
            )
        };
        check_jwt(
            &AppKey::parse(AppRole::Customer, "123", &pem8(&pkcs8)).unwrap(),
            &public,
        );
        // PKCS#8 of another algorithm (sha256WithRSAEncryption's OID) is
        // refused.
        let mut other = pkcs8.clone();
        other[19] = 0x0b;
        let e = AppKey::parse(AppRole::Customer, "123", &pem8(&other))
            .err()
            .unwrap();
        assert!(e.to_string().contains("holds no RSA key"), "{e}");
    }

    fn der_header(tag: u8, len: usize) -> Vec<u8> {
        match len {
            0..=0x7f => vec![tag, len as u8],
            0x80..=0xff => vec![tag, 0x81, len as u8],
            _ => vec![tag, 0x82, (len >> 8) as u8, len as u8],
        }
    }
}
