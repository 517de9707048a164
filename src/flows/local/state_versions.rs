//! Where a pair's earlier states are: the versions of its object in an s3
//! backend's bucket ([`StateBucket`]), or, with the local backend, its
//! state file and the one backup Terraform keeps beside it
//! (`terraform.tfstate.backup`, written before an apply changes it, and
//! `terraform.tfstate.<unix time>.backup`, before a `state` command does):
//! version ids `current`, `backup` and `backup-<unix time>`. All are read
//! only; a restore writes through Terraform (over a bucket's current
//! version Terraform cannot read, through the S3 API under the backend's
//! lock: `crate::records::state_lock`).

use std::path::PathBuf;

use super::ops::OpTarget;
use crate::config::{Backend, Customer, Manager, Unit};
use crate::context::Context;
use crate::records::state_bucket::{ObjectVersion, StateBucket, MAX_STATE};

/// A pair's earlier states, wherever its backend keeps them.
#[derive(Debug, Clone)]
pub enum StateVersions {
    Bucket(StateBucket),
    /// The local backend's state folder (`state_dir`).
    Files(PathBuf),
}

/// The local backend's version ids.
pub const CURRENT: &str = "current";
pub const BACKUP: &str = "backup";

impl StateVersions {
    pub fn for_manager(manager: &Manager, net: &crate::net::Settings) -> StateVersions {
        match &manager.config.terraform.backend {
            Backend::Local { state_dir } => StateVersions::Files(manager.path(state_dir)),
            Backend::S3 { .. } => StateVersions::Bucket(
                StateBucket::for_manager(manager, net).expect("an s3 backend has a bucket"),
            ),
        }
    }

    /// Where the state of `key` is, for messages.
    pub fn describe(&self, key: &str) -> String {
        match self {
            StateVersions::Bucket(b) => b.describe(key),
            StateVersions::Files(dir) => crate::config::display_path(&dir.join(key))
                .display()
                .to_string(),
        }
    }

    /// The bucket keeps every version; the local backend one backup.
    pub fn is_bucket(&self) -> bool {
        matches!(self, StateVersions::Bucket(_))
    }

    /// The versions of `key`, newest first.
    pub fn versions(&self, key: &str) -> Result<Vec<ObjectVersion>, String> {
        let dir = match self {
            StateVersions::Bucket(b) => return b.versions(key).map_err(|e| e.to_string()),
            StateVersions::Files(dir) => dir,
        };
        let state = dir.join(key);
        let mut out: Vec<ObjectVersion> = std::iter::once((CURRENT.to_string(), state.clone()))
            .chain(backups(&state))
            .filter_map(|(id, path)| file_version(id, &path))
            .collect();
        // The current state first, then the backups newest first.
        let from = usize::from(out.first().is_some_and(|v| v.is_latest));
        out[from..].sort_by(|a, b| b.last_modified.cmp(&a.last_modified));
        Ok(out)
    }

    /// The bytes of version `id` of `key`.
    pub fn read_version(&self, key: &str, id: &str) -> Result<Vec<u8>, String> {
        let dir = match self {
            StateVersions::Bucket(b) => return b.read_version(key, id).map_err(|e| e.to_string()),
            StateVersions::Files(dir) => dir,
        };
        let state = dir.join(key);
        let path = match id {
            CURRENT => state,
            other => match backups(&state).into_iter().find(|(b, _)| b == other) {
                Some((_, path)) => path,
                None => {
                    return Err(format!(
                        "the local backend keeps `{CURRENT}` and its backups (`state versions` lists them), not `{other}`"
                    ))
                }
            },
        };
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(format!("{} is not a file", path.display()));
        }
        crate::util::fs::read_bounded(&path, MAX_STATE as u64).map_err(|e| e.to_string())
    }
}

/// The versions read for their serial and lineage (each a GET of a
/// whole state), newest first.
pub(super) const READ_VERSIONS: usize = 50;

