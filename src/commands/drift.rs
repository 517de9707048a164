//! `fleetform drift`: the flags checked into [`crate::flows::drift::Settings`],
//! then the drift run ([`crate::flows::drift`]: plans, reports, issues,
//! causes; exit codes there).

use std::path::Path;

use crate::cli::DriftArgs;
use crate::config::is_repo;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::flows::drift::Settings;
use crate::github::Token;

pub fn run(args: &DriftArgs, manager_dir: &Path, cx: &Context) -> Result<()> {
    let settings = resolve(args)?;
    crate::flows::drift::run(&settings, manager_dir, cx)
}

fn resolve(args: &DriftArgs) -> Result<Settings> {
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => crate::fleet::terraform_jobs(),
    };
    if let Some(r) = &args.manager_repo {
        if !is_repo(r) {
            return Err(Error::Usage(format!(
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
        return Err(Error::Usage(
            "--issues with --shard: a shard writing drift issues races the other shards (a customer clean in one would close the issue another keeps open) and spends a write budget of its own; plan the shards without --issues and write the issues in one job with `drift --from-reports <the shards' reports> --issues`".into(),
        ));
    }
    if let Some(dir) = &args.from_reports {
        if args.out.starts_with(dir) {
            return Err(Error::Usage(format!(
                "--out {} is inside --from-reports {}: the merged report would be read as a shard's next time; write it elsewhere",
                args.out.display(),
                dir.display()
            )));
        }
    }
    let token = Token::from_env();
    // The manager repo's drift issues: the job's own token
    // (`FLEETFORM_ISSUES_TOKEN`, e.g. GITHUB_TOKEN with `issues: write`), as
    // a fine-grained token for the customer repos cannot reach the manager
    // repo of another owner; else the token above.
    let issues_token = Token::from_var("FLEETFORM_ISSUES_TOKEN").or_else(|| token.clone());
    if args.issues && issues_token.is_none() {
        return Err(Error::Usage(
            "--issues needs a token: set FLEETFORM_ISSUES_TOKEN, FLEETFORM_TOKEN or GITHUB_TOKEN"
                .into(),
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
