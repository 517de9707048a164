//! The flags of the set-up commands: `init`, `relay`, `completions`,
//! `doctor`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the repo (created if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The environments, in promotion order (default: staging,production;
    /// with --customer --manager: the manager's).
    #[arg(long, value_delimiter = ',')]
    pub environments: Option<Vec<String>>,
    /// A customer repo instead: infra/variables.yml (valid against the
    /// starter schema, or --manager's schema) and the trigger workflow.
    #[arg(long)]
    pub customer: bool,
    /// With --customer: the provider's manager repo (a folder holding
    /// fleetform.yml), whose environments and schema infra/variables.yml
    /// is written for.
    #[arg(long, value_name = "DIR", requires = "customer")]
    pub manager: Option<PathBuf>,
    /// Ref the workflows pin the fleetform actions to (default: this
    /// release's tag).
    #[arg(long, env = "FLEETFORM_ACTION_REF")]
    pub action_ref: Option<String>,
    /// The operators team (`org/team-slug`): written as
    /// `rollout.operators`, with the workflows only operators run
    /// (manager-ops.yml, manager-offboard.yml).
    #[arg(long, value_name = "ORG/TEAM", conflicts_with = "customer")]
    pub operators: Option<String>,
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(subcommand)]
    pub command: RelayCommand,
}

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Serve POST /dispatch, POST /webhook, GET /schema and GET /healthz.
    /// Needs the manager App (FLEETFORM_MANAGER_APP_ID,
    /// FLEETFORM_MANAGER_APP_PRIVATE_KEY), the customer App
    /// (FLEETFORM_CUSTOMER_APP_ID, FLEETFORM_CUSTOMER_APP_PRIVATE_KEY), and
    /// FLEETFORM_WEBHOOK_SECRET for /webhook.
    Serve {
        /// Address to listen on (port 0: any free port; the address is
        /// printed first).
        #[arg(long, env = "FLEETFORM_RELAY_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Requests handled at once; more wait up to 10 s, then get 503.
        #[arg(long, env = "FLEETFORM_RELAY_CONCURRENCY", default_value_t = 64)]
        concurrency: usize,
        /// Seconds a client has to send a request's head, and then its
        /// body (slow clients are cut off).
        #[arg(long, env = "FLEETFORM_RELAY_TIMEOUT", default_value_t = 10)]
        timeout: u64,
        /// Requests one client address may have in flight at once (more
        /// get 429 with Retry-After). Behind a proxy every client has the
        /// proxy's address: raise it there and limit clients at the proxy.
        #[arg(long, env = "FLEETFORM_RELAY_PER_CLIENT", default_value_t = 32)]
        per_client: usize,
        /// Most events one dispatch carries (1 to 32; default `relay.batch`
        /// in fleetform.yml, 32), when the manager checkout has the batch
        /// workflow (`.github/workflows/manager-batch.yml`); without it
        /// every event is a dispatch of its own.
        #[arg(long, env = "FLEETFORM_RELAY_BATCH")]
        batch: Option<usize>,
        /// Seconds requests in flight have to finish after SIGTERM.
        #[arg(long, env = "FLEETFORM_RELAY_GRACE", default_value_t = 25)]
        grace: u64,
        /// Seconds between sweeps that ask GitHub to redeliver the customer
        /// App's failed webhook deliveries (one sweep at start, then this
        /// long after each); 0: no sweeps. Needs FLEETFORM_WEBHOOK_SECRET.
        #[arg(long, env = "FLEETFORM_RELAY_REDELIVER_EVERY", default_value_t = 300)]
        redeliver_every: u64,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, required_unless_present = "list")]
    pub shell: Option<Shell>,
    /// What the scripts call while completing: the active customers' slugs
    /// or the environments of the manager repo here, one a line.
    #[arg(long, value_enum, hide = true)]
    pub list: Option<Listed>,
}

/// What `completions --list` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Listed {
    Customers,
    Environments,
}

/// The shells `fleetform completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The manager repo, owner/name (default: GITHUB_REPOSITORY).
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub repo: Option<String>,
    /// The checklist as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// The schema lint's findings (as `validate` lints the manager's
    /// schema) fail the run instead of warning.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub cache: super::fleet::EtagCacheArgs,
    /// Also check a customer's inbox repo, owner/name: the settings the
    /// header of workflows/inbox-relay.yml asks for (repeatable, or
    /// comma-separated).
    #[arg(
        long = "inbox",
        value_name = "OWNER/NAME",
        env = "FLEETFORM_INBOX_REPOS",
        value_delimiter = ','
    )]
    pub inbox: Vec<String>,
}
