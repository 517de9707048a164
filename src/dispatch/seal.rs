//! Sealed plan bundles: what a plan job hands to its apply job through a
//! workflow artifact, encrypted so that nobody with read access to the
//! manager repo (who can download every run's artifacts) can read a
//! customer's plan, values or Terraform log.
//!
//! A bundle is the plan folder's files framed one after another, encrypted
//! with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from the
//! manager's artifact secret (`FLEETFORM_ARTIFACT_KEY`, a secret of the
//! manager's plan, apply and drift environments only) for one customer ×
//! environment. The customer and environment are also the associated data,
//! so a bundle cannot be passed off as another pair's. The AEAD comes from
//! `ring`, already in the binary through rustls: no size cost.
//!
//! The ETag cache of the scheduled commands (`src/github/etags.rs`) is
//! sealed the same way (`seal_bytes`, `open_bytes`) under a key of
//! its own (`ArtifactKey::derive` with another HKDF salt).
//!
//! Layout: `FFSEAL1\n`, a 12-byte random nonce, then the ciphertext with
//! its 16-byte tag. Plaintext: for each file, a 2-byte name length, the
//! name (a plain file name), an 8-byte content length and the content, all
//! lengths big-endian.

use std::path::Path;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf;

use crate::util::fs::FsError;

const MAGIC: &[u8] = b"FFSEAL1\n";
/// Largest bundle accepted (plan files plus the Terraform log).
pub const MAX_BUNDLE: u64 = 512 * 1024 * 1024;

/// The fewest bits an artifact secret's characters must show
/// ([`estimated_bits`]): 32 random hex characters show about 118, a
/// repeated word far fewer.
pub const MIN_KEY_BITS: u32 = 96;

/// The entropy a secret's characters show: their frequencies' Shannon
/// entropy times its length. A random secret shows about what it holds
/// (a little less when short); `passwordpassword...` shows 2.75 bits a
/// character, one character repeated none.
fn estimated_bits(secret: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for b in secret {
        counts[usize::from(*b)] += 1;
    }
    let n = secret.len() as f64;
    let per_char: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// The manager's artifact secret; never shown, wiped from memory when
/// dropped.
#[derive(Clone)]
pub struct ArtifactKey(zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArtifactKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("FLEETFORM_ARTIFACT_KEY is not set: plan artifacts are encrypted with the manager's artifact secret. Create a random secret (e.g. `openssl rand -hex 32`), store it as FLEETFORM_ARTIFACT_KEY in the manager's plan and apply environments, and pass it to the plan and apply actions")]
    NoKey,
    #[error("FLEETFORM_ARTIFACT_KEY is shorter than 32 characters; use a random secret of at least 32 characters (e.g. `openssl rand -hex 32`)")]
    WeakKey,
    #[error("FLEETFORM_ARTIFACT_KEY is too predictable (its characters show about {0} bits, fewer than {MIN_KEY_BITS}: a word, a repeated pattern); use a random secret (e.g. `openssl rand -hex 32`)")]
    PredictableKey(u32),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("{0} is not a sealed fleetform plan bundle")]
    NotABundle(String),
    #[error("{0} cannot be opened: it was sealed for another customer or environment, with another artifact key, or it was changed")]
    Forged(String),
    #[error("{0}: the bundle's contents are malformed")]
    Malformed(String),
    #[error("the operating system has no random numbers to give")]
    NoRandom,
    #[error("{0}: its files come to more than 512 MiB, the most a bundle may hold (an apply would refuse to open it); nothing was sealed")]
    TooLarge(String),
}

impl ArtifactKey {
    /// From `FLEETFORM_ARTIFACT_KEY`.
    pub fn from_env() -> Result<Self, SealError> {
        let v =
            zeroize::Zeroizing::new(std::env::var("FLEETFORM_ARTIFACT_KEY").unwrap_or_default());
        Self::new(v.trim().as_bytes())
    }

    pub fn new(secret: &[u8]) -> Result<Self, SealError> {
        if secret.is_empty() {
            return Err(SealError::NoKey);
        }
        if secret.len() < 32 {
            return Err(SealError::WeakKey);
        }
        let bits = estimated_bits(secret);
        if bits < f64::from(MIN_KEY_BITS) {
            return Err(SealError::PredictableKey(bits as u32));
        }
        Ok(ArtifactKey(zeroize::Zeroizing::new(secret.to_vec())))
    }

