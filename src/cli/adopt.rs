//! The flags of `fleetform adopt`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::PairArgs;

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(subcommand)]
    pub command: AdoptCommand,
}

/// One customer × product × environment, and where its plan goes.
#[derive(Debug, Args)]
pub struct AdoptPair {
    #[command(flatten)]
    pub pair: PairArgs,
    /// Results folder (the plan goes to OUT/CUSTOMER/[PRODUCT/]ENV).
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Terraform (or OpenTofu) binary.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdoptCommand {
    /// Plan a pair's adoption from its mapping file
    /// (adopt/CUSTOMER/[PRODUCT/]ENV.yml): import blocks in the working
    /// copy, the plan read as an adoption diff (ready, to review, or
    /// refused).
    Plan {
        #[command(flatten)]
        pair: AdoptPair,
        /// The diff as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
        /// Seal the plan's folder for the ops workflow's artifact (with
        /// FLEETFORM_ARTIFACT_KEY) and set the job outputs `plan_sha256`
        /// and `plan_dir`.
        #[arg(long)]
        seal: bool,
    },
    /// Write a pair's mapping file from a command that lists the objects
    /// that exist, one `ADDRESS ID` per line (it runs in the manager repo
    /// with Terraform's environment and FLEETFORM_CUSTOMER,
    /// FLEETFORM_ENVIRONMENT, FLEETFORM_PRODUCT); never over a file that
    /// exists.
    Discover {
        #[command(flatten)]
        pair: AdoptPair,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Apply a reviewed adoption plan: imports into the state, nothing
    /// changed in the cloud; refused unless the plan only imports.
    Apply {
        #[command(flatten)]
        pair: AdoptPair,
        /// The digest of the adoption plan the second person reviewed.
        #[arg(long, env = "FLEETFORM_PLAN_SHA256")]
        plan_sha256: String,
        /// Why (kept in the audit log and the records).
        #[arg(long, env = "FLEETFORM_REASON")]
        reason: String,
        /// Also apply the in-place updates the adoption plan shows (never a
        /// create, replace or destroy).
        #[arg(long)]
        accept_updates: bool,
        /// Run in a run another operator started to confirm the plan's
        /// run RUN (where environments cannot have required reviewers).
        #[arg(long, value_name = "RUN")]
        confirms: Option<u64>,
        /// On a workstation, adopt with no second person; the audit log
        /// records it as unreviewed. Refused on GitHub Actions.
        #[arg(long)]
        unreviewed: bool,
        /// Report the adoption on the customer's repo: a deployment in
        /// the environment and a comment on its open pull request
        /// (FLEETFORM_TOKEN or GITHUB_TOKEN).
        #[arg(long)]
        github: bool,
    },
    /// Release an adopted pair before its first apply after the
    /// adoption: `state rm` of the adopted addresses; nothing in the
    /// cloud is touched. As a state operation: --preview seals it,
    /// --sha256 runs the sealed preview once a second person approved
    /// (on a workstation, --unreviewed releases at once).
    Release {
        #[command(flatten)]
        pair: AdoptPair,
        /// Why (kept in the audit log and the records; with --sha256 the
        /// sealed preview's reason is used).
        #[arg(long, env = "FLEETFORM_REASON", required_unless_present = "sha256")]
        reason: Option<String>,
        /// Seal a preview of the release for a second person: it prints
        /// the addresses that leave the state, the state they leave, and
        /// the digest to approve (the job output `digest`); nothing
        /// changes.
        #[arg(long, conflicts_with_all = ["sha256", "unreviewed", "confirms"])]
        preview: bool,
        /// Run the sealed preview with this digest (the one --preview
        /// printed), only if the state is still the one previewed.
        #[arg(long, value_name = "DIGEST")]
        sha256: Option<String>,
        /// With --sha256: run in a run another operator started to
        /// confirm the preview's run RUN.
        #[arg(long, value_name = "RUN")]
        confirms: Option<u64>,
        /// On a workstation, release with no second person (recorded as
        /// unreviewed). Refused on GitHub Actions.
        #[arg(long)]
        unreviewed: bool,
        /// Report the release on the customer's repo: a deployment in the
        /// environment and a comment on its open pull request
        /// (FLEETFORM_TOKEN or GITHUB_TOKEN).
        #[arg(long)]
        github: bool,
    },
    /// Adopt the customers of one environment in waves (the named ones
    /// in order, else the rollout's waves, pilot first): each pair
    /// planned, and adopted with --apply; a wave starts once the one
    /// before is adopted and baked; halts at the first pair that is not
    /// ready, and stays halted until that pair is ready or --resume.
    Wave {
        /// The environment.
        #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
        environment: String,
        /// The customers, in this order (default: the rollout's waves).
        #[arg(long = "customer", value_delimiter = ',')]
        customers: Vec<String>,
        /// The product (a manager with `products:`).
        #[arg(long, env = "FLEETFORM_PRODUCT")]
        product: Option<String>,
        /// Adopt each ready pair right after its plan (a workstation
        /// only, with --unreviewed and --reason).
        #[arg(long, requires_all = ["unreviewed", "reason"])]
        apply: bool,
        /// With --apply: no second person reviews each pair's digest.
        #[arg(long, requires = "apply")]
        unreviewed: bool,
        /// With --apply: why (kept in the audit log and the records).
        #[arg(long, requires = "apply")]
        reason: Option<String>,
        /// Lift the wave's halt (an operator; on GitHub a member of
        /// `rollout.operators`): the pair it halted at is planned again.
        #[arg(long)]
        resume: bool,
        /// Results folder.
        #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
        out: PathBuf,
        /// Terraform (or OpenTofu) binary.
        #[arg(long, env = "FLEETFORM_TERRAFORM")]
        terraform: Option<PathBuf>,
        /// The report as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
    },
    /// Each pair's adoption: not started, mapped, zero-diff, to review,
    /// refused, adopted, released.
    Status {
        /// Only these customers.
        #[arg(long = "customer", value_delimiter = ',')]
        customers: Vec<String>,
        /// Only this environment.
        #[arg(long = "env")]
        environment: Option<String>,
        /// Only this product (a manager with `products:`; default: every
        /// product the registry lets each customer have).
        #[arg(long, env = "FLEETFORM_PRODUCT")]
        product: Option<String>,
        /// Results folder the adoption plans were written to.
        #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
        out: PathBuf,
        /// The statuses as JSON on stdout.
        #[arg(long, env = "FLEETFORM_JSON")]
        json: bool,
    },
}
