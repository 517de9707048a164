//! The key job of a customer × environment, and the plan and apply jobs'
//! side of it (#82 point 2).
//!
//! The key job runs in the customer's own environment for its secrets
//! (`<env>-secrets-<slug>`, [`crate::config::Environment::secrets_environment`])
//! and reads its one identity there by a static reference
//! (`FLEETFORM_SECRETS_KEY`). [`hand_over`] checks it is the identity of
//! the recipient the registry gives the customer for the environment, and
//! encrypts it for the pair and the run to the environment's handoff
//! recipient ([`crate::dispatch::handoff`]); the template passes the
//! result to the plan and apply jobs, and [`handed_keys`] opens it there
//! with the handoff identity their environments hold. The plan and apply
//! jobs so receive one customer's identity, never the environment's whole
//! secrets context, and the key environment holds nothing shared.

use crate::ci::RunContext;
use crate::config::{Activity, Manager, Registry};
use crate::dispatch::handoff::{self, For};
use crate::error::{Error, Result, Say};
use crate::values::secret_files::{Keys, KEY_VAR};

/// The variable the plan and apply actions pass the key job's output in.
pub const HANDED_VAR: &str = "FLEETFORM_HANDED_SECRETS_KEY";
/// The handoff identity of the plan and apply environments.
pub const HANDOFF_KEY_VAR: &str = "FLEETFORM_HANDOFF_KEY";

/// What the key job hands over, checked before any I/O but the manager's
/// files.
#[derive(Debug)]
pub struct HandoffSettings {
    pub customer: String,
    pub environment: String,
}

/// The key job's identity, checked against the registry's recipient and
/// sealed for `settings`' pair and this run.
pub fn hand_over(
    settings: &HandoffSettings,
    manager: &Manager,
    registry: &Registry,
    ctx: &RunContext,
) -> Result<String> {
    let (slug, env) = (&settings.customer, &settings.environment);
    let customer = registry.require(slug).map_err(Error::refused)?;
    if !customer.takes_part(Activity::Plan) {
        return Err(Error::refused(format!(
            "`{slug}` takes part in no plan (revoked or offboarded): its secrets key is never handed over"
        )));
    }
    let environment = manager
        .environment(env)
        .ok_or_else(|| Error::usage(format!("fleetform.yml has no environment `{env}`")))?;
    let Some(recipient) = customer.secrets.get(env) else {
        return Err(Error::refused(format!(
            "{slug} has no secrets recipient for `{env}` in the registry: nothing to hand over"
        )));
    };
    let text = zeroize::Zeroizing::new(std::env::var(KEY_VAR).unwrap_or_default());
    let keys = Keys::parse(KEY_VAR, &text).map_err(|e| Error::refused(e.to_string()))?;
    let holds_it = Say::new(format!(
        "{KEY_VAR} holds no identity of {slug}'s `{env}` recipient ({recipient})"
    ))
    .help(format!(
        "store {slug}'s identity for `{env}` (the file `customers add` wrote) as the secret {KEY_VAR} of the GitHub environment {}, and nothing else of another customer there",
        environment.secrets_environment(slug)
    ));
    if !keys.holds(recipient) {
        return Err(Error::refused(holds_it));
    }
    let handoff_recipient = manager
        .config
        .secrets
        .as_ref()
        .and_then(|s| s.handoff_recipients.get(env))
        .ok_or_else(|| {
            Error::usage(Say::new(format!(
                "fleetform.yml names no secrets.handoff_recipients.{env}: the key job hands {slug}'s identity to the plan and apply jobs encrypted to it"
            ))
            .help("run `fleetform doctor --fix --yes`: it makes each environment's handoff identity, stores it in the plan and apply environments and writes the recipients into fleetform.yml (commit it)"))
        })?;
    let run_id = run_id(ctx)?;
    let to = For {
        customer: slug,
        environment: env,
        run_id: &run_id,
    };
    handoff::seal(handoff_recipient, to, &text).map_err(|e| Error::failed(e.to_string()))
}

/// The identities the key job handed to this plan or apply job
/// ([`HANDED_VAR`]), opened for `slug` in whichever of `envs` they were
/// sealed for; none when nothing was handed over.
pub fn handed_keys(slug: &str, envs: &[String], ctx: &RunContext) -> Result<Option<Keys>> {
    let sealed = zeroize::Zeroizing::new(std::env::var(HANDED_VAR).unwrap_or_default());
    if sealed.trim().is_empty() {
        return Ok(None);
    }
    let run_id = run_id(ctx)?;
    let handoff_key = zeroize::Zeroizing::new(std::env::var(HANDOFF_KEY_VAR).unwrap_or_default());
    let mut last = None;
    for env in envs {
        let to = For {
            customer: slug,
            environment: env,
            run_id: &run_id,
        };
        match handoff::open(&handoff_key, to, &sealed) {
            Ok(text) => {
                let keys = Keys::parse("the handed-over secrets key", &text)
                    .map_err(|e| Error::refused(e.to_string()))?;
                return Ok(Some(keys));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::refused(match last {
        Some(e) => e.to_string(),
        None => "a secrets key was handed over, but no environment is planned here".into(),
    }))
}

fn run_id(ctx: &RunContext) -> Result<String> {
    ctx.run_id.clone().ok_or_else(|| {
        Error::usage(
            "GITHUB_RUN_ID is not set: a secrets key is handed over only between the jobs of one GitHub Actions run",
        )
    })
}
