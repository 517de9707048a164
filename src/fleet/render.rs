//! Rendering (`fleetform render`): the final Terraform variables of one customer ×
//! environment, optionally with the layer and position of every value; or,
//! with `--all --out DIR`, of every active customer × enabled environment,
//! written to `DIR/<customer>/<environment>.tfvars.json`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{check_environments, environments_for, local_source};
use crate::config::Activity;
use crate::config::{display_path, Customer, Manager, Registry};
use crate::data::Diagnostic;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::output::{table, Output};
use crate::values::customer::{self, CustomerSource};
use crate::values::layers::{Layered, Origin};

#[derive(Serialize)]
struct Explained<'a> {
    pointer: String,
    value: &'a serde_json::Value,
    #[serde(flatten)]
    origin: Option<Origin>,
    /// The product whose layers these are (a manager with products).
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<String>,
}

/// Checked flags: one customer × environment on stdout, or every one
/// into a folder.
pub enum Settings {
    One {
        customer: String,
        product: Option<String>,
        environment: String,
        explain: bool,
        json: bool,
    },
    All {
        out: PathBuf,
        environment: Option<String>,
        jobs: usize,
    },
}

pub fn run(settings: Settings, manager_dir: &Path, out: &Output) -> Result<()> {
    match settings {
        Settings::All {
            out: out_dir,
            environment,
            jobs,
        } => run_all(&out_dir, environment, jobs, manager_dir, out),
        Settings::One {
            customer,
            product,
            environment,
            explain,
            json,
        } => {
            let (manager, registry) = crate::config::load(manager_dir)?;
            let view = manager
                .select_product(product.as_deref())
                .map_err(Error::usage)?;
            if let Some(p) = &view.product {
                check_enabled(&manager, &registry, &customer, p)?;
            }
            let (layered, secrets) = render_one(&view, &registry, &customer, &environment)?;
            if !explain {
                to_json(&layered.value, out)?;
                for (name, at) in &secrets {
                    out.note(&format!(
                        "`{name}` is a secret from {at}: decrypted only when planned, never rendered"
                    ));
                }
            } else {
                show_explained(&view, &layered, &secrets, json, out)?;
            }
            Ok(())
        }
    }
}

/// The registered customer `wanted`, with `environment` declared and
/// enabled for it.
fn checked_pair<'r>(
    manager: &Manager,
    registry: &'r Registry,
    wanted: &str,
    environment: &str,
) -> Result<&'r Customer> {
    let customer = registry.require(wanted).map_err(Error::usage)?;
    if manager.environment(environment).is_none() {
        return Err(Error::usage(format!(
            "unknown environment `{}`; fleetform.yml declares: {}",
            environment,
            manager.environment_names().join(", ")
        )));
    }
    if !customer.environments.iter().any(|e| e == environment) {
        return Err(Error::usage(crate::fleet::select::not_enabled(
            customer,
            environment,
        )));
    }
    Ok(customer)
}

/// Checks one customer's local files and renders one environment.
fn render_one(
    manager: &Manager,
    registry: &Registry,
    wanted: &str,
    environment: &str,
) -> Result<(Layered, Vec<(String, fleetform_yaml::Location)>)> {
    let customer = checked_pair(manager, registry, wanted, environment)?;
    let dir = crate::fleet::local_dir(registry, customer).map_err(|d| Error::Values(vec![d]))?;
    let engine = crate::engine::Engine::without_terraform(manager)?;
    let envs = [environment.to_string()];
    let source =
        CustomerSource::from_dir(manager, &dir, &envs).map_err(|d| Error::Values(vec![d]))?;
    let docs = customer::check(&source, &engine.schema).map_err(Error::Values)?;
    let layered = engine
        .render(customer, environment, &docs)
        .map_err(|e| match e {
            Error::Values(d) => Error::Values(d),
            other => Error::failed(other.to_string()),
        })?;
    Ok((layered, secret_sources(&docs, environment)?))
}

/// The secrets of the pair's secrets file (readable keys only; nothing
/// decrypted): each name and where it is.
fn secret_sources(
    docs: &customer::CustomerDocs,
    environment: &str,
) -> Result<Vec<(String, fleetform_yaml::Location)>> {
    let Some((shown, bytes)) = docs.secrets.get(environment) else {
        return Ok(Vec::new());
    };
    let file = crate::values::secret_files::parse(shown, bytes).map_err(|e| {
        Error::Values(vec![crate::data::Diagnostic {
            location: e.location,
            pointer: None,
            message: e.message,
        }])
    })?;
    Ok(file
        .entries
        .into_iter()
        .map(|e| (e.name, e.location))
        .collect())
}

/// The customer enables `product` (its `infra/products.yml`, within what
/// the manager allows).
fn check_enabled(manager: &Manager, registry: &Registry, slug: &str, product: &str) -> Result<()> {
    let Some(c) = registry.get(slug) else {
        return Ok(()); // reported by checked_pair
    };
    if let Some(enabled) = crate::fleet::products::missing_product(manager, registry, c, product)? {
        return Err(Error::usage(format!(
            "customer `{slug}` does not enable product `{product}` (enabled: {})",
            enabled.join(", ")
        )));
    }
    Ok(())
}

