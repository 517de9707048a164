//! The fleet engine: fleet plan, batch modes and concurrency (the
//! registry is in `customers/`, `sync` in `sync/`).

pub(crate) mod batch;
pub(crate) mod concurrency;
pub(crate) mod engine;
