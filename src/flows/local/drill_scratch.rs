//! Where a recovery drill puts its scratch copies, by backend: under
//! `fleetform-drill/<run>/` in an s3 backend's bucket (every version of
//! them removed after), or in the local backend's state folder
//! (`state_dir/fleetform-drill/<run>/`, removed after). The states
//! themselves are only read: the newest version the backend keeps (a
//! bucket's newest version; the local backend's state file, of which
//! Terraform keeps the one it replaced as the backup).

use std::path::{Path, PathBuf};

use super::state_versions::StateVersions;
use crate::records::state_bucket::{StateBucket, SCRATCH_PREFIX};
use crate::terraform::state_file::StateFile;

/// The scratch copies of one drill run.
pub struct Scratch {
    source: StateVersions,
    run: String,
    /// The keys written (a bucket's; the local folder goes whole).
    written: Vec<String>,
}

impl Scratch {
    pub fn new(manager: &crate::config::Manager, net: &crate::net::Settings, run: &str) -> Self {
        Scratch {
            source: StateVersions::for_manager(manager, net),
            run: run.to_string(),
            written: Vec::new(),
        }
    }

    /// `view` with its state key under this run's scratch folder.
    pub fn view_of(&self, view: &crate::config::Manager) -> crate::config::Manager {
        let mut v = view.clone();
        v.config.terraform.state_key = format!(
            "{SCRATCH_PREFIX}{}/{}",
            self.run, view.config.terraform.state_key
        );
        v
    }

    /// Where the scratch copies are, for messages.
    pub fn describe(&self) -> String {
        self.source
            .describe(&format!("{SCRATCH_PREFIX}{}/", self.run))
    }

    /// Copies the newest version of `key` to the scratch key `to`: its id
    /// and serial, or why it could not be read.
    pub fn copy_newest(&mut self, key: &str, to: &str) -> Result<(String, u64), String> {
        let versions = self.source.versions(key)?;
        let newest = versions
            .first()
            .ok_or_else(|| format!("{} has no versions", self.source.describe(key)))?;
        if newest.deleted {
            return Err(format!(
                "the newest version of {} is a delete marker",
                self.source.describe(key)
            ));
        }
        let bytes = self.source.read_version(key, &newest.version_id)?;
        let state = StateFile::parse(&bytes)
            .map_err(|e| format!("version {} cannot be read: {e}", newest.version_id))?;
        match &self.source {
            StateVersions::Bucket(b) => {
                b.put_scratch(to, bytes).map_err(|e| e.to_string())?;
                self.written
                    .extend([to.to_string(), format!("{to}.tflock")]);
            }
            StateVersions::Files(dir) => write_file(dir, to, &bytes)?,
        }
        Ok((newest.version_id.clone(), state.serial))
    }

    /// Removes every scratch copy (every version of them in a bucket).
    pub fn remove(self) -> Result<(), String> {
        match &self.source {
            StateVersions::Bucket(b) => remove_from(b, &self.written),
            StateVersions::Files(dir) => {
                let folder = dir.join(SCRATCH_PREFIX).join(&self.run);
                match std::fs::remove_dir_all(&folder) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("{}: {e}", folder.display())),
                }
            }
        }
    }
}

fn remove_from(b: &StateBucket, keys: &[String]) -> Result<(), String> {
    b.remove_scratch(keys).map_err(|e| e.to_string())
}

/// A scratch copy in the local state folder: only under the scratch
/// folder, written whole (temp file, then rename).
fn write_file(dir: &Path, to: &str, bytes: &[u8]) -> Result<(), String> {
    let inside =
        to.starts_with(SCRATCH_PREFIX) && !to.split('/').any(|p| p == ".." || p.is_empty());
    if !inside {
        return Err(format!(
            "refusing {to}: only the drill's scratch copies (under {SCRATCH_PREFIX}) are written"
        ));
    }
    let path: PathBuf = dir.join(to);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    crate::util::fs::write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_scratch_copy_stays_under_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_file(dir.path(), "acme/staging/terraform.tfstate", b"{}").is_err());
        assert!(write_file(dir.path(), "fleetform-drill/r/../../x", b"{}").is_err());
        write_file(dir.path(), "fleetform-drill/r/acme/t.tfstate", b"{}").unwrap();
        assert!(dir
            .path()
            .join("fleetform-drill/r/acme/t.tfstate")
            .is_file());
    }
}
