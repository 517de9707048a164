//! The fleet keyring: every customer × environment secrets identity,
//! each encrypted to the provider's *fleet recipient*, in one file of the
//! manager repo (fleetform.yml `secrets.keyring`, default
//! `secrets/keyring.yml`). It has the secrets file's shape, one entry per
//! pair named `slug/environment`:
//!
//! ```yaml
//! recipient: age1...            # secrets.fleet_recipient
//! secrets:
//!   acme/production:
//!     updated: 2026-11-24
//!     value: |
//!       -----BEGIN AGE ENCRYPTED FILE-----
//!       ...
//! ```
//!
//! A fleet job (drift, a rollout's plans, an offboarding or day-2 preview)
//! plans many customers in one process and holds one identity,
//! [`FLEET_KEY_VAR`], instead of every customer's: it opens only the entry
//! of the pair it plans. `customers add` and `rotate-secrets-key` write
//! entries (they need only the fleet *recipient*, a public key), `revoke`
//! removes them. Nothing here prints, and no error carries a key.

use std::collections::BTreeMap;
use std::path::Path;

use zeroize::Zeroizing;

use super::secret_files::{self, Keys, SecretError, SecretsFile};

pub use super::secret_files::FLEET_KEY_VAR;

/// The keyring entry of `slug` × `env`.
pub fn entry_name(slug: &str, env: &str) -> String {
    format!("{slug}/{env}")
}

/// The fleet identities this process holds ([`FLEET_KEY_VAR`]); none when
/// unset or empty.
pub fn fleet_keys() -> Result<Keys, String> {
    let text = Zeroizing::new(std::env::var(FLEET_KEY_VAR).unwrap_or_default());
    Keys::parse(FLEET_KEY_VAR, &text).map_err(|e| e.to_string())
}

/// The identity of `slug` × `env` from the keyring `file` (whose recipient
/// must be `fleet_recipient`), opened with `fleet`; `None` when the
/// keyring has no entry for the pair.
pub fn open(
    file: &SecretsFile,
    fleet_recipient: &str,
    fleet: &Keys,
    slug: &str,
    env: &str,
) -> Result<Option<age::x25519::Identity>, SecretError> {
    let name = entry_name(slug, env);
    let Some(one) = file.only(&name) else {
        return Ok(None);
    };
    if !fleet.holds(fleet_recipient) {
        return Err(SecretError {
            location: one.entries[0].location.clone(),
            message: format!(
                "{FLEET_KEY_VAR} holds no identity of secrets.fleet_recipient ({fleet_recipient}): set it from the fleet key's secret in this job's environment"
            ),
        });
    }
    let who = "the fleet keyring";
    let mut opened = secret_files::decrypt(&one, who, fleet_recipient, fleet)?;
    let Some(secret) = opened.pop() else {
        return Ok(None);
    };
    let at = one.entries[0].location.clone();
    secret
        .value
        .trim()
        .parse::<age::x25519::Identity>()
        .map(Some)
        .map_err(|_| SecretError {
            location: at,
            message: format!(
                "`{name}` does not hold an age identity: make it again with `fleetform customers rotate-secrets-key {slug} --env {env}`"
            ),
        })
}

/// One keyring entry being written: the identity sealed to the fleet
/// recipient.
pub struct Sealed {
    pub name: String,
    pub updated: jiff::civil::Date,
    pub armored: String,
}

/// `identity` (an age identity line) encrypted to `fleet_recipient`.
pub fn seal(fleet_recipient: &str, identity: &str) -> Result<String, String> {
    let to = fleet_recipient
        .parse::<age::x25519::Recipient>()
        .map_err(|e| format!("secrets.fleet_recipient is not an age recipient: {e}"))?;
    age::encrypt_and_armor(&to, identity.as_bytes())
        .map_err(|e| format!("encrypting to the fleet recipient: {e}"))
}

/// The keyring's text: `current` (parsed, or none yet) with the entries
/// named in `remove` dropped and `add` put in (replacing a same-named
/// one), sorted by name.
pub fn edited(
    current: Option<&SecretsFile>,
    fleet_recipient: &str,
    add: Vec<Sealed>,
    remove: impl Fn(&str) -> bool,
) -> Result<String, String> {
    if let Some(f) = current.filter(|f| f.recipient != fleet_recipient) {
        return Err(format!(
            "{} is encrypted to {}, not to secrets.fleet_recipient ({fleet_recipient}): after a fleet key rotation every entry is made again (`customers rotate-secrets-key`)",
            f.file.display(),
            f.recipient
        ));
    }
    let mut entries: BTreeMap<String, (Option<jiff::civil::Date>, String)> = current
        .map(|f| {
            f.entries
                .iter()
                .filter(|e| !remove(&e.name))
                .map(|e| (e.name.clone(), (e.updated, e.ciphertext().to_string())))
                .collect()
        })
        .unwrap_or_default();
    for s in add {
        entries.insert(s.name, (Some(s.updated), s.armored));
    }
    Ok(render(fleet_recipient, &entries))
}

