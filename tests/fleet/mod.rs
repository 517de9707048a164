//! The fleet engine and the registry: fleet plan, batch modes, the
//! registry commands and their lock, concurrency and `sync`'s carry-over.

pub(crate) mod batch;
pub(crate) mod concurrency;
pub(crate) mod engine;
pub(crate) mod registry;
pub(crate) mod registry_lock;
pub(crate) mod sync_carry;
