//! `fleetform docs`: the reference page of every setting a customer can
//! make, from the provider's schema and value layers
//! ([`crate::flows::form::reference`]), on stdout or into a file.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// The product (a manager with `products:`).
    #[arg(long, env = "FLEETFORM_PRODUCT")]
    pub product: Option<String>,
    /// Write the page to this file (replaced whole) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &DocsArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let manager = crate::config::Manager::load(manager_dir)?;
    let view = manager
        .select_product(args.product.as_deref())
        .map_err(Error::usage)?;
    let page = crate::flows::form::reference(&view)?;
    match &args.out {
        None => out.document(&page),
        Some(path) => {
            crate::util::fs::write_atomic(path, page.as_bytes())
                .map_err(|e| Error::failed(e.to_string()))?;
            out.result(&format!("wrote {}", path.display()));
        }
    }
    Ok(())
}
