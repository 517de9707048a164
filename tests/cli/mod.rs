//! Commands that stand on their own: `init` and shell completions.

pub(crate) mod completions;
pub(crate) mod errors;
pub(crate) mod init;
pub(crate) mod init_operators;
