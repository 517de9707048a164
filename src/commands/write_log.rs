//! What the commands that write on a schedule (`drift --issues`, `sync`)
//! keep between runs: the write log (`--write-log FILE`, the times of the
//! last hour's writes, so the next run counts them against the same hour's
//! write budget) and the ETag cache (`--etag-cache FILE`,
//! [`crate::github::EtagCache`]).

use std::path::Path;

use crate::error::{Error, Result};
use crate::github::{EtagCache, GitHub};
use crate::output::Output;

/// The write times an earlier run kept; a missing file is none, an
/// unreadable one a note (the hour's budget then counts this run only).
pub fn read(path: &Path, out: &Output) -> Vec<u64> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        out.note(&format!(
            "{}: not a write log (a JSON list of times); this run counts its own writes only",
            path.display()
        ));
        Vec::new()
    })
}

/// Counts the writes the log at `path` kept against `gh`'s hour.
pub fn load(gh: &GitHub, path: &Path, out: &Output) {
    gh.count_earlier_writes(read(path, out));
}

/// Keeps the last hour's writes of `gh` (the earlier runs' included) at
/// `path`, for the next run.
pub fn save(gh: &GitHub, path: &Path) -> Result<()> {
    let times = serde_json::to_vec(&gh.writes_of_the_hour()).unwrap_or_default();
    crate::util::fs::write_atomic(path, &times)
        .map_err(|e| Error::Failed(format!("writing the write log {}: {e}", path.display())))
}

/// Keeps the ETag cache for the next run; a failure is a note (the next
/// run reads everything again).
pub fn save_etags(cache: &EtagCache, out: &Output) {
    if let Err(e) = cache.save() {
        out.note(&format!(
            "the ETag cache was not kept ({e}); the next run reads everything again"
        ));
    }
}
