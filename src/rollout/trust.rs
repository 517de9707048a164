//! What a rollout reads back from the records store is checked as if a
//! stranger typed it: the store outlives the runners and anyone with write
//! access to the bucket (or the folder) can add a record. A rollout id
//! becomes a key of the store, a base or commit a git revision and the
//! next rollout's id, a pair a deployment record's folder: each must be
//! what fleetform writes, or the read fails naming the record and what is
//! wrong with it (`state::events` checks each event with these).

use crate::config::{is_slug, Unit};

/// What fleetform never writes, and what to do about it.
const NOT_OURS: &str = "fleetform never writes that, so the record was made or changed outside fleetform: find out who wrote it, and set it aside in the store before any rollout goes on";

/// A rollout id as `start` makes them: digits, lowercase hex and `-`, at
/// most 64 characters, starting with its start time.
pub fn id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-');
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{}` is not a rollout id (digits, lowercase hex and `-`)",
            id.escape_debug()
        )),
    }
}

/// A full commit sha: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
pub fn sha(what: &str, sha: &str) -> Result<(), String> {
    let ok = (sha.len() == 40 || sha.len() == 64)
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "its {what} `{}` is not a commit sha (40 or 64 lowercase hex digits)",
            sha.escape_debug()
        )),
    }
}

/// A pair: its customer, product and environment are slugs.
pub fn unit(u: &Unit) -> Result<(), String> {
    let parts = [Some(&u.customer), u.product.as_ref(), Some(&u.environment)];
    match parts.into_iter().flatten().find(|p| !is_slug(p)) {
        None => Ok(()),
        Some(bad) => Err(format!(
            "its pair names `{}`, which is not a slug",
            bad.escape_debug()
        )),
    }
}

/// `why`, with what it means and what to do.
pub fn not_ours(why: String) -> String {
    format!("{why}; {NOT_OURS}")
}

/// A rollout's id as listed in the store, checked.
pub fn listed_id(listed: &str) -> Result<(), String> {
    id(listed).map_err(not_ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_what_start_makes() {
        assert!(id("001700000000-0123456789ab-a1b2c3").is_ok());
        for bad in [
            "",
            "a/b",
            "../x",
            "0/..",
            "0 1",
            "0ABC",
            "x-1",
            &"1".repeat(65),
        ] {
            assert!(id(bad).is_err(), "{bad}");
        }
    }
}
