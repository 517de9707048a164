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
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = p.strip_prefix(&cwd) {
            return rel.to_path_buf();
        }
    }
    p
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
