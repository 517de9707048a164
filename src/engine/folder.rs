//! A pair's results folder: made so that no folder fleetform names can
//! be a planted symlink, what a plan publishes into it, and the plan
//! summary read back from it.

use std::path::Path;

use super::{io_err, FILES_FILE, PLAN_FILE, SUMMARY_FILE};
use crate::config::Unit;
use crate::data::summary::PlanSummary;
use crate::error::{Error, Say};
use crate::util::fs::write_atomic;
use anyhow::Context as _;

/// Creates the results folder `<root>/<unit>` (`<customer>/<environment>`
/// or `<customer>/<product>/<environment>`) so that none of the folders
/// fleetform names can be a planted symlink that sends the plan's files
/// (or a truncated lock) elsewhere.
pub(super) fn ensure_out_dir(dir: &Path, unit: &Unit) -> Result<(), crate::util::fs::FsError> {
    let tail = unit.rel_dir();
    let depth = tail.components().count();
    let root = match dir.ancestors().nth(depth) {
        Some(root) if dir.ends_with(&tail) => root,
        _ => return crate::util::fs::ensure_dir(dir, Path::new("")).map(drop),
    };
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    crate::util::fs::ensure_dir(root, &tail).map(drop)
}

/// The plan summary in `dir`, or the refusal naming it.
pub fn read_summary(dir: &Path) -> Result<PlanSummary, Error> {
    let p = dir.join(SUMMARY_FILE);
    let bytes = crate::util::fs::read_input(&p).map_err(|e| {
        Error::Refused(
            Say::new(format!("no plan summary at {} ({e})", p.display()))
                .help("run `fleetform plan` first"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::refused(format!(
            "{} is not a fleetform plan summary: {e}",
            p.display()
        ))
    })
}

/// What a plan publishes into its results folder.
pub(super) struct Results<'a> {
    /// The plan file in the working copy (moved into the folder).
    pub plan: &'a Path,
    pub vars: &'a [u8],
    /// The customer's files the plan was made from ([`FILES_FILE`]).
    pub files: &'a [u8],
    pub plan_text: &'a str,
    pub comment: &'a str,
    pub summary: &'a PlanSummary,
}

/// Moves the plan into `dir` and writes the files next to it, the
/// summary that vouches for the plan last. Two runs publishing into the
/// same folder take turns, so the summary always vouches for the plan file
/// next to it.
pub(super) fn publish(dir: &Path, r: &Results<'_>) -> Result<(), Error> {
    let lock_path = dir.join(".publish.lock");
    let lock = crate::util::fs::open_lock_file(&lock_path)?;
    lock.lock().map_err(io_err(&lock_path))?;
    let plan = dir.join(PLAN_FILE);
    std::fs::rename(r.plan, &plan).map_err(io_err(&plan))?;
    // The plan file holds the values Terraform planned with (a sensitive
    // variable's too): its owner's alone, as every result file fleetform
    // writes (Terraform makes it 0644).
    crate::util::fs::owner_only(&plan).map_err(io_err(&plan))?;
    let summary = serde_json::to_vec_pretty(r.summary).context("serialising the summary")?;
    for (name, bytes) in [
        ("variables.tfvars.json", r.vars),
        (FILES_FILE, r.files),
        ("plan.txt", r.plan_text.as_bytes()),
        ("comment.md", r.comment.as_bytes()),
        (SUMMARY_FILE, &summary),
    ] {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
    }
    Ok(())
}
