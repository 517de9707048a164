//! A customer's secrets identity handed from the job that holds it to the
//! plan and apply jobs of the same run (#82 point 2, #83 point 1).
//!
//! The identity lives in an environment of its own per customer ×
//! environment (`<env>-secrets-<slug>`, one secret, read by a static
//! reference), whose job runs fleetform alone. That job encrypts the
//! identity with age to the environment's **handoff recipient**
//! (`secrets.handoff_recipients` in fleetform.yml), together with what it
//! is for (the pair and the run id), and hands the ciphertext over as a
//! job output. The plan and apply jobs open it with the **handoff
//! identity** (`FLEETFORM_HANDOFF_KEY`, held by the environment's plan and
//! apply environments alone) and refuse it unless it names their own pair
//! and run: the runner of a customer's plan receives that customer's
//! identity only (no `secrets[...]` index sends it the whole context).
//!
//! The key environment holds no secret it shares with another: the
//! recipient is public (fleetform.yml), so a customer's key environment
//! made later needs nothing but its own identity. Anyone may encrypt to a
//! recipient, so what is opened is trusted for nothing more than it
//! proves: the plan decrypts the customer's secrets only with an identity
//! of the recipient the registry names (`values::secret_files::decrypt`),
//! and `fleetform handoff` checks the same before handing over.
//!
//! Format: `ffkey2.` then the URL-safe base64 (no padding) of the age
//! ciphertext of `FFKEY2`, the customer, the environment and the run id,
//! one per line, then the identity lines.

use base64::Engine as _;
use std::str::FromStr;

const MAGIC: &str = "FFKEY2";
const PREFIX: &str = "ffkey2.";
/// Longest handed-over text opened: a few identities.
const MAX_SEALED: usize = 16 * 1024;

/// What the handed-over key was sealed for.
#[derive(Debug, Clone, Copy)]
pub struct For<'a> {
    pub customer: &'a str,
    pub environment: &'a str,
    /// The workflow run (`GITHUB_RUN_ID`): its jobs alone share outputs.
    pub run_id: &'a str,
}

impl For<'_> {
    fn header(&self) -> String {
        format!(
            "{MAGIC}\n{}\n{}\n{}\n",
            self.customer, self.environment, self.run_id
        )
    }
}

/// Why a key could not be handed over or opened. No variant holds a key.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("secrets.handoff_recipients.{0} is not an age recipient")]
    Recipient(String),
    #[error("FLEETFORM_HANDOFF_KEY line {0} is not an age identity (AGE-SECRET-KEY-1…)")]
    Identity(usize),
    #[error("FLEETFORM_HANDOFF_KEY is not set: a plan or apply job handed a secrets key opens it with the handoff identity of its environment's plan and apply environments")]
    NoIdentity,
    #[error("encrypting the secrets key to the handoff recipient failed: {0}")]
    Encrypt(String),
    #[error("the handed-over secrets key is not one fleetform made (it does not start `{PREFIX}`, or is not base64)")]
    NotSealed,
    #[error("the handed-over secrets key is longer than {MAX_SEALED} bytes")]
    TooLong,
    #[error("the handed-over secrets key does not open with FLEETFORM_HANDOFF_KEY: it was made for another environment's handoff recipient, or changed")]
    Unopened,
    #[error("the handed-over secrets key was made for another customer, environment or run than {customer}/{environment} in run {run_id}")]
    Forged {
        customer: String,
        environment: String,
        run_id: String,
    },
}

