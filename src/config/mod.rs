//! The manager configuration (`fleetform.yml`) and the customer registry
//! (`customers.yml`), typed and checked.
//!
//! Both are loaded through [`fleetform_yaml`], deserialised with
//! `deny_unknown_fields`, and every error points at the offending line.
//!
//! Here: fleetform.yml (`mod.rs`), its products and the unit of work
//! (`products`) and its records store (`records`), the registry
//! (`registry`), the names both accept (`names`), its notification
//! targets (`notify`), the dispatch relay (`relay`), the paths it names
//! and their containment on the file system (`paths`), the files it names
//! and that they exist (`files`), and text-preserving edits of the
//! registry and its lock (`edit`), `terraform:` (`terraform`), how a
//! document becomes a typed section with its positions (`doc`), and the
//! gate settings of `policies:` (`policies`, with the policy tools'
//! settings in `policy_tools`; the policy layer evaluates them), and
//! `drift:` (`drift`: cause issues, repair policies, accepted drift), `sla:` (`sla`).
//!
//! May import: `util` and the YAML crate.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use fleetform_yaml::{self as yaml, Document, Limits, Location, Pos, YamlError};

mod approvals;
pub mod cloud;
mod customer_files;
mod doc;
pub mod drift;
pub mod edit;
mod files;
pub use customer_files::{CustomerFile, CustomerFileKind};
pub use files::find_manager_above;
mod identity;
mod names;
mod notify;
mod paths;
pub mod pins;
pub mod policies;
pub mod policy_tools;
mod products;
mod records;
mod registry;
mod relay;
pub mod rollout;
pub mod schema_formats;
pub mod secrets;
pub mod sla;
mod takes_part;
mod terraform;

pub use approvals::{is_login, is_team, ApprovalRule, ApprovalsConfig};
pub use doc::from_doc;
pub use drift::{Acceptance, DriftConfig, MaxRepairs, RepairPolicy};
pub use identity::{
    is_role_arn, AwsIdentity, CloudIdentity, CustomerIdentity, IdentityConfig, IdentityFields,
    IdentityStage, StageIdentities,
};
pub use names::{is_date, is_email, is_repo, is_slug};
pub use notify::{is_env_name, is_own_secret, NotifyEvent, NotifyKind, NotifyTarget};
pub use paths::RepoPath;
pub use products::{
    ProductConfig, ProductProblem, ProductValues, Unit, PRODUCTS_FILE, PRODUCT_STATE_KEY,
};
pub use records::Records;
pub use registry::*;
pub use relay::{
    is_web_url, RelayConfig, BATCH_WORKFLOW, DEFAULT_TRIGGER_WORKFLOW, DEPRECATED_AUDIENCE,
    GITHUB_ACTIONS_ISSUER, MAX_RELAY_BATCH,
};
pub use rollout::{HaltConfig, RolloutConfig, WaveConfig};
pub use secrets::{EnvironmentSecrets, FleetRecipient, SecretsConfig};
pub use takes_part::Activity;
use terraform::check_key_template;
pub use terraform::{Backend, Engine, StateConfig, TerraformConfig};

pub use crate::util::path::{clean_path, display_path, is_relative_inside};

/// Highest dispatch-key generation a registry entry may hold.
pub const MAX_KEY_GENERATION: u32 = 1_000_000;

/// Loads the manager side: the configuration and the registry.
pub fn load(dir: &Path) -> Result<(Manager, Registry), ConfigError> {
    let manager = Manager::load(dir)?;
    let registry = Registry::load(&manager)?;
    Ok((manager, registry))
}

/// File name of the manager configuration at the manager repo root.
pub const CONFIG_FILE: &str = "fleetform.yml";

/// Errors in the manager configuration or the registry.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
    #[error("{file}: cannot read: {source}")]
    #[diagnostic(help(
        "run fleetform inside the manager repo (it finds fleetform.yml from a subfolder) or name it with -C DIR"
    ))]
    Missing {
        file: PathBuf,
        source: std::io::Error,
    },
}

impl ConfigError {
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Yaml(e) => Some(&e.location),
            ConfigError::Invalid { location, .. } => Some(location),
            ConfigError::Missing { .. } => None,
        }
    }
}

