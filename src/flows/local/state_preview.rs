//! A state operation's sealed preview (`fleetform state ... --preview`):
//! what is asked (operation, operands, unit, reason, who), and the state
//! it was asked against (its SHA-256, serial, lineage, the addresses the
//! operands name). Its SHA-256 is what the second person approves; the
//! applying job runs the operation the file holds only when the file still
//! has that digest and the state is still the one previewed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::ops::StateOp;
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The file a preview is kept in, in the unit's results folder.
pub const FILE: &str = "state-op.json";
const FORMAT: &str = "fleetform-state-op/1";

/// A previewed state operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sealed {
    pub format: String,
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub operation: String,
    pub operands: Vec<String>,
    pub reason: String,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    pub state: StateFacts,
    /// For `rm` and `mv`: whether each address is in the state now.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub present: BTreeMap<String, bool>,
    /// An adoption's release (`adopt release --preview`): the digest of
    /// the adoption plan it undoes. Only `adopt release --sha256` runs
    /// it, and `state apply` refuses it (the release is recorded as
    /// one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases: Option<String>,
}

/// The state an operation was previewed against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateFacts {
    /// SHA-256 of `terraform state pull`'s output.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// The addresses in the state (`terraform state list`).
    pub resources: usize,
}

/// Who asks for what, where.
pub struct Request<'a> {
    pub customer: &'a str,
    pub product: Option<&'a str>,
    pub environment: &'a str,
    pub op: &'a StateOp,
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub run_url: Option<&'a str>,
    /// An adoption's release: the adoption plan's digest.
    pub releases: Option<&'a str>,
}

impl Sealed {
    /// The operation it holds, checked as if typed by a stranger.
    pub fn op(&self) -> Result<StateOp> {
        let op = StateOp::parse(&self.operation, &self.operands)
            .map_err(|m| Error::refused(format!("the sealed preview: {m}")))?;
        if let Some(bad) = op.bad_operand() {
            return Err(Error::refused(format!(
                "the sealed preview names `{bad}`, which is not a resource address"
            )));
        }
        Ok(op)
    }

    /// The operation of `req` against the state as it is now.
    pub fn make(req: &Request<'_>, state: StateFacts, listed: &[String]) -> Sealed {
        let present = match req.op {
            StateOp::Remove { addresses } => addresses.iter().collect(),
            StateOp::Move { from, .. } => vec![from],
            _ => Vec::new(),
        }
        .into_iter()
        .map(|a| (a.clone(), in_state(listed, a)))
        .collect();
        Sealed {
            format: FORMAT.into(),
            customer: req.customer.into(),
            product: req.product.map(str::to_string),
            environment: req.environment.into(),
            operation: req.op.name().into(),
            operands: req.op.operands().iter().map(|s| s.to_string()).collect(),
            reason: req.reason.into(),
            requested_by: req.requested_by.into(),
            run_url: req.run_url.map(str::to_string),
            state,
            present,
            releases: req.releases.map(str::to_string),
        }
    }

    /// Writes it (temp file, then rename), sealed with the artifact key
    /// when the job holds one, and returns its digest.
    pub fn write(&self, dir: &Path) -> Result<String> {
        let bytes = serde_json::to_vec_pretty(self).expect("serialisable");
        crate::util::fs::write_atomic(&dir.join(FILE), &bytes)
            .map_err(|e| Error::failed(format!("writing the sealed preview: {e}")))?;
        crate::flows::github_loop::artifact::seal_preview(
            &self.customer,
            &self.environment,
            dir,
            FILE,
        )?;
        Ok(crate::util::fs::sha256_bytes(&bytes))
    }

    /// Reads the preview in `dir` whose digest is `sha256`, for this unit.
    pub fn open(dir: &Path, sha256: &str, unit: (&str, Option<&str>, &str)) -> Result<Sealed> {
        // The job holding the artifact key runs only the sealed copy.
        crate::flows::github_loop::artifact::open_preview(unit.0, unit.2, dir, FILE)?;
        let path = dir.join(FILE);
        let bytes = approved(&path, sha256, "preview")?;
        let sealed: Sealed = serde_json::from_slice(&bytes)
            .map_err(|e| Error::refused(format!("the sealed preview {}: {e}", path.display())))?;
        let (customer, product, environment) = unit;
        if sealed.format != FORMAT
            || sealed.customer != customer
            || sealed.product.as_deref() != product
            || sealed.environment != environment
        {
            return Err(Error::refused(format!(
                "the sealed preview is a `{}` of `{}`{} in `{}`, not of `{customer}`{} in `{environment}`; nothing was changed",
                sealed.operation,
                sealed.customer,
                sealed.product.as_deref().map(|p| format!(" / {p}")).unwrap_or_default(),
                sealed.environment,
                product.map(|p| format!(" / {p}")).unwrap_or_default(),
            )));
        }
        Ok(sealed)
    }
}

