//! The GitHub-traffic bench (bench/): its cases run against the fake
//! GitHub, request counts included.

pub(crate) mod causes;
pub(crate) mod fleet;
pub(crate) mod github;
pub(crate) mod rollout;
