//! The plan artifact: the plan folder's files sealed into one bundle for
//! the customer and environment, and the record of where the plan came
//! from ([`GitHubRecord`]) that the apply job reports back to.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dispatch::seal::{self, ArtifactKey, SealError};
use crate::error::{Error, Result};

/// Written next to the plan: what the apply job needs to report back.
pub const GITHUB_FILE: &str = "github.json";
/// The choices an operator made at the preview (an adoption's
/// `accept_updates`), sealed with the plan: the job that applies it, and a
/// confirming run, take them from here, never from their own inputs.
pub const CHOICES_FILE: &str = "choices.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitHubRecord {
    pub customer_repo: String,
    pub sha: String,
    pub pr: Option<u64>,
    pub comment_id: Option<u64>,
    pub dispatch_id: String,
    pub event_type: String,
    /// When the plan was made (RFC 3339, whole seconds): approvals on the
    /// pull request count only from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_at: Option<String>,
}

/// The sealed bundle in each plan folder: the only file a workflow uploads.
pub const BUNDLE_FILE: &str = "bundle.sealed";

/// The plan folder's files that go into the bundle.
pub(super) const BUNDLED: &[&str] = &[
    crate::engine::PLAN_FILE,
    crate::engine::SUMMARY_FILE,
    GITHUB_FILE,
    "comment.md",
    "plan.txt",
    "variables.tfvars.json",
    crate::engine::FILES_FILE,
    "terraform.log",
];

pub(super) fn artifact_key() -> Result<ArtifactKey> {
    ArtifactKey::from_env().map_err(|e| Error::usage(e.to_string()))
}

/// Writes [`GITHUB_FILE`] into the plan folder (before it is sealed).
pub(super) fn write_record(dir: &Path, record: &GitHubRecord) -> Result<()> {
    crate::util::fs::write_atomic(
        &dir.join(GITHUB_FILE),
        &serde_json::to_vec_pretty(record).expect("serialisable"),
    )
    .map_err(|e| Error::failed(format!("writing {GITHUB_FILE}: {e}")))
}

/// The record in an opened plan folder; a folder without one holds no plan
/// from a dispatch.
pub(super) fn read_record(dir: &Path) -> Result<GitHubRecord> {
    crate::util::fs::read_input(dir.join(GITHUB_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            Error::refused(format!(
                "{} holds no plan from a dispatch; download the plan artifact first",
                dir.display()
            ))
        })
}

/// Seals the plan folder's files into [`BUNDLE_FILE`] for the artifact.
pub(super) fn seal_plan(key: &ArtifactKey, customer: &str, env: &str, dir: &Path) -> Result<()> {
    // Infracost's JSON, when it estimated the plan: the apply keeps it as
    // the next plan's baseline.
    let names: Vec<&str> = BUNDLED
        .iter()
        .copied()
        .chain(
            [crate::engine::INFRACOST_FILE]
                .into_iter()
                .filter(|n| dir.join(n).is_file()),
        )
        .collect();
    let bundle = seal::seal_dir(key, customer, env, dir, &names)
        .map_err(|e| Error::failed(e.to_string()))?;
    crate::util::fs::write_atomic(&dir.join(BUNDLE_FILE), &bundle)
        .map_err(|e| Error::failed(e.to_string()))
}

/// Opens the downloaded bundle into the plan folder: the files the apply
/// checks are the sealed ones, whatever else lies in the folder.
pub(crate) fn open_plan(key: &ArtifactKey, customer: &str, env: &str, dir: &Path) -> Result<()> {
    let bundle = dir.join(BUNDLE_FILE);
    if !bundle.is_file() {
        return Err(Error::refused(format!(
            "{} holds no sealed plan ({BUNDLE_FILE}); download the plan job's artifact into it",
            dir.display()
        )));
    }
    seal::open_into(key, customer, env, &bundle, dir)
        .map(drop)
        .map_err(|e| match e {
            SealError::Fs(f) => Error::failed(f.to_string()),
            other => Error::refused(other.to_string()),
        })
}

