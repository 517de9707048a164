//! The flags of `customers offboard`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// The customer's slug.
    pub slug: String,
    /// Why (required for the preview; the destroy keeps the preview's).
    #[arg(long, required_unless_present = "approve")]
    pub reason: Option<String>,
    /// The digest the preview printed (its job output `digest`).
    #[arg(long)]
    pub approve: Option<String>,
    /// The preview's GitHub Actions run, which someone else started: this
    /// run confirms it (where the environment can have no required
    /// reviewers, a private repo on GitHub Team or Pro).
    #[arg(long, value_name = "RUN", requires = "approve")]
    pub confirms: Option<u64>,
    /// On a workstation, where no second person can review: destroy
    /// anyway, recorded in the audit log as unreviewed.
    #[arg(long, requires = "approve")]
    pub unreviewed: bool,
    /// Results folder for the plans.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR")]
    pub customer_dir: Option<PathBuf>,
}
