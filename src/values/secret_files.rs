//! Customer secrets: a YAML file per customer × environment beside the
//! values files (`infra/secrets.{environment}.yml` by default), with
//! readable keys, each value encrypted with age to the customer's own
//! recipient for that environment, and the recipient in the file:
//!
//! ```yaml
//! recipient: age1...            # the customer's production recipient
//! secrets:
//!   db_password:
//!     updated: 2026-11-20       # when the value was last set (rotation)
//!     value: |
//!       -----BEGIN AGE ENCRYPTED FILE-----
//!       ...
//!       -----END AGE ENCRYPTED FILE-----
//! ```
//!
//! Why age-encrypted YAML rather than the SOPS format: the one Rust crate
//! that reads SOPS files (`rops` 0.1) takes private keys only from the
//! process environment (`ROPS_AGE`) or a key file in the user's config
//! folder, so fleetform would have to put a customer's key into its own
//! environment and would read whatever key file the machine holds; and it
//! parses through `serde_yaml` 0.9, which is no longer maintained and
//! loses the line and column an error should name. Each value here is a
//! standard age file (the `age` tool writes and reads it: `printf %s
//! VALUE | age -r RECIPIENT -a`), and fleetform's YAML reader keeps
//! positions.
//!
//! Nothing here prints, and no error carries a value: only the file, the
//! key and what to do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use zeroize::Zeroizing;

use fleetform_yaml::{self as yaml, escape_token, Document, Limits, Location};

/// The environment variable holding the age identities a job may use
/// (one per line, `AGE-SECRET-KEY-1...`, comments with `#`), as an age
/// identity file holds them. fleetform picks the one whose recipient is
/// the customer's for the environment; Terraform never sees it.
pub const KEY_VAR: &str = "FLEETFORM_SECRETS_KEY";

/// The environment variable of a fleet job holding the fleet identity
/// (age identity lines; several while the fleet key is being rotated),
/// which opens the fleet keyring's entries (`values::keyring`).
pub const FLEET_KEY_VAR: &str = "FLEETFORM_FLEET_SECRETS_KEY";

/// The variable a local or fleet run may hold `slug`'s identities in,
/// beside others': `FLEETFORM_SECRETS_KEY_<SLUG>` (upper case, `-` as `_`).
/// On GitHub each customer's identity lives in an environment of its own
/// as `FLEETFORM_SECRETS_KEY` (`Environment::secrets_environment`), never
/// under this name in a shared one.
pub fn key_secret_name(slug: &str) -> String {
    format!("{KEY_VAR}_{}", slug.to_ascii_uppercase().replace('-', "_"))
}

/// A secrets file that cannot be used, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SecretError {
    pub location: Location,
    pub message: String,
}

/// One secret as the file holds it: its key, when it was set, its
/// ciphertext (armored age) and where it is.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    /// `updated:` (`YYYY-MM-DD`), for the rotation policy.
    pub updated: Option<jiff::civil::Date>,
    ciphertext: String,
    pub location: Location,
}

impl Entry {
    /// The armored age ciphertext, as the file holds it.
    pub fn ciphertext(&self) -> &str {
        &self.ciphertext
    }
}

/// A parsed secrets file.
#[derive(Debug, Clone)]
pub struct SecretsFile {
    pub file: PathBuf,
    /// The recipient the file says its values are encrypted to.
    pub recipient: String,
    pub entries: Vec<Entry>,
}

impl SecretsFile {
    /// The file with only the entry `name`, if it has one.
    pub fn only(&self, name: &str) -> Option<SecretsFile> {
        let e = self.entries.iter().find(|e| e.name == name)?;
        Some(SecretsFile {
            file: self.file.clone(),
            recipient: self.recipient.clone(),
            entries: vec![e.clone()],
        })
    }
}

/// A decrypted secret: its key, its value (wiped when dropped) and where
/// it came from, which is all anything but Terraform is ever shown.
pub struct Secret {
    pub name: String,
    pub value: Zeroizing<String>,
    pub source: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("value", &"(secret)")
            .field("source", &self.source)
            .finish()
    }
}

