//! Leaf helpers every layer may use: the provider's GitHub Apps, what each
//! may be granted and the variables of its credentials (`apps`), the one
//! list of variables fleetform reads credentials from (`credentials`), files written atomically and
//! read within bounds (`fs`), git read-only (`git`), paths as checked and shown
//! (`path`), the scrubbed
//! environment of child processes (`process`), what the Actions runner
//! obeys in output and text made so it obeys nothing (`runner`), and
//! foreign text made safe to show (`text`).
//!
//! May import: nothing of fleetform's.

pub mod apps;
pub mod credentials;
pub mod fs;
pub mod git;
pub mod path;
pub mod process;
pub mod runner;
pub mod shares;
pub mod text;

/// The time the gates judge (apply windows): `FLEETFORM_NOW` (Unix
/// seconds) when it is set, as the rollout's bake times and the secrets'
/// ages read it, so a test fixes the hour instead of reading the wall
/// clock; else now.
pub fn now() -> jiff::Timestamp {
    std::env::var("FLEETFORM_NOW")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
