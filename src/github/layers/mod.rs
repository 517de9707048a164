//! The tower layers of a credential's octocrab client
//! (`OctocrabBuilder::with_layer`), each one concern with its own tests,
//! around `net`'s HTTP client (`transport`), innermost last:
//!
//! - `headers`: the headers GitHub documents on every request (`Accept`,
//!   `X-GitHub-Api-Version`, the `fleetform/<version>` `User-Agent`) and
//!   the credential's token.
//! - `dry_run`: `--dry-run`'s withheld writes ([`dry_run::PlannedRequest`]),
//!   answered without being scheduled, counted or sent.
//! - `schedule`: the scheduler (`budget`): a slot under the concurrency
//!   cap, held until the answer's body is dropped, and a slot within
//!   GitHub's limits, or `Deferred` past the client's patience.
//! - tower's `TimeoutLayer`: the answer's head within the client's
//!   timeout (the body's parts are timed as they are read, in `wire`).
//! - `write_log`: the hour's writes kept as each write goes out (a
//!   scheduled client with `keep_writes_in` only).
//! - `count`: every request sent, by every client of the process (what
//!   `-v` reports), and the ones this client sent and got an answer to.
//!
//! The retries and the ETag cache are still the client's own loop
//! (`client`), above octocrab: each attempt of the loop is one request
//! through these layers. Both decide on the answer's body (a 403 that
//! says "rate limit", a read whose JSON is garbled, the kept body a 304
//! stands for), which a layer would have to read whole before the
//! client does, where the client now reads it part by part within its
//! timeout; and until they are layers, a typed octocrab call would skip
//! them, so the API families still go through `GitHub::send`.
//!
//! May import: `github`'s `write_log`, `budget` and its error type
//! (crates besides: `http`, `tower`, `hyper`'s body traits).

pub(super) mod count;
pub(super) mod dry_run;
pub(super) mod headers;
pub(super) mod schedule;
pub(super) mod write_log;