fn err(doc: &Document, pointer: &str, message: String) -> SecretError {
    SecretError {
        location: doc.locate(pointer),
        message,
    }
}

/// Parses a secrets file's bytes (shown as `shown`): its shape only;
/// nothing is decrypted.
pub fn parse(shown: &Path, bytes: &[u8]) -> Result<SecretsFile, SecretError> {
    let doc = yaml::load_bytes(bytes, shown, &Limits::default()).map_err(|e| SecretError {
        location: e.location,
        message: e.message,
    })?;
    let Value::Object(top) = &doc.value else {
        return Err(err(
            &doc,
            "",
            "a secrets file is a mapping with `recipient:` and `secrets:`".into(),
        ));
    };
    if let Some(k) = top.keys().find(|k| *k != "recipient" && *k != "secrets") {
        let p = format!("/{}", escape_token(k));
        return Err(SecretError {
            location: Location {
                file: doc.file.clone(),
                pos: doc.key_pos(&p),
            },
            message: format!(
                "unknown key `{}`: a secrets file has `recipient:` and `secrets:`",
                k.escape_debug()
            ),
        });
    }
    let recipient = match top.get("recipient") {
        Some(Value::String(r)) if r.starts_with("age1") => r.clone(),
        _ => {
            return Err(err(&doc, "/recipient", "`recipient:` must be the age recipient (`age1...`) the values are encrypted to: the one `fleetform customers instructions` gives for this environment".into()))
        }
    };
    let entries = match top.get("secrets") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| entry(&doc, k, v))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(err(
                &doc,
                "/secrets",
                "`secrets:` is a mapping of variable names".into(),
            ))
        }
    };
    Ok(SecretsFile {
        file: doc.file.clone(),
        recipient,
        entries,
    })
}

fn entry(doc: &Document, name: &str, v: &Value) -> Result<Entry, SecretError> {
    let p = format!("/secrets/{}", escape_token(name));
    let Value::Object(m) = v else {
        return Err(err(
            doc,
            &p,
            format!(
                "secret `{}` is a mapping with `value:` (armored age) and `updated:` (YYYY-MM-DD)",
                name.escape_debug()
            ),
        ));
    };
    if let Some(k) = m.keys().find(|k| *k != "value" && *k != "updated") {
        return Err(err(
            doc,
            &p,
            format!(
                "secret `{}`: unknown key `{}` (a secret has `value:` and `updated:`)",
                name.escape_debug(),
                k.escape_debug()
            ),
        ));
    }
    let ciphertext = match m.get("value") {
        Some(Value::String(s)) if s.trim_start().starts_with("-----BEGIN AGE ENCRYPTED FILE-----") => s.clone(),
        _ => return Err(err(doc, &format!("{p}/value"), format!("secret `{}`: `value:` must be an armored age ciphertext (`printf %s VALUE | age -r RECIPIENT -a`); a plain value never goes in this file", name.escape_debug()))),
    };
    let updated = match m.get("updated") {
        None => None,
        Some(Value::String(s)) => Some(s.parse::<jiff::civil::Date>().map_err(|_| {
            err(
                doc,
                &format!("{p}/updated"),
                format!(
                    "secret `{}`: `updated:` must be a date, YYYY-MM-DD",
                    name.escape_debug()
                ),
            )
        })?),
        Some(_) => {
            return Err(err(
                doc,
                &format!("{p}/updated"),
                format!(
                    "secret `{}`: `updated:` must be a date, YYYY-MM-DD",
                    name.escape_debug()
                ),
            ))
        }
    };
    Ok(Entry {
        name: name.to_string(),
        updated,
        ciphertext,
        location: Location {
            file: doc.file.clone(),
            pos: doc.key_pos(&p),
        },
    })
}

/// The identities a job holds, from [`KEY_VAR`]: each parsed, none shown.
#[derive(Clone)]
pub struct Keys(Vec<age::x25519::Identity>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} identities)", self.0.len())
    }
}

