//! A pair's secrets for its plan: the customer's secrets file of the
//! environment, checked against the registry's recipient, decrypted with
//! the job's key, each value checked against its schema property (only
//! the keyword that failed is named) and bound for a `sensitive` Terraform
//! variable. Nothing here writes a value anywhere: the values go to
//! Terraform's environment, and to the runner's mask list.
//!
//! And for its apply, the secrets bound for an `ephemeral` variable again
//! (Terraform keeps none of them in the saved plan and asks for each one
//! when the plan is applied), decrypted from the very files the plan was
//! made from: the customer's, kept in the plan folder ([`FILES_FILE`]),
//! and the provider's, in the manager repo the apply checked out.

use serde_json::Value;

use crate::config::Activity;
use crate::config::Customer;
use crate::data::summary::SecretAge;
use crate::data::Diagnostic;
use crate::values::customer::CustomerDocs;
use crate::values::keyring;
use crate::values::secret_ages;
use crate::values::secret_files::{self, Keys, Secret, SecretError, SecretsFile};
use fleetform_yaml::Location;

use super::Engine;
use super::FILES_FILE;
use crate::error::{Error, Say};

/// The root module's variables by name, as Terraform reads them.
type Declared = std::collections::BTreeMap<String, crate::terraform::variables::Declared>;

/// The names of secrets an apply decrypts again (those bound for an
/// `ephemeral` variable); `None`: every one (a plan).
type Only<'a> = Option<&'a std::collections::BTreeSet<String>>;

/// What the reason of a pair withheld from a preview says (impact tells
/// it apart from a failure by it).
pub const WITHHELD: &str = "is not previewed: it has secrets";

/// The provider's identities for its provider-wide secrets (age identity
/// lines), held by the plan and apply environments of each environment.
pub const PROVIDER_KEY_VAR: &str = "FLEETFORM_PROVIDER_SECRETS_KEY";

/// Names both the customer's and the provider's file hold.
fn both(customer: &SecretsFile, provider: &SecretsFile) -> Vec<Diagnostic> {
    customer
        .entries
        .iter()
        .filter(|e| provider.entries.iter().any(|p| p.name == e.name))
        .map(|e| {
            at(&e.location, format!(
                "secret `{}` is also a provider-wide secret ({}): one source per variable; remove it from one of the two",
                e.name,
                provider.file.display()
            ))
        })
        .collect()
}

