//! Offboarding: on the test cloud, its review on GitHub Actions, and
//! `workflows/manager-offboard.yml`.

pub(crate) mod cloud;
pub(crate) mod review;
pub(crate) mod workflow;
