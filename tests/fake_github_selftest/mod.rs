//! Tests of the fake GitHub server itself (tests/support/fake_github),
//! by API family.

pub(crate) mod contents;
pub(crate) mod hooks;
pub(crate) mod issues;
pub(crate) mod limits;
pub(crate) mod repos;
pub(crate) mod server;
pub(crate) mod transport;
