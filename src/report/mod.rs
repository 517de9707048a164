//! Everything fleetform renders for people: the PR comment, Markdown
//! escaping (in one place), the embedded templates and the customer
//! workflow it hands out.
//!
//! May import: plain data types from `terraform::summary` and
//! `policy::verdict`. Never the commands, the engine or the adapters.

pub mod comment;
pub mod markdown;
pub mod plan_text;
pub mod workflow;

/// The customer trigger workflow template shipped in `workflows/`.
pub const CUSTOMER_WORKFLOW: &str = include_str!("../../workflows/customer-trigger.yml");
