//! The GitHub loop. The manager side, run on `repository_dispatch`:
//! `fleetform plan --dispatch`, `fleetform apply --dispatch`, and the
//! deploy workflow's first and last jobs, `fleetform authorise` and
//! `fleetform conclude`. Beside it the customer side that starts the loop,
//! `fleetform trigger` (`trigger`, and `trigger_relay` behind the
//! provider's relay).
//!
//! The payload is hostile: the customer must be registered and active, the
//! files are fetched from the customer's repo at the dispatched sha with the
//! manager's token, and the same engine as local mode plans and applies.
//!
//! # The steps
//!
//! A dispatched **plan** ([`plan`]): [`read_event`] → [`authorise`]
//! (registered, signed, active) → the planned environments and the
//! customer's files at the sha (`fetch`) → the values checked against the
//! schema (invalid ones go to the customer's PR, `invalid`) → for each
//! environment: the PR facts its gates need → `terraform plan` → publish
//! (sticky comment, commit status, sealed artifact) → record (summary,
//! audit) → the step outputs and result.
//!
//! A dispatched **apply** ([`apply`]): [`read_event`] → [`authorise`] →
//! checks (the customer still active on the manager's default branch, the
//! run's approval, the sealed artifact of this repo and sha, no file
//! fleetform reads changed since) → the gates' PR facts again →
//! `terraform apply` → publish (status, comment) → record (audit, summary,
//! outputs). Every refusal after [`authorise`] marks the environment
//! `failure` on the customer's commit.
//!
//! # Files
//!
//! - `event`: the event and its payload ([`read_event`], [`Dispatched`],
//!   [`Stage`]); a `fleetform-batch` dispatch's entry.
//! - `batch`: the entries of a batch dispatch, for `manager-batch.yml` to
//!   fan out ([`batch_entries`]).
//! - `session`: the run, its event, the tokens and GitHub clients.
//! - `authorise`: registered, signed, active; still active on the manager's
//!   default branch; who approved.
//! - `fetch`: planned environments, the customer's files, the gates' PR
//!   facts, files changed since the plan.
//! - `plan`, `apply`: the two dispatched commands as their steps.
//! - `customers`: the registry's flows of `fleetform customers`: as
//!   `list` and `show` print it, a new customer's onboarding
//!   instructions, and its edits under the registry's lock (add, revoke,
//!   offboard, pin and unpin, dispatch keys, secrets identities).
//! - `doctor`: `fleetform doctor`'s reads of the manager's and the
//!   customers' GitHub settings, judged by `crate::doctor`'s checks.
//! - `drift`: a drift run (`fleetform drift`): plans of the shard or the
//!   shards' reports merged, drift by cause and repairs by policy judged,
//!   the customers' and the causes' issues kept, the reports written.
//! - `rollout_flow`: `fleetform rollout`'s flows (start, status, plan,
//!   tick, control, the deployments owed) over the rollout layer.
//! - `sync`: the customer template propagated to every customer repo as
//!   one pull request each (`fleetform sync`).
//! - `repair`: drift repairs by policy: sealed plans that put drifted
//!   pairs back, judged again, and the ones a drift job may apply by
//!   itself applied through `local_apply`.
//! - `local_plan`: a local fleet plan, or a targeted plan of one pair
//!   sealed for the ops workflow (`fleetform plan` without `--dispatch`).
//! - `local_apply`: an apply of a local plan folder (`fleetform apply`
//!   without `--dispatch`, a drift repair), with its second person and
//!   record.
//! - `invalid`: a plan with invalid customer values.
//! - `products`: the customer's products in a dispatch, their status
//!   slots, and what a needed product's plan means for a dependent one.
//! - `status`: commit statuses (`report_status`, the combined worst), their
//!   descriptions worded in `report::customer`.
//! - `comment`: the customer's PR comments.
//! - `deployments`: every GitHub deployment on a customer's repo (an
//!   apply's, a day-2 operation's, a rollout's and the ones owed).
//! - `artifact`: the sealed bundle ([`BUNDLE_FILE`]) and [`GitHubRecord`].
//! - `record`: audit lines and step summaries, values-free.
//! - `conclude`: applies that were due and did not finish.
//! - `trigger`, `trigger_relay`: the customer side: check the values,
//!   dispatch them to the manager (or through the relay), mark the commit
//!   pending and, with `--wait`, wait for the manager's answer.
//! - `ops`: day-2 operations on one customer × environment (`state`),
//!   recorded and reported on the customer's repo.
//! - `offboard`: a revoked customer's destroy, previewed and sealed, then
//!   run after a second person, each state archived before it.
//! - `adopt`: bringing existing objects under fleetform (mapping, import
//!   blocks, the adoption diff, its apply, release, status, waves).
//! - `rollout`: the rollout workflow's checks on GitHub (the registry on
//!   the default branch, a wave's approval, the operators team).
//!
//! # Imports
//!
//! May import the layers below it (`rollout` (its settings and records),
//! `fleet` (runs over pairs), `engine` (one pair's plan and apply),
//! `config`, `dispatch`, `relay` (its client), `github`, `policy`,
//! `records`, `report`, `terraform`, `values`, `data`, `context` (the
//! command's output, audit log, notifications and network settings),
//! `audit`, `notify`,
//! `doctor` (its checks), `net` (the client's settings doctor reports),
//! `version` (the action ref onboarding instructions name),
//! `ci`, `output`, `error`, `util`). It never imports `crate::commands`:
//! the commands parse their flags, call in here, and print what comes
//! back.

pub mod adopt;
mod apply;
mod approvals;
pub mod artifact;
mod authorise;
mod batch;
mod comment;
pub mod comment_command;
mod conclude;
mod customer_files;
pub mod customers;
pub mod deployments;
pub mod doctor;
pub mod drift;
mod event;
mod fetch;
mod invalid;
mod local_apply;
mod local_plan;
pub mod offboard;
pub mod ops;
mod plan;
mod products;
mod record;
pub mod repair;
mod rollout;
pub mod rollout_flow;
pub mod second_person;
mod session;
pub mod state_preview;
mod status;
pub mod sync;
mod trigger;
mod trigger_comment;
mod trigger_relay;

#[cfg(test)]
mod testing;

pub use apply::{apply, ApplySettings};
pub use artifact::{GitHubRecord, BUNDLE_FILE, GITHUB_FILE};
pub use authorise::{authorise, authorise_dispatch, Authorised};
pub use batch::batch_entries;
pub use conclude::{conclude, Concluded};
pub use deployments::Deployments;
pub use event::{read_batch_event, read_event, Dispatched, Stage};
pub use fetch::enabled_in_order;
pub use local_apply::{apply_local, LocalApply};
pub use local_plan::{plan_local, LocalPlan};
pub use plan::{plan, PlanSettings};
pub use record::audit_refusal;
pub use rollout::{ChangeCommits, Gate as RolloutGate, RolloutGitHub};
pub use trigger::{trigger, Settings as TriggerSettings, TriggerReport};
pub use trigger_relay::{trigger_via_relay, RelaySettings};
