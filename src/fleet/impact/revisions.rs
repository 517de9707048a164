//! The two revisions of the manager, read from git, and their comparison.

use std::path::{Path, PathBuf};

use super::{compare, under, Context, Impact, ImpactError, Loaded, Side};
use crate::config::{Manager, Registry};

/// The impact of the manager at `base` against `head` (a revision, or the
/// working tree of `manager_dir` when `None`, which is `live`).
pub fn of_revisions(
    manager_dir: &Path,
    live: &Manager,
    registry: &Registry,
    base: &str,
    head: Option<&str>,
    jobs: usize,
    net: &crate::net::Settings,
) -> Result<Impact, ImpactError> {
    Revisions::export(manager_dir, live, base, head)?.compare(live, registry, jobs, net)
}

/// The two revisions of the manager, read from git (no customer yet): what
/// [`Revisions::compare`] compares. Exporting needs no registry, so a
/// caller can load the registry meanwhile.
pub struct Revisions {
    /// Holds the exported sides' files until the comparison is done.
    _scratch: tempfile::TempDir,
    base: Loaded,
    head: Loaded,
    changed: Vec<PathBuf>,
}

impl Revisions {
    /// `base` (and `head`, or the working tree when `None`) exported from
    /// git, and the files changed under the manager between them.
    pub fn export(
        manager_dir: &Path,
        live: &Manager,
        base: &str,
        head: Option<&str>,
    ) -> Result<Revisions, ImpactError> {
        use crate::util::git;
        let scratch = tempfile::tempdir()
            .map_err(|e| ImpactError::Failed(format!("a scratch folder: {e}")))?;
        let side = |rev: &str, name: &str| -> Result<Side, ImpactError> {
            let dest = scratch.path().join(name);
            std::fs::create_dir_all(&dest).map_err(|e| ImpactError::Failed(e.to_string()))?;
            let root = git::export(manager_dir, rev, &dest)
                .map_err(|e| ImpactError::Revision(e.to_string()))?;
            let sha = git::run(
                manager_dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--end-of-options",
                    &format!("{rev}^{{commit}}"),
                ],
            )
            .map_err(|e| ImpactError::Revision(e.to_string()))?;
            Ok(Side {
                manager: Manager::load(&root)?,
                at: Some(sha.trim().chars().take(12).collect()),
            })
        };
        // git lists what changed while the base is written, and the working
        // tree's products load meanwhile: none needs another.
        let (base_side, head_side, changed) = std::thread::scope(|s| {
            let changed = s.spawn(|| git::changed_under(manager_dir, base, head));
            let exported = |rev, name| side(rev, name).map(Loaded::of);
            let (base_side, head_side) = match head {
                Some(rev) => (exported(base, "base"), exported(rev, "head")),
                None => {
                    let live_head = s.spawn(|| {
                        Loaded::of(Side {
                            manager: live.clone(),
                            at: None,
                        })
                    });
                    (exported(base, "base"), Ok(joined(live_head)))
                }
            };
            (base_side, head_side, joined(changed))
        });
        let (base_side, head_side) = (base_side?, head_side?);
        let changed = changed.map_err(|e| ImpactError::Revision(e.to_string()))?;
        Ok(Revisions {
            changed: under(manager_dir, changed),
            _scratch: scratch,
            base: base_side,
            head: head_side,
        })
    }

    /// Every pair of `registry` compared at both revisions.
    pub fn compare(
        self,
        live: &Manager,
        registry: &Registry,
        jobs: usize,
        net: &crate::net::Settings,
    ) -> Result<Impact, ImpactError> {
        let store = crate::records::Store::for_manager(live, net);
        let ctx = Context {
            registry,
            store: &store,
            changed_files: self.changed,
            jobs,
        };
        let mut impact = compare(&self.base, &self.head, &ctx).map_err(ImpactError::Failed)?;
        // The commits compared, as a reader finds them (`1a2b3c4d5e6f`).
        impact.base = self.base.0.at.clone().unwrap_or_default();
        impact.head = self.head.0.at.clone().unwrap_or("working tree".into());
        Ok(impact)
    }
}

/// What a scoped thread gave back (its panic goes on).
fn joined<T>(t: std::thread::ScopedJoinHandle<'_, T>) -> T {
    t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}
