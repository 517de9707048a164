//! `fleetform validate`: the flags checked into
//! [`crate::fleet::validate::Settings`], then the check
//! ([`crate::fleet::validate`]).

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::error::{Error, Result, Say};
use crate::fleet::validate::{Settings, Target};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Customers to validate (default: every active customer with a local path).
    #[arg(long = "customer", env = "FLEETFORM_CUSTOMER", value_delimiter = ',')]
    pub customers: Vec<String>,
    /// Schema for FILES (default: the one named in fleetform.yml).
    #[arg(long, env = "FLEETFORM_SCHEMA")]
    pub schema: Option<PathBuf>,
    /// Validate these variables files on their own instead of registry customers.
    pub files: Vec<PathBuf>,
    /// Machine-readable results on stdout.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Files or customers to check at once (default: number of cores).
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
    /// Fail on the schema's lint findings (unknown keywords close to a
    /// known one, `required` names without a property, `$ref`s that
    /// resolve nowhere), which are otherwise warnings.
    #[arg(long, env = "FLEETFORM_STRICT")]
    pub strict: bool,
}

pub fn run(args: &ValidateArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    crate::fleet::validate::run(resolve(args)?, manager_dir, out)
}

fn resolve(args: &ValidateArgs) -> Result<Settings> {
    let target = if args.files.is_empty() {
        if args.schema.is_some() {
            return Err(Error::usage(
                Say::new("--schema applies to FILES").help("name the files to validate"),
            ));
        }
        Target::Customers(args.customers.clone())
    } else {
        if !args.customers.is_empty() {
            return Err(Error::usage("give either --customer or FILES, not both"));
        }
        Target::Files {
            schema: args.schema.clone(),
            files: args.files.clone(),
        }
    };
    if args.jobs == Some(0) {
        return Err(Error::usage("--jobs must be at least 1"));
    }
    Ok(Settings {
        target,
        json: args.json,
        jobs: crate::fleet::parallel::jobs(args.jobs),
        strict: args.strict,
    })
}