    /// The AEAD key of one customer × environment.
    fn pair_key(&self, customer: &str, environment: &str) -> LessSafeKey {
        let info = [customer.as_bytes(), b"\n", environment.as_bytes()];
        self.derive(b"fleetform-artifact-v1", &info)
    }

    /// An AEAD key of its own for one use of the secret: `label` is the
    /// HKDF salt (one per kind of sealed file, so a key of one kind is
    /// never a key of another), `info` what it is sealed for.
    pub(crate) fn derive(&self, label: &[u8], info: &[&[u8]]) -> LessSafeKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, label).extract(&self.0);
        let okm = prk
            .expand(info, &CHACHA20_POLY1305)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

/// Why sealed bytes did not open ([`open_bytes`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unopened {
    /// Not of the kind (another magic) or too short for a nonce.
    NotSealed,
    /// Another key or associated data, or changed.
    Forged,
}

/// `magic`, a random nonce, then `plain` encrypted with its tag.
pub(crate) fn seal_bytes(
    key: &LessSafeKey,
    magic: &[u8],
    aad: &[u8],
    mut plain: Vec<u8>,
) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SealError::NoRandom)?;
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut plain,
    )
    .map_err(|_| SealError::NoRandom)?;
    let mut out = Vec::with_capacity(magic.len() + NONCE_LEN + plain.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&plain);
    Ok(out)
}

/// The plaintext of [`seal_bytes`]'s output.
pub(crate) fn open_bytes(
    key: &LessSafeKey,
    magic: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, Unopened> {
    let rest = sealed
        .strip_prefix(magic)
        .filter(|r| r.len() >= NONCE_LEN)
        .ok_or(Unopened::NotSealed)?;
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unopened::NotSealed)?;
    let mut buf = sealed.to_vec();
    let n = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| Unopened::Forged)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

fn aad(customer: &str, environment: &str) -> Vec<u8> {
    format!("fleetform-plan-bundle-v1\n{customer}\n{environment}").into_bytes()
}

/// Seals the regular files `names` of `dir` into one bundle.
pub fn seal_dir(
    key: &ArtifactKey,
    customer: &str,
    environment: &str,
    dir: &Path,
    names: &[&str],
) -> Result<Vec<u8>, SealError> {
    let plain = framed(dir, names, MAX_BUNDLE)?;
    let key = key.pair_key(customer, environment);
    seal_bytes(&key, MAGIC, &aad(customer, environment), plain)
}

/// The files `names` of `dir` framed one after another, refused past
/// `max` bytes (a bundle larger than an apply opens would be sealed for
/// nothing).
fn framed(dir: &Path, names: &[&str], max: u64) -> Result<Vec<u8>, SealError> {
    let mut plain = Vec::new();
    for name in names {
        let bytes = crate::util::fs::read_bounded(&dir.join(name), max)?;
        let n = u16::try_from(name.len()).map_err(|_| SealError::Malformed((*name).into()))?;
        plain.extend_from_slice(&n.to_be_bytes());
        plain.extend_from_slice(name.as_bytes());
        plain.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        plain.extend_from_slice(&bytes);
        if plain.len() as u64 > max {
            return Err(SealError::TooLarge(dir.display().to_string()));
        }
    }
    Ok(plain)
}

/// Opens a bundle and returns its files. `shown` names it in errors.
pub fn open(
    key: &ArtifactKey,
    customer: &str,
    environment: &str,
    bundle: &[u8],
    shown: &str,
) -> Result<Vec<(String, Vec<u8>)>, SealError> {
    let key = key.pair_key(customer, environment);
    let plain =
        open_bytes(&key, MAGIC, &aad(customer, environment), bundle).map_err(|e| match e {
            Unopened::NotSealed => SealError::NotABundle(shown.into()),
            Unopened::Forged => SealError::Forged(shown.into()),
        })?;
    parse_files(&plain).ok_or_else(|| SealError::Malformed(shown.into()))
}

fn parse_files(mut b: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    while !b.is_empty() {
        let (n, rest) = b.split_first_chunk::<2>()?;
        let (name, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*n)))?;
        let (len, rest) = rest.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_be_bytes(*len)).ok()?;
        let (data, rest) = rest.split_at_checked(len)?;
        let name = std::str::from_utf8(name).ok()?;
        // Plain file names only: a bundle never writes outside its folder.
        let plain =
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
        if !plain {
            return None;
        }
        files.push((name.to_string(), data.to_vec()));
        b = rest;
    }
    Some(files)
}

