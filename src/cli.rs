//! Command-line flags. The flags a workflow passes can also come from a
//! `FLEETFORM_*` environment variable (`[env: …]` in `--help`), which is
//! how the composite actions pass inputs; the README's CLI reference names
//! the ones that cannot, and `tests/newcomer/first_hour.rs` checks both. Every flag
//! and argument has help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod adopt;
mod audit;
mod fleet;
mod offboard;
mod pins;
mod repair;
mod rollout;
mod secrets;
mod setup;
mod values;

pub use adopt::*;
pub use audit::*;
pub use fleet::*;
pub use offboard::*;
pub use pins::*;
pub use repair::*;
pub use rollout::*;
pub use secrets::*;
pub use setup::*;
pub use values::*;

#[derive(Debug, Parser)]
#[command(
    name = "fleetform",
    version = crate::version::SHORT,
    long_version = crate::version::LONG,
    about = "Run Terraform for a fleet of customers from one manager repo",
    after_help = "Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 refused by a safety check, 4 drift found, 5 doctor: a must-have setting is missing."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if started in this directory: the manager repo (holds fleetform.yml).
    #[arg(
        short = 'C',
        long,
        global = true,
        env = "FLEETFORM_MANAGER_DIR",
        default_value = "."
    )]
    pub manager_dir: PathBuf,
    /// More logging on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate customer variables against the manager's schema.
    Validate(ValidateArgs),
    /// Print the final Terraform variables for one customer × environment.
    Render(RenderArgs),
    /// Plan customers × environments with Terraform.
    Plan(PlanArgs),
    /// Apply a saved plan after checking its digest.
    Apply(ApplyArgs),
    /// Manager side: check the repository_dispatch event (registered,
    /// signed, active customer) and set the outputs later jobs key on;
    /// sends nothing to GitHub.
    Authorise,
    /// Manager side, on a `fleetform-batch` repository_dispatch (the
    /// relay's several customers' events in one): check the batch and its
    /// sender, and print its entries' indices as a JSON list (the step
    /// output `entries`) for manager-batch.yml's matrix.
    BatchEntries,
    /// Manager side, the deploy workflow's last job: an apply that was due
    /// but was cancelled, skipped or failed before reporting marks the
    /// customer's commit `error` with the reason.
    Conclude(ConcludeArgs),
    /// Customer side: validate, dispatch to the manager, mark the commit pending.
    Trigger(TriggerArgs),
    /// The customer registry: add, list, show, revoke, pin and unpin, offboard, dispatch keys, onboarding instructions.
    Customers(CustomersArgs),
    /// A GitHub Actions matrix of active customers × environments (JSON).
    Matrix(MatrixArgs),
    /// What a change to the manager repo does to every customer × product × environment.
    Impact(ImpactArgs),
    /// Roll a manager change out to the fleet in waves (`rollout:` in fleetform.yml).
    Rollout(RolloutArgs),
    /// Day-2 state operations on one customer × environment, with a reason.
    State(StateArgs),
    /// Bring objects that exist already under fleetform, proven by a plan that changes nothing.
    Adopt(AdoptArgs),
    /// Plan every customer × environment and report drift.
    Drift(DriftArgs),
    /// Drift repairs by policy: seal a plan that puts each drifted pair
    /// back (`--from`, a drift run's results), then apply the ones the
    /// policy lets a drift job apply (`--apply`), after a second person.
    Repair(RepairArgs),
    /// The audit log.
    Audit(AuditArgs),
    /// Propagate the customer template to every customer repo as pull requests.
    Sync(SyncArgs),
    /// Check through the GitHub API what SECURITY.md asks you to configure
    /// (environments, reviewers, branch policies, where secrets live,
    /// rulesets, workflow permissions, who reaches the manager repo and its
    /// Pages site, each customer repo and its `repo_id`, the token's
    /// expiry); exit 5 when a must fails.
    Doctor(DoctorArgs),
    /// The fleet dashboard: one self-contained HTML file from the records
    /// (a customers × environments grid, rollouts, applies per week, each
    /// customer's history).
    Report(ReportArgs),
    /// Create a manager repo (or, with --customer, a customer repo) in a
    /// folder: fleetform.yml, schema, values, registry, a root module and
    /// the workflows. Refuses if any file it would write exists.
    Init(InitArgs),
    /// The dispatch relay: customers reach the manager with their run's
    /// OIDC token (or the App's webhook) and hold no provider credential
    /// (`relay:` in fleetform.yml).
    Relay(RelayArgs),
    /// For providers who run no relay: find new default-branch heads and
    /// open pull requests of the fleet through the App (conditional
    /// requests) and dispatch what changed; run it from a schedule.
    Poll(PollArgs),
    /// Shell completions on stdout, e.g.
    /// `fleetform completions bash > /etc/bash_completion.d/fleetform`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Where what was seen is kept between runs (ETags, heads, pull
    /// request heads), sealed with FLEETFORM_ARTIFACT_KEY when it is set:
    /// restore it from a cache before the run. A missing or unopenable
    /// state is recovered from the commits' fleetform statuses.
    #[arg(
        long,
        env = "FLEETFORM_POLL_STATE",
        default_value = ".fleetform/poll-state.json"
    )]
    pub state: PathBuf,
    /// Show what would be dispatched; dispatch nothing, keep no state.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImpactArgs {
    /// The manager as it was: a branch, tag or commit (e.g. origin/main).
    #[arg(long, env = "FLEETFORM_IMPACT_BASE")]
    pub base: String,
    /// The manager as it will be (default: the working tree, uncommitted
    /// changes included).
    #[arg(long, env = "FLEETFORM_IMPACT_HEAD")]
    pub head: Option<String>,
    /// Pairs rendered (or, with --plan, planned) at once.
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Also plan the affected pairs at the head against their real state
    /// and group the plans (the head must be the working tree).
    #[arg(long, conflicts_with = "head")]
    pub plan: bool,
    /// With --plan: plan only this matrix shard's pairs (JSON list of
    /// `customer/environment`, as `fleetform matrix` writes them).
    #[arg(long, env = "FLEETFORM_SHARD", requires = "plan")]
    pub shard: Option<String>,
    /// The plans of the shards (`impact --plan --shard .. --json` outputs),
    /// merged into this answer instead of planning here.
    #[arg(long = "plans-from", num_args = 1.., conflicts_with = "plan")]
    pub plans_from: Vec<std::path::PathBuf>,
    /// With --plan: where the plans go.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/impact")]
    pub out: std::path::PathBuf,
    /// Terraform (or OpenTofu) binary, with --plan.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<std::path::PathBuf>,
    /// Post the answer as one sticky comment on the manager's pull request
    /// and set the `fleetform/impact` status on its head (3 requests; token
    /// from FLEETFORM_TOKEN or GITHUB_TOKEN).
    #[arg(long, requires_all = ["manager_repo", "pr", "sha"])]
    pub comment: bool,
    /// With --comment: the manager repo, owner/name.
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub manager_repo: Option<String>,
    /// Show old → new values in the text output (never in the comment or
    /// the step summary, which every reader of the manager repo sees).
    #[arg(long)]
    pub show_values: bool,
    /// With --comment: the pull request number.
    #[arg(long, env = "FLEETFORM_PR")]
    pub pr: Option<u64>,
    /// With --comment: the pull request's head commit (the status goes there).
    #[arg(long, env = "FLEETFORM_SHA")]
    pub sha: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Only these customers (comma-separated slugs).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Only these environments (comma-separated).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// A matrix job's shard: JSON list of `customer/environment` (or `customer`).
    #[arg(long, env = "FLEETFORM_SHARD", conflicts_with_all = ["customers", "environments"])]
    pub shard: Option<String>,
    /// Plans to run at once (default: four per core).
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Results folder (plan files, summaries, comments).
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/drift")]
    pub out: PathBuf,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Keep one sticky issue per drifted customer in the manager repo.
    #[arg(long, env = "FLEETFORM_ISSUES", requires = "manager_repo")]
    pub issues: bool,
    /// The manager repo, owner/name (for --issues and for customers without a local path).
    #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
    pub manager_repo: Option<String>,
    /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    #[command(flatten)]
    pub budget: fleet::WriteBudgetArgs,
    #[command(flatten)]
    pub cache: fleet::EtagCacheArgs,
    /// Plan nothing: merge the `drift-report.json` files the matrix's shards
    /// wrote (found under this folder) into one report, and with --issues
    /// write every drift issue from it, in one job with one write budget.
    #[arg(long, env = "FLEETFORM_FROM_REPORTS", conflicts_with_all = ["customers", "environments", "shard", "jobs", "terraform"])]
    pub from_reports: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CustomersArgs {
    #[command(subcommand)]
    pub command: CustomersCommand,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Register a customer and print its dispatch key (tokens are never
    /// taken here: they live in GitHub secrets).
    ///
    /// A customer with --repo needs FLEETFORM_DISPATCH_SECRET (the manager's
    /// dispatch secret) in the environment to issue its key.
    Add {
        /// The customer's slug.
        slug: String,
        /// The customer's GitHub repo, owner/name.
        #[arg(long)]
        repo: Option<String>,
        /// GitHub's numeric id of --repo (default: looked up through the
        /// API when FLEETFORM_TOKEN or GITHUB_TOKEN is set). The relay finds
        /// customers by it, so with `relay:` in fleetform.yml it is required.
        #[arg(long, requires = "repo")]
        repo_id: Option<u64>,
        /// Local checkout of the customer repo (local mode), relative to the registry.
        #[arg(long)]
        path: Option<PathBuf>,
        /// Contact e-mail.
        #[arg(long)]
        contact: String,
        /// Enabled environments (default: all of the manager's).
        #[arg(long = "env", value_delimiter = ',')]
        environments: Vec<String>,
        /// Date added (default: today, UTC).
        #[arg(long)]
        date: Option<String>,
        /// The name of the token the customer created for the manager
        /// (`MANAGER_REPO_PAT`), as GitHub shows it; never its value.
        #[arg(long, requires = "token_expires")]
        token_name: Option<String>,
        /// That token's expiry date, YYYY-MM-DD (`customers list` flags it
        /// 30 days ahead).
        #[arg(long, requires = "token_name")]
        token_expires: Option<String>,
    },
    /// List customers (tokens expiring within 30 days or expired are flagged).
    List {
        /// The result as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also send `token_expiring` to the `notify:` targets that ask for
        /// it, one per active customer whose token expires within 30 days
        /// or has expired (e.g. from a daily scheduled workflow).
        #[arg(long)]
        notify: bool,
    },
    /// Show one customer.
    Show {
        /// The customer's slug.
        slug: String,
        /// The result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Mark a customer revoked (never deleted; its state is kept; its secrets
    /// recipients retired) and print what to delete where: the secrets in
    /// the customer's repo, its token, and what the manager holds for it.
    Revoke {
        /// The customer's slug.
        slug: String,
        /// Why, for the audit log and whoever reads the status.
        #[arg(long)]
        reason: String,
        /// Date of revocation (default: today, UTC).
        #[arg(long)]
        date: Option<String>,
    },
    /// Hold a customer (or every customer of a rollout wave) at a manager
    /// version for a product until a date, while the rest of the fleet
    /// moves on (replaces the customer's pin of that product).
    Pin(PinArgs),
    /// End a customer's (or a wave's) hold: one product's pin, or all.
    Unpin(UnpinArgs),
    /// Print a customer's current dispatch key (needs FLEETFORM_DISPATCH_SECRET), its
    /// repository secret FLEETFORM_DISPATCH_KEY (masked under GitHub Actions).
    DispatchKey {
        /// The customer's slug.
        slug: String,
    },
    /// Issue a new dispatch key for a customer; the old one is void at once
    /// (needs FLEETFORM_DISPATCH_SECRET).
    RotateKey {
        /// The customer's slug.
        slug: String,
    },
    /// A new age recipient for one environment's secrets (new identity file, old one void).
    RotateSecretsKey(RotateSecretsKeyArgs),
    /// Ready-to-send onboarding text for a customer.
    Instructions {
        /// The customer's slug.
        slug: String,
        /// The manager repo, owner/name (default: `relay.manager_repo` of
        /// fleetform.yml).
        #[arg(long, env = "FLEETFORM_MANAGER_REPO")]
        manager_repo: Option<String>,
        /// A minijinja template to use instead of the built-in one
        /// (default: templates/instructions.md.j2 in the manager repo, if present).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Ref to pin the trigger action to (default: this fleetform's release tag).
        #[arg(long)]
        action_ref: Option<String>,
        /// The relay's public address, for a manager with `relay:` (the
        /// customer's FLEETFORM_RELAY_URL variable).
        #[arg(long, env = "FLEETFORM_RELAY_URL")]
        relay_url: Option<String>,
    },
    /// Preview (plan and seal) the destroy of everything a revoked
    /// customer has; with --approve DIGEST, once someone other than who
    /// asked let it through, archive each state and destroy exactly that
    /// preview, and mark the entry `offboarded`.
    Offboard(OffboardArgs),
}

#[derive(Debug, Args)]
pub struct ConcludeArgs {
    /// The workflow's `needs` as JSON (`${{ toJSON(needs) }}`): every
    /// plan-<env> and apply-<env> job's result and outputs.
    #[arg(long, env = "FLEETFORM_NEEDS", value_name = "JSON")]
    pub needs: String,
}

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The manager repo, owner/name (the token path; not with --relay-url).
    #[arg(
        long,
        env = "FLEETFORM_MANAGER_REPO",
        required_unless_present = "relay_url"
    )]
    pub manager_repo: Option<String>,
    /// The provider's relay: the trigger proves who it is with the run's
    /// OIDC token (the job needs `id-token: write`) and holds no provider
    /// credential. Without it, the legacy token path (FLEETFORM_TOKEN and a
    /// dispatch key).
    #[arg(long, env = "FLEETFORM_RELAY_URL")]
    pub relay_url: Option<String>,
    /// The audience the OIDC token is asked for: the relay's `audience`,
    /// by default the provider's manager repo address
    /// (`https://github.com/<owner>/<repo>`; `customers instructions`
    /// gives it). `fleetform` is what relays required before the audience
    /// became unique per provider.
    #[arg(long, env = "FLEETFORM_RELAY_AUDIENCE", default_value = "fleetform")]
    pub relay_audience: String,
    /// Path of the variables schema inside the manager repo.
    #[arg(
        long,
        env = "FLEETFORM_SCHEMA_PATH",
        default_value = "schema/variables.schema.json"
    )]
    pub schema_path: String,
    /// Manager ref to read the schema from (default: its default branch).
    #[arg(long, env = "FLEETFORM_SCHEMA_REF")]
    pub schema_ref: Option<String>,
    /// The customer's variables file.
    #[arg(
        long,
        env = "FLEETFORM_VARIABLES",
        default_value = "infra/variables.yml"
    )]
    pub variables: String,
    /// Per-environment override files; `{environment}` is replaced.
    #[arg(
        long,
        env = "FLEETFORM_OVERRIDES",
        default_value = "infra/variables.{environment}.yml"
    )]
    pub overrides: String,
    /// Commit status context.
    #[arg(
        long,
        env = "FLEETFORM_STATUS_CONTEXT",
        default_value = "infra/terraform-deploy"
    )]
    pub status_context: String,
    /// Print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN")]
    pub dry_run: bool,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Wait this long (e.g. 10m, 90s) for the manager to answer on the
    /// commit status; fail if it never does.
    #[arg(long, env = "FLEETFORM_WAIT", value_parser = parse_duration)]
    pub wait: Option<std::time::Duration>,
}

