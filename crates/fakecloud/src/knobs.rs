//! Test knobs, read from the provider process's environment at each call.

use std::time::Duration;

/// Create and update of objects whose `name` is listed fail.
pub const FAIL_ON: &str = "FAKECLOUD_FAIL_ON";
/// Delete of objects whose `name` is listed fails.
pub const FAIL_DELETE_ON: &str = "FAKECLOUD_FAIL_DELETE_ON";
/// Milliseconds to sleep in each create, update and delete.
pub const SLOW_MS: &str = "FAKECLOUD_SLOW_MS";
/// The cloud file when the provider block has no `cloud_file`.
pub const FILE: &str = "FAKECLOUD_FILE";

/// Whether `FAKECLOUD_FAIL_ON` (comma-separated names) lists `name`.
pub fn fails(name: &str) -> bool {
    std::env::var(FAIL_ON).is_ok_and(|list| listed(&list, name))
}

/// Whether `FAKECLOUD_FAIL_DELETE_ON` (comma-separated names) lists `name`.
pub fn delete_fails(name: &str) -> bool {
    std::env::var(FAIL_DELETE_ON).is_ok_and(|list| listed(&list, name))
}

fn listed(list: &str, name: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|n| !n.is_empty() && n == name)
}

/// The delay of `FAKECLOUD_SLOW_MS` (none when unset or empty).
pub fn delay() -> Result<Option<Duration>, String> {
    match std::env::var(SLOW_MS) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => parse_ms(&v),
    }
}

fn parse_ms(v: &str) -> Result<Option<Duration>, String> {
    match v.trim().parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(format!(
            "{SLOW_MS}={v:?} is not a whole number of milliseconds"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_is_a_comma_separated_list_of_exact_names() {
        assert!(listed("a,web-1", "web-1"));
        assert!(listed(" a , web-1 ", "web-1"));
        assert!(!listed("web-10", "web-1"));
        assert!(!listed("", ""));
        assert!(!listed("a,,b", ""));
    }

    #[test]
    fn slow_ms_is_milliseconds() {
        assert_eq!(parse_ms("250"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(parse_ms("0"), Ok(None));
        assert!(parse_ms("1s")
            .unwrap_err()
            .contains("FAKECLOUD_SLOW_MS=\"1s\""));
    }
}
