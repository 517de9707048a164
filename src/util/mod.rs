//! Leaf helpers every layer may use: files written atomically and read
//! within bounds (`fs`), git read-only (`git`), paths as checked and shown
//! (`path`), the scrubbed
//! environment of child processes (`process`) and foreign text made safe
//! to show (`text`).
//!
//! May import: nothing of fleetform's.

pub mod fs;
pub mod git;
pub mod path;
pub mod process;
pub mod text;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
