//! The flags of `customers rotate-secrets-key`.

use clap::Args;

#[derive(Debug, Args)]
pub struct RotateSecretsKeyArgs {
    /// The customer's slug.
    pub slug: String,
    /// The environment whose recipient is replaced (one of the customer's).
    #[arg(long)]
    pub env: String,
}
