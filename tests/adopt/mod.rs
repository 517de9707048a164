//! Adoption (issue #57): objects that exist already brought under
//! fleetform, on the test cloud, on GitHub Actions, with products, and
//! their release.

pub(crate) mod cloud;
pub(crate) mod github;
pub(crate) mod products;
pub(crate) mod release;
