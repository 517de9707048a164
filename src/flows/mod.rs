//! The fleet's operations, one wing each. This file is only the table of
//! contents: each wing names the subcommands it serves, and a wing that
//! needs one of the GitHub loop's steps imports it by its path
//! (`crate::flows::github_loop::artifact::seal_local`), never through a
//! re-export.
//!
//! | wing | serves | what it is |
//! |---|---|---|
//! | [`github_loop`] | `plan --dispatch`, `apply --dispatch`, `authorise`, `conclude`, `trigger`, `batch-entries` | the GitHub loop: a customer's event planned, answered on its PR and commit, applied after a second person |
//! | [`customers`] | `customers` (`list`, `show`, `add`, `revoke`, `offboard`, `pin`, keys) | the registry's flows and offboarding |
//! | [`adopt`] | `adopt` | existing objects brought under fleetform |
//! | [`drift`] | `drift`, `repair` | drift by cause, its issues, and the repairs policy allows |
//! | [`rollout`] | `rollout` | the rollout's flows over the `rollout` engine, and its checks on GitHub |
//! | [`doctor`] | `doctor` | the manager's and the customers' GitHub settings read and judged |
//! | [`local`] | `plan`, `apply` (without `--dispatch`), `state` | local plans and applies, day-2 state operations and their previews |
//! | [`sync`] | `sync` | the customer template propagated to every customer repo |
//! | [`form`] | `form`, `docs` | the customer's change form and the settings' reference, made from the schema |
//!
//! # Imports
//!
//! May import the layers below it (`rollout` (its settings and records),
//! `fleet` (runs over pairs), `engine` (one pair's plan and apply),
//! `config`, `dispatch`, `relay` (its client), `github`, `policy`,
//! `records`, `report`, `terraform`, `values`, `data`, `context` (the
//! command's output, audit log, notifications and network settings),
//! `audit`, `notify`, `doctor` (its checks), `net` (the client's settings
//! doctor reports), `version` (the action ref onboarding instructions
//! name), `ci`, `output`, `error`, `util`). It never imports
//! `crate::commands`: the commands parse their flags, call in here, and
//! print what comes back.

pub mod adopt;
pub mod customers;
pub mod doctor;
pub mod drift;
pub mod form;
pub mod github_loop;
pub mod local;
pub mod rollout;
pub mod sync;
