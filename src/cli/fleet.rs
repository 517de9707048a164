//! The flags of `report`, `sync` and `matrix`.

use std::path::PathBuf;

use clap::Args;

/// A fleet command's share of GitHub's write budget, kept across runs:
/// `drift`, `sync` and `rollout deployments` take the same two flags.
#[derive(Debug, Args)]
pub struct WriteBudgetArgs {
    /// Seconds from the start no GitHub request may wait past: what would is
    /// left for the next run (listed as deferred, or still owed).
    #[arg(long, env = "FLEETFORM_DEADLINE_SECS")]
    pub deadline: Option<u64>,
    /// A file keeping the times of the last hour's writes, so the next run
    /// counts them against the same hour's write budget (keep it between runs).
    #[arg(long, env = "FLEETFORM_WRITE_LOG")]
    pub write_log: Option<PathBuf>,
}

/// GitHub reads kept across runs: `drift`, `sync` and `doctor`.
#[derive(Debug, Args)]
pub struct EtagCacheArgs {
    /// A file keeping the ETags and bodies of this run's GitHub reads, so the
    /// next run asks "changed?" and an unchanged answer (304) costs no rate limit.
    #[arg(long, env = "FLEETFORM_ETAG_CACHE")]
    pub etag_cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the dashboard (one HTML file).
    #[arg(long, value_name = "OUT")]
    pub html: PathBuf,
    /// The local audit log (relative to the manager repo).
    #[arg(long, default_value = crate::audit::DEFAULT_LOG)]
    pub log: PathBuf,
    /// Read the audit events from the records store of fleetform.yml
    /// instead of the local log.
    #[arg(long)]
    pub records: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The manager repo, owner/name (rendered into the template).
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub manager_repo: String,
    /// Only these customers (default: every active customer with a repo).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Update this many customers first and stop if any of them fails.
    #[arg(long, env = "FLEETFORM_CANARY")]
    pub canary: Option<usize>,
    /// Print the diff per customer; write nothing.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// Ref the template pins the fleetform actions to (default: this release's tag).
    #[arg(long, env = "FLEETFORM_ACTION_REF")]
    pub action_ref: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    #[command(flatten)]
    pub budget: WriteBudgetArgs,
    #[command(flatten)]
    pub cache: EtagCacheArgs,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Only these customers (comma-separated slugs).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Only these environments (comma-separated).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// Only customers whose files changed since this git ref.
    #[arg(long, env = "FLEETFORM_CHANGED_FROM")]
    pub changed_from: Option<String>,
    /// End of the change range (default HEAD).
    #[arg(long, env = "FLEETFORM_CHANGED_TO")]
    pub changed_to: Option<String>,
    /// Most jobs in the matrix; customers are packed into shards beyond it.
    #[arg(long, env = "FLEETFORM_MAX_JOBS", default_value_t = 256)]
    pub max_jobs: usize,
}