/// Opens a bundle file into `dir` (each file written atomically, never
/// through a link).
pub fn open_into(
    key: &ArtifactKey,
    customer: &str,
    environment: &str,
    bundle: &Path,
    dir: &Path,
) -> Result<Vec<String>, SealError> {
    let bytes = crate::util::fs::read_bounded(bundle, MAX_BUNDLE + 64)?;
    let shown = crate::config::display_path(bundle).display().to_string();
    let files = open(key, customer, environment, &bytes, &shown)?;
    let mut names = Vec::new();
    for (name, data) in files {
        crate::util::fs::write_atomic(&dir.join(&name), &data)?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ArtifactKey {
        ArtifactKey::new(format!("{s}-test-key-0123456789abcdefghijklmnop").as_bytes()).unwrap()
    }

    /// The secret is held where it is wiped on drop, and `Debug` never
    /// shows it.
    #[test]
    fn the_key_is_wiped_and_never_shown() {
        let k = key("q");
        let held: &zeroize::Zeroizing<Vec<u8>> = &k.0;
        assert_eq!(&held[..], b"q-test-key-0123456789abcdefghijklmnop");
        assert_eq!(format!("{k:?}"), "ArtifactKey(***)");
    }

    #[test]
    fn round_trip_and_binding() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tfplan"), b"\x00binary plan").unwrap();
        std::fs::write(d.path().join("plan.txt"), "secret value: hunter2\n").unwrap();
        let k = key("k");
        let b = seal_dir(&k, "acme", "production", d.path(), &["tfplan", "plan.txt"]).unwrap();
        assert!(!b.windows(7).any(|w| w == b"hunter2"), "encrypted");
        let files = open(&k, "acme", "production", &b, "b").unwrap();
        assert_eq!(files[0], ("tfplan".into(), b"\x00binary plan".to_vec()));
        assert_eq!(files[1].1, b"secret value: hunter2\n");
        for (kk, c, e) in [
            (key("x"), "acme", "production"),
            (key("k"), "globex", "production"),
            (key("k"), "acme", "staging"),
        ] {
            assert!(matches!(
                open(&kk, c, e, &b, "b"),
                Err(SealError::Forged(_))
            ));
        }
        let mut tampered = b.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(
            open(&k, "acme", "production", &tampered, "b"),
            Err(SealError::Forged(_))
        ));
        assert!(matches!(
            open(&k, "acme", "production", b"junk", "b"),
            Err(SealError::NotABundle(_))
        ));
        assert!(format!("{k:?}").contains("***"));
    }

    /// Files that each fit but together pass the bound are refused at seal
    /// time, not when the apply opens them.
    #[test]
    fn a_bundle_past_the_bound_is_never_sealed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), vec![b'a'; 600]).unwrap();
        std::fs::write(d.path().join("b"), vec![b'b'; 600]).unwrap();
        assert!(framed(d.path(), &["a"], 1000).is_ok());
        assert!(matches!(
            framed(d.path(), &["a", "b"], 1000),
            Err(SealError::TooLarge(_))
        ));
    }

    #[test]
    fn keys_must_be_strong_and_names_plain() {
        assert!(matches!(ArtifactKey::new(b""), Err(SealError::NoKey)));
        assert!(matches!(
            ArtifactKey::new(b"short"),
            Err(SealError::WeakKey)
        ));
        // Long enough, but a repeated character or word.
        for weak in ["k".repeat(40), "password".repeat(4), "ab".repeat(32)] {
            assert!(
                matches!(
                    ArtifactKey::new(weak.as_bytes()),
                    Err(SealError::PredictableKey(_))
                ),
                "{weak}"
            );
        }
        // What `openssl rand -hex 16` and `-hex 32` print.
        for strong in [
            "3f9a1c07e2b84d56a0c9e71f2d4b8a63",
            "9c1e4f7a2b6d8e0f3a5c7e9b1d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f",
        ] {
            assert!(ArtifactKey::new(strong.as_bytes()).is_ok(), "{strong}");
        }
        let mut evil = Vec::new();
        evil.extend_from_slice(&5u16.to_be_bytes());
        evil.extend_from_slice(b"../x1");
        evil.extend_from_slice(&1u64.to_be_bytes());
        evil.push(b'a');
        assert!(parse_files(&evil).is_none());
        assert!(parse_files(&[0, 9, b'a']).is_none(), "truncated");
        assert_eq!(parse_files(&[]), Some(vec![]));
    }
}
