//! The GitHub Actions this repo ships: the setup action's installer, the
//! composite actions' run scripts, and static checks of the workflows.

pub(crate) mod setup_install;
pub(crate) mod setup_source;
pub(crate) mod shipped;
pub(crate) mod step_scripts;
pub(crate) mod step_scripts_exits;
pub(crate) mod workflows;
