//! Fixtures made once per test process and copied for each test that asks
//! ([`Fixture::copied`]): the tests of a family share their set-up's
//! Terraform runs, and none sees another's changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::Fixture;

/// The kept fixtures' folders, by key.
static KEPT: Mutex<BTreeMap<String, Arc<OnceLock<PathBuf>>>> = Mutex::new(BTreeMap::new());

impl Fixture {
    /// A copy of the fixture `make` makes, made once per test process under
    /// `key` (its folder is removed when the process exits). Everything is
    /// copied (git, state, records, the test cloud's file) but the test
    /// cloud's mirror, `fakecloud/mirror` (the provider, 11 MB): a copy
    /// that runs Terraform on the test cloud installs it again.
    ///
    /// A plan made by `make` and applied in a copy would change the kept
    /// folder's state, not the copy's: Terraform applies a saved plan to
    /// the backend the plan names (the local state's absolute path). So
    /// `make` applies what it plans, and a test plans before it applies.
    pub fn copied(key: &str, make: impl FnOnce() -> Fixture) -> Fixture {
        let cell = {
            let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(kept.entry(key.to_string()).or_default())
        };
        let root = cell.get_or_init(|| {
            let root = make().dir.keep();
            remove_at_exit(root.clone());
            root
        });
        let fx = Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        copy_all(root, fx.root(), &root.join("fakecloud/mirror"));
        fx
    }
}

/// Copies the tree at `from` into `to`, all but `skip`.
fn copy_all(from: &Path, to: &Path, skip: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let (src, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if src == skip {
            continue;
        } else if kind.is_dir() {
            copy_all(&src, &dest, skip);
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).unwrap();
            std::os::unix::fs::symlink(target, &dest).unwrap();
        } else {
            std::fs::copy(&src, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
        }
    }
}

/// Removes `root` when the test process exits (libtest returns from main
/// or calls `exit`; both run the C library's exit handlers).
fn remove_at_exit(root: PathBuf) {
    static ROOTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    extern "C" fn remove_roots() {
        let roots = std::mem::take(&mut *ROOTS.lock().unwrap_or_else(|e| e.into_inner()));
        for root in roots {
            let _ = std::fs::remove_dir_all(root);
        }
    }
    ROOTS.lock().unwrap_or_else(|e| e.into_inner()).push(root);
    REGISTERED.call_once(|| {
        // SAFETY: registers a function without arguments that only removes
        // folders; it runs once, at exit.
        let rc = unsafe { libc::atexit(remove_roots) };
        assert_eq!(rc, 0, "atexit");
    });
}