/// Seals an operator's plan folder (a targeted plan of the ops workflow)
/// into [`BUNDLE_FILE`], with the files of [`BUNDLED`] it has and the
/// operator's [`CHOICES_FILE`]: the only file its workflow uploads, so the
/// plan's values never sit in an artifact in the clear. Sealed for the
/// unit's customer × product × environment (its place), as a dispatch's
/// plan: one product's bundle never opens as another's.
pub fn seal_local(unit: &crate::config::Unit, dir: &Path) -> Result<()> {
    seal_local_with(&artifact_key()?, unit, dir)
}

fn seal_local_with(key: &ArtifactKey, unit: &crate::config::Unit, dir: &Path) -> Result<()> {
    let (customer, env) = (unit.customer.as_str(), unit.place());
    let names: Vec<&str> = BUNDLED
        .iter()
        .copied()
        .chain([CHOICES_FILE])
        .filter(|n| dir.join(n).is_file())
        .collect();
    let bundle = seal::seal_dir(key, customer, &env, dir, &names)
        .map_err(|e| Error::failed(e.to_string()))?;
    crate::util::fs::write_atomic(&dir.join(BUNDLE_FILE), &bundle)
        .map_err(|e| Error::failed(e.to_string()))
}

/// Seals `file` of `dir` (an operator's preview: a state operation's, a
/// list of repairs) into `<file>.sealed` with the artifact key, when the
/// job holds one (`FLEETFORM_ARTIFACT_KEY`): the job that runs it, and a
/// confirming run, then take only the sealed copy. Without a key (a
/// workstation) nothing is sealed.
pub fn seal_preview(customer: &str, env: &str, dir: &Path, file: &str) -> Result<()> {
    let Ok(key) = ArtifactKey::from_env() else {
        return Ok(());
    };
    let bundle = seal::seal_dir(&key, customer, env, dir, &[file])
        .map_err(|e| Error::failed(e.to_string()))?;
    crate::util::fs::write_atomic(&dir.join(format!("{file}.sealed")), &bundle)
        .map_err(|e| Error::failed(e.to_string()))
}

/// Opens `<file>.sealed` into `dir` (the sealed copy replaces whatever
/// `file` was downloaded beside it). A job that holds the artifact key
/// refuses a preview that arrived without its sealed copy, or whose seal
/// does not open for this customer and environment: only a job that held
/// the key made it. Without a key (a workstation) the file is read as it is.
pub fn open_preview(customer: &str, env: &str, dir: &Path, file: &str) -> Result<()> {
    let Ok(key) = ArtifactKey::from_env() else {
        return Ok(());
    };
    let sealed = dir.join(format!("{file}.sealed"));
    if !sealed.is_file() {
        return Err(Error::refused(format!(
            "{} arrived without its sealed copy ({}): only a preview a job of this workflow sealed with the artifact key is run; preview it again; nothing was changed",
            dir.join(file).display(),
            sealed.display()
        )));
    }
    let opened = seal::open_into(&key, customer, env, &sealed, dir).map_err(|e| match e {
        SealError::Fs(f) => Error::failed(f.to_string()),
        other => Error::refused(format!(
            "{}: {other}; nothing was changed",
            sealed.display()
        )),
    })?;
    if opened != [file] {
        return Err(Error::refused(format!(
            "{} holds {opened:?}, not {file} alone; nothing was changed",
            sealed.display()
        )));
    }
    Ok(())
}

