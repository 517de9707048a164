#![allow(dead_code)]

pub mod fake_github;
pub mod netlab;
pub mod oidc;
pub mod readme_budgets;
pub mod rollout_world;
pub mod workflow_sim;
