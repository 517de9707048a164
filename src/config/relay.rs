//! `relay:` in fleetform.yml: the provider's dispatch relay
//! (`fleetform relay serve`, `fleetform poll`) and the manager App it
//! dispatches as. With it, a customer reaches the manager holding no
//! credential of the provider: its trigger proves who it is with the
//! GitHub Actions OIDC token of its own run (or the customer App's webhook
//! tells the relay), the relay reads the customer's repo as the customer
//! App and dispatches to the manager as the manager App. The manager's
//! `authorise` then trusts a dispatch whose `sender` is the manager App's
//! bot account (README, "The Apps").

use super::*;

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `relay:` in fleetform.yml.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The manager App's slug (its URL name): dispatches it sends come
    /// from the account `<app_slug>[bot]`, which no user can hold. (One
    /// App did everything in older releases; its slug is the manager App's
    /// now, or the new manager App's once one is made.)
    pub app_slug: String,
    /// The manager repo the relay dispatches to, `owner/name`.
    pub manager_repo: String,
    /// The `aud` the customer's trigger asks its OIDC token for and the
    /// relay requires; default [`RelayConfig::audience`]'s, unique to the
    /// provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The workflows of a customer's repo whose runs may call the relay
    /// (their `job_workflow_ref` claim), paths in that repo; default the
    /// trigger as customers install it.
    #[serde(default = "default_workflows")]
    pub workflows: Vec<String>,
    /// The OIDC issuer (default GitHub Actions'; GHES has its own).
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// Where the issuer's keys are (default `<issuer>/.well-known/jwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// The web address of the GitHub the runs live on, for run links
    /// (default `https://github.com`).
    #[serde(default = "default_server_url")]
    pub server_url: String,
    /// Most customers' events one dispatch carries (1 to 32, default 32):
    /// above 1 the manager needs its batch workflow
    /// (`.github/workflows/manager-batch.yml`, which `doctor` requires);
    /// 1 sends every event alone (GitHub's write limits then cap the relay
    /// near 80 events a minute).
    #[serde(default = "default_batch")]
    pub batch: usize,
}

/// The most events one relay dispatch carries (`relay.batch`).
pub const MAX_RELAY_BATCH: usize = 32;

/// The relay's batch workflow in the manager repo, whose presence in the
/// manager checkout lets the relay send batches.
pub const BATCH_WORKFLOW: &str = ".github/workflows/manager-batch.yml";

/// The audience every relay required before it became unique per
/// provider: any provider's relay accepted a token minted for another's.
pub const DEPRECATED_AUDIENCE: &str = "fleetform";

/// Where customers install the trigger workflow (`workflows/customer-trigger.yml`
/// as `customers instructions` and `init --customer` place it).
pub const DEFAULT_TRIGGER_WORKFLOW: &str = ".github/workflows/customer-trigger.yml";

fn default_workflows() -> Vec<String> {
    vec![DEFAULT_TRIGGER_WORKFLOW.into()]
}
fn default_issuer() -> String {
    GITHUB_ACTIONS_ISSUER.into()
}
fn default_server_url() -> String {
    "https://github.com".into()
}
fn default_batch() -> usize {
    MAX_RELAY_BATCH
}

impl RelayConfig {
    /// The login dispatches sent as the App carry in `sender.login`.
    pub fn sender_login(&self) -> String {
        format!("{}[bot]", self.app_slug)
    }

    /// The audience tokens must carry: the configured one, else the
    /// manager repo's address (`<server_url>/<manager_repo>`), which no
    /// other provider's relay requires.
    pub fn audience(&self) -> String {
        self.audience.clone().unwrap_or_else(|| {
            format!(
                "{}/{}",
                self.server_url.trim_end_matches('/'),
                self.manager_repo
            )
        })
    }

    /// The audience without a configured one: the manager repo's
    /// address.
    pub fn default_audience(&self) -> String {
        RelayConfig {
            audience: None,
            ..self.clone()
        }
        .audience()
    }

