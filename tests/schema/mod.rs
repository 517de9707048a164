//! The manager's schema: as its authors write it, and its `$ref`s.

pub(crate) mod authoring;
pub(crate) mod refs;
