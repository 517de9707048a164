//! One edit of the registry under its lock: read and checked inside the
//! lock, the new text parsed, validated and checked before it is written
//! atomically. Every `customers` flow that changes the registry goes
//! through [`edit_registry`] (or [`edit_entry`] for one customer's entry).

use std::path::{Path, PathBuf};

use crate::config::edit::{self, EditError};
use crate::config::{display_path, Customer, Manager, Registry};
use crate::error::{Error, Result};

/// The registry's path and how messages show it.
pub(super) fn registry_file(manager: &Manager) -> (PathBuf, String) {
    let path = manager.path(&manager.config.registry);
    let shown = display_path(&path).display().to_string();
    (path, shown)
}

/// A value given on the command line that looks like a token is refused:
/// fleetform never stores tokens.
pub(super) fn refuse_secretish(field: &str, value: &str) -> Result<()> {
    if crate::values::secrets::looks_like_credential(value) {
        return Err(Error::usage(format!(
            "{field} looks like a token; fleetform never stores tokens (they belong in GitHub secrets)"
        )));
    }
    Ok(())
}

/// The text an edit of the registry made, to be written, or why it could
/// not be made.
pub(super) fn edited(text: std::result::Result<String, EditError>) -> Result<Option<String>> {
    text.map(Some).map_err(|e| Error::failed(e.to_string()))
}

/// `done` holds for `slug`'s entry in the registry as it would be
/// written; otherwise nothing is: "the edit did not `what`".
pub(super) fn entry_done(
    after: &Registry,
    slug: &str,
    what: &str,
    done: impl FnOnce(&Customer) -> bool,
) -> Result<()> {
    match after.get(slug) {
        Some(c) if done(c) => Ok(()),
        _ => Err(Error::failed(format!(
            "the edit did not {what}, so nothing was written"
        ))),
    }
}

/// One edit of `slug`'s entry ([`edit_registry`]): `change` turns the
/// registry, its text, the file's name and the entry's index into the new
/// text (`None`: nothing to write), and `done` must hold for the entry
/// afterwards ([`entry_done`]).
pub(super) fn edit_entry(
    manager: &Manager,
    slug: &str,
    what: &str,
    change: impl FnOnce(&Registry, &str, &str, usize) -> Result<Option<String>>,
    done: impl FnOnce(&Customer) -> bool,
) -> Result<Option<Registry>> {
    edit_registry(
        manager,
        |registry, text, file| {
            let index = registry.index_of(slug).map_err(Error::usage)?;
            change(registry, text, file, index)
        },
        |after| entry_done(after, slug, what, done),
    )
}

/// One edit of the registry under its lock ([`edit::RegistryLock`]):
/// the registry is read and checked inside the lock, `edit` turns it and
/// its text into the new text (`None`: nothing to write), the new text must
/// parse, validate and pass `check`, and is written atomically before the
/// lock is released. Returns the registry as written, if anything was.
pub(super) fn edit_registry(
    manager: &Manager,
    edit: impl FnOnce(&Registry, &str, &str) -> Result<Option<String>>,
    check: impl FnOnce(&Registry) -> Result<()>,
) -> Result<Option<Registry>> {
    use edit::LockError;
    let (path, shown) = registry_file(manager);
    let timeout = edit::lock_timeout_from_env().map_err(|e| Error::usage(e.to_string()))?;
    let _lock = edit::RegistryLock::acquire(&path, &shown, timeout).map_err(|e| match e {
        LockError::BadTimeout { .. } | LockError::Symlink { .. } => Error::usage(e.to_string()),
        LockError::TimedOut { .. } | LockError::Io { .. } => Error::failed(e.to_string()),
    })?;
    let registry = Registry::load(manager)?;
    let text = crate::util::fs::read_input_text(&registry.file)
        .map_err(|e| Error::failed(format!("{shown}: {e}")))?;
    match edit(&registry, &text, &shown)? {
        Some(edited) => commit_edit(manager, &registry.file, &edited, check).map(Some),
        None => Ok(None),
    }
}

/// Writes new registry text after checking it parses, validates and
/// passes `check`.
fn commit_edit(
    manager: &Manager,
    path: &Path,
    text: &str,
    check: impl FnOnce(&Registry) -> Result<()>,
) -> Result<Registry> {
    let registry = Registry::parse(manager, path, text.as_bytes()).map_err(|e| {
        Error::failed(format!(
            "the edited registry would not be valid, so nothing was written: {e}"
        ))
    })?;
    check(&registry)?;
    crate::util::fs::write_atomic(path, text.as_bytes()).map_err(|e| {
        Error::failed(format!(
            "cannot write {}: {e}",
            display_path(path).display()
        ))
    })?;
    Ok(registry)
}
