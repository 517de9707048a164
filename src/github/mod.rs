//! GitHub REST client: one octocrab client per credential, built on the
//! shared HTTP client of `net` (proxies, the system's and the
//! environment's CAs, `FLEETFORM_GITHUB_CA_FILE` for a GitHub Enterprise
//! Server with a private CA) with none of octocrab's own retry, timeout or
//! redirect layers (`transport`).
//!
//! - API root from `GITHUB_API_URL` (GitHub Enterprise Server works, path
//!   prefix included), checked before the client is built
//!   ([`ApiRoot`]); token from `FLEETFORM_TOKEN` or `GITHUB_TOKEN`.
//! - Every request sends `Accept: application/vnd.github+json` and
//!   `X-GitHub-Api-Version: 2022-11-28`, as GitHub documents.
//! - Requests are sent as raw HTTP so fleetform sees status and
//!   headers: retries with backoff on 5xx, connection errors and rate limits
//!   (403/429 with `Retry-After` or `x-ratelimit-reset`), bounded in count
//!   and total wait; each retry is logged at debug level without the token.
//! - What GitHub answers is checked before it is used or shown
//!   (`answers`): commit shas, branch names, URLs, base64 contents; and
//!   `Link: rel="next"` (`links`), which is followed only under the API
//!   root.
//! - Every request is counted; the count is reported with `--verbose` and in
//!   JSON output.
//! - `--dry-run`: reads are sent (they change nothing), every write is
//!   printed instead of sent.
//!
//! # The map
//!
//! One file per concept, its state and its tower layer together. A
//! request goes down this stack, the outermost first (`transport` builds
//! it; each layer is in the file of its concept):
//!
//! | file | the concept | its layer |
//! |---|---|---|
//! | `headers` | the headers GitHub documents on every request and the credential's token ([`API_VERSION`], [`ACCEPT`]) | `HeadersLayer` |
//! | `retry` | [`RetryPolicy`]: the waits, the answer's headers that decide a retry | the policy of tower's `Retry` |
//! | `etags` | ETags and bodies of reads kept between runs ([`EtagCache`]) | `EtagLayer`: a 304 answered from the cache |
//! | `read` | the answer's body read whole within the timeout | `ReadLayer` |
//! | `dry_run` | `--dry-run`'s withheld writes ([`PlannedRequest`]) | `DryRunLayer` |
//! | `budget` | the scheduler: a slot within GitHub's primary and secondary limits ([`Limits`], [`Ledger`]) | `ScheduleLayer` |
//! | `write_log` | the times of the last hour's writes, kept between runs | `WriteLogLayer` |
//! | `count` | every request sent ([`sent_by_this_process`]) | `CountLayer` |
//!
//! Around the stack:
//!
//! - `client`: the [`GitHub`] struct, `send` (a request the client builds)
//!   and `typed` (a call of octocrab's typed API), both through the same
//!   layers, and the runtime; `wire`: the request with its own headers,
//!   sent raw through the credential's octocrab client
//!   (`Octocrab::execute`), and octocrab's errors in the client's words;
//!   `transport`: that octocrab client over `net`'s HTTP client (and why
//!   App authentication is not octocrab's), built at a client's first
//!   request with the layers above; `pages`: `paginate`, lists read page
//!   by page.
//! - `error`: [`GitHubError`] and [`Token`].
//! - `app`: GitHub App authentication (the JWT, the installation token for
//!   one repository and the permissions a command needs, and a client
//!   whose token is renewed before it expires); `renewal`: when a token is
//!   renewed, and the renewal itself, which the client runs before a
//!   request; `customer_repos`: the customer repos of one fleet job, each
//!   through a token of the customer App for it alone (or one token for
//!   all), within one budget.
//! - One file per API family, each an `impl GitHub` block: `contents`
//!   (files), `statuses`, `comments` (with the sticky comment), `issues`,
//!   `pulls`, `git` (the repository, its default branch and refs),
//!   `dispatch` (`repository_dispatch`), `actions` (a run's deployment
//!   reviews), `teams` (team membership of approvers), `settings` (a
//!   repo's environments, secret names, rulesets, workflow permissions and
//!   reach, for `doctor`), `access` (a repo's collaborators, its owner's
//!   organisation base permission and its Pages site, for `doctor`),
//!   `hooks` (the App's webhook deliveries and their redelivery, for the
//!   relay's sweep), `commands` (a comment command's facts) and `poll`
//!   (the open pull requests `poll` reads).
//! - `answers` (checks of answer values), `links` (the `Link` header and
//!   its next page), `root` (the API root and numeric settings) and
//!   `paths` (percent-encoded API paths).
//!
//! Inside this folder the concepts of the stack import `error`, `root`,
//! `read`, `wire`'s `again` and `retry`'s answer headers, never the
//! client; `wire` imports
//! `error`, `headers` and `budget`; `retry` imports `wire`, `budget` and
//! `read`; `transport` imports the stack's layers, `wire` and `retry`; the
//! client imports all of these; `pages` and the API families import the
//! client, `error`, `answers` and `paths` (`pages` also `links`; `app`
//! also `renewal` and `root`; `customer_repos` also `app`, `etags`,
//! `renewal` and `root`); `answers`, `links`, `root`, `error`,
//! `renewal` and `paths` never import the client or a family, so no two
//! files import each other.
//!
//! May import: `util`, `dispatch`'s sha check (`is_sha`), `policy`'s plain
//! data types (`PullFacts`, `approval::RunReview`, `approval::PrNote`),
//! `doctor::facts` (plain data), `report::customer` (a deployment's
//! description is a customer text, worded there), `config` (a path as
//! shown), `net` and `error`. Never the commands, `flows` or `terraform`.

