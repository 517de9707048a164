//! Storing a secret in an environment of a repository, for `doctor --fix`:
//! the environment's public key (`GET
//! .../environments/{name}/secrets/public-key`), the value sealed to it
//! as GitHub asks ("Encrypting secrets for the REST API": a libsodium
//! sealed box, base64), then `PUT .../environments/{name}/secrets/{secret}`
//! with the key's id. Both need Environments on the repository (read,
//! then write). The plain value lives in memory only, wiped when
//! dropped; what leaves the process is the sealed box.

use base64::Engine as _;
use zeroize::Zeroizing;

use super::answers::required_str;
use super::client::{GitHub, Method};
use super::error::{bad_value, GitHubError};
use super::paths::{repo_path, seg};

/// Seals `plain` to the base64 X25519 public key `key` (GitHub's
/// repository or environment key), as libsodium's
/// `crypto_box_seal`: base64 of the ephemeral public key followed by the
/// box. Only the key's holder (GitHub) opens it.
pub fn seal_to(key: &str, plain: &[u8]) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(key.trim())
        .map_err(|e| format!("the public key is not base64: {e}"))?;
    let bytes: [u8; crypto_box::KEY_SIZE] = raw
        .try_into()
        .map_err(|raw: Vec<u8>| format!("the public key is {} bytes, not 32", raw.len()))?;
    let public = crypto_box::PublicKey::from(bytes);
    let sealed = public
        .seal(&mut crypto_box::aead::OsRng, plain)
        .map_err(|_| "sealing failed".to_string())?;
    Ok(b64.encode(sealed))
}

/// A fresh random secret: 32 bytes from the system's generator, as 64
/// hexadecimal characters (what the dispatch and artifact secrets
/// accept: at least 32 characters, 96 bits and more in them).
pub fn random_secret() -> Result<Zeroizing<String>, String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..]).map_err(|e| format!("no randomness: {e}"))?;
    Ok(Zeroizing::new(hex::encode(&bytes[..])))
}

impl GitHub {
    /// Stores `value` as the secret `name` of environment `env`, sealed to
    /// the environment's public key (2 requests: the key, the write).
    pub async fn store_environment_secret(
        &self,
        repo: &str,
        env: &str,
        name: &str,
        value: &Zeroizing<String>,
    ) -> Result<(), GitHubError> {
        let base = format!("{}/environments/{}/secrets", repo_path(repo), seg(env));
        let key_path = format!("{base}/public-key");
        let key = self.send(Method::Get, &key_path, None).await?.body;
        let key_id = required_str(&key, "/key_id", &key_path, "key_id")?;
        let public = required_str(&key, "/key", &key_path, "key")?;
        let sealed =
            seal_to(public, value.as_bytes()).map_err(|e| bad_value("GET", &key_path, "key", e))?;
        let body = serde_json::json!({ "encrypted_value": sealed, "key_id": key_id });
        self.send(Method::Put, &format!("{base}/{}", seg(name)), Some(&body))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_the_secret_key_only() {
        let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let b64 = base64::engine::general_purpose::STANDARD;
        let public = b64.encode(secret.public_key().as_bytes());
        let sealed = b64.decode(seal_to(&public, b"hello").unwrap()).unwrap();
        // 32 bytes of ephemeral key, 16 of tag: libsodium's SEALBYTES.
        assert_eq!(sealed.len(), 5 + 48);
        assert_eq!(secret.unseal(&sealed).unwrap(), b"hello");
        let other = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        assert!(other.unseal(&sealed).is_err());
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused() {
        assert!(seal_to("not base64!", b"x").is_err());
        assert!(seal_to("AAAA", b"x").unwrap_err().contains("3 bytes"));
    }

    #[test]
    fn random_secrets_are_64_hex_characters_and_differ() {
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(*a, *b);
    }
}
