//! The age identities `doctor --fix` makes (#83 point 1): the fleet key,
//! the provider key and the handoff key (`doctor::age_keys`), one new identity per
//! environment of fleetform.yml, made in memory, sealed to each
//! environment's public key and stored where the templates read them
//! (a job that plans every environment gets every identity, one per
//! line); then their recipients are written into fleetform.yml
//! (`secrets.fleet_recipient`, `secrets.recipients`), keeping its
//! comments and order, for the provider to commit. An identity is never
//! printed, logged or written to disk.
//!
//! A key is made only while nothing is sealed to one yet: fleetform.yml
//! names none of its recipients and no file encrypted to them exists (the
//! fleet keyring, the provider-wide secrets files; nothing is kept
//! encrypted to a handoff recipient beyond its run). So a run that stops
//! before fleetform.yml is written is made good by running again, and a
//! key in use is never replaced. A named key missing from an environment
//! is left to the provider: only the identities of those recipients open
//! what is sealed to them, and GitHub never gives a secret back.

use std::collections::BTreeMap;
use std::path::Path;

use zeroize::Zeroizing;

use crate::config::{Manager, SecretsConfig};
use crate::doctor::{AgeKey, FLEET_KEY};
use crate::error::{Error, Result};
use crate::github::GitHub;
use crate::values::form::answers::Answer;

/// What `doctor --fix` does about the two keys: the keys to make, and
/// the lines of what is left to the provider.
pub fn plan(
    manager: &Manager,
    installed: &[(String, String)],
    held: &BTreeMap<String, Vec<String>>,
    customers_with_keys: usize,
) -> (Vec<AgeKey>, Vec<String>) {
    let Some(secrets) = &manager.config.secrets else {
        return (Vec::new(), Vec::new());
    };
    let mut make = Vec::new();
    let mut left = Vec::new();
    for key in crate::doctor::age_keys(manager, installed) {
        if crate::doctor::named(secrets, &key) {
            let missing: Vec<&str> = key
                .holders()
                .into_iter()
                .filter(|e| {
                    !held
                        .get(*e)
                        .is_some_and(|s| s.iter().any(|n| n == key.secret))
                })
                .collect();
            if !missing.is_empty() {
                left.push(format!(
                    "left for you: {} is missing from {}; fleetform.yml names its recipients, and only their identities open what is sealed to them: store them there from where you keep them  [doctor: {}]",
                    key.secret,
                    missing.join(", "),
                    key.row
                ));
            }
            continue;
        }
        let sealed = sealed_files(manager, secrets, &key);
        if let Some(file) = sealed.first() {
            left.push(format!(
                "left for you: fleetform.yml names no recipient of {} but {file} is encrypted to one: put its recipients back in fleetform.yml  [doctor: {}]",
                key.secret, key.row
            ));
            continue;
        }
        if key.secret == FLEET_KEY && customers_with_keys > 0 {
            left.push(format!(
                "left for you: the fleet keyring holds only identities made after the fleet key: run `fleetform customers rotate-secrets-key SLUG --env ENV` for each customer secrets key made before it ({})  [doctor: {}]",
                crate::util::text::count(customers_with_keys, "key", "keys"),
                key.row
            ));
        }
        make.push(key);
    }
    (make, left)
}

/// The files already encrypted to the key's recipients, in the manager
/// repo: every place the fleet keyring may be, or each environment's
/// provider-wide secrets file.
fn sealed_files(manager: &Manager, secrets: &SecretsConfig, key: &AgeKey) -> Vec<String> {
    let mut paths = Vec::new();
    for (env, _) in &key.each {
        if key.secret == FLEET_KEY {
            let mut per_env = secrets.clone();
            per_env.fleet_recipient = Some(crate::config::FleetRecipient::PerEnvironment(
                BTreeMap::new(),
            ));
            paths.push(secrets.keyring_for(env));
            paths.push(per_env.keyring_for(env));
        } else if key.secret == crate::doctor::PROVIDER_KEY {
            paths.push(secrets.file_for(env));
        }
    }
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| manager.root.join(p).exists())
        .collect()
}

/// The plan's line for making `key`.
pub fn line(key: &AgeKey) -> String {
    let envs: Vec<&str> = key.each.iter().map(|(e, _)| e.as_str()).collect();
    let each: Vec<String> = key
        .each
        .iter()
        .map(|(e, holders)| format!("{e}'s in {}", holders.join(", ")))
        .collect();
    let every = match key.every.as_slice() {
        [] => String::new(),
        some => format!("; every one, a line each, in {}", some.join(", ")),
    };
    format!(
        "make {} ({}), a new age identity per environment ({}) never shown: {}{every}; its recipients are written into fleetform.yml as secrets.{}  [doctor: {}]",
        key.secret,
        key.row,
        envs.join(", "),
        each.join("; "),
        recipients_key(key),
        key.row
    )
}

fn recipients_key(key: &AgeKey) -> &'static str {
    match key.secret {
        FLEET_KEY => "fleet_recipient",
        crate::doctor::HANDOFF_KEY => "handoff_recipients",
        _ => "recipients",
    }
}

/// Makes `key`'s identities and stores them; its recipients are added
/// to `recipients` for [`write_recipients`].
pub async fn store(
    gh: &GitHub,
    repo: &str,
    key: &AgeKey,
    recipients: &mut Vec<Answer>,
) -> std::result::Result<(), String> {
    let mut every: Vec<Zeroizing<String>> = Vec::new();
    for (env, holders) in &key.each {
        let (recipient, identity) = crate::values::secret_files::generate();
        for holder in holders {
            gh.store_environment_secret(repo, holder, key.secret, &identity)
                .await
                .map_err(|e| format!("{} in {holder}: {e}", key.secret))?;
        }
        every.push(identity);
        recipients.push(Answer {
            path: vec!["secrets".into(), recipients_key(key).into(), env.clone()],
            value: serde_json::Value::String(recipient),
        });
    }
    let joined = Zeroizing::new(
        every
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    for holder in &key.every {
        gh.store_environment_secret(repo, holder, key.secret, &joined)
            .await
            .map_err(|e| format!("{} in {holder}: {e}", key.secret))?;
    }
    Ok(())
}

/// Writes `recipients` into the manager's fleetform.yml, keeping its
/// comments, order and quoting (temp file, then rename).
pub fn write_recipients(root: &Path, recipients: &[Answer]) -> Result<()> {
    let path = root.join("fleetform.yml");
    let text = crate::util::fs::read_input_text(&path)
        .map_err(|e| Error::failed(format!("reading {}: {e}", path.display())))?;
    let (out, changed) =
        crate::values::form::change::apply(&text, Path::new("fleetform.yml"), recipients).map_err(
            |e| {
                let named: Vec<String> = recipients
                    .iter()
                    .map(|a| format!("{}: {}", a.path.join("."), a.value))
                    .collect();
                Error::failed(format!(
                    "{e}; the keys are stored: add their recipients to fleetform.yml by hand ({})",
                    named.join(", ")
                ))
            },
        )?;
    if changed {
        crate::util::fs::write_atomic(&path, out.as_bytes())
            .map_err(|e| Error::failed(format!("writing {}: {e}", path.display())))?;
    }
    Ok(())
}