/// Why no identity could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The variable that holds it, and the line.
    #[error("{0} line {1} is not an age identity (`AGE-SECRET-KEY-1...`); its value is not shown")]
    Malformed(String, usize),
}

impl Keys {
    /// The identities in `text` (an age identity file's lines), the value
    /// of the variable `var`, which an error names.
    pub fn parse(var: &str, text: &str) -> Result<Keys, KeyError> {
        let mut ids = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = line
                .parse::<age::x25519::Identity>()
                .map_err(|_| KeyError::Malformed(var.to_string(), i + 1))?;
            ids.push(id);
        }
        Ok(Keys(ids))
    }

    /// From the environment, for the customer `slug`: [`KEY_VAR`] and
    /// `FLEETFORM_SECRETS_KEY_<SLUG>` (upper case, `-` as `_`); none when
    /// both are unset or empty.
    pub fn from_env(slug: &str) -> Result<Keys, KeyError> {
        let mut keys = Keys(Vec::new());
        for var in [KEY_VAR.to_string(), key_secret_name(slug)] {
            let text = Zeroizing::new(std::env::var(&var).unwrap_or_default());
            keys.0.extend(Keys::parse(&var, &text)?.0);
        }
        Ok(keys)
    }

    /// Adds `id` (e.g. one opened from the fleet keyring).
    pub fn add(&mut self, id: age::x25519::Identity) {
        self.0.push(id);
    }

    /// Adds every identity of `other` (e.g. those handed over by a key job).
    pub fn extend(&mut self, other: &Keys) {
        self.0.extend(other.0.iter().cloned());
    }

    /// Whether it holds no identity.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether one of the identities is `recipient`'s.
    pub fn holds(&self, recipient: &str) -> bool {
        self.for_recipient(recipient).is_some()
    }

    fn for_recipient(&self, recipient: &str) -> Option<&age::x25519::Identity> {
        self.0
            .iter()
            .find(|id| id.to_public().to_string() == recipient)
    }
}

/// A new identity: (its recipient, the identity's text, wiped on drop).
pub fn generate() -> (String, Zeroizing<String>) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let text = Zeroizing::new(id.to_string().expose_secret().to_string());
    (id.to_public().to_string(), text)
}

/// Whether `text` is an age recipient.
pub fn is_recipient(text: &str) -> bool {
    text.parse::<age::x25519::Recipient>().is_ok()
}

/// Decrypts every value of `file` for `who` (e.g. `acme/production`),
/// whose registered recipient is `recipient`, with `keys`.
pub fn decrypt(
    file: &SecretsFile,
    who: &str,
    recipient: &str,
    keys: &Keys,
) -> Result<Vec<Secret>, SecretError> {
    let at_top = Location {
        file: file.file.clone(),
        pos: yaml::Pos { line: 1, col: 1 },
    };
    if file.recipient != recipient {
        return Err(SecretError {
            location: at_top,
            message: format!(
                "this file is encrypted to {}, which is not {who}'s recipient ({recipient}): a file for another customer or environment is never used; encrypt the values to {recipient}",
                file.recipient
            ),
        });
    }
    let Some(id) = keys.for_recipient(recipient) else {
        return Err(SecretError {
            location: at_top,
            message: format!(
                "no key for {who} ({recipient}) in {KEY_VAR}: set it in this job's environment from the secret `customers add` made for {who} (a fleet job: {FLEET_KEY_VAR}, with {who} in the fleet keyring)"
            ),
        });
    };
    file.entries
        .iter()
        .map(|e| decrypt_one(file, e, who, id))
        .collect()
}

