//! The plan comment on the customer's pull request and the comment
//! commands (`/fleetform plan|apply`).

pub(crate) mod apply;
pub(crate) mod commands;
pub(crate) mod markdown;