/// The pair a recovery acts on, resolved.
pub(super) struct Pair<'r> {
    pub(super) view: crate::config::Manager,
    pub(super) customer: &'r Customer,
    pub(super) unit: Unit,
    pub(super) key: String,
    pub(super) source: StateVersions,
}

pub(super) fn pair<'r>(
    manager: &crate::config::Manager,
    registry: &'r crate::config::Registry,
    t: &OpTarget,
    cx: &Context,
) -> crate::error::Result<Pair<'r>> {
    let (view, customer) = super::ops::pair_of(
        manager,
        registry,
        &t.customer,
        t.product.as_deref(),
        &t.environment,
    )?;
    let unit = view.unit(&customer.slug, &t.environment);
    let key = view.state_key(&customer.slug, &t.environment);
    let source = StateVersions::for_manager(&view, &cx.net);
    Ok(Pair {
        view,
        customer,
        unit,
        key,
        source,
    })
}

pub(super) fn s3_err(e: String) -> crate::error::Error {
    crate::error::Error::failed(format!("the state's versions: {e}"))
}

/// A state file as a version: never through a link (the state folder
/// holds files only).
fn file_version(id: String, path: &std::path::Path) -> Option<ObjectVersion> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    Some(ObjectVersion {
        is_latest: id == CURRENT,
        version_id: id,
        last_modified: modified,
        size: meta.len(),
        deleted: false,
    })
}

/// The backups Terraform's local backend keeps beside `state`: its id
/// (`backup`, `backup-<unix time>`) and path each.
fn backups(state: &std::path::Path) -> Vec<(String, PathBuf)> {
    let (Some(dir), Some(name)) = (state.parent(), state.file_name().and_then(|n| n.to_str()))
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let rest = file
                .strip_prefix(name)?
                .strip_prefix('.')?
                .strip_suffix("backup")?;
            let id = match rest.strip_suffix('.') {
                None if rest.is_empty() => BACKUP.to_string(),
                Some(time) if !time.is_empty() && time.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{BACKUP}-{time}")
                }
                _ => return None,
            };
            Some((id, e.path()))
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_state_has_its_file_and_its_backup_and_no_links() {
        let dir = tempfile::tempdir().unwrap();
        let key = "acme/staging/terraform.tfstate";
        let v = StateVersions::Files(dir.path().to_path_buf());
        assert!(v.versions(key).unwrap().is_empty());
        std::fs::create_dir_all(dir.path().join("acme/staging")).unwrap();
        std::fs::write(dir.path().join(key), b"now").unwrap();
        std::fs::write(dir.path().join(format!("{key}.backup")), b"then").unwrap();
        std::fs::write(
            dir.path().join(format!("{key}.1700000000.backup")),
            b"before",
        )
        .unwrap();
        std::fs::write(dir.path().join(format!("{key}.x.backup")), b"not ours").unwrap();
        let ids: Vec<_> = v
            .versions(key)
            .unwrap()
            .into_iter()
            .map(|x| (x.version_id, x.is_latest, x.size))
            .collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert_eq!(ids[0], ("current".into(), true, 3));
        let mut rest: Vec<_> = ids[1..].iter().map(|(i, _, n)| (i.as_str(), *n)).collect();
        rest.sort();
        assert_eq!(rest, [("backup", 4), ("backup-1700000000", 6)]);
        assert_eq!(v.read_version(key, BACKUP).unwrap(), b"then");
        assert_eq!(v.read_version(key, "backup-1700000000").unwrap(), b"before");
        assert!(v.read_version(key, "v1").is_err());
        #[cfg(unix)]
        {
            std::fs::remove_file(dir.path().join(format!("{key}.backup"))).unwrap();
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join(format!("{key}.backup")))
                .unwrap();
            assert_eq!(v.versions(key).unwrap().len(), 2);
            assert!(v.read_version(key, BACKUP).is_err());
        }
    }
}