/// `fleetform.yml`: how the manager repo is laid out and how it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// Format version; only `1` exists.
    pub version: u32,
    /// JSON Schema (draft 2020-12 unless its `$schema` names another) for
    /// customer `infra/variables.yml`
    /// (required without `products:`; each product names its own).
    pub schema: Option<RepoPath>,
    /// Whether `format` in the schema constrains values (`assert`, the
    /// default) or only annotates them (`annotate`).
    #[serde(default)]
    pub schema_formats: schema_formats::FormatMode,
    /// Customer registry file.
    #[serde(default = "default_registry")]
    pub registry: RepoPath,
    /// Manager-owned value layers.
    #[serde(default)]
    pub values: ManagerValues,
    /// Where customer files live inside a customer repo.
    #[serde(default)]
    pub customer: CustomerFiles,
    /// Environments, in promotion order.
    pub environments: Vec<Environment>,
    pub terraform: TerraformConfig,
    /// Commit status context set on customer commits.
    #[serde(default = "default_status_context")]
    pub status_context: String,
    /// Policy gates per environment (see `fleetform::policy`).
    #[serde(default)]
    pub policies: policies::Policies,
    /// Template propagation to customer repos (`fleetform sync`).
    #[serde(default)]
    pub sync: SyncConfig,
    /// Separate stacks per customer (see [`products`]); none means one
    /// implicit product made of the keys above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductConfig>,
    /// Where records that must outlive a runner are kept (audit events,
    /// deployment records).
    #[serde(default)]
    pub records: Records,
    /// How long a state must stay recoverable (`state: recovery_days`).
    #[serde(default, skip_serializing_if = "StateConfig::is_default")]
    pub state: StateConfig,
    /// How a manager change reaches the fleet, in waves (see [`rollout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutConfig>,
    /// The cloud identity each customer × environment is planned and
    /// applied with (see [`identity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityConfig>,
    /// Who must approve applies on the customer's PR, per environment
    /// (see [`approvals`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approvals: ApprovalsConfig,
    /// Who is told when something needs people (see [`notify`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<NotifyTarget>,
    /// The dispatch relay and the GitHub App it acts as (see [`relay`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayConfig>,
    /// Customer secrets (README, "Customer secrets"): with it, `customers
    /// add` makes each customer an age recipient per environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsConfig>,
    /// Drift by cause, repairs by policy, accepted drift (see [`drift`]).
    #[serde(default)]
    pub drift: DriftConfig,
    /// Response times promised per environment (see [`sla`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sla: sla::SlaConfig,
}

/// `sync:` in fleetform.yml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The customer template folder in the manager repo; files ending in
    /// `.j2` are rendered with minijinja (suffix dropped), others copied.
    #[serde(default = "default_template_dir")]
    pub template_dir: RepoPath,
    /// The branch sync PRs come from.
    #[serde(default = "default_sync_branch")]
    pub branch: String,
    /// Also propagate the customer's change form made from the schema
    /// (`fleetform form`: the issue form, its description, the reference
    /// page and `customer-form.yml`; one per product a customer takes).
    #[serde(default)]
    pub form: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            template_dir: default_template_dir(),
            branch: default_sync_branch(),
            form: false,
        }
    }
}

fn default_template_dir() -> RepoPath {
    RepoPath::default_for("templates/customer")
}
fn default_sync_branch() -> String {
    "fleetform/sync".into()
}

fn default_registry() -> RepoPath {
    RepoPath::default_for("customers.yml")
}
fn default_status_context() -> String {
    "infra/terraform-deploy".into()
}

/// Manager value layers: one base file and optional per-environment files
/// (declared on each environment).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerValues {
    /// Values for every customer and environment (layer 1).
    pub base: Option<RepoPath>,
}

/// Paths inside a customer repo.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFiles {
    /// The customer's variables file.
    #[serde(default = "default_variables")]
    pub variables: String,
    /// Optional per-environment override file; `{environment}` is replaced.
    #[serde(default = "default_overrides")]
    pub overrides: String,
    /// Optional per-environment secrets file (encrypted values, README
    /// "Customer secrets"); `{environment}` is replaced.
    #[serde(default = "default_secrets")]
    pub secrets: String,
}

impl Default for CustomerFiles {
    fn default() -> Self {
        CustomerFiles {
            variables: default_variables(),
            overrides: default_overrides(),
            secrets: default_secrets(),
        }
    }
}

fn default_variables() -> String {
    "infra/variables.yml".into()
}
fn default_overrides() -> String {
    "infra/variables.{environment}.yml".into()
}
fn default_secrets() -> String {
    "infra/secrets.{environment}.yml".into()
}

/// One environment, e.g. `staging` or `production`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    /// Manager values for this environment (layer 2).
    pub values: Option<RepoPath>,
    /// GitHub environment the plan job runs in (default `<name>-plan`).
    pub plan_environment: Option<String>,
    /// GitHub environment the apply job runs in (default `<name>-apply`).
    pub apply_environment: Option<String>,
    /// Apply without waiting for a reviewer once the plan succeeded.
    #[serde(default)]
    pub auto_apply: bool,
    /// The rotation policy of the customers' secrets here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<EnvironmentSecrets>,
}

