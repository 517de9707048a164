//! Paths as fleetform checks and shows them.

use std::path::{Path, PathBuf};

/// True for a relative path with no `..`, root or prefix components.
pub fn is_relative_inside(p: &Path) -> bool {
    !p.as_os_str().is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// A path as shown to users: lexically cleaned (`a/./b/../c` → `a/c`) and
/// relative to the current directory when inside it.
pub fn display_path(p: &Path) -> PathBuf {
    let p = clean_path(p);
    let settled = WORKING_DIR.get();
    let now = match settled {
        Some(_) => None,
        None => std::env::current_dir().ok(),
    };
    if let Some(cwd) = settled.and_then(Option::as_deref).or(now.as_deref()) {
        if let Ok(rel) = p.strip_prefix(cwd) {
            return rel.to_path_buf();
        }
    }
    p
}

/// The working directory once the command has settled in it (see
/// [`settle_working_dir`]): paths are shown relative to it, thousands of
/// times in a fleet run, each a system call when asked afresh.
static WORKING_DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Remembers the working directory for [`display_path`]; called once the
/// command has entered its manager repo and will not move again. Until
/// then (and in unit tests), the directory is asked each time.
pub fn settle_working_dir() {
    let _ = WORKING_DIR.set(std::env::current_dir().ok());
}

/// Removes `.` and resolves `..` against preceding normal components.
pub fn clean_path(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Where a path below a folder leads on the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Inside the folder (links followed), as a canonical path; the part
    /// that does not exist yet is appended as written.
    Inside(PathBuf),
    /// Outside it: the canonical path it leads to, and the folder's.
    Outside { to: PathBuf, root: PathBuf },
    /// A link on the way leads nowhere (its target is missing, or links
    /// loop): where, and the operating system's reason.
    Broken { at: PathBuf, reason: String },
}

/// Resolves `rel` below `root` as the operating system would open it:
/// every symlink on the way is followed (`canonicalize`), and the result
/// is compared with the canonical `root`. A path that does not exist yet
/// is judged by its longest existing part (what is created below it lands
/// there). `rel` may be anything: `..` and absolute paths are resolved
/// too, so a check on the text is not needed for this one to hold.
pub fn resolve_under(root: &Path, rel: &Path) -> std::io::Result<Resolved> {
    let root = std::fs::canonicalize(root)?;
    let full = root.join(rel);
    let parts: Vec<std::path::Component> = full.components().collect();
    // The longest part that exists (`lstat`: a link counts, even a broken
    // one, so that it is judged below and not skipped).
    let mut n = parts.len();
    while n > 1 && std::fs::symlink_metadata(parts[..n].iter().collect::<PathBuf>()).is_err() {
        n -= 1;
    }
    let existing: PathBuf = parts[..n].iter().collect();
    let mut to = match std::fs::canonicalize(&existing) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Resolved::Broken {
                at: existing,
                reason: e.to_string(),
            })
        }
    };
    to.extend(&parts[n..]);
    // What does not exist yet is appended as written: a `..` there would
    // climb from the canonical part, so it is resolved lexically here.
    let to = clean_path(&to);
    if to.starts_with(&root) {
        Ok(Resolved::Inside(to))
    } else {
        Ok(Resolved::Outside { to, root })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_judged_where_they_lead() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("repo"), tmp.path().join("outside"));
        std::fs::create_dir_all(root.join("tf")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        symlink("tf", root.join("inside-link")).unwrap();
        symlink(&outside, root.join("out-link")).unwrap();
        symlink("inside-link/../../outside", root.join("climb")).unwrap();
        symlink("nowhere", root.join("broken")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        let canon = std::fs::canonicalize(&root).unwrap();
        let outside = std::fs::canonicalize(&outside).unwrap();
        let r = |p: &str| resolve_under(&root, Path::new(p)).unwrap();
        assert_eq!(r("tf"), Resolved::Inside(canon.join("tf")));
        assert_eq!(
            r("inside-link/x.json"),
            Resolved::Inside(canon.join("tf/x.json"))
        );
        assert_eq!(
            r("not/yet/there"),
            Resolved::Inside(canon.join("not/yet/there"))
        );
        let out = |to: PathBuf| Resolved::Outside {
            to,
            root: canon.clone(),
        };
        assert_eq!(r("out-link"), out(outside.clone()));
        assert_eq!(r("out-link/not/yet"), out(outside.join("not/yet")));
        assert_eq!(r("climb/m"), out(outside.join("m")));
        assert_eq!(r("../outside"), out(outside.clone()));
        assert_eq!(r("tf/../../outside/new"), out(outside.join("new")));
        assert_eq!(r("missing/../../outside"), out(outside.clone()));
        assert_eq!(r("/etc"), out(std::fs::canonicalize("/etc").unwrap()));
        for broken in ["broken", "broken/below", "loop"] {
            assert!(
                matches!(r(broken), Resolved::Broken { ref at, .. } if at.ends_with(broken.split('/').next().unwrap())),
                "{broken}: {:?}",
                r(broken)
            );
        }
    }
}
