//! Leaf helpers every layer may use: files written atomically and read
//! within bounds (`fs`), the scrubbed environment of child processes
//! (`process`).
//!
//! May import: nothing of fleetform's but `config`'s path display.

pub mod fs;
pub mod process;
