//! The files and folders fleetform.yml names: each must exist, of the
//! right kind, or it is an error at its `fleetform.yml:line:col`.
//! `validate` checks them, and so does every run of Terraform before it
//! starts (the engine), so a misspelled `working_dir` is the same located
//! error wherever it is met.

use std::path::Path;

use super::{ConfigError, Manager};

/// What a named path must be.
#[derive(Clone, Copy)]
enum Kind {
    File,
    Folder,
}

impl Manager {
    /// Every path fleetform.yml names (the schema, the value layers, the
    /// root module; each product's with `products:`) exists; the first
    /// that does not is the error.
    pub fn check_named_paths(&self) -> Result<(), ConfigError> {
        for (pointer, path, kind) in self.named_paths() {
            self.check_path(&pointer, path, kind)?;
        }
        Ok(())
    }

    fn named_paths(&self) -> Vec<(String, &Path, Kind)> {
        let c = &self.config;
        let mut out: Vec<(String, &Path, Kind)> = Vec::new();
        // A product's view carries that product's paths at the top level;
        // they are checked at their own place under `products:`.
        let top = self.product.is_none();
        if let Some(s) = c.schema.as_ref().filter(|_| top) {
            out.push(("/schema".into(), &s.0, Kind::File));
        }
        if let Some(b) = c.values.base.as_ref().filter(|_| top) {
            out.push(("/values/base".into(), &b.0, Kind::File));
        }
        for (i, e) in c.environments.iter().enumerate() {
            if let Some(v) = e.values.as_ref().filter(|_| top) {
                out.push((format!("/environments/{i}/values"), &v.0, Kind::File));
            }
        }
        if let Some(w) = c.terraform.working_dir.as_ref().filter(|_| top) {
            out.push(("/terraform/working_dir".into(), &w.0, Kind::Folder));
        }
        for (i, p) in c.products.iter().enumerate() {
            let at = format!("/products/{i}");
            out.push((format!("{at}/working_dir"), &p.working_dir.0, Kind::Folder));
            out.push((format!("{at}/schema"), &p.schema.0, Kind::File));
            if let Some(b) = &p.values.base {
                out.push((format!("{at}/values/base"), &b.0, Kind::File));
            }
            for (env, v) in &p.values.environments {
                let key = fleetform_yaml::escape_token(env);
                out.push((format!("{at}/values/environments/{key}"), &v.0, Kind::File));
            }
        }
        out
    }

    fn check_path(&self, pointer: &str, rel: &Path, kind: Kind) -> Result<(), ConfigError> {
        let full = self.path(rel);
        let what = match kind {
            Kind::File => "file",
            Kind::Folder => "folder",
        };
        let problem = match (std::fs::metadata(&full), kind) {
            (Ok(m), Kind::File) if m.is_file() => return Ok(()),
            (Ok(m), Kind::Folder) if m.is_dir() => return Ok(()),
            (Ok(_), _) => format!("is not a {what}"),
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".into(),
            (Err(e), _) => format!("cannot be read: {e}"),
        };
        Err(self.invalid(
            pointer,
            format!(
                "`{}` {problem} (a {what}, relative to fleetform.yml's folder); fix the path or create it",
                rel.display()
            ),
        ))
    }
}

/// The nearest folder above `start` holding fleetform.yml, as a relative
/// path (`..`, `../..`), when `start` holds none: the search stops at the
/// first folder with `.git` (the repository `start` is in), as git's own
/// search stops at a repository's root. `None` when `start` has one, or
/// no folder up to there does.
pub fn find_manager_above(start: &Path) -> Option<std::path::PathBuf> {
    if start.join(super::CONFIG_FILE).is_file() {
        return None;
    }
    let here = std::path::absolute(start).ok()?;
    let mut up = std::path::PathBuf::new();
    let mut dir = here.as_path();
    loop {
        if dir.join(".git").exists() {
            return None;
        }
        dir = dir.parent()?;
        up.push("..");
        if dir.join(super::CONFIG_FILE).is_file() {
            return Some(up);
        }
    }
}
