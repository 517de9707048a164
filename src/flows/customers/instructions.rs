//! `customers instructions`: what a new customer does in its repo, rendered
//! from the manager's own schema, templates and set-up.

use std::path::PathBuf;

use crate::config::Activity;
use crate::config::{is_repo, Manager, Registry};
use crate::dispatch::auth;
use crate::error::{Error, Result};
use crate::output::Output;

pub fn instructions(
    manager: &Manager,
    slug: &str,
    manager_repo: Option<&str>,
    (template, action_ref, relay_url): (Option<&PathBuf>, Option<&str>, Option<&str>),
    out: &Output,
) -> Result<()> {
    let relay_repo = manager
        .config
        .relay
        .as_ref()
        .map(|r| r.manager_repo.as_str());
    let Some(manager_repo) = manager_repo.or(relay_repo) else {
        return Err(Error::usage(
            "which manager repo? pass --manager-repo OWNER/NAME (or set FLEETFORM_MANAGER_REPO, or `relay.manager_repo` in fleetform.yml)"));
    };
    if !is_repo(manager_repo) {
        return Err(Error::usage(format!(
            "--manager-repo `{manager_repo}` is not owner/name"
        )));
    }
    let registry = Registry::load(manager)?;
    let c = registry.require(slug).map_err(Error::usage)?;
    if !c.takes_part(Activity::Onboard) {
        return Err(Error::usage(format!("customer `{slug}` is revoked")));
    }
    let version = env!("CARGO_PKG_VERSION");
    let action_ref = action_ref
        .map(str::to_string)
        .unwrap_or_else(crate::version::action_ref);
    // Behind the relay the customer holds nothing of the provider's; the
    // token path is the legacy one, for managers without `relay:`.
    let relay = manager.config.relay.as_ref();
    let trigger = match relay {
        Some(_) => crate::report::CUSTOMER_WORKFLOW,
        None => crate::report::CUSTOMER_WORKFLOW_TOKEN,
    };
    let workflow = crate::report::workflow::customer_workflow(trigger, &action_ref, version);
    let pinned_to = crate::report::workflow::describe_pin(&action_ref, version);
    let source = instructions_template(manager, template)?;
    let (owner, name) = manager_repo.split_once('/').expect("checked");
    let apply_note = apply_note(manager);
    let (starter, required) = starter_variables(manager, c)?;
    let ctx = minijinja::context! {
        customer => minijinja::Value::from(minijinja::value::Serde(c)),
        manager_repo => manager_repo,
        manager_owner => owner,
        manager_name => name,
        schema_path => manager.config.schema.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        variables => manager.config.customer.variables.clone(),
        overrides => manager.config.customer.overrides.clone(),
        status_context => manager.config.status_context.clone(),
        version => version,
        action_ref => action_ref,
        pinned_to => pinned_to,
        workflow => workflow.trim_end(),
        apply_note => apply_note,
        key_secret => auth::KEY_ENV,
        relay => relay.is_some(),
        relay_audience => relay.map(|r| r.audience()).unwrap_or_default(),
        relay_workflows => relay.map(|r| r.workflows.clone()).unwrap_or_default(),
        relay_url => relay_url.unwrap_or("(the relay address we send you)"),
        starter => starter.as_deref().map(str::trim_end),
        required => required,
        secrets => secret_rows(manager, c),
        workflow_path => relay
            .and_then(|r| r.workflows.first().cloned())
            .unwrap_or_else(|| crate::report::CUSTOMER_WORKFLOW_PATH.to_string()),
    };
    let env = crate::report::markdown::environment();
    let text = match source {
        Some(src) => env.render_str(&src, ctx),
        None => env
            .get_template("instructions.md")
            .expect("embedded")
            .render(ctx),
    }
    .map_err(|e| Error::usage(format!("the instructions template failed: {e}")))?;
    out.document(text.trim_end());
    Ok(())
}

/// The customer's secrets recipients, one row per environment:
/// `(environment, file, recipient, max_age_days, blocks)`; `blocks`: the
/// environment's gates refuse a plan with a secret past its age
/// (`refuse_stale_secrets`), where otherwise the plan only warns.
fn secret_rows(
    manager: &Manager,
    c: &crate::config::Customer,
) -> Vec<(String, String, String, Option<u32>, bool)> {
    c.secrets
        .iter()
        .map(|(env, recipient)| {
            let gates = manager.config.policies.for_environment(env);
            (
                env.clone(),
                crate::values::customer::secrets_path(manager, env),
                recipient.clone(),
                crate::values::secret_ages::max_age(manager, env),
                gates.refuse_stale_secrets == Some(true),
            )
        })
        .collect()
}

/// The customer's starter `infra/variables.yml`, made from the manager's
/// schema and checked as `validate --customer` checks the customer's file
/// (schema, credentials, and rendered through the manager's layers for
/// each of its environments); without one that passes, the schema's
/// required keys instead. With products there is no one schema: neither.
pub fn starter_variables(
    manager: &Manager,
    c: &crate::config::Customer,
) -> Result<(Option<String>, Vec<String>)> {
    let Some(rel) = manager.config.schema.as_deref() else {
        return Ok((None, Vec::new()));
    };
    let path = manager.path(rel);
    let schema = crate::values::schema::Schema::load(&path, &crate::config::display_path(&path))?;
    let layers =
        crate::values::customer::ManagerLayers::load(manager, &schema).map_err(Error::Values)?;
    let hints = crate::values::starter::Hints {
        slug: &c.slug,
        environments: &c.environments,
    };
    let shown = std::path::Path::new(&manager.config.customer.variables);
    match crate::values::starter::checked(&schema, &hints, shown) {
        Ok(text) => {
            let problems =
                crate::values::starter::render_problems(&text, shown, &schema, &layers, c);
            if problems.is_empty() {
                Ok((Some(text), Vec::new()))
            } else {
                Ok((
                    None,
                    crate::values::starter::required_keys(&schema.document),
                ))
            }
        }
        Err(required) => Ok((None, required)),
    }
}

/// The instructions template: `--template`, else the manager's
/// `templates/instructions.md.j2`, else (`None`) the embedded one.
pub fn instructions_template(
    manager: &Manager,
    template: Option<&PathBuf>,
) -> Result<Option<String>> {
    match template {
        Some(p) => crate::util::fs::read_input_text(p)
            .map(Some)
            .map_err(|e| Error::usage(format!("{}: {e}", p.display()))),
        None => Ok(crate::util::fs::read_input_text(
            manager.root.join("templates/instructions.md.j2"),
        )
        .ok()),
    }
}

/// How each environment applies, e.g. `staging: automatic, production:
/// after the provider's approval`.
pub fn apply_note(manager: &Manager) -> String {
    manager
        .config
        .environments
        .iter()
        .map(|e| {
            let how = if e.auto_apply {
                "automatic"
            } else {
                "after the provider's approval"
            };
            format!("{}: {how}", e.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