fn located(e: SecretError) -> Error {
    Error::Values(vec![Diagnostic {
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

/// Whether this process holds a customer secrets key (a job's
/// `FLEETFORM_SECRETS_KEY`, a customer's `FLEETFORM_SECRETS_KEY_<SLUG>` or
/// the fleet's), so `validate` can check the decrypted values too.
pub fn holds_a_key() -> bool {
    let own = format!("{}_", secret_files::KEY_VAR);
    std::env::vars_os().any(|(k, v)| {
        !v.is_empty()
            && k.to_str().is_some_and(|k| {
                k == secret_files::KEY_VAR || k.starts_with(&own) || k == keyring::FLEET_KEY_VAR
            })
    })
}

impl Engine<'_> {
    /// `validate`'s check of a customer's secrets file for `env` with the
    /// keys this process holds: decrypted, each value checked against its
    /// schema property and its Terraform variable, then dropped. Nothing
    /// without a secrets file; the values are never shown.
    pub fn check_secrets(
        &self,
        customer: &Customer,
        env: &str,
        docs: &CustomerDocs,
    ) -> Vec<Diagnostic> {
        let checked = self
            .customer_secrets(customer, env, docs)
            .and_then(|found| {
                let Some((file, secrets)) = found else {
                    return Ok(Vec::new());
                };
                let mut problems = self.terraform_takes(&file, &self.declared()?);
                problems.extend(self.shapes(&file, &secrets));
                Ok(problems)
            });
        match checked {
            Ok(problems) => problems,
            Err(Error::Values(d)) => d,
            Err(e) => {
                let file = docs
                    .secrets
                    .get(env)
                    .map(|(p, _)| p.clone())
                    .unwrap_or_default();
                vec![at(
                    &Location {
                        file,
                        pos: fleetform_yaml::Pos { line: 1, col: 1 },
                    },
                    e.to_string(),
                )]
            }
        }
    }

    /// The decrypted secrets of `customer` × `env`, and their ages (for the
    /// plan's summary and comment): the customer's secrets file of the
    /// environment and the provider-wide one, if any (a name in both is an
    /// error, never a silent override).
    pub(super) fn secrets_for(
        &self,
        customer: &Customer,
        env: &str,
        docs: &CustomerDocs,
    ) -> Result<(Vec<Secret>, Vec<SecretAge>), Error> {
        if self.withhold_secrets {
            self.withheld(customer, env, docs)?;
            return Ok((Vec::new(), Vec::new()));
        }
        let mut found = Vec::new();
        if let Some(pair) = self.customer_secrets(customer, env, docs)? {
            found.push(pair);
        }
        if let Some(pair) = self.provider_secrets(env, None)? {
            found.push(pair);
        }
        if found.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        // The root module read once, for every file's secrets.
        let declared = self.declared()?;
        let mut problems = Vec::new();
        for (file, secrets) in &found {
            problems.extend(self.terraform_takes(file, &declared));
            problems.extend(self.shapes(file, secrets));
        }
        if let [(customer_file, _), (provider_file, _)] = found.as_slice() {
            problems.extend(both(customer_file, provider_file));
        }
        if !problems.is_empty() {
            return Err(Error::Values(problems));
        }
        let (max, today) = (
            secret_ages::max_age(self.manager, env),
            secret_ages::today(),
        );
        let names: Vec<&str> = found
            .iter()
            .flat_map(|(f, _)| f.entries.iter().map(|e| e.name.as_str()))
            .collect();
        let stored = crate::terraform::variables::not_ephemeral(&declared, names);
        let ages = found
            .iter()
            .flat_map(|(file, _)| secret_ages::ages(file, max, today))
            .map(|a| SecretAge {
                stored: stored.contains(&a.name),
                ..a
            })
            .collect();
        Ok((found.into_iter().flat_map(|(_, s)| s).collect(), ages))
    }

    fn customer_secrets(
        &self,
        customer: &Customer,
        env: &str,
        docs: &CustomerDocs,
    ) -> Result<Option<(SecretsFile, Vec<Secret>)>, Error> {
        let Some((shown, bytes)) = docs.secrets.get(env) else {
            return Ok(None);
        };
        self.customer_file_secrets(customer, env, (shown, bytes), None)
    }

    /// The secrets of the customer's secrets file of `env` (`shown`,
    /// `bytes`), those named in `only` when given.
    fn customer_file_secrets(
        &self,
        customer: &Customer,
        env: &str,
        (shown, bytes): (&std::path::Path, &[u8]),
        only: Only<'_>,
    ) -> Result<Option<(SecretsFile, Vec<Secret>)>, Error> {
        // A revoked customer's secrets are never decrypted, whoever holds
        // its key: the only plan it still gets is its offboarding's
        // destroy, which goes on without them (each secret's variable
        // takes its default; the provider-wide secrets, which the
        // providers may need to destroy, still come).
        if !customer.takes_part(Activity::Plan) {
            return Ok(None);
        }
        let mut file = secret_files::parse(shown, bytes).map_err(located)?;
        if let Some(only) = only {
            file.entries.retain(|e| only.contains(&e.name));
            if file.entries.is_empty() {
                return Ok(None);
            }
        }
        let who = format!("{}/{env}", customer.slug);
        let Some(recipient) = customer.secrets.get(env) else {
            return Err(Error::refused(format!(
                "{} holds secrets for `{env}`, but {who} has no recipient in the registry: `fleetform customers add` makes one per environment when fleetform.yml has `secrets:`",
                shown.display()
            )));
        };
        let mut keys = Keys::from_env(&customer.slug).map_err(|e| Error::refused(e.to_string()))?;
        if let Some(handed) = &self.handed_keys {
            keys.extend(handed);
        }
        if !keys.holds(recipient) {
            if let Some(id) = self.keyring_identity(&customer.slug, env)? {
                keys.add(id);
            }
        }
        let secrets = secret_files::decrypt(&file, &who, recipient, &keys).map_err(located)?;
        Ok(Some((file, secrets)))
    }

    /// The secrets an apply of the plan in `dir` hands Terraform again:
    /// each one bound for an `ephemeral` variable of the root module,
    /// from the customer's secrets file the plan was made from (kept in
    /// the plan folder, its digest checked) and the provider-wide file of
    /// the manager repo. None (and no key needed) when no secret is bound
    /// for an ephemeral variable: the others are in the saved plan.
    pub(super) fn secrets_for_apply(
        &self,
        customer: &Customer,
        env: &str,
        dir: &std::path::Path,
    ) -> Result<Vec<Secret>, Error> {
        if self.manager.config.secrets.is_none() {
            return Ok(Vec::new());
        }
        let ephemeral: std::collections::BTreeSet<String> = self
            .declared()?
            .into_iter()
            .filter(|(_, d)| d.ephemeral)
            .map(|(name, _)| name)
            .collect();
        if ephemeral.is_empty() {
            return Ok(Vec::new());
        }
        let rel = self
            .manager
            .config
            .customer
            .secrets
            .replace("{environment}", env);
        let mut out = Vec::new();
        if let Some((shown, bytes)) = planned_file(dir, &rel)? {
            if let Some((_, s)) =
                self.customer_file_secrets(customer, env, (&shown, &bytes), Some(&ephemeral))?
            {
                out.extend(s);
            }
        }
        if let Some((_, s)) = self.provider_secrets(env, Some(&ephemeral))? {
            out.extend(s);
        }
        Ok(out)
    }

    /// A plan of an unreviewed manager change (impact) never decrypts: a
    /// pair with a secrets file (the customer's or the provider-wide one)
    /// is refused, saying why; one without plans as usual.
    fn withheld(&self, customer: &Customer, env: &str, docs: &CustomerDocs) -> Result<(), Error> {
        let provider = match &self.manager.config.secrets {
            Some(c) => self.manager_file(&c.file_for(env))?,
            None => None,
        };
        let file = match (docs.secrets.get(env), provider) {
            (Some((shown, _)), _) => shown.display().to_string(),
            (None, Some((shown, _))) => shown.display().to_string(),
            (None, None) => return Ok(()),
        };
        Err(Error::Withheld(format!(
            "{}/{env} {WITHHELD} ({file}), and a preview of a manager change no second person has reviewed never decrypts them; its plan comes with the reviewed rollout or deploy",
            customer.slug
        ).into()))
    }

    /// The pair's identity from the fleet keyring, in a job holding the
    /// fleet key (`FLEETFORM_FLEET_SECRETS_KEY`) with `secrets.fleet_recipient`
    /// set; `None` otherwise or when the keyring has no entry for the pair.
    fn keyring_identity(
        &self,
        slug: &str,
        env: &str,
    ) -> Result<Option<age::x25519::Identity>, Error> {
        let Some(config) = &self.manager.config.secrets else {
            return Ok(None);
        };
        let Some(fleet_recipient) = config.fleet_recipient_for(env) else {
            return Ok(None);
        };
        let fleet = keyring::fleet_keys().map_err(Error::refused)?;
        if fleet.is_empty() {
            return Ok(None);
        }
        let Some((shown, bytes)) = self.manager_file(&config.keyring_for(env))? else {
            return Ok(None);
        };
        let file = keyring::parse(&shown, &bytes).map_err(located)?;
        keyring::open(&file, fleet_recipient, &fleet, slug, env).map_err(located)
    }

    /// A file of the manager repo (`rel`, under its root, never through a
    /// link out of it): where it is shown, and its bytes; `None` when absent.
    fn manager_file(&self, rel: &str) -> Result<Option<(std::path::PathBuf, Vec<u8>)>, Error> {
        let limit = fleetform_yaml::Limits::default().max_bytes as u64;
        let shown = crate::config::display_path(&self.manager.path(std::path::Path::new(rel)));
        match crate::util::fs::read_under(&self.manager.root, std::path::Path::new(rel), limit) {
            Ok(b) => Ok(Some((shown, b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::refused(format!("{}: {}", shown.display(), e.reason))),
        }
    }

    /// The provider-wide secrets of `env` (fleetform.yml `secrets.file`,
    /// in the manager repo), with the provider's key for the environment.
    fn provider_secrets(
        &self,
        env: &str,
        only: Only<'_>,
    ) -> Result<Option<(SecretsFile, Vec<Secret>)>, Error> {
        let Some(config) = &self.manager.config.secrets else {
            return Ok(None);
        };
        let rel = config.file_for(env);
        let Some((shown, bytes)) = self.manager_file(&rel)? else {
            return Ok(None);
        };
        let mut file = secret_files::parse(&shown, &bytes).map_err(located)?;
        if let Some(only) = only {
            file.entries.retain(|e| only.contains(&e.name));
            if file.entries.is_empty() {
                return Ok(None);
            }
        }
        let who = format!("the provider's `{env}`");
        let Some(recipient) = config.recipients.get(env) else {
            return Err(Error::refused(format!(
                "{} holds provider-wide secrets for `{env}`, but fleetform.yml names no `secrets.recipients.{env}`: add the provider's age recipient for it",
                shown.display()
            )));
        };
        let text = zeroize::Zeroizing::new(std::env::var(PROVIDER_KEY_VAR).unwrap_or_default());
        let keys =
            Keys::parse(PROVIDER_KEY_VAR, &text).map_err(|e| Error::refused(e.to_string()))?;
        // The provider's own key missing is the provider's to fix, never a
        // problem of the customer's values to list on its pull request.
        if !keys.holds(recipient) {
            return Err(Error::refused(
                Say::new(format!(
                    "no key for {who} ({recipient}) in {PROVIDER_KEY_VAR}, which every plan of `{env}` needs for {}",
                    shown.display()
                ))
                .help(format!(
                    "store the provider's identity for `{env}` as the secret {PROVIDER_KEY_VAR} of this job's environment (the workflow templates pass it to fleetform)"
                )),
            ));
        }
        let secrets = secret_files::decrypt(&file, &who, recipient, &keys).map_err(located)?;
        Ok(Some((file, secrets)))
    }

    /// The root module's variables, as Terraform reads them.
    pub(super) fn declared(&self) -> Result<Declared, Error> {
        let dir = self.manager.path(self.manager.working_dir());
        crate::terraform::variables::declared(&dir)
            .map_err(|m| Error::refused(format!("reading the root module's variables: {m}")))
    }

    /// Each secret reaches a variable the root module declares with
    /// `sensitive = true` (Terraform then never shows it in a plan); one
    /// also `ephemeral` stays out of the plan file and the state, and its
    /// apply decrypts it again.
    fn terraform_takes(&self, file: &SecretsFile, declared: &Declared) -> Vec<Diagnostic> {
        let dir = self.manager.path(self.manager.working_dir());
        let module = crate::config::display_path(&dir);
        file
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
            .collect()
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

/// The file at `rel` of the customer's files the plan in `dir` was made
/// from (its shown path ends with `rel`), its content checked against the
/// digest kept with it; `None` when the plan was made without one.
fn planned_file(
    dir: &std::path::Path,
    rel: &str,
) -> Result<Option<(std::path::PathBuf, Vec<u8>)>, Error> {
    let path = dir.join(FILES_FILE);
    let bytes = crate::util::fs::read_input(&path)
        .map_err(|e| Error::refused(format!("{}: {}", path.display(), e)))?;
    let files: Vec<crate::records::AppliedFile> = serde_json::from_slice(&bytes).map_err(|e| {
        Error::refused(format!(
            "{}: not the customer files of a plan ({e}); plan again",
            path.display()
        ))
    })?;
    let suffix = format!("/{rel}");
    let Some(f) = files
        .into_iter()
        .find(|f| f.path == rel || f.path.ends_with(&suffix))
    else {
        return Ok(None);
    };
    if crate::util::fs::sha256_bytes(f.content.as_bytes()) != f.sha256 {
        return Err(Error::refused(format!(
            "{}: the content kept for {} does not match its digest; nothing was applied (plan again)",
            path.display(),
            f.path
        )));
    }
    Ok(Some((
        std::path::PathBuf::from(f.path),
        f.content.into_bytes(),
    )))
}
