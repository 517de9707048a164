//! The age identities `customers add` makes for a customer's secrets
//! (fleetform.yml `secrets:`): one per environment, its recipient in the
//! registry, the identity in a new owner-only file under `secrets.keys_dir`
//! for the operator to store as the environment's secret and delete.

use std::io::Write as _;
use std::path::PathBuf;

use crate::config::{display_path, Customer, Manager};
use crate::error::{Error, Result};
use crate::output::Output;

/// Makes the customer's identities (none without `secrets:`): the
/// recipients go into `c`, the identities into new files; returns the
/// files by environment.
pub(super) fn make(manager: &Manager, c: &mut Customer) -> Result<Vec<(String, PathBuf)>> {
    let Some(config) = &manager.config.secrets else {
        return Ok(Vec::new());
    };
    let dir = manager.path(std::path::Path::new(&config.keys_dir));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Failed(format!("{}: {e}", display_path(&dir).display())))?;
    let mut made = Vec::new();
    for env in c.environments.clone() {
        let (recipient, identity) = crate::values::secret_files::generate();
        let path = dir.join(format!("{}.{env}.agekey", c.slug));
        write_new_private(&path, &identity)?;
        c.secrets.insert(env.clone(), recipient);
        made.push((env, path));
    }
    Ok(made)
}

/// A new file only its owner can read (never over an existing one, never
/// through a symlink).
fn write_new_private(path: &std::path::Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let shown = display_path(path);
    let mut f = opts.open(path).map_err(|e| {
        Error::Failed(format!(
            "{}: {e}; an identity is never overwritten (move the old one away first)",
            shown.display()
        ))
    })?;
    f.write_all(format!("{text}\n").as_bytes())
        .map_err(|e| Error::Failed(format!("{}: {e}", shown.display())))
}

/// What to do with the identities made.
pub(super) fn tell(manager: &Manager, slug: &str, made: &[(String, PathBuf)], out: &Output) {
    for (env, path) in made {
        let Some(e) = manager.environment(env) else {
            continue;
        };
        let var = format!(
            "{}_{}",
            crate::values::secret_files::KEY_VAR,
            slug_var(slug)
        );
        out.note(&format!(
            "{slug}/{env}: secrets identity written to {} (owner-only). Store it in the `{}` and `{}` environments, then delete the file: gh secret set {var} --env {} < FILE; gh secret set {var} --env {} < FILE",
            display_path(path).display(),
            e.plan_environment(),
            e.apply_environment(),
            e.plan_environment(),
            e.apply_environment(),
        ));
    }
}

/// A slug as part of a variable name: `acme-eu` → `ACME_EU`.
pub(crate) fn slug_var(slug: &str) -> String {
    slug.to_ascii_uppercase().replace('-', "_")
}
