//! A pair's secrets for its plan: the customer's secrets file of the
//! environment, checked against the registry's recipient, decrypted with
//! the job's key, each value checked against its schema property (only
//! the keyword that failed is named) and bound for a `sensitive` Terraform
//! variable. Nothing here writes a value anywhere: the values go to
//! Terraform's environment, and to the runner's mask list.

use serde_json::Value;

use crate::config::Customer;
use crate::data::summary::SecretAge;
use crate::data::Diagnostic;
use crate::values::customer::CustomerDocs;
use crate::values::secret_ages;
use crate::values::secret_files::{self, Keys, Secret, SecretError};
use crate::yaml::Location;

use super::{Engine, RunError};

fn located(e: SecretError) -> RunError {
    RunError::Values(vec![Diagnostic {
        location: e.location,
        pointer: None,
        message: e.message,
    }])
}

fn at(location: &Location, message: String) -> Diagnostic {
    Diagnostic {
        location: location.clone(),
        pointer: None,
        message,
    }
}

impl Engine<'_> {
    /// The decrypted secrets of `customer` × `env` and their ages (for
    /// the plan's summary and comment): none without a secrets file for
    /// the environment.
    pub(super) fn secrets_for(
        &self,
        customer: &Customer,
        env: &str,
        docs: &CustomerDocs,
    ) -> Result<(Vec<Secret>, Vec<SecretAge>), RunError> {
        let Some((shown, bytes)) = docs.secrets.get(env) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let file = secret_files::parse(shown, bytes).map_err(located)?;
        let who = format!("{}/{env}", customer.slug);
        if !customer.is_active() {
            return Err(RunError::Refused(format!(
                "{who} is revoked: its secrets are never decrypted"
            )));
        }
        let Some(recipient) = customer.secrets.get(env) else {
            return Err(RunError::Refused(format!(
                "{} holds secrets for `{env}`, but {who} has no recipient in the registry: `fleetform customers add` makes one per environment when fleetform.yml has `secrets:`",
                shown.display()
            )));
        };
        let keys = Keys::from_env(&customer.slug).map_err(|e| RunError::Refused(e.to_string()))?;
        let secrets = secret_files::decrypt(&file, &who, recipient, &keys).map_err(located)?;
        let mut problems = self.terraform_takes(&file)?;
        problems.extend(self.shapes(&file, &secrets));
        if !problems.is_empty() {
            return Err(RunError::Values(problems));
        }
        let max = secret_ages::max_age(self.manager, env);
        Ok((secrets, secret_ages::ages(&file, max, secret_ages::today())))
    }

    /// Each secret reaches a variable the root module declares with
    /// `sensitive = true` (Terraform then never shows it in a plan).
    fn terraform_takes(
        &self,
        file: &secret_files::SecretsFile,
    ) -> Result<Vec<Diagnostic>, RunError> {
        let dir = self.manager.path(self.manager.working_dir());
        let declared = crate::terraform::variables::declared(&dir)
            .map_err(|m| RunError::Refused(format!("reading the root module's variables: {m}")))?;
        let module = crate::config::display_path(&dir);
        Ok(file
            .entries
            .iter()
            .filter_map(|e| match declared.get(&e.name) {
                None => Some(at(&e.location, format!(
                    "secret `{}`: the root module ({}) declares no `variable \"{}\"`, so Terraform would never receive it; ask the provider to declare it with `sensitive = true`",
                    e.name, module.display(), e.name
                ))),
                Some(d) if !d.sensitive => Some(at(&e.location, format!(
                    "secret `{}`: `variable \"{}\"` in {} is not `sensitive = true`, so Terraform would show it in plans; the provider must mark it sensitive (nothing was planned)",
                    e.name, e.name, module.display()
                ))),
                Some(_) => None,
            })
            .collect())
    }

    /// Each decrypted value against its property in the schema, reported
    /// by keyword only, never by value.
    fn shapes(&self, file: &secret_files::SecretsFile, secrets: &[Secret]) -> Vec<Diagnostic> {
        let doc = &self.schema.document;
        let props = secret_files::secret_names(doc);
        let mut out = Vec::new();
        for (s, e) in secrets.iter().zip(&file.entries) {
            let Some(prop) = props.get(&s.name) else {
                continue;
            };
            let mut schema = serde_json::Map::new();
            for k in ["$schema", "$defs", "definitions"] {
                if let Some(v) = doc.get(k) {
                    schema.insert(k.to_string(), v.clone());
                }
            }
            schema.insert("allOf".into(), Value::Array(vec![prop.clone()]));
            let Ok(v) = jsonschema::validator_for(&Value::Object(schema)) else {
                continue; // the schema itself was checked when loaded
            };
            let instance = Value::String(s.value.to_string());
            let failed: Vec<String> = v
                .iter_errors(&instance)
                .map(|err| {
                    let path = err.schema_path().to_string();
                    path.rsplit('/').next().unwrap_or("schema").to_string()
                })
                .collect();
            if !failed.is_empty() {
                out.push(at(&e.location, format!(
                    "secret `{}` ({}) does not satisfy its schema property: {} (its value is not shown)",
                    s.name,
                    s.source,
                    failed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        out
    }
}
