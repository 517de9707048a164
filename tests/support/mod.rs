#![allow(dead_code)]

pub mod fake_github;
pub mod oidc;
