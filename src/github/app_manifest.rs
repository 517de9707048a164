//! The last step of GitHub's App manifest flow ("Registering a GitHub App
//! from a manifest"): the `code` GitHub hands the `redirect_url` turns
//! into the new App's id, slug, private key and webhook secret (`POST
//! /app-manifests/{code}/conversions`, no permission: the code is the
//! credential, valid one hour, once).

use std::fmt;

use serde_json::Value;
use zeroize::Zeroizing;

use super::answers::required_str;
use super::client::{GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::seg;

/// An App just registered from a manifest.
pub struct RegisteredApp {
    pub id: u64,
    pub slug: String,
    /// Its private key (PEM).
    pub pem: Zeroizing<String>,
    /// Its webhook secret, when it has a webhook.
    pub webhook_secret: Option<Zeroizing<String>>,
}

impl fmt::Debug for RegisteredApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredApp")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// Exchanges a manifest flow's `code` for the App (1 request).
    pub async fn convert_manifest_code(&self, code: &str) -> Result<RegisteredApp, GitHubError> {
        let p = format!("/app-manifests/{}/conversions", seg(code));
        let body = self.send(Method::Post, &p, None).await?.body;
        let id = body
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or_else(|| bad_value("POST", &p, "id", "is not a positive number"))?;
        let slug = required_str(&body, "/slug", &p, "slug")?.to_string();
        let pem = required_str(&body, "/pem", &p, "pem")?;
        if !pem.contains("PRIVATE KEY-----") {
            return Err(bad_value("POST", &p, "pem", "is not a PEM private key"));
        }
        let webhook_secret = body
            .get("webhook_secret")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| Zeroizing::new(s.to_string()));
        Ok(RegisteredApp {
            id,
            slug,
            pem: Zeroizing::new(pem.to_string()),
            webhook_secret,
        })
    }
}