/// `90`, `90s`, `10m`, `1h`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    const MAX: u64 = 6 * 3600;
    let too_long = || "wait at most 6h (a GitHub job's limit)".to_string();
    if let Ok(n) = s.parse::<u64>() {
        return if n > MAX {
            Err(too_long())
        } else {
            Ok(std::time::Duration::from_secs(n))
        };
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 90s, 10m or 1h"))?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("`{s}` is not a duration like 90s, 10m or 1h")),
        };
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .filter(|t| *t <= MAX)
            .ok_or_else(too_long)?;
    }
    if !num.is_empty() {
        return Err(format!("`{s}`: put a unit (s, m, h) after the last number"));
    }
    if total > MAX {
        return Err(too_long());
    }
    Ok(std::time::Duration::from_secs(total))
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan every active customer × enabled environment.
    #[arg(long, conflicts_with = "customers")]
    pub all: bool,
    /// Customers to plan.
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Environments to plan (default: each customer's enabled ones).
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// Plans to run at once (default: four per core).
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Results folder (plan files, summaries, comments).
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Machine-readable results on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Terraform binary to use instead of the engine named in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// Plan the customer named by the repository_dispatch event
    /// (GITHUB_EVENT_PATH), fetching its files from GitHub.
    #[arg(long, env = "FLEETFORM_DISPATCH", conflicts_with_all = ["all", "customers"])]
    pub dispatch: bool,
    /// With --dispatch: print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN", requires = "dispatch")]
    pub dry_run: bool,
    /// Plan the replacement of this resource (`-replace`).
    #[arg(long, value_name = "ADDR", requires = "reason", conflicts_with_all = ["all", "dispatch"])]
    pub replace: Vec<String>,
    /// Plan only this resource (`-target`).
    #[arg(long, value_name = "ADDR", requires = "reason", conflicts_with_all = ["all", "dispatch"])]
    pub target: Vec<String>,
    /// Why (--replace, --target).
    #[arg(long)]
    pub reason: Option<String>,
    /// A targeted plan for the ops workflow: seal its folder into
    /// `bundle.sealed` with FLEETFORM_ARTIFACT_KEY (the only file to
    /// upload) and set the job outputs `plan_sha256` and `plan_dir`.
    #[arg(long, conflicts_with_all = ["all", "dispatch"])]
    pub seal: bool,
    /// The product --replace and --target act on (required with
    /// `products:` in fleetform.yml).
    #[arg(long, conflicts_with_all = ["all", "dispatch"])]
    pub product: Option<String>,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR", conflicts_with_all = ["all", "dispatch"])]
    pub customer_dir: Option<PathBuf>,
}

