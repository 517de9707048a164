//! Customer secrets: on the test cloud, ephemeral through apply, in fleet
//! jobs, and their rotation.

pub(crate) mod cloud;
pub(crate) mod ephemeral;
pub(crate) mod fleet;
pub(crate) mod plan_file;
pub(crate) mod rotation;
