//! `fleetform impact` and the impact preview on the manager's pull
//! request.

pub(crate) mod cli;
pub(crate) mod preview;
