//! The dispatch relay (`fleetform relay serve`) and `fleetform poll`:
//! claims, webhooks, replays, rotation, scale, a hostile caller.

pub(crate) mod batch;
pub(crate) mod claims;
pub(crate) mod comments;
pub(crate) mod durable;
pub(crate) mod fleet;
pub(crate) mod hostile;
pub(crate) mod issuer;
pub(crate) mod once;
pub(crate) mod poll_state;
pub(crate) mod products;
pub(crate) mod pushes;
pub(crate) mod redeliver;
pub(crate) mod replays;
pub(crate) mod rotation;
pub(crate) mod scale;
pub(crate) mod serve;
pub(crate) mod sla;
pub(crate) mod webhooks;
