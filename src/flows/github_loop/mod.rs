//! The GitHub loop (`flows/github_loop/`). The manager side, run on `repository_dispatch`:
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
//! A dispatched **plan** ([`plan`](plan::plan)): [`read_event`](event::read_event) → [`authorise`](authorise::authorise)
//! (registered, signed, active) → the planned environments and the
//! customer's files at the sha (`fetch`) → the values checked against the
//! schema (invalid ones go to the customer's PR, `invalid`) → for each
//! environment: the PR facts its gates need → `terraform plan` → publish
//! (sticky comment, commit status, sealed artifact) → record (summary,
//! audit) → the step outputs and result.
//!
//! A dispatched **apply** ([`apply`](apply::apply)): [`read_event`](event::read_event) → [`authorise`](authorise::authorise) →
//! checks (the customer still active on the manager's default branch, the
//! run's approval, the sealed artifact of this repo and sha, no file
//! fleetform reads changed since) → the gates' PR facts again →
//! `terraform apply` → publish (status, comment) → record (audit, summary,
//! outputs). Every refusal after [`authorise`](authorise::authorise) marks the environment
//! `failure` on the customer's commit.
//!
//! # Files
//!
//! - `event`: the event and its payload ([`read_event`](event::read_event), [`Dispatched`](event::Dispatched),
//!   [`Stage`](event::Stage)); a `fleetform-batch` dispatch's entry.
//! - `batch`: the entries of a batch dispatch, for `manager-batch.yml` to
//!   fan out ([`batch_entries`](batch::batch_entries)).
//! - `session`: the run, its event, the tokens and GitHub clients.
//! - `authorise`: registered, signed, active; still active on the manager's
//!   default branch; who approved.
//! - `fetch`: planned environments, the customer's files, the gates' PR
//!   facts, files changed since the plan.
//! - `plan`, `apply`: the two dispatched commands as their steps.
//! - `invalid`: a plan with invalid customer values.
//! - `products`: the customer's products in a dispatch, their status
//!   slots, and what a needed product's plan means for a dependent one.
//! - `status`: commit statuses (`report_status`, the combined worst), their
//!   descriptions worded in `report::customer`.
//! - `comment`: the customer's PR comments.
//! - `deployments`: every GitHub deployment on a customer's repo (an
//!   apply's, a day-2 operation's, a rollout's and the ones owed).
//! - `artifact`: the sealed bundle ([`BUNDLE_FILE`](artifact::BUNDLE_FILE)) and [`GitHubRecord`](artifact::GitHubRecord).
//! - `record`: audit lines and step summaries, values-free.
//! - `conclude`: applies that were due and did not finish.
//! - `comment_command`: comment commands on a customer's PR, their author's
//!   permission and the PR's head.
//! - `second_person`, `approvals`: who let an apply through, and the
//!   approval rules of a customer's `approvals:`.
//! - `customer_files`: the customer's files read on its default branch.
//! - `relayed_push`: a push the relay dispatched made whole by the
//!   manager: applied only on the default branch, reported on the pull
//!   request its commit merged.
//! - `sla`: the times a plan is measured by against `sla:`, GitHub's own.
//! - `handoff`: the key job's customer secrets identity, sealed for the
//!   plan and apply jobs of its run, and opened there.
//! - `trigger`, `trigger_relay`, `trigger_comment`: the customer side: check the values,
//!   dispatch them to the manager (or through the relay), mark the commit
//!   pending and, with `--wait`, wait for the manager's answer.
//!
//! # Imports
//!
//! May import what `flows` may (see `flows/mod.rs`).

pub mod apply;
pub mod approvals;
pub mod artifact;
pub mod authorise;
pub mod batch;
mod changed_settings;
pub mod comment;
pub mod comment_command;
pub mod conclude;
pub mod customer_files;
pub mod deployments;
pub mod event;
pub mod fetch;
pub mod handoff;
mod invalid;
pub mod once;
pub mod plan;
pub mod products;
pub mod record;
mod relayed_push;
pub mod request;
pub mod second_person;
pub mod session;
mod sla;
pub mod status;
pub mod trigger;
mod trigger_comment;
pub mod trigger_relay;

#[cfg(test)]
mod testing;