mod access;
mod actions;
mod answers;
mod app;
mod app_manifest;
mod budget;
mod client;
mod commands;
mod comments;
mod contents;
mod count;
mod customer_repos;
mod deployments;
mod dispatch;
mod dry_run;
mod error;
mod etags;
mod git;
mod headers;
mod hooks;
mod issues;
mod links;
mod pages;
mod paths;
mod poll;
mod proposal;
mod pulls;
mod read;
mod renewal;
mod retry;
mod root;
mod secret_store;
mod settings;
mod statuses;
mod teams;
mod transport;
mod wire;
pub mod write_log;

pub use crate::util::text::shown;
pub use actions::WorkflowRun;
pub use app::{
    AppKey, AppKeyError, AppRole, Permissions, CUSTOMER_APP, MANAGER_APP, RETIRED_APP_VARS,
};
pub use app_manifest::RegisteredApp;
pub use budget::{now_ms, Ledger, Limits, Slot};
pub use client::{
    runtime, truncate_chars, GitHub, PlannedRequest, Response, ACCEPT, API_VERSION, CA_FILE_VAR,
    MAX_PAGES,
};
pub use commands::CommentFacts;
pub use comments::{IssueComment, Written};
pub use count::sent_by_this_process;
pub use customer_repos::CustomerRepos;
pub use deployments::{may_go_later, NewDeployment, Started};
pub use error::{GitHubError, Token};
pub use etags::EtagCache;
pub use git::{RepoFacts, RepoInfo};
pub use hooks::{HookDeliveries, HookDelivery};
pub use issues::Issue;
pub use paths::{repo_path, seg};
pub use poll::OpenPull;
pub use proposal::{Proposal, Proposed};
pub use pulls::PullHead;
pub use renewal::OnCredential;
pub use retry::RetryPolicy;
pub use root::{ApiRoot, ApiRootError, SettingError, DEFAULT_API_ROOT};
pub use secret_store::random_secret;
pub use settings::NotAdmin;
pub use statuses::CommitStatus;
