//! Rollouts: by hand on the test cloud, on GitHub Actions, who approves,
//! owed deployments, the queue, review, pins and the workflow.

pub(crate) mod authors;
pub(crate) mod by_hand;
pub(crate) mod github;
pub(crate) mod owed;
pub(crate) mod pin_cli;
pub(crate) mod pins;
pub(crate) mod queue;
pub(crate) mod review;
pub(crate) mod unreviewed;
pub(crate) mod workflow;
