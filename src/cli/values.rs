//! The flags of `validate` and `render`.

use std::path::PathBuf;

use clap::Args;

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
