//! Leaf helpers every layer may use: the one list of variables fleetform
//! reads credentials from (`credentials`), files written atomically and
//! read within bounds (`fs`), git read-only (`git`), paths as checked and shown
//! (`path`), the scrubbed
//! environment of child processes (`process`), what the Actions runner
//! obeys in output and text made so it obeys nothing (`runner`), and
//! foreign text made safe to show (`text`).
//!
//! May import: nothing of fleetform's.

pub mod credentials;
pub mod fs;
pub mod git;
pub mod path;
pub mod process;
pub mod runner;
pub mod text;
