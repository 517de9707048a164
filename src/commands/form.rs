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
    #[arg(long, required_unless_present = "html")]
    pub out: Option<PathBuf>,
    /// Also (or only) write the form as one HTML page for a browser: the
    /// same fields, the YAML they make, and with --repo a link that opens
    /// the answers in the customer's issue form.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// With --html: the customer's repository, owner/name.
    #[arg(long, requires = "html")]
    pub repo: Option<String>,
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
    let action_ref = super::action_ref(args.action_ref.as_deref())?;
    if let Some(repo) = args.repo.as_deref().filter(|r| !crate::config::is_repo(r)) {
        return Err(Error::usage(format!(
            "--repo `{}`: give the customer's repository as owner/name",
            crate::util::text::shown(repo)
        )));
    }
    if let Some(dir) = &args.out {
        let made = crate::flows::form::customer_files(&view, &action_ref)?;
        crate::flows::form::write(dir, &made)?;
        for (rel, _) in &made.files {
            out.result(&format!("wrote {}", dir.join(rel).display()));
        }
    }
    if let Some(page) = &args.html {
        let server = crate::github::GitHub::web_url_from_env();
        let text = crate::flows::form::html_page(&view, args.repo.as_deref(), &server)?;
        crate::util::fs::write_atomic(page, text.as_bytes())
            .map_err(|e| Error::failed(e.to_string()))?;
        out.result(&format!("wrote {}", page.display()));
    }
    Ok(())
}
