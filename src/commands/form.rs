//! `fleetform form`: the customer's self-service files made from the
//! provider's schema ([`crate::flows::form`]): the GitHub issue form, its
//! description for `fleetform request`, the reference page and the
//! workflow, written into a customer repository's checkout (or any
//! folder, for `sync` templates).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct FormArgs {
    /// The folder to write into: a customer repository's checkout. Files
    /// fleetform wrote before are replaced; nothing else is touched.
    #[arg(long)]
    pub out: PathBuf,
    /// The product (a manager with `products:`).
    #[arg(long, env = "FLEETFORM_PRODUCT")]
    pub product: Option<String>,
    /// The fleetform release ref the workflow's actions are pinned to
    /// (default: this version's).
    #[arg(long)]
    pub action_ref: Option<String>,
}

pub fn run(args: &FormArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let manager = crate::config::Manager::load(manager_dir)?;
    let view = manager
        .select_product(args.product.as_deref())
        .map_err(Error::usage)?;
    let action_ref = args
        .action_ref
        .clone()
        .unwrap_or_else(crate::version::action_ref);
    if action_ref.is_empty()
        || !action_ref
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        return Err(Error::usage(format!(
            "--action-ref `{}`: give a tag, branch or commit SHA of fleetform (letters, digits, `.`, `_`, `-`, `/`)",
            crate::util::text::shown(&action_ref)
        )));
    }
    let made = crate::flows::form::customer_files(&view, &action_ref)?;
    crate::flows::form::write(&args.out, &made)?;
    for (rel, _) in &made.files {
        out.result(&format!("wrote {}", args.out.join(rel).display()));
    }
    Ok(())
}
