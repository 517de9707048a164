//! Who may dispatch for whom: the dispatch secret and its rotation, the
//! deploy workflow's tokens, and `fleetform conclude` on every dispatch.

pub(crate) mod auth;
pub(crate) mod conclude;
pub(crate) mod secret_rotation;
pub(crate) mod tokens;
