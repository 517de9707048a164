//! The relay's clock for what it lets expire: a claim going stale
//! (`events`, the durable queue's sweeps) and a kept installation token
//! (`tokens`). For tests only, it can be put ahead: [`CLOCK_FILE_ENV`]
//! names a file holding a number of seconds (at most [`MOST_AHEAD`]) that
//! every one of these judgements adds, so a test moves time on and waits
//! for what the relay does then, instead of sleeping for the relay's own
//! wall-clock time. Several relays given the same file share the time.
//!
//! Safe by construction: the clock only goes forward (a claim taken over
//! or a token minted sooner, as after a long pause, never a claim held
//! longer); the file is read only when the operator's environment names
//! it, and ignored (with the clock as it is) unless it belongs to the
//! relay's user and no one else can write it. Nothing a request carries
//! reaches it. The times the relay proves or signs with (OIDC tokens'
//! expiry, the App's JWT) never use it.
//!
//! May import: `util`.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Names the file that puts the clock ahead (tests; module docs).
pub const CLOCK_FILE_ENV: &str = "FLEETFORM_TEST_CLOCK_FILE";
/// The most the clock is put ahead: a day.
pub const MOST_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// How far ahead the clock is now: what the file [`CLOCK_FILE_ENV`]
/// names holds, or nothing.
pub fn ahead() -> Duration {
    static FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let Some(path) = FILE.get_or_init(|| std::env::var_os(CLOCK_FILE_ENV).map(PathBuf::from))
    else {
        return Duration::ZERO;
    };
    if !trusted(path) {
        return Duration::ZERO;
    }
    crate::util::fs::read_input_text(path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, |s| Duration::from_secs(s).min(MOST_AHEAD))
}

/// A regular file of the relay's own user that only it can write.
#[cfg(unix)]
fn trusted(path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // The process's own user: the owner of `/proc/self`.
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return false;
    };
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && m.uid() == me && m.mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn trusted(_: &std::path::Path) -> bool {
    false
}

/// Now, on this clock (to compare with [`elapsed`]).
pub fn now() -> Instant {
    Instant::now() + ahead()
}

/// The time since `at` (taken with [`now`]), on this clock.
pub fn elapsed(at: Instant) -> Duration {
    now().saturating_duration_since(at)
}

/// Now in Unix seconds, on this clock: for the times claims are written
/// with and judged by, never for what is proved or signed.
pub fn now_unix() -> u64 {
    crate::util::now_unix() + ahead().as_secs()
}
