//! The write log of the commands that write on a schedule (`drift
//! --issues --write-log FILE`, `sync --write-log FILE`): the times (epoch
//! ms) of the last hour's writes as a JSON list, kept between runs so that
//! consecutive runs count their writes against one hour's budget
//! ([`super::GitHub::count_earlier_writes`],
//! [`super::GitHub::writes_of_the_hour`]). Imports only `util`.

use std::path::Path;

use crate::util::fs::FsError;

/// The largest write log read (1 MiB).
const MAX_BYTES: u64 = 1024 * 1024;

/// The write times an earlier run kept; a missing file is none. `Err` is
/// the note to show for a file that is not a write log (the hour's budget
/// then counts this run only).
pub fn read(path: &Path) -> Result<Vec<u64>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    // An hour's writes are at most a few thousand times.
    let bytes = crate::util::fs::read_bounded(path, MAX_BYTES)
        .map_err(|e| format!("{e}; this run counts its own writes only"))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "{}: not a write log (a JSON list of times); this run counts its own writes only",
            path.display()
        )
    })
}

/// Keeps `times` at `path` for the next run, atomically.
pub fn write(path: &Path, times: &[u64]) -> Result<(), FsError> {
    let bytes = serde_json::to_vec(times).unwrap_or_default();
    crate::util::fs::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_log_is_empty_a_foreign_file_a_note_and_a_written_one_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.json");
        assert_eq!(read(&path), Ok(Vec::new()));
        std::fs::write(&path, "not json").unwrap();
        assert!(read(&path).unwrap_err().contains("not a write log"));
        write(&path, &[1, 2]).unwrap();
        assert_eq!(read(&path), Ok(vec![1, 2]));
    }
}
