//! A pair's results folder: made so that no folder fleetform names can
//! be a planted symlink, and the plan summary read back from it.

use std::path::Path;

use super::SUMMARY_FILE;
use crate::config::Unit;
use crate::data::summary::PlanSummary;
use crate::error::{Error, Say};

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
