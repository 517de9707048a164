//! `fleetform render`: the flags checked into
//! [`crate::fleet::render::Settings`], then the rendering
//! ([`crate::fleet::render`]).

use std::path::Path;

use crate::cli::RenderArgs;
use crate::error::{Error, Result};
use crate::fleet::render::Settings;
use crate::output::Output;

pub fn run(args: &RenderArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    crate::fleet::render::run(resolve(args)?, manager_dir, out)
}

fn resolve(args: &RenderArgs) -> Result<Settings> {
    if args.all {
        let Some(out_dir) = &args.out else {
            return Err(Error::Usage(
                "--all writes one file per customer × environment: give --out DIR".into(),
            ));
        };
        if args.jobs == Some(0) {
            return Err(Error::Usage("--jobs must be at least 1".into()));
        }
        return Ok(Settings::All {
            out: out_dir.clone(),
            environment: args.environment.clone(),
            jobs: crate::fleet::parallel::jobs(args.jobs),
        });
    }
    let (Some(customer), Some(environment)) = (&args.customer, &args.environment) else {
        return Err(Error::Usage(
            "say what to render: --customer SLUG --env ENV, or --all --out DIR".into(),
        ));
    };
    if args.out.is_some() {
        return Err(Error::Usage(
            "--out goes with --all (render prints one customer on stdout)".into(),
        ));
    }
    if args.json && !args.explain {
        return Err(Error::Usage(
            "--json goes with --explain (render prints JSON already)".into(),
        ));
    }
    Ok(Settings::One {
        customer: customer.clone(),
        product: args.product.clone(),
        environment: environment.clone(),
        explain: args.explain,
        json: args.json,
    })
}
