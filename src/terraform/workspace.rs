//! A pair's isolated working copy: a locked folder under the results
//! folder with the root module and the backend override (or the backend
//! alone, to read another product's outputs), the backend's per-pair
//! setting, and the sweep of copies that killed runs left behind.

use std::path::{Path, PathBuf};

use super::error::{fs_err, TerraformError};
use crate::config::{Backend, Manager};

/// The file fleetform writes the backend into, in every working copy.
pub(super) const BACKEND_OVERRIDE: &str = "_fleetform_backend_override.tf";

/// Working copies are folders named `.work-<random>` inside the results
/// folder of their customer × environment.
pub const WORK_PREFIX: &str = ".work-";
/// The lock file inside each working copy, held while its run lives.
const WORK_LOCK: &str = ".fleetform-work.lock";
/// A working copy without a lock file is taken for a leftover only once
/// it is this old: a live run creates its lock right after the folder.
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// An isolated working copy. It holds the lock file inside it for as long
/// as it lives, so [`remove_stale_workspaces`] can tell a copy in use from
/// one a killed run left behind.
#[derive(Debug)]
pub struct Workspace {
    // Dropped first: the lock is released, then the folder removed (a
    // locked file could not be removed on Windows).
    _lock: std::fs::File,
    dir: tempfile::TempDir,
    /// The backend's per-pair setting: (`path` or `key`, its value).
    pub(super) backend: (&'static str, String),
    pub log: String,
    /// The customer's secrets for this pair, handed to Terraform as
    /// `TF_VAR_<name>` (never written to disk; wiped when dropped).
    pub secret_env: Vec<(String, zeroize::Zeroizing<String>)>,
    /// Another module's working copy (a needed product's outputs, read for
    /// each pair at once): its `init` installs into its own data dir, never
    /// the run's plugin cache, which was filled for the run's own module
    /// and which Terraform writes without a lock.
    pub(super) own_providers: bool,
}

impl Workspace {
    /// Creates a working copy under `parent`, locks it, copies the root
    /// module into it and writes the backend override.
    pub fn prepare(
        manager: &Manager,
        parent: &Path,
        customer: &str,
        environment: &str,
    ) -> Result<Self, TerraformError> {
        let mut ws = Workspace::backend_only(manager, parent, customer, environment)?;
        let module = manager.path(manager.working_dir());
        crate::util::fs::copy_module(&module, ws.path())?;
        // The run's own module: its providers are the cache's.
        ws.own_providers = false;
        Ok(ws)
    }

    /// A working copy with the backend of `manager`'s product for
    /// customer × environment and nothing else: enough to read that
    /// state's outputs through Terraform, without its providers.
    pub fn backend_only(
        manager: &Manager,
        parent: &Path,
        customer: &str,
        environment: &str,
    ) -> Result<Self, TerraformError> {
        std::fs::create_dir_all(parent).map_err(|e| fs_err("creating", parent, e))?;
        let dir = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(parent)
            .map_err(|e| fs_err("creating a working copy in", parent, e))?;
        let lock_path = dir.path().join(WORK_LOCK);
        let lock =
            std::fs::File::create_new(&lock_path).map_err(|e| fs_err("creating", &lock_path, e))?;
        lock.try_lock()
            .map_err(|e| fs_err("locking", &lock_path, std::io::Error::other(e.to_string())))?;
        let key = manager.state_key(customer, environment);
        let backend = pair_backend(manager, &key)?;
        let override_path = dir.path().join(BACKEND_OVERRIDE);
        std::fs::write(&override_path, backend_override(manager))
            .map_err(|e| fs_err("writing", &override_path, e))?;
        Ok(Workspace {
            _lock: lock,
            dir,
            backend,
            log: String::new(),
            secret_env: Vec::new(),
            own_providers: true,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(super) fn data_dir(&self) -> PathBuf {
        self.dir.path().join(".terraform")
    }
}

/// What [`remove_stale_workspaces`] did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Working copies removed: no run held them.
    pub removed: Vec<PathBuf>,
    /// Stale working copies that could not be removed, and why.
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

/// Removes the working copies that killed runs left under `root` (a
/// results folder: `<root>/<customer>/<environment>/.work-*`, or `root`
/// itself for an apply's plan folder). A copy whose lock a live run holds,
/// here or in another process, is kept; so is a young copy without a lock
/// file (its run is about to lock it). Symbolic links are never followed.
pub fn remove_stale_workspaces(root: &Path) -> Sweep {
    let mut sweep = Sweep::default();
    let mut level = vec![root.to_path_buf()];
    for depth in 0..=2 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with(WORK_PREFIX) {
                    if is_stale(&path) {
                        match std::fs::remove_dir_all(&path) {
                            Ok(()) => sweep.removed.push(path),
                            Err(e) => sweep.failed.push((path, e)),
                        }
                    }
                } else if depth < 2 {
                    next.push(path);
                }
            }
        }
        level = next;
    }
    sweep.removed.sort();
    sweep
}

/// True when no live run holds the working copy at `dir`.
fn is_stale(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(WORK_LOCK)) {
        // Taken (and released when `f` drops): its run is gone.
        Ok(f) => f.try_lock().is_ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNLOCKED_GRACE),
        Err(_) => false,
    }
}

