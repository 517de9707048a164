//! Fleet drift: causes, repairs by policy, shards, and its workflow.

pub(crate) mod causes;
pub(crate) mod customer_app;
pub(crate) mod repair;
pub(crate) mod shards;
pub(crate) mod workflow;
