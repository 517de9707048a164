//! The provider's set-up rehearsed as the book tells it, through the
//! workflow templates run as GitHub runs them (`support::actions_runner`),
//! the relay as a process and the strict fake GitHub: every request is
//! checked against the permission its endpoint needs, and every job gets
//! only what its environment holds. Each file is one stretch of a fleet's
//! life; the book's Contributing chapter ("The rehearsal") says how to add
//! one.

pub(crate) mod book_page;
pub(crate) mod day2;
pub(crate) mod drift;
pub(crate) mod drill;
pub(crate) mod ephemeral;
pub(crate) mod form;
pub(crate) mod impact;
pub(crate) mod killed_batch;
pub(crate) mod on_cloud;
pub(crate) mod onboarding;
pub(crate) mod onboarding_pr;
pub(crate) mod once;
pub(crate) mod poll;
pub(crate) mod products;
pub(crate) mod relay_loop;
pub(crate) mod rollout;
pub(crate) mod rotation;
pub(crate) mod setup;
pub(crate) mod webhook;