impl Environment {
    pub fn plan_environment(&self) -> String {
        self.plan_environment
            .clone()
            .unwrap_or_else(|| format!("{}-plan", self.name))
    }
    pub fn apply_environment(&self) -> String {
        self.apply_environment
            .clone()
            .unwrap_or_else(|| format!("{}-apply", self.name))
    }
    /// The GitHub environment that holds customer `slug`'s secrets
    /// identity for this environment, and nothing else but the artifact
    /// key (`<name>-secrets-<slug>`): the deploy workflow's key job reads
    /// it by a static reference and hands it to the plan and apply jobs
    /// sealed for the pair and the run (`dispatch::handoff`).
    pub fn secrets_environment(&self, slug: &str) -> String {
        format!("{}-secrets-{slug}", self.name)
    }
}

/// The manager configuration together with where it was loaded from.
#[derive(Debug, Clone)]
pub struct Manager {
    pub root: PathBuf,
    pub config: ManagerConfig,
    pub doc: Document,
    /// The product this view is of (see [`products`]); `None` for the
    /// manager itself.
    pub product: Option<String>,
    /// Set on a view read at a customer's pin ([`pins::pinned_view`]):
    /// the hold it was read for.
    pub pin: Option<pins::Pin>,
}

impl Manager {
    /// This manager (another revision's export) keeping state and records
    /// where `live` keeps them: the same backend (a local state folder as
    /// an absolute path) and the same records store. For re-applying an
    /// earlier revision's configuration to the real state (rollback).
    pub fn with_state_of(mut self, live: &Manager) -> Manager {
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        self.config.terraform.backend = match &live.config.terraform.backend {
            Backend::Local { state_dir } => Backend::Local {
                state_dir: RepoPath(absolute(live.path(&state_dir.0))),
            },
            other => other.clone(),
        };
        self.config.records = match &live.config.records {
            Records::Local { dir, recipient } => Records::Local {
                dir: RepoPath(absolute(live.path(&dir.0))),
                recipient: recipient.clone(),
            },
            other => other.clone(),
        };
        self
    }

