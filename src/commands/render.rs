//! `fleetform render`: the final Terraform variables of one customer ×
//! environment, optionally with the layer and position of every value; or,
//! with `--all --out DIR`, of every active customer × enabled environment,
//! written to `DIR/<customer>/<environment>.tfvars.json`.

use serde::Serialize;

use std::path::Path;

use crate::cli::RenderArgs;
use crate::commands::plan::{check_environments, environments_for, local_source};
use crate::config::{display_path, Customer};
use crate::error::{Error, Result};
use crate::output::{table, Output};
use crate::terraform::engine::{Engine, RunError};
use crate::values::customer::{self, CustomerSource, Diagnostic};
use crate::values::layers::Origin;

#[derive(Serialize)]
struct Explained<'a> {
    pointer: String,
    value: &'a serde_json::Value,
    #[serde(flatten)]
    origin: Option<Origin>,
}

pub fn run(args: &RenderArgs, manager_dir: &std::path::Path, out: &Output) -> Result<()> {
    if args.all {
        return run_all(args, manager_dir, out);
    }
    let (Some(wanted), Some(environment)) = (&args.customer, &args.environment) else {
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
    let (manager, registry) = crate::config::load(manager_dir)?;
    let customer = registry
        .get(wanted)
        .ok_or_else(|| Error::Usage(format!("customer `{wanted}` is not registered")))?;
    if manager.environment(environment).is_none() {
        return Err(Error::Usage(format!(
            "unknown environment `{}`; fleetform.yml declares: {}",
            environment,
            manager.environment_names().join(", ")
        )));
    }
    if !customer.environments.contains(environment) {
        return Err(Error::Usage(format!(
            "environment `{}` is not enabled for `{}` (enabled: {})",
            environment,
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
    let engine = crate::terraform::engine::build(&manager, false, None)?;
    let source = CustomerSource::from_dir(&manager, &dir, std::slice::from_ref(environment))
        .map_err(|d| Error::Values(vec![d]))?;
    let docs = customer::check(&source, &engine.schema).map_err(Error::Values)?;
    let layered = engine
        .render(customer, environment, &docs)
        .map_err(|e| match e {
            RunError::Values(d) => Error::Values(d),
            other => Error::Failed(other.to_string()),
        })?;
    if !args.explain {
        out.result(&to_json(&layered.value)?);
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
        out.result(&to_json(&leaves)?);
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

fn to_json(v: &impl Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Failed(format!("serialising: {e}")))
}

/// `render --all --out DIR`: every active customer × enabled environment
/// (only `--env` when given), checked and rendered exactly like the single
/// command, one customer per task on `--jobs` threads. The schema is
/// compiled and the manager layers are read once; each worker writes its
/// files as it goes, so memory does not grow with the fleet.
fn run_all(args: &RenderArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let Some(out_dir) = &args.out else {
        return Err(Error::Usage(
            "--all writes one file per customer × environment: give --out DIR".into(),
        ));
    };
    if args.jobs == Some(0) {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    let jobs = crate::fleet::parallel::jobs(args.jobs);
    let (manager, registry) = crate::config::load(manager_dir)?;
    let filter = args.environment.clone().map(|e| vec![e]);
    check_environments(&manager, filter.as_deref())?;
    let engine = crate::terraform::engine::build(&manager, false, None)?;
    let revoked = registry.customers.iter().filter(|c| !c.is_active()).count();
    let selected: Vec<(&Customer, Vec<String>)> = registry
        .customers
        .iter()
        .filter(|c| c.is_active())
        .map(|c| (c, environments_for(&manager, c, filter.as_deref())))
        .filter(|(_, envs)| !envs.is_empty())
        .collect();
    let source = local_source(&manager, &registry);
    let results = crate::fleet::parallel::map(&selected, jobs, |(c, envs)| {
        let src = match source(c, envs) {
            Ok(src) => src,
            Err(d) => return (0, d),
        };
        render_customer(&engine, c, envs, &src, out_dir)
    });
    let total: usize = selected.iter().map(|(_, envs)| envs.len()).sum();
    let written: usize = results.iter().map(|(n, _)| n).sum();
    for (_, problems) in &results {
        out.diagnostics(problems);
    }
    out.note(&format!(
        "rendered {written} of {total} customer × environment pairs to {}{}",
        display_path(out_dir).display(),
        if revoked > 0 {
            format!(" ({revoked} revoked customer(s) skipped)")
        } else {
            String::new()
        }
    ));
    if written < total {
        return Err(Error::Failed(format!(
            "{} of {total} customer × environment pairs failed",
            total - written
        )));
    }
    Ok(())
}

/// Checks one customer's files and writes a var file per environment that
/// renders; returns how many were written and every problem found.
fn render_customer(
    engine: &Engine<'_>,
    c: &Customer,
    envs: &[String],
    src: &CustomerSource,
    out_dir: &Path,
) -> (usize, Vec<Diagnostic>) {
    let docs = match customer::check(src, &engine.schema) {
        Ok(docs) => docs,
        Err(d) => return (0, d),
    };
    let dir = out_dir.join(&c.slug);
    let mut problems = Vec::new();
    let mut written = 0;
    let write_error = |e: crate::util::fs::FsError| Diagnostic {
        location: crate::yaml::Location {
            file: e.path.clone(),
            pos: crate::yaml::Pos { line: 1, col: 1 },
        },
        pointer: None,
        message: format!("cannot write: {}", e.reason),
    };
    // The customer's folder is never a planted symlink, and files are
    // replaced by a rename, never written through a link.
    if let Err(e) = crate::util::fs::ensure_dir(out_dir, Path::new(&c.slug)) {
        return (0, vec![write_error(e)]);
    }
    for env in envs {
        match engine.render(c, env, &docs) {
            Ok(layered) => {
                // The same bytes `render --customer C --env E` prints.
                let mut text = serde_json::to_string_pretty(&layered.value).expect("serialisable");
                text.push('\n');
                let path = dir.join(format!("{env}.tfvars.json"));
                match crate::util::fs::write_atomic(&path, text.as_bytes()) {
                    Ok(()) => written += 1,
                    Err(e) => problems.push(write_error(e)),
                }
            }
            Err(RunError::Values(d)) => problems.extend(d),
            Err(other) => problems.push(Diagnostic {
                location: crate::yaml::Location {
                    file: src.variables.0.clone(),
                    pos: crate::yaml::Pos { line: 1, col: 1 },
                },
                pointer: None,
                message: format!("{env}: {other}"),
            }),
        }
    }
    (written, problems)
}
