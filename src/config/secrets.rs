//! `secrets:` in fleetform.yml and an environment's `secrets:` (README,
//! "Customer secrets"): where identities are written, the provider-wide
//! secrets, the fleet keyring, and the rotation policy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `secrets:` in fleetform.yml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Where `customers add` writes the identities it makes (one file per
    /// customer × environment, owner-only, never overwritten), for the
    /// operator to store as environment secrets and then delete.
    #[serde(default = "default_keys_dir")]
    pub keys_dir: String,
    /// Provider-wide secrets, per environment, in the manager repo
    /// (`{environment}` is replaced): shared by every customer's plan of
    /// that environment, encrypted to the provider's recipient below.
    #[serde(default = "default_provider_file")]
    pub file: String,
    /// The provider's age recipient per environment, for `file`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recipients: BTreeMap<String, String>,
    /// The fleet recipient: with it, every identity `customers add` and
    /// `rotate-secrets-key` make is also sealed to it in `keyring`, which
    /// fleet jobs (drift, rollouts, offboarding, day-2) open with
    /// `FLEETFORM_FLEET_SECRETS_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_recipient: Option<String>,
    /// The fleet keyring, in the manager repo.
    #[serde(default = "default_keyring")]
    pub keyring: String,
}

fn default_keyring() -> String {
    "secrets/keyring.yml".into()
}

fn default_provider_file() -> String {
    "secrets/{environment}.yml".into()
}

fn default_keys_dir() -> String {
    ".fleetform/secret-keys".into()
}

/// `secrets:` of one environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSecrets {
    /// A secret whose `updated:` is older than this many days is a warning
    /// (plan comment, `customers list`, `doctor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}
