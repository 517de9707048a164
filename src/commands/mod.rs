//! One module per subcommand. Each parses its raw flags into a checked
//! settings struct before any I/O, runs, and returns data or an error.
//!
//! Commands never import one another: what two commands share lives in a
//! layer below (`fleet`, `deploy`, `report`, ...).

pub mod apply;
pub mod audit_report;
pub mod authorise;
pub mod conclude;
pub mod customers;
pub mod drift;
pub mod impact;
pub mod matrix;
pub mod plan;
pub mod render;
pub mod sync;
pub mod trigger;
pub mod validate;
