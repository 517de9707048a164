//! The flags of `customers pin` and `customers unpin`.

use clap::Args;

/// Whom a pin or unpin holds: one customer, or every customer a rollout
/// wave selects today.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PinWho {
    /// The customer's slug.
    pub slug: Option<String>,
    /// Every active customer that this wave of fleetform.yml's `rollout:`
    /// selects now (a `percent:` wave is taken among the active customers
    /// not selected by an earlier wave).
    #[arg(long)]
    pub wave: Option<String>,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    #[command(flatten)]
    pub who: PinWho,
    /// The product held (required with `products:` in fleetform.yml, not
    /// allowed without).
    #[arg(long)]
    pub product: Option<String>,
    /// The manager version held: a tag, branch or commit of the manager
    /// repo (it must resolve to a commit there).
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: String,
    /// The last day of the hold, YYYY-MM-DD (`doctor` and the dashboard
    /// flag it after).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: String,
    /// Why (shown with the hold and recorded in the audit).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct UnpinArgs {
    #[command(flatten)]
    pub who: PinWho,
    /// Only this product's pin (default: every pin of the customer).
    #[arg(long)]
    pub product: Option<String>,
    /// Why (recorded in the audit).
    #[arg(long)]
    pub reason: Option<String>,
}
