//! The customers wing (`src/flows/customers/`): the registry's flows
//! (`registry`: add, list, show, revoke, pins, keys; `registry_lock`:
//! edits under the registry's lock) and offboarding (`offboard`).

pub(crate) mod offboard;
pub(crate) mod registry;
pub(crate) mod registry_lock;