fn decrypt_one(
    file: &SecretsFile,
    e: &Entry,
    who: &str,
    id: &age::x25519::Identity,
) -> Result<Secret, SecretError> {
    let refused = |why: &str| SecretError {
        location: e.location.clone(),
        message: format!("secret `{}` {why}", e.name.escape_debug()),
    };
    let bytes = Zeroizing::new(age::decrypt(id, e.ciphertext.as_bytes()).map_err(|_| {
        refused(&format!(
            "does not decrypt with {who}'s key: encrypt it to the file's recipient"
        ))
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| refused("is not UTF-8 text"))?;
    Ok(Secret {
        name: e.name.clone(),
        value: Zeroizing::new(text.to_string()),
        source: format!("{}#{}", file.file.display(), e.name),
    })
}

/// The variables the schema marks as secrets: its top-level properties
/// with `writeOnly: true`.
pub fn secret_names(schema: &Value) -> BTreeMap<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter(|(_, s)| s.get("writeOnly") == Some(&Value::Bool(true)))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(recipient: &str, value: &str) -> String {
        let indented: String = value.lines().map(|l| format!("      {l}\n")).collect();
        format!("recipient: {recipient}\nsecrets:\n  db_password:\n    updated: 2026-11-01\n    value: |\n{indented}")
    }

    #[test]
    fn round_trip_and_refusals() {
        let (recipient, key) = generate();
        let r: age::x25519::Recipient = recipient.parse().unwrap();
        let ct = age::encrypt_and_armor(&r, b"hunter2").unwrap();
        let parsed = parse(Path::new("s.yml"), file(&recipient, &ct).as_bytes()).unwrap();
        let keys = Keys::parse(KEY_VAR, &key).unwrap();
        let got = decrypt(&parsed, "acme/production", &recipient, &keys).unwrap();
        assert_eq!(got[0].value.as_str(), "hunter2");
        assert!(!format!("{got:?}").contains("hunter2"));
        assert_eq!(got[0].source, "s.yml#db_password");

        // Another customer's recipient: refused before any decryption.
        let (other, other_key) = generate();
        let e = decrypt(
            &parsed,
            "acme/production",
            &other,
            &Keys::parse(KEY_VAR, &other_key).unwrap(),
        )
        .unwrap_err();
        assert!(e.message.contains("not acme/production's recipient"), "{e}");
        // The file claims our recipient but a value is another's.
        let o: age::x25519::Recipient = other.parse().unwrap();
        let ct = age::encrypt_and_armor(&o, b"x").unwrap();
        let parsed = parse(Path::new("s.yml"), file(&recipient, &ct).as_bytes()).unwrap();
        let e = decrypt(&parsed, "acme/production", &recipient, &keys).unwrap_err();
        assert!(e.message.contains("does not decrypt"), "{e}");
        assert_eq!(e.location.pos.line, 3, "{e}");
        // No key for this recipient.
        let e = decrypt(&parsed, "acme/production", &recipient, &Keys(Vec::new())).unwrap_err();
        assert!(e.message.contains("no key"), "{e}");
    }

    #[test]
    fn a_plain_value_is_refused_without_being_shown() {
        let (recipient, _) = generate();
        let text =
            format!("recipient: {recipient}\nsecrets:\n  db_password:\n    value: hunter2\n");
        let e = parse(Path::new("s.yml"), text.as_bytes()).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().starts_with("s.yml:4:"), "{e}");
    }

    #[test]
    fn the_key_secret_is_named_by_the_slug_in_upper_case() {
        assert_eq!(key_secret_name("acme-eu"), "FLEETFORM_SECRETS_KEY_ACME_EU");
        assert_eq!(key_secret_name("c01"), "FLEETFORM_SECRETS_KEY_C01");
    }

    #[test]
    fn malformed_keys_are_named_by_line_only() {
        let e = Keys::parse(
            "FLEETFORM_PROVIDER_SECRETS_KEY",
            "# a comment\nAGE-SECRET-KEY-1NOTAKEY\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            KeyError::Malformed("FLEETFORM_PROVIDER_SECRETS_KEY".into(), 2)
        );
        // Named as the variable it was read from, never another one.
        assert!(e
            .to_string()
            .starts_with("FLEETFORM_PROVIDER_SECRETS_KEY line 2 is not"));
        assert!(!e.to_string().contains("NOTAKEY"));
    }
}