    /// Loads and checks `fleetform.yml` under `root`.
    pub fn load(root: &Path) -> Result<Manager, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let shown = display_path(&path);
        let bytes = crate::util::fs::read_input(&path).map_err(|source| ConfigError::Missing {
            file: shown.clone(),
            source,
        })?;
        let doc = yaml::load_bytes(&bytes, &shown, &Limits::default())?;
        let config: ManagerConfig = from_doc(&doc)?;
        let manager = Manager {
            root: root.to_path_buf(),
            config,
            doc,
            product: None,
            pin: None,
        };
        manager.check()?;
        Ok(manager)
    }

    fn invalid(&self, pointer: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: self.doc.locate(pointer),
            message: message.into(),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        if c.version != 1 {
            return Err(self.invalid(
                "/version",
                "unsupported version; this fleetform reads `version: 1`",
            ));
        }
        self.check_environments()?;
        self.check_layout()?;
        self.check_terraform()?;
        self.check_files(&c.customer, "/customer")?;
        self.check_products()?;
        self.check_records()?;
        self.check_rollout()?;
        self.check_identity()?;
        self.check_approvals()?;
        self.check_notify()?;
        self.check_relay()?;
        self.check_drift()?;
        self.check_sla()?;
        self.check_secrets()?;
        if c.status_context.trim().is_empty() {
            return Err(self.invalid("/status_context", "must not be empty"));
        }
        self.check_policies()?;
        if !c.sync.branch.starts_with("fleetform/") && c.sync.branch.contains("..") {
            return Err(self.invalid("/sync/branch", "not a valid branch name"));
        }
        // Last: the paths are known to be well-formed and complete.
        self.check_paths_resolve()
    }

    /// At least one environment, each with a slug name, none twice.
    fn check_environments(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        if c.environments.is_empty() {
            return Err(self.invalid("/environments", "declare at least one environment"));
        }
        let mut seen = BTreeSet::new();
        for (i, env) in c.environments.iter().enumerate() {
            if !is_slug(&env.name) {
                return Err(self.invalid(
                    &format!("/environments/{i}/name"),
                    format!(
                        "environment name `{}` must be lowercase letters, digits and `-`",
                        env.name
                    ),
                ));
            }
            if !seen.insert(env.name.as_str()) {
                return Err(self.invalid(
                    &format!("/environments/{i}/name"),
                    format!("environment `{}` is declared twice", env.name),
                ));
            }
        }
        Ok(())
    }

    /// The state key template and the names in `pass_env`.
    fn check_terraform(&self) -> Result<(), ConfigError> {
        let t = &self.config.terraform;
        check_key_template(&t.state_key, false)
            .map_err(|m| self.invalid("/terraform/state_key", m))?;
        for (i, name) in t.pass_env.iter().enumerate() {
            let ok = !name.is_empty()
                && !name.starts_with(|ch: char| ch.is_ascii_digit())
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !ok {
                return Err(self.invalid(
                    &format!("/terraform/pass_env/{i}"),
                    "an environment variable name: letters, digits and `_`, not starting with a digit",
                ));
            }
            if crate::util::credentials::credential(name).is_some() {
                return Err(self.invalid(
                    &format!("/terraform/pass_env/{i}"),
                    format!("`{name}` holds one of fleetform's own credentials, which Terraform, its providers and provisioners would all get; remove it (give Terraform credentials of its own)"),
                ));
            }
        }
        Ok(())
    }

    /// Without products, the schema and the root module are required;
    /// with products, each product names its own and the top-level keys
    /// would be ignored, so they are refused.
    fn check_layout(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        if c.products.is_empty() {
            if c.schema.is_none() {
                return Err(self.invalid("", "`schema:` is required: the JSON Schema customer values must satisfy (or declare `products:`, each with its own)"));
            }
            if c.terraform.working_dir.is_none() {
                return Err(self.invalid("/terraform", "`working_dir:` is required: the root module (or declare `products:`, each with its own)"));
            }
            return Ok(());
        }
        let ignored = [
            (c.schema.is_some(), "/schema", "schema"),
            (
                c.terraform.working_dir.is_some(),
                "/terraform/working_dir",
                "working_dir",
            ),
            (c.values.base.is_some(), "/values", "values"),
        ];
        for (set, pointer, key) in ignored {
            if set {
                return Err(self.invalid(pointer, format!("with `products:`, each product names its own `{key}`; move this one into its product")));
            }
        }
        if let Some(i) = c.environments.iter().position(|e| e.values.is_some()) {
            return Err(self.invalid(&format!("/environments/{i}/values"), "with `products:`, per-environment values go under each product's `values.environments`"));
        }
        Ok(())
    }

    /// A customer file set: relative, inside the repo, and the override
    /// name has `{environment}`.
    fn check_files(&self, c: &CustomerFiles, at: &str) -> Result<(), ConfigError> {
        for (key, p) in [("overrides", &c.overrides), ("secrets", &c.secrets)] {
            if !p.contains("{environment}") {
                return Err(self.invalid(
                    &format!("{at}/{key}"),
                    format!("the {key} file name must contain `{{environment}}`"),
                ));
            }
        }
        for (key, p) in [
            ("variables", c.variables.as_str()),
            ("overrides", c.overrides.as_str()),
            ("secrets", c.secrets.as_str()),
        ] {
            if !is_relative_inside(Path::new(p)) {
                return Err(self.invalid(
                    &format!("{at}/{key}"),
                    "must be a relative path inside the customer repo",
                ));
            }
        }
        Ok(())
    }

    /// Gate settings, for declared environments only.
    fn check_policies(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        c.policies
            .check()
            .map_err(|m| self.invalid("/policies", m))?;
        c.policies
            .check_tools()
            .map_err(|(pointer, m)| self.invalid(&pointer, m))?;
        for env in c.policies.environments.keys() {
            if self.environment(env).is_none() {
                let pointer = format!("/policies/environments/{}", yaml::escape_token(env));
                return Err(ConfigError::Invalid {
                    location: Location {
                        file: self.doc.file.clone(),
                        pos: self.doc.key_pos(&pointer),
                    },
                    message: format!("policies for unknown environment `{env}`"),
                });
            }
        }
        Ok(())
    }

    pub fn path(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.config.environments.iter().find(|e| e.name == name)
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.config
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect()
    }

    /// The JSON Schema customer values must satisfy (this product's).
    pub fn schema_path(&self) -> &Path {
        self.config
            .schema
            .as_deref()
            .expect("checked: a schema without products, and in every product view")
    }

    /// The root module (this product's).
    pub fn working_dir(&self) -> &Path {
        self.config
            .terraform
            .working_dir
            .as_deref()
            .expect("checked: a working_dir without products, and in every product view")
    }

    /// The unit of `customer` × this product × `environment`.
    pub fn unit(&self, customer: &str, environment: &str) -> Unit {
        Unit::new(customer, self.product.as_deref(), environment)
    }

    /// The state key for a customer × environment.
    pub fn state_key(&self, customer: &str, environment: &str) -> String {
        self.config
            .terraform
            .state_key
            .replace("{customer}", customer)
            .replace("{environment}", environment)
    }
}

#[cfg(test)]
mod tests;
