//! `fleetform init`: a new manager repo (or, with `--customer`, a customer
//! repo) in a folder. Every file is checked first: if any of them exists,
//! nothing is written.

use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::scaffold::{self, Scaffold};

struct Settings {
    dir: PathBuf,
    environments: Vec<String>,
    customer: bool,
    action_ref: String,
}

fn resolve(args: &InitArgs) -> Result<Settings> {
    let mut seen = std::collections::BTreeSet::new();
    for e in &args.environments {
        if !crate::config::is_slug(e) {
            return Err(Error::Usage(format!(
                "--environments: `{e}` is not a valid environment name; use lowercase letters, digits and inner `-` (e.g. staging,production)"
            )));
        }
        if !seen.insert(e) {
            return Err(Error::Usage(format!(
                "--environments: `{e}` is named twice; name each environment once, in promotion order"
            )));
        }
    }
    if args.environments.is_empty() {
        return Err(Error::Usage(
            "--environments: name at least one environment (e.g. staging,production)".into(),
        ));
    }
    let action_ref = args
        .action_ref
        .clone()
        .unwrap_or_else(crate::version::action_ref);
    if action_ref.is_empty()
        || !action_ref
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        return Err(Error::Usage(format!(
            "--action-ref `{action_ref}`: give a tag, branch or commit SHA of fleetform (letters, digits, `.`, `_`, `-`, `/`)"
        )));
    }
    Ok(Settings {
        dir: args.dir.clone(),
        environments: args.environments.clone(),
        customer: args.customer,
        action_ref,
    })
}

pub fn run(args: &InitArgs, out: &Output) -> Result<()> {
    let s = resolve(args)?;
    let shown = s.dir.display().to_string();
    let what = scaffold::Settings {
        dir: &shown,
        environments: &s.environments,
        action_ref: &s.action_ref,
        version: crate::version::SHORT,
    };
    let made = if s.customer {
        scaffold::customer(&what)
    } else {
        scaffold::manager(&what)
    }
    .map_err(|e| Error::Failed(format!("rendering the embedded templates: {e:#}")))?;
    refuse_existing(&s.dir, &made)?;
    write_all(&s.dir, &made)?;
    out.result(made.settings.trim_end());
    Ok(())
}

/// Every file that would be written and already exists (or is a link or
/// a folder), named; nothing is written then.
fn refuse_existing(dir: &Path, made: &Scaffold) -> Result<()> {
    let existing: Vec<String> = made
        .files
        .iter()
        .filter(|(rel, _)| std::fs::symlink_metadata(dir.join(rel)).is_ok())
        .map(|(rel, _)| dir.join(rel).display().to_string())
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{} already exist(s): {}; fleetform init overwrites nothing and wrote nothing. Move them away or choose another --dir",
        existing.len(),
        existing.join(", ")
    )))
}

/// Writes each file create-only (a temporary file, then a rename that
/// never replaces); on a failure the files written so far are removed
/// again.
fn write_all(dir: &Path, made: &Scaffold) -> Result<()> {
    let mut written: Vec<PathBuf> = Vec::new();
    for (rel, text) in &made.files {
        let rel = Path::new(rel);
        let result = crate::util::fs::ensure_dir(dir, rel.parent().unwrap_or(Path::new("")))
            .and_then(|parent| {
                let path = parent.join(rel.file_name().unwrap_or_default());
                crate::util::fs::write_new(&path, text.as_bytes()).map(|()| path)
            });
        match result {
            Ok(path) => written.push(path),
            Err(e) => {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
                return Err(Error::Failed(format!(
                    "{e}; nothing was kept (the files written before it were removed again)"
                )));
            }
        }
    }
    Ok(())
}
