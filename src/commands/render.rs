//! `fleetform render`: the flags checked into
//! [`crate::fleet::render::Settings`], then the rendering
//! ([`crate::fleet::render`]).

use clap::Args;
use std::path::Path;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::fleet::render::Settings;
use crate::output::Output;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The customer (not with --all).
    #[arg(long, env = "FLEETFORM_CUSTOMER", required_unless_present = "all")]
    pub customer: Option<String>,
    /// The environment (with --all: only this one).
    #[arg(
        long = "env",
        env = "FLEETFORM_ENVIRONMENT",
        required_unless_present = "all"
    )]
    pub environment: Option<String>,
    /// The product (a manager with `products:`; not with --all).
    #[arg(long, env = "FLEETFORM_PRODUCT", conflicts_with = "all")]
    pub product: Option<String>,
    /// Show, for every value, the layer and file:line that set it.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: JSON instead of a table.
    #[arg(long, env = "FLEETFORM_JSON")]
    pub json: bool,
    /// Render every active customer × enabled environment into
    /// `OUT/<customer>/<environment>.tfvars.json`, in parallel.
    #[arg(long, conflicts_with_all = ["customer", "explain"], requires = "out")]
    pub all: bool,
    /// With --all: the folder to write the var files to.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --all: customers to render at once (default: number of cores).
    #[arg(short, long, env = "FLEETFORM_JOBS")]
    pub jobs: Option<usize>,
}

pub fn run(args: &RenderArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    crate::fleet::render::run(resolve(args)?, manager_dir, out)
}

fn resolve(args: &RenderArgs) -> Result<Settings> {
    if args.all {
        let Some(out_dir) = &args.out else {
            return Err(Error::usage(
                "--all writes one file per customer × environment: give --out DIR",
            ));
        };
        if args.jobs == Some(0) {
            return Err(Error::usage("--jobs must be at least 1"));
        }
        return Ok(Settings::All {
            out: out_dir.clone(),
            environment: args.environment.clone(),
            jobs: crate::fleet::parallel::jobs(args.jobs),
        });
    }
    let (Some(customer), Some(environment)) = (&args.customer, &args.environment) else {
        return Err(Error::usage(
            "say what to render: --customer SLUG --env ENV, or --all --out DIR",
        ));
    };
    if args.out.is_some() {
        return Err(Error::usage(
            "--out goes with --all (render prints one customer on stdout)",
        ));
    }
    if args.json && !args.explain {
        return Err(Error::usage(
            "--json goes with --explain (render prints JSON already)",
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
