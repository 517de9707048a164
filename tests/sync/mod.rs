//! Template propagation (`src/flows/sync.rs`, `fleetform sync`).

pub(crate) mod carry;