    /// The JWKS address: the configured one, else the issuer's.
    pub fn jwks_url(&self) -> String {
        self.jwks_url
            .clone()
            .unwrap_or_else(|| format!("{}/.well-known/jwks", self.issuer.trim_end_matches('/')))
    }
}

/// An https address, or http to a loopback host (tests, a local issuer).
pub fn is_web_url(u: &str) -> bool {
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => {
            matches!(
                url.host(),
                Some(url::Host::Ipv4(a)) if a.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(a)) if a.is_loopback())
                || url.host_str() == Some("localhost")
        }
        _ => false,
    }
}

/// A workflow file's path in a repo: directly in `.github/workflows/`,
/// `.yml` or `.yaml`, no `@` (the ref is not part of it).
fn is_workflow_path(p: &str) -> bool {
    let Some(name) = p.strip_prefix(".github/workflows/") else {
        return false;
    };
    p.len() <= 200
        && (name.ends_with(".yml") || name.ends_with(".yaml"))
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A GitHub App slug: lower-case letters, digits and `-`, at most 34.
fn is_app_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 34
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Manager {
    pub(super) fn check_relay(&self) -> Result<(), ConfigError> {
        let Some(r) = &self.config.relay else {
            return Ok(());
        };
        if !is_app_slug(&r.app_slug) {
            return Err(self.invalid(
                "/relay/app_slug",
                "the App's slug: lower-case letters, digits and `-` (the name in https://github.com/apps/<slug>)",
            ));
        }
        if !is_repo(&r.manager_repo) {
            return Err(self.invalid("/relay/manager_repo", "the manager repo as owner/name"));
        }
        if r.audience.as_deref() == Some(DEPRECATED_AUDIENCE) {
            return Err(self.invalid(
                "/relay/audience",
                format!(
                    "`audience: {DEPRECATED_AUDIENCE}` is no longer accepted: it was the old default every provider's relay shared, so a token minted for one provider's relay was good at another's (deprecated in the previous release, which warned at start). Remove the key to use the default `{}` (or set an audience unique to you), and have customers pass that value as the trigger's `relay-audience` (their FLEETFORM_RELAY_AUDIENCE variable; `fleetform customers instructions` prints it)",
                    r.default_audience()
                ),
            ));
        }
        let aud = r.audience();
        let aud_ok =
            !aud.is_empty() && aud.len() <= 200 && aud.chars().all(|c| c.is_ascii_graphic());
        if !aud_ok {
            return Err(self.invalid(
                "/relay/audience",
                "an audience of 1-200 visible ASCII characters (the trigger asks its OIDC token for it)",
            ));
        }
        if !(1..=MAX_RELAY_BATCH).contains(&r.batch) {
            return Err(self.invalid(
                "/relay/batch",
                format!(
                    "the most events one dispatch carries: 1 (every event alone) to {}",
                    MAX_RELAY_BATCH
                ),
            ));
        }
        if r.workflows.is_empty() || r.workflows.len() > 20 {
            return Err(self.invalid(
                "/relay/workflows",
                "a list of 1-20 workflow paths in the customer's repo (default [.github/workflows/customer-trigger.yml])",
            ));
        }
        if let Some(i) = r.workflows.iter().position(|w| !is_workflow_path(w)) {
            return Err(self.invalid(
                &format!("/relay/workflows/{i}"),
                "a workflow file of the customer's repo, e.g. .github/workflows/customer-trigger.yml (directly in .github/workflows/, ending .yml or .yaml; no ref)",
            ));
        }
        for (key, value) in [
            ("/relay/issuer", Some(r.issuer.as_str())),
            ("/relay/jwks_url", r.jwks_url.as_deref()),
            ("/relay/server_url", Some(r.server_url.as_str())),
        ] {
            if let Some(v) = value {
                if !is_web_url(v) {
                    return Err(
                        self.invalid(key, "an https:// address (http:// only to a loopback host)")
                    );
                }
            }
        }
        Ok(())
    }
}
