//! A customer's secrets identity handed from the job that holds it to the
//! plan and apply jobs of the same run (#82 point 2).
//!
//! The identity lives in an environment of its own per customer ×
//! environment (`<env>-secrets-<slug>`, one secret, read by a static
//! reference), whose job runs fleetform alone. That job seals the identity
//! for the pair and the run under a key derived from the environment's
//! artifact secret (HKDF label [`LABEL`], the pair and the run id as info
//! and associated data) and hands the sealed text over as a job output.
//! The plan and apply jobs open it with the same artifact secret: the
//! runner of a customer's plan receives that customer's identity only, and
//! never another customer's (no `secrets[...]` index sends it the whole
//! context). A job output lives in its run alone; the sealed text opens
//! for no other pair and no other run.
//!
//! Format: `ffkey1.` then the URL-safe base64 (no padding) of
//! [`seal_bytes`]'s output.

use base64::Engine as _;

use super::seal::{open_bytes, seal_bytes, ArtifactKey, SealError, Unopened};

/// The HKDF salt of handed-over keys: a key of this kind is never a plan
/// bundle's or an ETag cache's.
const LABEL: &[u8] = b"fleetform-secrets-key-v1";
const MAGIC: &[u8] = b"FFKEY1\n";
const PREFIX: &str = "ffkey1.";
/// Longest sealed text opened: a few identities.
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
    fn info(&self) -> String {
        format!("{}\n{}\n{}", self.customer, self.environment, self.run_id)
    }
}

/// Why a handed-over key did not open.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error(transparent)]
    Key(#[from] SealError),
    #[error("the handed-over secrets key is not one fleetform sealed (it does not start `{PREFIX}`, or is not base64)")]
    NotSealed,
    #[error("the handed-over secrets key is longer than {MAX_SEALED} bytes")]
    TooLong,
    #[error("the handed-over secrets key does not open for {customer}/{environment} in run {run_id}: it was sealed for another customer, environment or run, with another artifact key, or changed")]
    Forged {
        customer: String,
        environment: String,
        run_id: String,
    },
}

/// `identities` (age identity lines) sealed for `to`.
pub fn seal(key: &ArtifactKey, to: For<'_>, identities: &str) -> Result<String, SealError> {
    let info = to.info();
    let aead = key.derive(LABEL, &[info.as_bytes()]);
    let sealed = seal_bytes(
        &aead,
        MAGIC,
        info.as_bytes(),
        identities.as_bytes().to_vec(),
    )?;
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// The identity lines [`seal`] sealed for `to`, wiped when dropped.
pub fn open(
    key: &ArtifactKey,
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
    let info = to.info();
    let aead = key.derive(LABEL, &[info.as_bytes()]);
    let plain = open_bytes(&aead, MAGIC, info.as_bytes(), &bytes).map_err(|e| match e {
        Unopened::NotSealed => HandoffError::NotSealed,
        Unopened::Forged => HandoffError::Forged {
            customer: to.customer.to_string(),
            environment: to.environment.to_string(),
            run_id: to.run_id.to_string(),
        },
    })?;
    let text = String::from_utf8(plain).map_err(|_| HandoffError::NotSealed)?;
    Ok(zeroize::Zeroizing::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ArtifactKey {
        ArtifactKey::new(s.as_bytes()).unwrap()
    }

    const K1: &str = "0f9e8d7c6b5a49382716a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const K2: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f91";

    #[test]
    fn a_handed_key_opens_for_its_pair_and_run_alone() {
        let to = For {
            customer: "acme",
            environment: "staging",
            run_id: "42",
        };
        let sealed = seal(&key(K1), to, "AGE-SECRET-KEY-1XYZ\n").unwrap();
        assert!(sealed.starts_with("ffkey1.") && !sealed.contains("XYZ"));
        assert_eq!(
            open(&key(K1), to, &sealed).unwrap().as_str(),
            "AGE-SECRET-KEY-1XYZ\n"
        );
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
            let e = open(&key(K1), other, &sealed).unwrap_err();
            assert!(matches!(e, HandoffError::Forged { .. }), "{e}");
        }
        assert!(matches!(
            open(&key(K2), to, &sealed).unwrap_err(),
            HandoffError::Forged { .. }
        ));
        assert!(matches!(
            open(&key(K1), to, "AGE-SECRET-KEY-1XYZ").unwrap_err(),
            HandoffError::NotSealed
        ));
        let long = format!("ffkey1.{}", "A".repeat(MAX_SEALED));
        assert!(matches!(
            open(&key(K1), to, &long).unwrap_err(),
            HandoffError::TooLong
        ));
    }
}
