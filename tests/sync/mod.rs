//! Template propagation (`src/flows/sync.rs`, `fleetform sync`).

pub(crate) mod app;
pub(crate) mod carry;
