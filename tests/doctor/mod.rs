//! `fleetform doctor` against the fake GitHub: the manager repo, the
//! dashboard's home, the inbox, tenant isolation, set-up and templates.

mod action_refs;
pub(crate) mod dashboard;
pub(crate) mod fix;
pub(crate) mod fix_keys;
pub(crate) mod fix_secrets;
mod fix_settings;
pub(crate) mod inbox;
pub(crate) mod isolation;
pub(crate) mod manager;
pub(crate) mod register_app;
pub(crate) mod secret_keys;
pub(crate) mod setup;
mod store_keys;
pub(crate) mod templates;
