//! The tower layers of a credential's octocrab client
//! (`OctocrabBuilder::with_layer`), each one concern with its own tests,
//! around `net`'s HTTP client (`transport`), innermost last:
//!
//! - octocrab's `BaseUriLayer`: the API root for octocrab's typed API,
//!   whose paths are relative (the client's own requests are absolute).
//! - `headers`: the headers GitHub documents on every request (`Accept`,
//!   `X-GitHub-Api-Version`, the `fleetform/<version>` `User-Agent`) and
//!   the credential's token.
//! - tower's `Retry` with the client's policy (`github::retry`'s
//!   `Retrying`): GitHub's retry order within the client's bounds; each
//!   attempt goes through every layer below, so each is scheduled, counted
//!   and logged as a request of its own.
//! - `etag`: the ETag cache of a client given one (a 304 answered from
//!   it).
//! - `read`: the answer's body read whole, each part within the client's
//!   timeout, for the retry policy and the cache to decide on.
//! - `dry_run`: `--dry-run`'s withheld writes ([`dry_run::PlannedRequest`]),
//!   answered without being scheduled, counted or sent.
//! - `schedule`: the scheduler (`budget`): a slot under the concurrency
//!   cap, held until the answer's body is dropped, and a slot within
//!   GitHub's limits, or `Deferred` past the client's patience.
//! - tower's `TimeoutLayer`: the answer's head within the client's
//!   timeout.
//! - `write_log`: the hour's writes kept as each write goes out (a
//!   scheduled client with `keep_writes_in` only).
//! - `count`: every request sent, by every client of the process (what
//!   `-v` reports), and the ones this client sent and got an answer to.
//!
//! May import: `github`'s `write_log`, `budget`, `etags`, `retry`'s
//! answer headers and its error type, `net`'s error text (crates besides:
//! `http`, `tower`, `hyper`'s body traits).

pub(super) mod count;
pub(super) mod dry_run;
pub(super) mod etag;
pub(super) mod headers;
pub(super) mod read;
pub(super) mod schedule;
pub(super) mod write_log;

/// A copy of `request` with `body`: its method, URI, version, headers and
/// extensions (an `http::Request` cannot be cloned), for a request sent
/// again (a retry, a conditional GET sent without its condition).
pub(super) fn again<Q, B>(request: &http::Request<Q>, body: B) -> http::Request<B> {
    let mut again = http::Request::new(body);
    *again.method_mut() = request.method().clone();
    *again.uri_mut() = request.uri().clone();
    *again.version_mut() = request.version();
    *again.headers_mut() = request.headers().clone();
    *again.extensions_mut() = request.extensions().clone();
    again
}