/// Opens an operator's downloaded plan bundle into its folder, when the
/// folder holds the bundle and no plan (the ops workflow's apply job
/// downloads the bundle alone): what is applied is what was sealed. A
/// folder with a plan of its own is a workstation's, applied as it is.
/// The bundle opens only for the unit it was sealed for ([`seal_local`]).
pub fn open_local(unit: &crate::config::Unit, dir: &Path) -> Result<bool> {
    if !dir.join(BUNDLE_FILE).is_file() || dir.join(crate::engine::PLAN_FILE).exists() {
        return Ok(false);
    }
    open_plan(&artifact_key()?, &unit.customer, &unit.place(), dir).map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ArtifactKey {
        ArtifactKey::new(format!("{s}-test-key-0123456789abcdefghijklmnop").as_bytes()).unwrap()
    }

    fn planned() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for name in BUNDLED {
            std::fs::write(d.path().join(name), format!("{name}: sealed")).unwrap();
        }
        d
    }

    fn downloaded(from: &Path) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::copy(from.join(BUNDLE_FILE), d.path().join(BUNDLE_FILE)).unwrap();
        d
    }

    #[test]
    fn a_sealed_plan_opens_only_for_its_key_customer_and_environment() {
        let plan = planned();
        seal_plan(&key("k"), "acme", "staging", plan.path()).unwrap();
        for (k, customer, env) in [
            (key("x"), "acme", "staging"),
            (key("k"), "globex", "staging"),
            (key("k"), "acme", "production"),
        ] {
            let d = downloaded(plan.path());
            let r = open_plan(&k, customer, env, d.path());
            assert!(
                matches!(r, Err(Error::Refused(_))),
                "{customer}/{env}: {r:?}"
            );
            assert!(!d.path().join(GITHUB_FILE).exists(), "nothing written");
        }
        let d = downloaded(plan.path());
        // A file lying in the folder is replaced by the sealed one.
        std::fs::write(d.path().join("plan.txt"), "forged").unwrap();
        open_plan(&key("k"), "acme", "staging", d.path()).unwrap();
        for name in BUNDLED {
            let got = std::fs::read_to_string(d.path().join(name)).unwrap();
            assert_eq!(got, format!("{name}: sealed"));
        }
        let empty = tempfile::tempdir().unwrap();
        let r = open_plan(&key("k"), "acme", "staging", empty.path());
        assert!(matches!(r, Err(Error::Refused(m)) if m.contains("holds no sealed plan")));
    }

    /// An operator's plan is sealed for its customer × product ×
    /// environment: a bundle of one product (or of the customer without
    /// products) never opens as another's of the same environment.
    #[test]
    fn an_operators_plan_opens_only_for_its_product() {
        use crate::config::Unit;
        let plan = planned();
        let network = Unit::new("acme", Some("network"), "staging");
        seal_local_with(&key("k"), &network, plan.path()).unwrap();
        for other in [
            Unit::new("acme", Some("app"), "staging"),
            Unit::new("acme", None, "staging"),
        ] {
            let d = downloaded(plan.path());
            let r = open_plan(&key("k"), &other.customer, &other.place(), d.path());
            assert!(matches!(r, Err(Error::Refused(_))), "{other:?}: {r:?}");
        }
        let d = downloaded(plan.path());
        open_plan(&key("k"), "acme", &network.place(), d.path()).unwrap();
    }

    #[test]
    fn the_record_round_trips_and_its_absence_is_a_refusal() {
        let d = tempfile::tempdir().unwrap();
        assert!(
            matches!(read_record(d.path()), Err(Error::Refused(m)) if m.contains("holds no plan from a dispatch"))
        );
        let record = GitHubRecord {
            customer_repo: "acme/infra".into(),
            sha: "a".repeat(40),
            pr: Some(7),
            comment_id: Some(42),
            dispatch_id: "d-1".into(),
            event_type: "fleetform-apply".into(),
            planned_at: Some("2026-11-01T10:00:00Z".into()),
        };
        write_record(d.path(), &record).unwrap();
        let back = read_record(d.path()).unwrap();
        assert_eq!(
            (back.sha, back.pr, back.comment_id),
            (record.sha, Some(7), Some(42))
        );
    }
}
