//! Customer secrets: on the test cloud, in fleet jobs, and their
//! rotation.

pub(crate) mod cloud;
pub(crate) mod fleet;
pub(crate) mod plan_file;
pub(crate) mod rotation;
