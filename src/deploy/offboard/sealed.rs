//! An offboarding's sealed preview (`offboard-<customer>.json` in the
//! results folder): who asks, why, and for each customer × product ×
//! environment the destroy plan's digest, the addresses it destroys and
//! the state it was planned against. Its SHA-256 is the offboarding's
//! digest, the one thing the second person approves; the destroy runs
//! only the plans it names, against the states it names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::deploy::state_preview::StateFacts;
use crate::error::{Error, Result};

const FORMAT: &str = "fleetform-offboard/1";

/// The largest preview read back (thousands of addresses fit many times).
const MAX_FILE: u64 = 16 << 20;

/// A previewed offboarding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sealed {
    pub format: String,
    pub customer: String,
    pub reason: String,
    pub requested_by: String,
    /// The preview's run, on GitHub Actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// In the order they are destroyed.
    pub units: Vec<SealedUnit>,
}

/// One destroy plan and the state it was made against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedUnit {
    /// `customer/environment` or `customer/product/environment`.
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub plan_sha256: String,
    /// The addresses the plan destroys.
    pub destroys: Vec<String>,
    /// The state now (every address in it, its digest).
    pub state: StateFacts,
}

impl Sealed {
    pub fn new(customer: &str, reason: &str, requested_by: &str, run_url: Option<String>) -> Self {
        Sealed {
            format: FORMAT.into(),
            customer: customer.into(),
            reason: reason.into(),
            requested_by: requested_by.into(),
            run_url,
            units: Vec::new(),
        }
    }

    /// Resources destroyed in all.
    pub fn total(&self) -> usize {
        self.units.iter().map(|u| u.destroys.len()).sum()
    }

    /// Writes it (temp file, then rename) and returns its digest.
    pub fn write(&self, out_dir: &Path) -> Result<String> {
        let bytes = serde_json::to_vec_pretty(self).expect("serialisable");
        let path = path(out_dir, &self.customer);
        crate::util::fs::write_atomic(&path, &bytes).map_err(|e| {
            Error::Failed(format!(
                "writing the offboarding's sealed preview {}: {e}",
                path.display()
            ))
        })?;
        Ok(crate::util::fs::sha256_bytes(&bytes))
    }

    /// The preview of `customer` in `out_dir` whose digest `approve`
    /// names (all of it, or at least
    /// [`crate::policy::approval::MIN_DIGEST_PREFIX`] hex digits); its
    /// full digest.
    pub fn open(out_dir: &Path, customer: &str, approve: &str) -> Result<(Sealed, String)> {
        let path = path(out_dir, customer);
        let bytes = crate::util::fs::read_bounded(&path, MAX_FILE).map_err(|e| {
            Error::Refused(format!(
                "no offboarding preview of `{customer}` at {}: {e}; preview it first (`fleetform customers offboard {customer} --reason ...`), or download the preview job's artifact there; nothing was destroyed",
                path.display()
            ))
        })?;
        let digest = crate::util::fs::sha256_bytes(&bytes);
        let given = approve.trim().to_ascii_lowercase();
        if given.len() < crate::policy::approval::MIN_DIGEST_PREFIX || !digest.starts_with(&given) {
            return Err(Error::Refused(format!(
                "--approve {given} is not the digest of the offboarding preview at {} ({digest}); nothing was destroyed",
                path.display()
            )));
        }
        let sealed: Sealed = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Refused(format!(
                "the offboarding preview {} is not one: {e}; nothing was destroyed",
                path.display()
            ))
        })?;
        if sealed.format != FORMAT || sealed.customer != customer {
            return Err(Error::Refused(format!(
                "the offboarding preview {} is of `{}`, not `{customer}`; nothing was destroyed",
                path.display(),
                sealed.customer
            )));
        }
        Ok((sealed, digest))
    }
}

/// Where the preview of `customer` is kept: at the top of the results
/// folder, next to the customer's plan folders (one artifact holds both).
pub fn path(out_dir: &Path, customer: &str) -> PathBuf {
    out_dir.join(format!("offboard-{customer}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Sealed {
        let mut s = Sealed::new("acme", "contract ended", "alice", None);
        s.units.push(SealedUnit {
            unit: "acme/staging".into(),
            product: None,
            environment: "staging".into(),
            plan_sha256: "a".repeat(64),
            destroys: vec!["fakecloud_bucket.logs".into()],
            state: StateFacts {
                sha256: "b".repeat(64),
                serial: Some(4),
                lineage: Some("l".into()),
                resources: 1,
            },
        });
        s
    }

    #[test]
    fn a_preview_opens_only_with_its_digest_and_for_its_customer() {
        let dir = tempfile::tempdir().unwrap();
        let s = sealed();
        let digest = s.write(dir.path()).unwrap();
        let (back, full) = Sealed::open(dir.path(), "acme", &digest[..12]).unwrap();
        assert_eq!((back, full.as_str()), (s.clone(), digest.as_str()));
        for wrong in ["0123456789ab", &digest[..11]] {
            let e = Sealed::open(dir.path(), "acme", wrong).unwrap_err();
            assert!(
                matches!(&e, Error::Refused(m) if m.contains("is not the digest")),
                "{e:?}"
            );
        }
        let e = Sealed::open(dir.path(), "globex", &digest).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("no offboarding preview of `globex`"))
        );
        // A preview written for another customer under this one's name.
        let mut other = s.clone();
        other.customer = "globex".into();
        let bytes = serde_json::to_vec_pretty(&other).unwrap();
        std::fs::write(path(dir.path(), "acme"), &bytes).unwrap();
        let d = crate::util::fs::sha256_bytes(&bytes);
        let e = Sealed::open(dir.path(), "acme", &d).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("not `acme`")),
            "{e:?}"
        );
        // Edited after the digest was shown: refused.
        s.write(dir.path()).unwrap();
        let p = path(dir.path(), "acme");
        let text = std::fs::read_to_string(&p).unwrap().replace("logs", "data");
        std::fs::write(&p, text).unwrap();
        assert!(Sealed::open(dir.path(), "acme", &digest).is_err());
    }
}
