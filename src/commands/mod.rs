//! One module per subcommand. Each parses its raw flags into a checked
//! settings struct before any I/O, runs, and returns data or an error.
//!
//! Commands never import one another: what two commands share lives in a
//! layer below (`fleet`, `flows`, `report`, ...).
//!
//! Each command declares its own flags (its `Args`) beside its `run`;
//! this file holds the command line itself ([`Cli`], [`Command`]) and the
//! flag groups several commands share. The flags a workflow passes can
//! also come from a `FLEETFORM_*` environment variable (`[env: …]` in
//! `--help`), which is how the composite actions pass inputs; the README's
//! CLI reference names the ones that cannot, and
//! `tests/newcomer/first_hour.rs` checks both. Every flag and argument has
//! help text.

pub mod adopt;
pub mod apply;
pub mod audit_report;
pub mod authorise;
pub mod batch_entries;
pub mod completions;
pub mod conclude;
pub mod customers;
pub mod docs;
pub mod doctor;
pub mod drift;
pub mod form;
pub mod handoff;
pub mod impact;
pub mod init;
pub mod matrix;
pub mod plan;
pub mod poll;
pub mod records;
pub mod relay;
pub mod render;
pub mod repair;
pub mod report;
pub mod report_cost;
pub mod report_sla;
pub mod request;
pub mod rollout;
pub mod state;
pub mod sync;
pub mod trigger;
pub mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use adopt::AdoptArgs;
use apply::ApplyArgs;
use audit_report::AuditArgs;
use completions::CompletionsArgs;
use conclude::ConcludeArgs;
use customers::CustomersArgs;
use docs::DocsArgs;
use doctor::DoctorArgs;
use drift::DriftArgs;
use form::FormArgs;
use handoff::HandoffArgs;
use impact::ImpactArgs;
use init::InitArgs;
use matrix::MatrixArgs;
use plan::PlanArgs;
use poll::PollArgs;
use records::RecordsArgs;
use relay::RelayArgs;
use render::RenderArgs;
use repair::RepairArgs;
use report::ReportArgs;
use request::RequestArgs;
use rollout::RolloutArgs;
use state::StateArgs;
use sync::SyncArgs;
use trigger::TriggerArgs;
use validate::ValidateArgs;

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

/// `fleetform report`'s reports beside the dashboard (each in its own
/// command file, dispatched by `lib.rs`).
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Response times against `sla:` per customer and environment (p50,
    /// p95, max) over a window, and every breach with its run.
    Sla(report_sla::SlaArgs),
    /// One customer's cost per month and its changes in a month, from the
    /// deployment records' Infracost estimates (Markdown, or CSV).
    Cost(report_cost::CostArgs),
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
    /// Manager side (the deploy workflow's key job): hand a customer's
    /// secrets identity for one environment to the plan and apply jobs of
    /// this run, sealed for them.
    Handoff(HandoffArgs),
    /// Customer side: validate, dispatch to the manager, mark the commit pending.
    Trigger(TriggerArgs),
    /// Customer side (`customer-form.yml`): an issue written from the
    /// provider's form made into a pull request that changes the variables
    /// file (its comments kept), checked against the schema; problems are
    /// answered on the issue.
    Request(RequestArgs),
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
    /// Plan every customer × environment and report drift, by cause.
    ///
    /// A pair has drifted when the plan's refresh finds its cloud changed
    /// outside Terraform since the last apply; edits not applied yet are
    /// reported apart, never as drift. Drift is grouped by cause across
    /// the fleet: the same change the cloud made (`aws_s3_bucket`
    /// `versioning` set to false), with its customers, environments and
    /// since when; a cause can be accepted for a while (`drift.accepted`),
    /// and with --github each customer and each cause gets an issue.
    ///
    /// A repair puts a drifted pair back to what was last applied. Each
    /// environment's `drift.repair` policy says what a drifted pair calls
    /// for: report, propose or repair (in-place changes only, within
    /// `drift.max_repairs`); `fleetform repair --from` then seals the
    /// plans, and `fleetform repair --apply` applies the repairs after a
    /// second person.
    ///
    /// Exit codes: 0 nothing drifted, 4 drift found, 1 a pair could not
    /// be checked (it wins over drift: a broken check is never taken for
    /// a clean one), 2 usage.
    Drift(DriftArgs),
    /// Drift repairs by policy: seal a plan that puts each drifted pair
    /// back (`--from`, a drift run's results), then apply the ones the
    /// policy lets a drift job apply (`--apply`), after a second person.
    Repair(RepairArgs),
    /// The audit log.
    Audit(AuditArgs),
    /// The records store: `records compact` puts every closed day's audit
    /// events in one segment, so readers make one request per day.
    Records(RecordsArgs),
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
    /// customer's history); `report sla`: response times against `sla:`.
    Report(ReportArgs),
    /// The customer's self-service files from the provider's schema: a
    /// GitHub issue form, its description for `fleetform request`, the
    /// reference page and the workflow, written into a folder (a customer
    /// repository's checkout).
    Form(FormArgs),
    /// The reference page of every setting a customer can make (type,
    /// constraints, examples, the provider's default per environment,
    /// which secrets exist), as Markdown.
    Docs(DocsArgs),
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

/// The impact of two revisions, as the commands report it: a revision git
/// cannot read is a usage error.
impl From<crate::fleet::impact::ImpactError> for crate::error::Error {
    fn from(e: crate::fleet::impact::ImpactError) -> Self {
        use crate::fleet::impact::ImpactError;
        match e {
            ImpactError::Revision(m) => Self::Usage(m.into()),
            ImpactError::Config(c) => Self::Config(c),
            ImpactError::Failed(m) => Self::Failed(m.into()),
        }
    }
}

/// `--etag-cache FILE` loaded for `command` (its entries are kept apart
/// by command), or none; a file that does not read is a usage error.
fn etag_cache(
    args: &EtagCacheArgs,
    command: &str,
) -> crate::error::Result<Option<std::sync::Arc<crate::github::EtagCache>>> {
    args.etag_cache
        .as_deref()
        .map(|p| crate::github::EtagCache::load(p, command).map(std::sync::Arc::new))
        .transpose()
        .map_err(|e| crate::error::Error::usage(e.to_string()))
}

/// `--deadline SECONDS` as the time no GitHub request may wait past.
fn deadline(args: &WriteBudgetArgs) -> Option<std::time::SystemTime> {
    args.deadline
        .map(|s| std::time::SystemTime::now() + std::time::Duration::from_secs(s))
}

/// `--action-ref`, else this version's release ref: a tag, branch or
/// commit SHA of fleetform (letters, digits, `.`, `_`, `-`, `/`), checked
/// before it is written into any workflow.
pub fn action_ref(given: Option<&str>) -> crate::error::Result<String> {
    let action_ref = given
        .map(str::to_string)
        .unwrap_or_else(crate::version::action_ref);
    if action_ref.is_empty()
        || !action_ref
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
    {
        return Err(crate::error::Error::usage(format!(
            "--action-ref `{}`: give a tag, branch or commit SHA of fleetform (letters, digits, `.`, `_`, `-`, `/`)",
            crate::util::text::shown(&action_ref)
        )));
    }
    Ok(action_ref)
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
