#![allow(dead_code)]

pub mod actions_runner;
pub mod fake_github;
pub mod four_eyes;
pub mod netlab;
pub mod oidc;
pub mod readme_budgets;
pub mod rollout_world;
pub mod stand_in_terraform;
pub mod workflow_sim;
