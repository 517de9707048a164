//! Clouds: the test cloud's provider under real Terraform, a real
//! provider, each environment's cloud identity and its OIDC trust.

pub(crate) mod fakecloud_provider;
pub(crate) mod identity;
pub(crate) mod oidc_trust;
pub(crate) mod real;
mod tags;
