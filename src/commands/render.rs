//! `fleetform render`: the final Terraform variables of one customer ×
//! environment, optionally with the layer and position of every value.

use serde::Serialize;

use crate::cli::RenderArgs;
use crate::commands::{engine, load_manager};
use crate::customer::{self, CustomerSource};
use crate::engine::RunError;
use crate::error::{Error, Result};
use crate::layers::Origin;
use crate::output::{table, Output};

#[derive(Serialize)]
struct Explained<'a> {
    pointer: String,
    value: &'a serde_json::Value,
    #[serde(flatten)]
    origin: Option<Origin>,
}

pub fn run(args: &RenderArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    if args.json && !args.explain {
        return Err(Error::Usage(
            "--json goes with --explain (render prints JSON already)".into(),
        ));
    }
    let (manager, registry) = load_manager(manager_dir)?;
    let customer = registry
        .get(&args.customer)
        .ok_or_else(|| Error::Usage(format!("customer `{}` is not registered", args.customer)))?;
    if manager.environment(&args.environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`; fleetform.yml declares: {}",
            args.environment,
            manager.environment_names().join(", ")
        )));
    }
    if !customer.environments.contains(&args.environment) {
        return Err(Error::Usage(format!(
            "environment `{}` is not enabled for `{}` (enabled: {})",
            args.environment,
            customer.slug,
            customer.environments.join(", ")
        )));
    }
    let dir = registry.customer_dir(customer).ok_or_else(|| {
        Error::Usage(format!(
            "customer `{}` has no local `path` in the registry",
            customer.slug
        ))
    })?;
    let engine = engine(&manager, false, None)?;
    let source = CustomerSource::from_dir(&manager, &dir, std::slice::from_ref(&args.environment))
        .map_err(|d| Error::Values(vec![d]))?;
    let docs = customer::check(&source, &engine.schema).map_err(Error::Values)?;
    let layered = engine
        .render(customer, &args.environment, &docs)
        .map_err(|e| match e {
            RunError::Values(d) => Error::Values(d),
            other => Error::Failed(other.to_string()),
        })?;
    if !args.explain {
        out.result(&serde_json::to_string_pretty(&layered.value).expect("serialisable"));
        return Ok(());
    }
    let leaves: Vec<Explained> = layered
        .leaves()
        .into_iter()
        .map(|(pointer, value)| Explained {
            origin: layered.origin(&pointer),
            pointer,
            value,
        })
        .collect();
    if args.json {
        out.result(&serde_json::to_string_pretty(&leaves).expect("serialisable"));
    } else {
        let rows: Vec<Vec<String>> = leaves
            .iter()
            .map(|l| {
                let (layer, at) = match &l.origin {
                    Some(o) => (o.layer.to_string(), o.location.to_string()),
                    None => ("-".into(), "-".into()),
                };
                vec![l.pointer.clone(), l.value.to_string(), layer, at]
            })
            .collect();
        out.result(table(&["KEY", "VALUE", "LAYER", "SET AT"], &rows).trim_end());
    }
    Ok(())
}
