//! Day-2 operations: state operations on the test cloud, their four
//! eyes, and `workflows/manager-ops.yml`.

pub(crate) mod engine_version;
pub(crate) mod four_eyes;
pub(crate) mod ops;
pub(crate) mod recovery;
pub(crate) mod recovery_unreadable;
pub(crate) mod workflow;
