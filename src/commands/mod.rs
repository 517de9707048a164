//! One module per subcommand. Each parses its raw flags into a checked
//! settings struct before any I/O, runs, and returns data or an error.

pub mod apply;
pub mod audit_report;
pub mod authorise;
pub mod conclude;
pub mod customers;
pub mod dispatched;
pub mod drift;
pub mod matrix;
pub mod plan;
pub mod render;
pub mod sync;
pub mod trigger;
pub mod validate;

use crate::config::{display_path, Manager, Registry};
use crate::customer::ManagerLayers;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::template::ValueTemplates;
use crate::terraform::Terraform;

/// Appends an audit record; a failure to write it is reported, not fatal.
pub fn audit(out: &crate::output::Output, entry: crate::audit::Entry) {
    let path = crate::audit::log_path();
    if let Err(e) = crate::audit::append(&path, &entry) {
        out.error(&format!(
            "cannot write the audit log {}: {e}",
            path.display()
        ));
    }
}

/// Removes the working copies that killed runs left under a results
/// folder, and says which (see [`crate::terraform::remove_stale_workspaces`]).
pub fn remove_leftovers(out: &crate::output::Output, dir: &std::path::Path) {
    let sweep = crate::terraform::remove_stale_workspaces(dir);
    for p in &sweep.removed {
        out.note(&format!(
            "removed {}, a working copy left by a run that was killed",
            display_path(p).display()
        ));
    }
    for (p, e) in &sweep.failed {
        out.note(&format!(
            "cannot remove {}, a working copy left by a run that was killed: {e}; remove it by hand",
            display_path(p).display()
        ));
    }
}

/// Loads the manager side: config, registry, schema and value layers.
pub fn load_manager(dir: &std::path::Path) -> Result<(Manager, Registry)> {
    let manager = Manager::load(dir)?;
    let registry = Registry::load(&manager)?;
    Ok((manager, registry))
}

/// Builds the engine; `with_terraform` locates the engine binary up front so
/// a missing Terraform fails before any work starts.
pub fn engine<'m>(
    manager: &'m Manager,
    with_terraform: bool,
    explicit: Option<&std::path::Path>,
) -> Result<Engine<'m>> {
    let schema_path = manager.path(&manager.config.schema);
    let schema = Schema::load(&schema_path, &display_path(&schema_path))?;
    let layers = ManagerLayers::load(manager).map_err(Error::Values)?;
    let terraform = if with_terraform {
        let mut tf = Terraform::locate(manager.config.terraform.engine, explicit)?;
        tf.pass_env = manager.config.terraform.pass_env.clone();
        Some(tf)
    } else {
        None
    };
    Ok(Engine {
        manager,
        schema,
        layers,
        templates: ValueTemplates::default(),
        terraform,
    })
}
