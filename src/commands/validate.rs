//! `fleetform validate`: the flags checked into
//! [`crate::fleet::validate::Settings`], then the check
//! ([`crate::fleet::validate`]).

use std::path::Path;

use crate::cli::ValidateArgs;
use crate::error::{Error, Result};
use crate::fleet::validate::{Settings, Target};
use crate::output::Output;

pub fn run(args: &ValidateArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    crate::fleet::validate::run(resolve(args)?, manager_dir, out)
}

fn resolve(args: &ValidateArgs) -> Result<Settings> {
    let target = if args.files.is_empty() {
        if args.schema.is_some() {
            return Err(Error::Usage(
                "--schema applies to FILES; name the files to validate".into(),
            ));
        }
        Target::Customers(args.customers.clone())
    } else {
        if !args.customers.is_empty() {
            return Err(Error::Usage(
                "give either --customer or FILES, not both".into(),
            ));
        }
        Target::Files {
            schema: args.schema.clone(),
            files: args.files.clone(),
        }
    };
    if args.jobs == Some(0) {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    Ok(Settings {
        target,
        json: args.json,
        jobs: crate::fleet::parallel::jobs(args.jobs),
        strict: args.strict,
    })
}
