//! `fleetform drift`: the flags checked into [`crate::flows::drift::Settings`],
//! then the drift run ([`crate::flows::drift`]: plans, reports, issues,
//! causes; exit codes there).

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::flows::drift::Settings;
use crate::github::Token;

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
    pub budget: super::WriteBudgetArgs,
    #[command(flatten)]
    pub cache: super::EtagCacheArgs,
    /// Plan nothing: merge the `drift-report.json` files the matrix's shards
    /// wrote (found under this folder) into one report, and with --issues
    /// write every drift issue from it, in one job with one write budget.
    #[arg(long, env = "FLEETFORM_FROM_REPORTS", conflicts_with_all = ["customers", "environments", "shard", "jobs", "terraform"])]
    pub from_reports: Option<PathBuf>,
}

pub fn run(args: &DriftArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    crate::flows::drift::run(&settings, manager_dir, cx)
}

fn resolve(args: &DriftArgs) -> Result<Settings> {
    let jobs = match args.jobs {
        Some(0) => return Err(Error::usage("--jobs must be at least 1")),
        Some(n) => n,
        None => crate::fleet::terraform_jobs(),
    };
    if let Some(r) = &args.manager_repo {
        if !is_repo(r) {
            return Err(Error::usage(format!(
                "--manager-repo `{r}` is not owner/name"
            )));
        }
    }
    let shard = args
        .shard
        .as_deref()
        .map(crate::fleet::parse_shard)
        .transpose()?;
    if args.shard.is_some() && args.issues {
        return Err(Error::usage(Say::new("--issues with --shard: a shard writing drift issues races the other shards (a customer clean in one would close the issue another keeps open) and spends a write budget of its own").help("plan the shards without --issues and write the issues in one job with `drift --from-reports <the shards' reports> --issues`")));
    }
    if let Some(dir) = &args.from_reports {
        if args.out.starts_with(dir) {
            return Err(Error::Usage(Say::new(format!("--out {} is inside --from-reports {}: the merged report would be read as a shard's next time", args.out.display(), dir.display())).help("write it elsewhere")));
        }
    }
    let token = Token::from_env();
    // The manager repo's drift issues: the job's own token
    // (`FLEETFORM_ISSUES_TOKEN`, e.g. GITHUB_TOKEN with `issues: write`), as
    // a fine-grained token for the customer repos cannot reach the manager
    // repo of another owner; else the token above.
    let issues_token = Token::from_var("FLEETFORM_ISSUES_TOKEN").or_else(|| token.clone());
    if args.issues && issues_token.is_none() {
        return Err(Error::usage(
            "--issues needs a token: set FLEETFORM_ISSUES_TOKEN, FLEETFORM_TOKEN or GITHUB_TOKEN",
        ));
    }
    Ok(Settings {
        jobs,
        shard,
        customers: (!args.customers.is_empty()).then(|| args.customers.clone()),
        environments: (!args.environments.is_empty()).then(|| args.environments.clone()),
        token,
        issues_token,
        issues: args.issues,
        manager_repo: args.manager_repo.clone(),
        out: args.out.clone(),
        json: args.json,
        terraform: args.terraform.clone(),
        write_log: args.budget.write_log.clone(),
        etags: super::etag_cache(&args.cache, "drift")?,
        from_reports: args.from_reports.clone(),
        deadline: super::deadline(&args.budget),
    })
}