/// `--explain`: every value with the layer and position that set it, as
/// JSON or a table. With products, the product is part of every origin,
/// and the variables passed from needed products are listed with the
/// `needs:` entry that passes them (their values come at plan time).
fn show_explained(
    view: &Manager,
    layered: &Layered,
    secrets: &[(String, fleetform_yaml::Location)],
    json: bool,
    out: &Output,
) -> Result<()> {
    let mut leaves: Vec<Explained> = layered
        .leaves()
        .into_iter()
        .map(|(pointer, value)| Explained {
            origin: layered.origin(&pointer),
            pointer,
            value,
            product: view.product.clone(),
        })
        .collect();
    let pending = needed_outputs(view);
    let hidden =
        serde_json::Value::String("(secret: decrypted only when planned, never shown)".into());
    for (name, location) in secrets {
        leaves.push(Explained {
            pointer: format!("/{}", fleetform_yaml::escape_token(name)),
            value: &hidden,
            origin: Some(Origin {
                layer: crate::values::layers::Layer::Secret,
                location: location.clone(),
            }),
            product: view.product.clone(),
        });
    }
    for (pointer, value, origin) in &pending {
        leaves.push(Explained {
            pointer: pointer.clone(),
            value,
            origin: Some(origin.clone()),
            product: view.product.clone(),
        });
    }
    if json {
        to_json(&leaves, out)?;
    } else {
        let rows: Vec<Vec<String>> = leaves
            .iter()
            .map(|l| {
                let (layer, at) = match &l.origin {
                    Some(o) => (
                        match &l.product {
                            Some(p) => format!("{p}: {}", o.layer),
                            None => o.layer.to_string(),
                        },
                        o.location.to_string(),
                    ),
                    None => ("-".into(), "-".into()),
                };
                vec![l.pointer.clone(), l.value.to_string(), layer, at]
            })
            .collect();
        out.result(table(&["KEY", "VALUE", "LAYER", "SET AT"], &rows).trim_end());
    }
    Ok(())
}

/// The variables passed from needed products, each with the `needs:`
/// entry that passes it (their values come at plan time).
fn needed_outputs(view: &Manager) -> Vec<(String, serde_json::Value, Origin)> {
    view.needs()
        .into_iter()
        .flat_map(|(dep, vars)| {
            vars.into_iter()
                .map(move |(var, output)| (dep.clone(), var, output))
        })
        .map(|(dep, var, output)| {
            let at = format!(
                "/products/{}/needs/{}/{}",
                view.config
                    .products
                    .iter()
                    .position(|p| Some(&p.name) == view.product.as_ref())
                    .unwrap_or(0),
                fleetform_yaml::escape_token(&dep),
                fleetform_yaml::escape_token(&var)
            );
            (
                format!("/{}", fleetform_yaml::escape_token(&var)),
                serde_json::Value::String(format!(
                    "(output `{output}` of product `{dep}`, read at plan time)"
                )),
                Origin {
                    layer: crate::values::layers::Layer::ProductOutput,
                    location: view.doc.locate(&at),
                },
            )
        })
        .collect()
}

fn to_json(v: &impl Serialize, out: &Output) -> Result<()> {
    out.json(v)
        .map_err(|e| Error::failed(format!("serialising: {e}")))
}

/// `render --all --out DIR`: every active customer × enabled environment
/// (only `--env` when given), checked and rendered exactly like the single
/// command, one customer per task on `--jobs` threads. The schema is
/// compiled and the manager layers are read once; each worker writes its
/// files as it goes, so memory does not grow with the fleet.
fn run_all(
    out_dir: &Path,
    environment: Option<String>,
    jobs: usize,
    manager_dir: &Path,
    out: &Output,
) -> Result<()> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let filter = environment.map(|e| vec![e]);
    check_environments(&manager, filter.as_deref())?;
    let engine = crate::engine::Engine::without_terraform(&manager)?;
    let revoked = registry
        .customers
        .iter()
        .filter(|c| !c.takes_part(Activity::Plan))
        .count();
    let selected: Vec<(&Customer, Vec<String>)> = registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Plan))
        .map(|c| (c, environments_for(&manager, c, filter.as_deref())))
        .filter(|(_, envs)| !envs.is_empty())
        .collect();
    let source = local_source(&manager, &registry);
    let progress = out.progress(selected.len());
    let results = crate::fleet::parallel::map(&selected, jobs, |(c, envs)| {
        progress.started(&c.slug);
        let rendered = match source(c, envs) {
            Ok(src) => render_customer(&engine, c, envs, &src, out_dir),
            Err(d) => (0, d),
        };
        progress.counted();
        rendered
    });
    progress.done();
    let total: usize = selected.iter().map(|(_, envs)| envs.len()).sum();
    let written: usize = results.iter().map(|(n, _)| n).sum();
    for (_, problems) in &results {
        out.diagnostics(problems);
    }
    out.note(&format!(
        "rendered {written} of {total} customer × environment pairs to {}{}",
        display_path(out_dir).display(),
        if revoked > 0 {
            format!(
                " ({} skipped)",
                crate::util::text::count(revoked, "revoked customer", "revoked customers")
            )
        } else {
            String::new()
        }
    ));
    if written < total {
        return Err(Error::failed(format!(
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
        location: fleetform_yaml::Location {
            file: e.path.clone(),
            pos: fleetform_yaml::Pos { line: 1, col: 1 },
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
            Err(Error::Values(d)) => problems.extend(d),
            Err(other) => problems.push(Diagnostic {
                location: fleetform_yaml::Location {
                    file: src.variables.0.clone(),
                    pos: fleetform_yaml::Pos { line: 1, col: 1 },
                },
                pointer: None,
                message: format!("{env}: {other}"),
            }),
        }
    }
    (written, problems)
}
