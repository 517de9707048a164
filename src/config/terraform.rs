//! `terraform:` in fleetform.yml: the engine, where state lives and the
//! state key per customer × environment (and its check); and `state:`,
//! how long a state stays recoverable.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::*;

/// The Terraform (or OpenTofu) side.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformConfig {
    /// Root module directory, relative to the manager repo (required
    /// without `products:`; each product names its own).
    pub working_dir: Option<RepoPath>,
    #[serde(default)]
    pub engine: Engine,
    /// The engine's exact version (e.g. `1.11.4`): every workflow job
    /// installs it (the repository variable FLEETFORM_TERRAFORM_VERSION
    /// holds the same; `doctor` compares them), a plan made with another
    /// is refused, and a saved plan is applied only with the version that
    /// made it. `init` writes the version it finds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<EngineVersion>,
    #[serde(default)]
    pub backend: Backend,
    /// State key per customer × environment; `{customer}` and `{environment}`
    /// are replaced.
    #[serde(default = "default_state_key")]
    pub state_key: String,
    /// Variables fleetform withholds from Terraform by default (its own
    /// tokens and settings, the runner's tokens and files; see
    /// `crate::util::process`) that Terraform should get anyway, by exact name.
    #[serde(default)]
    pub pass_env: Vec<String>,
}

fn default_state_key() -> String {
    "{customer}/{environment}/terraform.tfstate".into()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[default]
    Terraform,
    Tofu,
}

impl Engine {
    pub fn binary(self) -> &'static str {
        match self {
            Engine::Terraform => "terraform",
            Engine::Tofu => "tofu",
        }
    }
}

/// An engine version as `hashicorp/setup-terraform` and
/// `opentofu/setup-opentofu` take it exactly: `MAJOR.MINOR.PATCH`, with an
/// optional pre-release (`1.12.0-rc1`); never a range, which would let
/// two jobs install two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EngineVersion(pub String);

impl<'de> Deserialize<'de> for EngineVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let (core, pre) = raw.split_once('-').unwrap_or((&raw, "ok"));
        let parts: Vec<&str> = core.split('.').collect();
        let numeric = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let pre_ok = !pre.is_empty()
            && pre
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if numeric && pre_ok {
            Ok(EngineVersion(raw))
        } else {
            Err(serde::de::Error::custom(format!(
                "`{raw}` is not an exact engine version like 1.11.4: every job must install the same one"
            )))
        }
    }
}

/// Where state lives. Customer values can never change this.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Backend {
    /// State files under `state_dir` (relative to the manager repo).
    Local {
        #[serde(default = "default_state_dir")]
        state_dir: RepoPath,
    },
    /// Terraform's built-in `s3` backend.
    S3 {
        bucket: String,
        region: String,
        /// Custom endpoint (S3-compatible stores, tests).
        endpoint: Option<String>,
        #[serde(default)]
        use_path_style: bool,
        #[serde(default = "yes")]
        use_lockfile: bool,
    },
}

impl Backend {
    /// Terraform's name for the backend type.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Local { .. } => "local",
            Backend::S3 { .. } => "s3",
        }
    }
}

fn yes() -> bool {
    true
}
fn default_state_dir() -> RepoPath {
    RepoPath::default_for(".fleetform/state")
}

impl Default for Backend {
    fn default() -> Self {
        Backend::Local {
            state_dir: default_state_dir(),
        }
    }
}

/// A state-key template must be relative, keep `..` out and use only the
/// known placeholders.
pub(super) fn check_key_template(t: &str, product: bool) -> Result<(), String> {
    if !t.contains("{customer}") {
        return Err(
            "the state key must contain `{customer}` so customers never share state".into(),
        );
    }
    let mut probe = t.replace("{customer}", "c").replace("{environment}", "e");
    if product {
        probe = probe.replace("{product}", "p");
    }
    if probe.contains('{') || probe.contains('}') {
        return Err(if product {
            "only `{customer}`, `{product}` and `{environment}` may appear in the state key"
        } else {
            "only `{customer}` and `{environment}` may appear in the state key"
        }
        .into());
    }
    if !t.contains("{environment}") {
        return Err(
            "the state key must contain `{environment}` so environments never share state".into(),
        );
    }
    if !is_relative_inside(Path::new(&probe)) {
        return Err("the state key must be a relative path without `..`".into());
    }
    Ok(())
}

/// The provider's promise about states (`state:` in fleetform.yml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Days a state's earlier versions must stay in the bucket: doctor
    /// warns of a lifecycle rule that expires them sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_days: Option<u32>,
    /// The role (its ARN) the doctor workflow assumes to read the state
    /// bucket's settings: `doctor --fix` sets the repository variable
    /// FLEETFORM_DOCTOR_ROLE to it (and FLEETFORM_DOCTOR_REGION to the
    /// backend's region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctor_role: Option<String>,
}

impl StateConfig {
    /// Nothing stated (left out of a written fleetform.yml).
    pub fn is_default(&self) -> bool {
        *self == StateConfig::default()
    }
}