fn render(
    recipient: &str,
    entries: &BTreeMap<String, (Option<jiff::civil::Date>, String)>,
) -> String {
    let mut out = String::from(
        "# fleetform's secrets keyring (fleetform.yml secrets.keyring): each customer ×\n\
         # environment secrets identity, encrypted to secrets.fleet_recipient. Written\n\
         # by `fleetform customers add`, `rotate-secrets-key` and `revoke`; opened\n\
         # one entry at a time by fleet jobs holding FLEETFORM_FLEET_SECRETS_KEY.\n",
    );
    out.push_str(&format!("recipient: {recipient}\n"));
    if entries.is_empty() {
        out.push_str("secrets: {}\n");
        return out;
    }
    out.push_str("secrets:\n");
    for (name, (updated, armored)) in entries {
        out.push_str(&format!("  {}:\n", serde_json::Value::from(name.as_str())));
        if let Some(d) = updated {
            out.push_str(&format!("    updated: {d}\n"));
        }
        out.push_str("    value: |\n");
        for line in armored.trim_end().lines() {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out
}

/// Parses the keyring at `shown` from `bytes`.
pub fn parse(shown: &Path, bytes: &[u8]) -> Result<SecretsFile, SecretError> {
    secret_files::parse(shown, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> jiff::civil::Date {
        jiff::civil::date(2026, 11, 24)
    }

    #[test]
    fn an_entry_opens_only_for_its_pair_and_with_the_fleet_key() {
        let (fleet_r, fleet_id) = secret_files::generate();
        let (pair_r, pair_id) = secret_files::generate();
        let add = vec![Sealed {
            name: entry_name("acme", "production"),
            updated: date(),
            armored: seal(&fleet_r, &pair_id).unwrap(),
        }];
        let text = edited(None, &fleet_r, add, |_| false).unwrap();
        assert!(!text.contains(pair_id.as_str()), "the identity is sealed");
        let file = parse(Path::new("secrets/keyring.yml"), text.as_bytes()).unwrap();
        let fleet = Keys::parse(FLEET_KEY_VAR, &fleet_id).unwrap();
        let got = open(&file, &fleet_r, &fleet, "acme", "production")
            .unwrap()
            .expect("the pair's entry");
        assert_eq!(got.to_public().to_string(), pair_r);
        assert!(open(&file, &fleet_r, &fleet, "acme", "staging")
            .unwrap()
            .is_none());
        let (_, other_id) = secret_files::generate();
        let wrong = Keys::parse(FLEET_KEY_VAR, &other_id).unwrap();
        let Err(e) = open(&file, &fleet_r, &wrong, "acme", "production") else {
            panic!("opened with another key");
        };
        assert!(e.message.contains(FLEET_KEY_VAR), "{e}");
        assert!(!e.to_string().contains("AGE-SECRET-KEY"), "{e}");
    }

    #[test]
    fn edits_replace_and_remove_entries_and_refuse_another_recipient() {
        let (fleet_r, _) = secret_files::generate();
        let sealed = |slug: &str| Sealed {
            name: entry_name(slug, "staging"),
            updated: date(),
            armored: seal(&fleet_r, "AGE-SECRET-KEY-1X").unwrap(),
        };
        let text = edited(None, &fleet_r, vec![sealed("b"), sealed("a")], |_| false).unwrap();
        let file = parse(Path::new("k.yml"), text.as_bytes()).unwrap();
        let names: Vec<_> = file.entries.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, ["a/staging", "b/staging"]);
        let text = edited(Some(&file), &fleet_r, vec![], |n| n.starts_with("a/")).unwrap();
        let file = parse(Path::new("k.yml"), text.as_bytes()).unwrap();
        assert_eq!(file.entries.len(), 1);
        assert_eq!(file.entries[0].name, "b/staging");
        let (other_r, _) = secret_files::generate();
        let e = edited(Some(&file), &other_r, vec![], |_| false).unwrap_err();
        assert!(e.contains("not to secrets.fleet_recipient"), "{e}");
    }
}