/// One customer × product × environment.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// The customer.
    #[arg(long, env = "FLEETFORM_CUSTOMER")]
    pub customer: String,
    /// The environment.
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
    pub environment: String,
    /// The product (a manager with `products:`).
    #[arg(long, env = "FLEETFORM_PRODUCT")]
    pub product: Option<String>,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// import ADDR ID | mv FROM TO | rm ADDR... | force-unlock LOCK_ID |
    /// apply (a sealed preview, with --sha256)
    #[arg(value_enum)]
    pub op: StateCommand,
    /// Its addresses or id (none for `apply`).
    pub operands: Vec<String>,
    /// Seal a preview of the operation for a second person: it prints
    /// what will change and the digest they approve (`state apply`
    /// runs it).
    #[arg(long, conflicts_with_all = ["sha256", "unreviewed", "confirms"])]
    pub preview: bool,
    /// `state apply`: the digest of the sealed preview to run.
    #[arg(long, value_name = "DIGEST")]
    pub sha256: Option<String>,
    /// `state apply` in a run another operator started to confirm the
    /// preview of run RUN (where environments cannot have required
    /// reviewers).
    #[arg(long, value_name = "RUN")]
    pub confirms: Option<u64>,
    /// On a workstation, run it with no second person; the audit log
    /// records it as unreviewed. Refused on GitHub Actions.
    #[arg(long)]
    pub unreviewed: bool,
    #[command(flatten)]
    pub pair: PairArgs,
    /// Why (required).
    #[arg(long, env = "FLEETFORM_REASON")]
    pub reason: Option<String>,
    /// Results folder.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// The customer's checkout instead of the registry's `path`.
    #[arg(long, env = "FLEETFORM_CUSTOMER_DIR")]
    pub customer_dir: Option<PathBuf>,
    /// Report on the customer's repo (deployment, PR comment).
    #[arg(long, env = "FLEETFORM_REPORT_GITHUB")]
    pub github: bool,
}

