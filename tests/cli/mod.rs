//! Commands that stand on their own: `init`, shell completions, `--help`.

pub(crate) mod completions;
pub(crate) mod errors;
pub(crate) mod help;
pub(crate) mod init;
pub(crate) mod init_operators;