/// `identities` (age identity lines) encrypted to `recipient` (the
/// environment's handoff recipient, named `env` in messages) for `to`.
pub fn seal(recipient: &str, to: For<'_>, identities: &str) -> Result<String, HandoffError> {
    let r = age::x25519::Recipient::from_str(recipient.trim())
        .map_err(|_| HandoffError::Recipient(to.environment.to_string()))?;
    let plain = zeroize::Zeroizing::new(format!("{}{identities}", to.header()));
    let sealed =
        age::encrypt(&r, plain.as_bytes()).map_err(|e| HandoffError::Encrypt(e.to_string()))?;
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// The identity lines [`seal`] made for `to`, opened with one of
/// `handoff` (the handoff identities, one per line), wiped when dropped.
pub fn open(
    handoff: &str,
    to: For<'_>,
    sealed: &str,
) -> Result<zeroize::Zeroizing<String>, HandoffError> {
    let sealed = sealed.trim();
    if sealed.len() > MAX_SEALED {
        return Err(HandoffError::TooLong);
    }
    let body = sealed.strip_prefix(PREFIX).ok_or(HandoffError::NotSealed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| HandoffError::NotSealed)?;
    let identities = identities(handoff)?;
    let plain = identities
        .iter()
        .find_map(|id| age::decrypt(id, &bytes).ok())
        .ok_or(HandoffError::Unopened)?;
    let text =
        zeroize::Zeroizing::new(String::from_utf8(plain).map_err(|_| HandoffError::NotSealed)?);
    let header = to.header();
    match text.strip_prefix(&header) {
        Some(rest) => Ok(zeroize::Zeroizing::new(rest.to_string())),
        None => Err(HandoffError::Forged {
            customer: to.customer.to_string(),
            environment: to.environment.to_string(),
            run_id: to.run_id.to_string(),
        }),
    }
}

/// The identities of `text` (age identity lines; blank lines and `#`
/// comments skipped).
fn identities(text: &str) -> Result<Vec<age::x25519::Identity>, HandoffError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(age::x25519::Identity::from_str(line).map_err(|_| HandoffError::Identity(i + 1))?);
    }
    if out.is_empty() {
        return Err(HandoffError::NoIdentity);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    fn pair() -> (String, String) {
        let id = age::x25519::Identity::generate();
        (
            id.to_public().to_string(),
            id.to_string().expose_secret().to_string(),
        )
    }

    #[test]
    fn a_handed_key_opens_for_its_pair_and_run_alone() {
        let (recipient, identity) = pair();
        let (_, other_identity) = pair();
        let to = For {
            customer: "acme",
            environment: "staging",
            run_id: "42",
        };
        let sealed = seal(&recipient, to, "AGE-SECRET-KEY-1XYZ\n").unwrap();
        assert!(sealed.starts_with("ffkey2.") && !sealed.contains("XYZ"));
        assert_eq!(
            open(&identity, to, &sealed).unwrap().as_str(),
            "AGE-SECRET-KEY-1XYZ\n"
        );
        // Another handoff identity among the lines is skipped.
        let both = format!("{other_identity}\n{identity}\n");
        assert!(open(&both, to, &sealed).is_ok());
        for other in [
            For {
                customer: "globex",
                ..to
            },
            For {
                environment: "production",
                ..to
            },
            For { run_id: "43", ..to },
        ] {
            let e = open(&identity, other, &sealed).unwrap_err();
            assert!(matches!(e, HandoffError::Forged { .. }), "{e}");
        }
        assert!(matches!(
            open(&other_identity, to, &sealed).unwrap_err(),
            HandoffError::Unopened
        ));
        assert!(matches!(
            open(&identity, to, "AGE-SECRET-KEY-1XYZ").unwrap_err(),
            HandoffError::NotSealed
        ));
        assert!(matches!(
            open("", to, &sealed).unwrap_err(),
            HandoffError::NoIdentity
        ));
        let e = open("not a key", to, &sealed).unwrap_err();
        assert!(matches!(e, HandoffError::Identity(1)) && !e.to_string().contains("not a key"));
        let long = format!("ffkey2.{}", "A".repeat(MAX_SEALED));
        assert!(matches!(
            open(&identity, to, &long).unwrap_err(),
            HandoffError::TooLong
        ));
        assert!(matches!(
            seal("age1nope", to, "x").unwrap_err(),
            HandoffError::Recipient(_)
        ));
    }
}