/// Whether `address` (or something under it: `module.x`, `aws_s3_bucket.b`
/// of a counted resource) is among the state's addresses.
fn in_state(listed: &[String], address: &str) -> bool {
    listed.iter().any(|l| {
        l == address
            || l.strip_prefix(address)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// The state of the unit now: `state pull` and `state list`, in a scratch
/// working copy under `dir`.
pub fn read_state(
    engine: &Engine<'_>,
    customer: &crate::config::Customer,
    env: &str,
    dir: &Path,
) -> Result<(StateFacts, Vec<String>)> {
    let scratch = scratch_dir(dir);
    let (pulled, listed) = engine
        .state_pulled_and_listed(customer, env, &scratch)
        .map_err(run_error)?;
    let json: serde_json::Value = serde_json::from_str(&pulled).unwrap_or_default();
    let facts = StateFacts {
        sha256: crate::util::fs::sha256_bytes(pulled.trim_end().as_bytes()),
        serial: json.get("serial").and_then(serde_json::Value::as_u64),
        lineage: json
            .get("lineage")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        resources: listed.len(),
    };
    Ok((facts, listed))
}

/// The error a failed Terraform step of a state operation exits with.
pub fn run_error(e: Error) -> Error {
    match e {
        Error::Waiting(m) | Error::Withheld(m) => Error::Refused(m),
        other => other,
    }
}

fn scratch_dir(dir: &Path) -> PathBuf {
    dir.join(".state-read")
}

/// The bytes of the sealed `what` (a preview, a restore) at `path`, once
/// their digest is the one the second person approved; refused otherwise,
/// nothing changed.
pub(crate) fn approved(path: &Path, sha256: &str, what: &str) -> Result<Vec<u8>> {
    let bytes = crate::util::fs::read_bounded(path, 1 << 20).map_err(|e| {
        Error::refused(format!(
            "no sealed {what} at {}: {e}; download the preview job's artifact there",
            path.display()
        ))
    })?;
    let digest = crate::util::fs::sha256_bytes(&bytes);
    if !digest.eq_ignore_ascii_case(sha256) {
        return Err(Error::refused(format!(
            "the preview at {} has digest {digest}, not the approved {sha256}; nothing was changed",
            path.display()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_in_the_state_itself_or_by_what_is_under_it() {
        let listed: Vec<String> = [
            "module.net.fakecloud_bucket.a",
            "fakecloud_bucket.b[0]",
            "fakecloud_bucket.c",
        ]
        .map(String::from)
        .to_vec();
        assert!(in_state(&listed, "module.net"));
        assert!(in_state(&listed, "fakecloud_bucket.b"));
        assert!(in_state(&listed, "fakecloud_bucket.c"));
        assert!(!in_state(&listed, "fakecloud_bucket.cc"));
        assert!(!in_state(&listed, "module.ne"));
    }

    #[test]
    fn a_preview_opens_only_with_its_digest_and_for_its_unit() {
        let dir = tempfile::tempdir().unwrap();
        let op = StateOp::Remove {
            addresses: vec!["fakecloud_bucket.a".into()],
        };
        let req = Request {
            customer: "acme",
            product: None,
            environment: "staging",
            op: &op,
            reason: "moved to another stack",
            requested_by: "alice",
            run_url: None,
            releases: None,
        };
        let facts = StateFacts {
            sha256: "0".repeat(64),
            serial: Some(3),
            lineage: None,
            resources: 1,
        };
        let sealed = Sealed::make(&req, facts, &["fakecloud_bucket.a".to_string()]);
        let digest = sealed.write(dir.path()).unwrap();
        let back = Sealed::open(dir.path(), &digest, ("acme", None, "staging")).unwrap();
        assert_eq!(back, sealed);
        assert_eq!(back.op().unwrap(), op);
        assert!(back.present["fakecloud_bucket.a"]);
        let other = Sealed::open(dir.path(), &"f".repeat(64), ("acme", None, "staging"));
        assert!(matches!(other, Err(Error::Refused(m)) if m.contains("not the approved")));
        let elsewhere = Sealed::open(dir.path(), &digest, ("acme", None, "production"));
        assert!(
            matches!(elsewhere, Err(Error::Refused(m)) if m.contains("not of `acme` in `production`"))
        );
        // Edited after the digest was shown: refused.
        let path = dir.path().join(FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("fakecloud_bucket.a", "fakecloud_bucket.z");
        std::fs::write(&path, text).unwrap();
        assert!(Sealed::open(dir.path(), &digest, ("acme", None, "staging")).is_err());
    }
}
