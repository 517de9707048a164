//! Fixtures made once per test process and copied for each test that asks
//! ([`Fixture::copied`]): the tests of a family share their set-up's
//! Terraform runs, and none sees another's changes.

use std::collections::BTreeMap;
use std::panic::Location;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::Fixture;

/// A kept fixture: where `make` was asked for, and its folder once made
/// (or why it could not be made).
struct Kept {
    asked_at: &'static Location<'static>,
    made: OnceLock<Result<PathBuf, String>>,
}

/// The kept fixtures, by key.
static KEPT: Mutex<BTreeMap<String, Arc<Kept>>> = Mutex::new(BTreeMap::new());

/// What a copy leaves out: the test cloud's mirror (the provider, 11 MB;
/// a copy that runs Terraform on the test cloud installs it again) and
/// the plugin cache of a fleet run (a cache: the next run fills its own).
const LEFT_OUT: [&str; 2] = ["fakecloud/mirror", "manager/.fleetform/out/.providers"];

impl Fixture {
    /// A copy of the fixture `make` makes, made once per test process under
    /// `key` (its folder is removed when the process exits; each copy when
    /// its test drops it). Everything is copied (git, state, records, the
    /// test cloud's file) but [`LEFT_OUT`]; a link into the kept folder
    /// points into the copy. One key has one `make`: asking for it from
    /// another place in the code fails, as does every test after `make`
    /// failed once.
    ///
    /// A plan made by `make` and applied in a copy would change the kept
    /// folder's state, not the copy's: Terraform applies a saved plan to
    /// the backend the plan names (the local state's absolute path). So
    /// `make` applies what it plans, and a test plans before it applies.
    #[track_caller]
    pub fn copied(key: &str, make: impl FnOnce() -> Fixture) -> Fixture {
        let kept = kept(key, Location::caller());
        let made = kept.made.get_or_init(|| {
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(make));
            made.map(|fx| {
                let root = fx.dir.keep();
                remove_at_exit(root.clone());
                root
            })
            .map_err(|_| {
                format!("making the fixture {key:?} failed in another test (its output says why)")
            })
        });
        let root = made.as_ref().unwrap_or_else(|why| panic!("{why}"));
        let fx = Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let skip: Vec<PathBuf> = LEFT_OUT.iter().map(|rel| root.join(rel)).collect();
        super::copy_tree_with(root, fx.root(), |p| skip.iter().any(|s| s == p));
        fx
    }
}

/// The kept fixture of `key`, first asked for at `at`.
fn kept(key: &str, at: &'static Location<'static>) -> Arc<Kept> {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let entry = kept.entry(key.to_string()).or_insert_with(|| {
        Arc::new(Kept {
            asked_at: at,
            made: OnceLock::new(),
        })
    });
    assert!(
        entry.asked_at == at,
        "the fixture {key:?} is made at {} and asked for again at {at}: give each set-up a key of its own",
        entry.asked_at
    );
    Arc::clone(entry)
}

/// Removes `root` when the test process exits (libtest returns from main
/// or calls `exit`; both run the C library's exit handlers).
pub fn remove_at_exit(root: PathBuf) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn made() -> Fixture {
        let fx = Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fx.write("state/a.json", "{}\n");
        fx.write("fakecloud/mirror/provider", "binary\n");
        fx.write(
            "manager/.fleetform/out/.providers/plugin-cache/p",
            "cached\n",
        );
        std::os::unix::fs::symlink(fx.path("state/a.json"), fx.path("inside")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", fx.path("outside")).unwrap();
        fx
    }

    #[test]
    fn each_copy_is_its_own_and_links_into_the_kept_folder_follow_it() {
        let copy = || Fixture::copied("copies self-test", made);
        let (one, two) = (copy(), copy());
        assert_ne!(one.root(), two.root());
        one.write("state/a.json", "changed\n");
        assert_eq!(
            two.read("state/a.json"),
            "{}\n",
            "a copy saw another's change"
        );
        assert_eq!(
            std::fs::read_link(two.path("inside")).unwrap(),
            two.path("state/a.json")
        );
        assert_eq!(
            std::fs::read_link(two.path("outside")).unwrap(),
            Path::new("/etc/hostname")
        );
        assert!(
            !two.path("fakecloud/mirror").exists(),
            "the mirror is left out"
        );
        assert!(!two.path("manager/.fleetform/out/.providers").exists());
    }

    #[test]
    fn a_key_has_one_set_up_and_a_failed_one_fails_every_test_after_it() {
        let clash = std::panic::catch_unwind(|| {
            Fixture::copied("copies self-test: one place", made);
            Fixture::copied("copies self-test: one place", made)
        });
        let why = clash.err().expect("the second place is refused");
        let why = why.downcast_ref::<String>().expect("a message");
        assert!(why.contains("give each set-up a key of its own"), "{why}");

        let failing = || -> Fixture { panic!("the set-up failed") };
        for _ in 0..2 {
            let out =
                std::panic::catch_unwind(|| Fixture::copied("copies self-test: failing", failing));
            let why = out.err().expect("a failed set-up fails");
            let why = why.downcast_ref::<String>().expect("a message");
            assert!(why.contains("failed in another test"), "{why}");
        }
    }
}
