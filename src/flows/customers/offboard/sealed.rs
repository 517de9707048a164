//! An offboarding's sealed preview (`offboard-<customer>.json` in the
//! results folder): who asks, why, and for each customer × product ×
//! environment the destroy plan's digest, the addresses it destroys and
//! the state it was planned against. Its SHA-256 is the offboarding's
//! digest, the one thing the second person approves; the destroy runs
//! only the plans it names, against the states it names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ci::RunContext;
use crate::error::{Error, Result};
use crate::flows::local::state_preview::StateFacts;

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
    /// The preview's run, on GitHub Actions: its id (what a destroy in
    /// another run must confirm) and its page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// In the order they are destroyed.
    pub units: Vec<SealedUnit>,
    /// Pairs registered but never applied: no state, nothing to destroy
    /// or archive (named so the approver sees every pair).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_state: Vec<String>,
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
    pub fn new(customer: &str, reason: &str, requested_by: &str, run: &RunContext) -> Self {
        Sealed {
            format: FORMAT.into(),
            customer: customer.into(),
            reason: reason.into(),
            requested_by: requested_by.into(),
            run_id: run.run_id.clone(),
            run_url: run.run_url(),
            units: Vec::new(),
            without_state: Vec::new(),
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
            Error::failed(format!(
                "writing the offboarding's sealed preview {}: {e}",
                path.display()
            ))
        })?;
        // Sealed with the artifact key when the job holds one: the destroy
        // runs only a preview a job of the workflow made.
        crate::flows::github_loop::artifact::seal_preview(
            &self.customer,
            SEALED_AS,
            out_dir,
            &file_name(&self.customer),
        )?;
        Ok(crate::util::fs::sha256_bytes(&bytes))
    }

    /// The preview of `customer` in `out_dir` whose digest `approve`
    /// names (all of it, or at least
    /// [`crate::policy::approval::MIN_DIGEST_PREFIX`] hex digits); its
    /// full digest.
    pub fn open(out_dir: &Path, customer: &str, approve: &str) -> Result<(Sealed, String)> {
        crate::flows::github_loop::artifact::open_preview(
            customer,
            SEALED_AS,
            out_dir,
            &file_name(customer),
        )?;
        let path = path(out_dir, customer);
        let bytes = crate::util::fs::read_bounded(&path, MAX_FILE).map_err(|e| {
            Error::refused(format!(
                "no offboarding preview of `{customer}` at {}: {e}; preview it first (`fleetform customers offboard {customer} --reason ...`), or download the preview job's artifact there; nothing was destroyed",
                path.display()
            ))
        })?;
        let digest = crate::util::fs::sha256_bytes(&bytes);
        let given = approve.trim().to_ascii_lowercase();
        if given.len() < crate::policy::approval::MIN_DIGEST_PREFIX || !digest.starts_with(&given) {
            return Err(Error::refused(format!(
                "--approve {given} is not the digest of the offboarding preview at {} ({digest}); nothing was destroyed",
                path.display()
            )));
        }
        let sealed: Sealed = serde_json::from_slice(&bytes).map_err(|e| {
            Error::refused(format!(
                "the offboarding preview {} is not one: {e}; nothing was destroyed",
                path.display()
            ))
        })?;
        if sealed.format != FORMAT || sealed.customer != customer {
            return Err(Error::refused(format!(
                "the offboarding preview {} is of `{}`, not `{customer}`; nothing was destroyed",
                path.display(),
                sealed.customer
            )));
        }
        Ok((sealed, digest))
    }
}

impl Sealed {
    /// The preview was made in the run whose approval counts: the
    /// confirmed run (`--confirms`), else, on GitHub Actions, this run (its
    /// deployment review is the approval); on a workstation any.
    pub fn check_run(&self, confirms: Option<u64>, this_run: Option<&str>) -> Result<()> {
        let want = match (confirms, this_run) {
            (Some(run), _) => run.to_string(),
            (None, Some(run)) => run.to_string(),
            (None, None) => return Ok(()),
        };
        if self.run_id.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        Err(Error::refused(format!(
            "the offboarding preview was made {}, not in run {want}{}: a destroy runs the preview of the run whose approval it reads; nothing was destroyed",
            match &self.run_id {
                Some(r) => format!("in run {r}"),
                None => "outside GitHub Actions".into(),
            },
            if confirms.is_some() { " (the run --confirms names)" } else { " (this run)" },
        )))
    }
}

/// Where the preview of `customer` is kept: at the top of the results
/// folder, next to the customer's plan folders (one artifact holds both).
pub fn path(out_dir: &Path, customer: &str) -> PathBuf {
    out_dir.join(file_name(customer))
}

fn file_name(customer: &str) -> String {
    format!("offboard-{customer}.json")
}

/// The preview's seal is bound to the customer and this name (it spans
/// every environment), never to one pair's.
const SEALED_AS: &str = "fleetform offboarding";

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Sealed {
        let mut s = Sealed::new("acme", "contract ended", "alice", &RunContext::default());
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

    #[test]
    fn a_preview_counts_only_in_its_own_run_or_the_run_that_confirms_it() {
        let mut s = sealed();
        // A workstation's preview, destroyed on the workstation.
        s.check_run(None, None).unwrap();
        // On Actions: the preview of run 7 is destroyed in run 7, or in a
        // run confirming run 7.
        assert!(s.check_run(None, Some("7")).is_err());
        s.run_id = Some("7".into());
        s.check_run(None, Some("7")).unwrap();
        s.check_run(Some(7), Some("9")).unwrap();
        let e = s.check_run(None, Some("9")).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("made in run 7, not in run 9 (this run)")),
            "{e:?}"
        );
        let e = s.check_run(Some(8), Some("9")).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(m) if m.contains("not in run 8 (the run --confirms names)")),
            "{e:?}"
        );
    }
}