/// HCL string literal that Terraform reads back as exactly `s`.
///
/// HCL's escapes (hclsyntax spec, "Template Literals"): `$${` and `%%{`
/// are a literal `${` and `%{`; a `$` or `%` not followed by `{` is
/// itself, so doubling it would change the value (`a$1` read back as
/// `a$$1`). Control characters are written as `\uNNNN`, never dropped.
pub(super) fn hcl_str(s: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The backend block every working copy gets: everything but the per-pair
/// setting, which `init` passes as partial configuration (and which the
/// data dir's backend record keeps out of its hash; see
/// [`super::datadir`]).
pub(super) fn backend_override(manager: &Manager) -> String {
    let body = match &manager.config.terraform.backend {
        Backend::Local { .. } => String::new(),
        Backend::S3 {
            bucket,
            region,
            endpoint,
            use_path_style,
            use_lockfile,
        } => {
            let mut body = format!(
                "    bucket = {}\n    region = {}\n    use_lockfile = {}\n    use_path_style = {}\n",
                hcl_str(bucket),
                hcl_str(region),
                use_lockfile,
                use_path_style
            );
            if let Some(ep) = endpoint {
                body.push_str(&format!(
                    "    endpoints = {{ s3 = {} }}\n    skip_credentials_validation = true\n    skip_requesting_account_id = true\n    skip_metadata_api_check = true\n    skip_region_validation = true\n",
                    hcl_str(ep)
                ));
            }
            body
        }
    };
    format!(
        "# Written by fleetform from fleetform.yml; do not edit.\nterraform {{\n  backend \"{}\" {{\n{body}  }}\n}}\n",
        manager.config.terraform.backend.kind()
    )
}

/// The backend's per-pair setting for state `key`: the local state file's
/// absolute `path` (its folder created), or the s3 object `key`.
pub(super) fn pair_backend(
    manager: &Manager,
    key: &str,
) -> Result<(&'static str, String), TerraformError> {
    Ok(match &manager.config.terraform.backend {
        Backend::Local { state_dir } => {
            let dir = manager.path(state_dir);
            if key.is_empty() {
                return Ok(("path", String::new()));
            }
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| fs_err("creating", parent, e))?;
            }
            let abs = std::path::absolute(&path).map_err(|e| fs_err("resolving", &path, e))?;
            ("path", abs.to_string_lossy().into_owned())
        }
        Backend::S3 { .. } => ("key", key.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work_dir(parent: &Path, name: &str) -> PathBuf {
        let d = parent.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Makes `dir` look `secs` old.
    fn age(dir: &Path, secs: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::open(dir).unwrap().set_modified(t).unwrap();
    }

    /// A copy whose lock is held is kept until the lock is released; one
    /// without a lock file is kept while young; both go once stale.
    #[test]
    fn only_copies_no_run_holds_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let pair = root.path().join("acme/staging");
        let held = work_dir(&pair, ".work-held");
        let lock = std::fs::File::create_new(held.join(WORK_LOCK)).unwrap();
        lock.try_lock().unwrap();
        let young = work_dir(&pair, ".work-young");
        let old = work_dir(&pair, ".work-old");
        age(&old, 3600);
        let other = work_dir(&pair, "work-not-ours");
        age(&other, 3600);
        let sweep = remove_stale_workspaces(root.path());
        assert_eq!(sweep.removed, std::slice::from_ref(&old));
        assert!(held.exists() && young.exists() && other.exists());
        drop(lock);
        let sweep = remove_stale_workspaces(root.path());
        assert_eq!(sweep.removed, [held]);
        assert!(young.exists() && !old.exists());
        assert!(sweep.failed.is_empty());
    }

    /// A plan folder itself, results folders one and two levels down; not
    /// deeper, and never through a symbolic link.
    #[cfg(unix)]
    #[test]
    fn sweeps_two_levels_and_follows_no_links() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let found: Vec<PathBuf> = [".work-a", "c/.work-b", "c/e/.work-c"]
            .iter()
            .map(|n| {
                let d = work_dir(r, n);
                std::fs::write(d.join(WORK_LOCK), "").unwrap();
                d
            })
            .collect();
        let deep = work_dir(r, "c/e/f/.work-d");
        std::fs::write(deep.join(WORK_LOCK), "").unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = work_dir(outside.path(), "keep");
        std::fs::write(victim.join(WORK_LOCK), "").unwrap();
        std::os::unix::fs::symlink(&victim, r.join("c/.work-link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("link")).unwrap();
        let mut sweep = remove_stale_workspaces(r);
        sweep.removed.sort();
        let mut want = found.clone();
        want.sort();
        assert_eq!(sweep.removed, want);
        assert!(deep.exists() && victim.exists());
    }

    /// The working copy holds its own lock while it lives and leaves
    /// nothing behind.
    #[test]
    fn a_live_workspace_is_never_stale() {
        let dir = tempfile::tempdir().unwrap();
        let manager = dir.path().join("manager");
        std::fs::create_dir_all(manager.join("terraform")).unwrap();
        std::fs::write(
            manager.join("fleetform.yml"),
            "version: 1\nschema: s.json\nenvironments: [{name: staging}]\nterraform: {working_dir: terraform}\n",
        )
        .unwrap();
        let m = Manager::load(&manager).unwrap();
        let out = dir.path().join("out");
        let ws = Workspace::prepare(&m, &out.join("acme/staging"), "acme", "staging").unwrap();
        assert!(ws.path().join(WORK_LOCK).is_file());
        assert!(remove_stale_workspaces(&out).removed.is_empty());
        assert!(ws.path().exists());
        let path = ws.path().to_path_buf();
        drop(ws);
        assert!(!path.exists());
    }
}
