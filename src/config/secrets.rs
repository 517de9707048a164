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
    pub keys_dir: super::RepoPath,
    /// Provider-wide secrets, per environment, in the manager repo
    /// (`{environment}` is replaced): shared by every customer's plan of
    /// that environment, encrypted to the provider's recipient below.
    #[serde(default = "default_provider_file")]
    pub file: super::RepoPath,
    /// The provider's age recipient per environment, for `file`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recipients: BTreeMap<String, String>,
    /// The fleet recipient: with it, every identity `customers add` and
    /// `rotate-secrets-key` make is also sealed to it in `keyring`, which
    /// fleet jobs (drift, rollouts, offboarding, day-2) open with
    /// `FLEETFORM_FLEET_SECRETS_KEY`. One per environment (a map) keeps
    /// each environment's entries in a keyring of its own, so the fleet
    /// identity of one environment opens no other's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_recipient: Option<FleetRecipient>,
    /// Per environment, the age recipient a customer's key job encrypts
    /// its identity to for the plan and apply jobs of its run, whose
    /// environments hold the identity (`FLEETFORM_HANDOFF_KEY`):
    /// `doctor --fix` makes them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub handoff_recipients: BTreeMap<String, String>,
    /// The fleet keyring, in the manager repo (`{environment}` is
    /// replaced; with one recipient per environment and no placeholder,
    /// `secrets/keyring.yml` is one file per environment,
    /// `secrets/keyring.<env>.yml`).
    #[serde(default = "default_keyring")]
    pub keyring: super::RepoPath,
}

/// `secrets.fleet_recipient`: one for every environment, or one each.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum FleetRecipient {
    One(String),
    PerEnvironment(BTreeMap<String, String>),
}

impl SecretsConfig {
    /// The fleet recipient `env`'s keyring entries are sealed to.
    pub fn fleet_recipient_for(&self, env: &str) -> Option<&str> {
        match self.fleet_recipient.as_ref()? {
            FleetRecipient::One(r) => Some(r),
            FleetRecipient::PerEnvironment(m) => m.get(env).map(String::as_str),
        }
    }

    /// The keyring file (in the manager repo) holding `env`'s entries.
    pub fn keyring_for(&self, env: &str) -> String {
        let keyring = self.keyring.to_string_lossy();
        if keyring.contains("{environment}") {
            return keyring.replace("{environment}", env);
        }
        match &self.fleet_recipient {
            Some(FleetRecipient::PerEnvironment(_)) => match keyring.rsplit_once('.') {
                Some((stem, ext)) if !ext.contains('/') => format!("{stem}.{env}.{ext}"),
                _ => format!("{keyring}.{env}"),
            },
            _ => keyring.into_owned(),
        }
    }

    /// The provider-wide secrets file of `env`, in the manager repo.
    pub fn file_for(&self, env: &str) -> String {
        self.file.to_string_lossy().replace("{environment}", env)
    }

    /// Every fleet recipient named, with the environment it is for
    /// (`None`: every environment).
    pub fn fleet_recipients(&self) -> Vec<(Option<&str>, &str)> {
        match &self.fleet_recipient {
            None => Vec::new(),
            Some(FleetRecipient::One(r)) => vec![(None, r.as_str())],
            Some(FleetRecipient::PerEnvironment(m)) => m
                .iter()
                .map(|(e, r)| (Some(e.as_str()), r.as_str()))
                .collect(),
        }
    }
}

fn default_keyring() -> super::RepoPath {
    super::RepoPath::default_for("secrets/keyring.yml")
}

fn default_provider_file() -> super::RepoPath {
    super::RepoPath::default_for("secrets/{environment}.yml")
}

fn default_keys_dir() -> super::RepoPath {
    super::RepoPath::default_for(".fleetform/secret-keys")
}

impl super::Manager {
    /// Each fleet recipient is an age recipient, and one per environment
    /// names an environment of fleetform.yml.
    pub(super) fn check_secrets(&self) -> Result<(), super::ConfigError> {
        let Some(s) = &self.config.secrets else {
            return Ok(());
        };
        let envs = self.environment_names();
        for (env, r) in s.fleet_recipients() {
            let at = match env {
                Some(e) => format!("/secrets/fleet_recipient/{e}"),
                None => "/secrets/fleet_recipient".into(),
            };
            if let Some(e) = env.filter(|e| !envs.iter().any(|n| n == e)) {
                return Err(
                    self.invalid(&at, format!("`{e}` is not an environment of fleetform.yml"))
                );
            }
            if r.parse::<age::x25519::Recipient>().is_err() {
                return Err(self.invalid(
                    &at,
                    "an age recipient (`age1...`, from `age-keygen`): each identity `customers add` makes is sealed to it",
                ));
            }
        }
        for (what, map) in [
            ("recipients", &s.recipients),
            ("handoff_recipients", &s.handoff_recipients),
        ] {
            for (env, r) in map {
                let at = format!("/secrets/{what}/{env}");
                if !envs.iter().any(|n| n == env) {
                    return Err(self.invalid(
                        &at,
                        format!("`{env}` is not an environment of fleetform.yml"),
                    ));
                }
                if r.parse::<age::x25519::Recipient>().is_err() {
                    return Err(self.invalid(
                        &at,
                        "an age recipient (`age1...`; `fleetform doctor --fix` makes one)",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml_recipient: FleetRecipient, keyring: &str) -> SecretsConfig {
        SecretsConfig {
            keys_dir: default_keys_dir(),
            file: default_provider_file(),
            recipients: BTreeMap::new(),
            handoff_recipients: BTreeMap::new(),
            fleet_recipient: Some(yaml_recipient),
            keyring: super::super::RepoPath(keyring.into()),
        }
    }

    #[test]
    fn each_environments_entries_have_their_recipient_and_keyring() {
        let one = config(FleetRecipient::One("age1all".into()), "secrets/keyring.yml");
        assert_eq!(one.fleet_recipient_for("staging"), Some("age1all"));
        assert_eq!(one.keyring_for("production"), "secrets/keyring.yml");
        let each = config(
            FleetRecipient::PerEnvironment(BTreeMap::from([(
                "staging".to_string(),
                "age1stg".to_string(),
            )])),
            "secrets/keyring.yml",
        );
        assert_eq!(each.fleet_recipient_for("staging"), Some("age1stg"));
        assert_eq!(each.fleet_recipient_for("production"), None);
        assert_eq!(each.keyring_for("staging"), "secrets/keyring.staging.yml");
        let placed = config(
            FleetRecipient::One("age1all".into()),
            "keys/{environment}/keyring.yml",
        );
        assert_eq!(placed.keyring_for("staging"), "keys/staging/keyring.yml");
    }
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