/// A state operation.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StateCommand {
    /// `import ADDR ID`
    Import,
    /// `mv FROM TO`
    Mv,
    /// `rm ADDR...`
    Rm,
    /// `force-unlock LOCK_ID`
    ForceUnlock,
    /// Run a sealed preview (`--sha256 DIGEST`).
    Apply,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The customer (not with --dispatch, which takes it from the event).
    #[arg(long, env = "FLEETFORM_CUSTOMER", required_unless_present = "dispatch")]
    pub customer: Option<String>,
    /// The environment.
    #[arg(long = "env", env = "FLEETFORM_ENVIRONMENT")]
    pub environment: String,
    /// The product (a manager with `products:`; not with --dispatch).
    #[arg(long, env = "FLEETFORM_PRODUCT", conflicts_with = "dispatch")]
    pub product: Option<String>,
    /// Results folder the plan was written to.
    #[arg(long, env = "FLEETFORM_OUT_DIR", default_value = ".fleetform/out")]
    pub out: PathBuf,
    /// Folder holding this plan (default: OUT/CUSTOMER/ENV, or
    /// OUT/CUSTOMER/PRODUCT/ENV).
    #[arg(long, env = "FLEETFORM_PLAN_DIR")]
    pub plan_dir: Option<PathBuf>,
    /// Digest the plan must have (the plan job's `plan_sha256` output).
    #[arg(long, env = "FLEETFORM_PLAN_SHA256")]
    pub plan_sha256: Option<String>,
    /// The result as JSON on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Terraform (or OpenTofu) binary to use instead of the engine in fleetform.yml.
    #[arg(long, env = "FLEETFORM_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// Apply for the repository_dispatch event: checks the customer, that
    /// the default branch did not move past the plan, and reports back.
    #[arg(long, env = "FLEETFORM_DISPATCH", requires = "plan_sha256")]
    pub dispatch: bool,
    /// With --dispatch: print the writes instead of sending them.
    #[arg(long, env = "FLEETFORM_DRY_RUN", requires = "dispatch")]
    pub dry_run: bool,
    /// A targeted plan's apply: report on the customer's repo too.
    #[arg(long, env = "FLEETFORM_REPORT_GITHUB", conflicts_with = "dispatch")]
    pub github: bool,
    /// In a run another operator started to confirm the plan of run RUN
    /// (where environments cannot have required reviewers).
    #[arg(long, value_name = "RUN", conflicts_with = "dispatch")]
    pub confirms: Option<u64>,
    /// A targeted plan's apply on a workstation with no second person; the
    /// audit log records it as unreviewed. Refused on GitHub Actions.
    #[arg(long, conflicts_with = "dispatch")]
    pub unreviewed: bool,
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_never_overflow() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        for bad in [
            "99999999999999999999h",
            "18446744073709551615",
            "5124095576030432h",
            "7h",
            "21601",
            "6h1s",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(
                e.contains("at most 6h") || e.contains("not a duration"),
                "{bad}: {e}"
            );
        }
    }
}
