//! Runs over the fleet: customers × environments, spread over the cores in
//! a bounded, order-preserving way (`parallel`); one failing pair never
//! stops the others.
//!
//! May import: `config`, `values`, `terraform`, `report` and `util`. Never
//! the commands.

pub mod parallel;

use crate::output::Output;

/// Removes the working copies that killed runs left under a results
/// folder, and says which (see [`crate::terraform::remove_stale_workspaces`]).
pub fn remove_leftovers(out: &Output, dir: &std::path::Path) {
    let sweep = crate::terraform::remove_stale_workspaces(dir);
    for p in &sweep.removed {
        out.note(&format!(
            "removed {}, a working copy left by a run that was killed",
            crate::config::display_path(p).display()
        ));
    }
    for (p, e) in &sweep.failed {
        out.note(&format!(
            "cannot remove {}, a working copy left by a run that was killed: {e}; remove it by hand",
            crate::config::display_path(p).display()
        ));
    }
}
