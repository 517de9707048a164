//! Validation (`fleetform validate`): check customer variables against the schema, for
//! registry customers (with their override files, and rendered through the
//! manager's layers for every enabled environment) or for given files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

use crate::config::Activity;
use crate::config::{display_path, Customer, Manager, Registry};
use crate::data::Diagnostic;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::values::customer::{self, CustomerSource, ManagerLayers};
use crate::values::schema::Schema;
use crate::values::template::ValueTemplates;

/// What to validate: given files (against a schema), or registry customers.
pub enum Target {
    Files {
        schema: Option<PathBuf>,
        files: Vec<PathBuf>,
    },
    Customers(Vec<String>),
}

/// Checked flags.
pub struct Settings {
    pub target: Target,
    pub json: bool,
    pub jobs: usize,
    pub strict: bool,
}

#[derive(Debug, Serialize)]
struct Checked {
    name: String,
    valid: bool,
    problems: Vec<Diagnostic>,
}

/// Reads and checks one variables file on its own, against the schema
/// `compiled` holds once it is there (it reads and parses the file
/// meanwhile). `None` there: no schema, so nothing to report (the caller
/// fails instead).
fn check_file(f: &Path, compiled: &OnceLock<Option<Schema>>) -> Checked {
    let shown = display_path(f);
    let limit = fleetform_yaml::Limits::default().max_bytes as u64;
    let problems = match crate::util::fs::read_bounded(f, limit) {
        Ok(bytes) => {
            let src = CustomerSource {
                variables: (shown.clone(), bytes),
                overrides: Default::default(),
                secrets: Default::default(),
            };
            match (customer::parse_source(&src), compiled.wait()) {
                (Err(problems), _) => problems,
                (Ok(parsed), Some(schema)) => customer::problems(parsed, &src, schema),
                (Ok(_), None) => Vec::new(),
            }
        }
        Err(e) => vec![Diagnostic {
            location: fleetform_yaml::Location {
                file: shown.clone(),
                pos: fleetform_yaml::Pos { line: 1, col: 1 },
            },
            pointer: None,
            message: format!("cannot read: {}", e.reason),
        }],
    };
    Checked {
        name: shown.display().to_string(),
        valid: problems.is_empty(),
        problems,
    }
}

/// What checking a registry customer needs, loaded once.
struct CustomerCheck<'a> {
    manager: &'a Manager,
    registry: &'a Registry,
    schema: &'a Schema,
    layers: &'a ManagerLayers,
    templates: &'a ValueTemplates,
    /// With a secrets key in this process: decrypts each customer's
    /// secrets and checks their values (never shown).
    secrets: Option<crate::engine::Engine<'a>>,
}

impl CustomerCheck<'_> {
    /// Checks a registry customer's files, then renders every enabled
    /// environment exactly as `render` and `plan` do: template errors and
    /// credentials that only a rendered value shows are found here too.
    fn check(&self, c: &Customer) -> Checked {
        let problems = match crate::fleet::local_dir(self.registry, c) {
            Err(d) => vec![d],
            Ok(dir) => match CustomerSource::from_dir(self.manager, &dir, &c.environments)
                .map_err(|d| vec![d])
                .and_then(|src| customer::check(&src, self.schema))
            {
                Err(problems) => problems,
                Ok(docs) => self.render_all(c, &docs),
            },
        };
        Checked {
            name: c.slug.clone(),
            valid: problems.is_empty(),
            problems,
        }
    }

    /// Problems rendering each of the customer's environments (the same
    /// problem in several environments is reported once).
    fn render_all(&self, c: &Customer, docs: &customer::CustomerDocs) -> Vec<Diagnostic> {
        let mut seen = std::collections::BTreeSet::new();
        let mut problems = Vec::new();
        for env in &c.environments {
            let found = match customer::render(self.layers, docs, c, env, self.templates) {
                Err(ds) => ds,
                Ok(_) => match &self.secrets {
                    Some(engine) => engine.check_secrets(c, env, docs),
                    None => Vec::new(),
                },
            };
            for d in found {
                if seen.insert(d.to_string()) {
                    problems.push(d);
                }
            }
        }
        problems
    }
}

/// Checks variables files against `--schema` (the manager's when absent).
fn check_files(
    schema: Option<&Path>,
    files: &[PathBuf],
    jobs: usize,
    manager_dir: &Path,
    lints: &mut Vec<Diagnostic>,
) -> Result<Vec<Checked>> {
    // The schema compiles while the workers read and parse the first files
    // (which needs no schema), and the credential automata build beside
    // it: the workers wait only to validate.
    let compiled: OnceLock<Option<Schema>> = OnceLock::new();
    let (loaded, results) = std::thread::scope(|s| {
        s.spawn(crate::values::secrets::prepare);
        let loader = s.spawn(|| {
            // Whatever happens here (a panic too), no worker waits forever.
            let _unblock = Unblock(&compiled);
            let mut found = Vec::new();
            let schema = files_schema(schema, files, manager_dir, &mut found)?;
            let _ = compiled.set(Some(schema));
            Ok::<_, Error>(found)
        });
        let results = crate::fleet::parallel::map(files, jobs, |f| check_file(f, &compiled));
        let loaded = loader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (loaded, results)
    });
    lints.extend(loaded?);
    Ok(results)
}

/// Leaves "no schema" in the cell when the loader stops before setting it.
struct Unblock<'a>(&'a OnceLock<Option<Schema>>);

impl Drop for Unblock<'_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

/// The schema `check_files` checks against, and its lint findings.
fn files_schema(
    schema: Option<&Path>,
    files: &[PathBuf],
    manager_dir: &Path,
    lints: &mut Vec<Diagnostic>,
) -> Result<Schema> {
    let schema = match schema {
        Some(p) => {
            let s = Schema::load(p, &display_path(p))?;
            lints.extend(s.lint_file(p));
            s
        }
        None => {
            let m = Manager::load(manager_dir).map_err(|e| match e {
                // A customer has no manager repo, only the schema the
                // provider sent (`customers instructions` hands it over).
                crate::config::ConfigError::Missing { file, source }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Error::usage(format!(
                        "{}: not found, so there is no manager schema to check these files against; in a customer repo name the schema the provider sent with `fleetform validate --schema FILE {}`, or run inside the manager repo (or name it with -C DIR)",
                        file.display(),
                        files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                }
                other => other.into(),
            })?;
            if m.has_products() {
                return Err(Error::usage(format!(
                    "fleetform.yml declares products, each with its own schema: name one with --schema ({})",
                    m.config.products.iter().map(|p| p.schema.display().to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            let s = Schema::of_manager(&m, m.schema_path())?;
            lints.extend(s.lint_file(&m.path(m.schema_path())));
            s
        }
    };
    Ok(schema)
}

/// Checks the named registry customers (every active one with a local
/// `path` when none is named).
fn check_customers(
    wanted: &[String],
    jobs: usize,
    manager_dir: &Path,
    lints: &mut Vec<Diagnostic>,
) -> Result<Vec<Checked>> {
    let manager = Manager::load(manager_dir)?;
    manager.check_named_paths()?;
    let registry = Registry::load(&manager)?;
    let selected: Vec<&Customer> = if wanted.is_empty() {
        registry
            .customers
            .iter()
            .filter(|c| c.takes_part(Activity::Plan))
            .collect()
    } else {
        crate::fleet::select(&registry, Some(wanted))?
    };
    if manager.has_products() {
        return check_products(&manager, &registry, &selected, jobs, lints);
    }
    check_product(&manager, &registry, &selected, jobs, lints)
}

/// Checks customers against one product's schema and layers (the
/// manager itself without products).
fn check_product(
    view: &Manager,
    registry: &Registry,
    selected: &[&Customer],
    jobs: usize,
    lints: &mut Vec<Diagnostic>,
) -> Result<Vec<Checked>> {
    let schema = Schema::of_manager(view, view.schema_path())?;
    lints.extend(schema.lint_file(&view.path(view.schema_path())));
    let layers = ManagerLayers::load(view, &schema).map_err(Error::Values)?;
    let templates = ValueTemplates::default();
    let ctx = CustomerCheck {
        manager: view,
        registry,
        schema: &schema,
        layers: &layers,
        templates: &templates,
        secrets: match crate::engine::holds_a_key() {
            true => Some(crate::engine::Engine::without_terraform(view)?),
            false => None,
        },
    };
    Ok(crate::fleet::parallel::map(selected, jobs, |c| {
        let mut checked = ctx.check(c);
        if let Some(product) = &view.product {
            checked.name = format!("{}/{product}", c.slug);
        }
        checked
    }))
}

/// With products: each customer's `infra/products.yml` (named `<slug>`),
/// then every enabled product of every customer (`<slug>/<product>`),
/// against that product's schema and layers.
fn check_products(
    manager: &Manager,
    registry: &Registry,
    selected: &[&Customer],
    jobs: usize,
    lints: &mut Vec<Diagnostic>,
) -> Result<Vec<Checked>> {
    let read = crate::fleet::local_products_file(registry);
    let mut results = Vec::new();
    let mut enabled: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for c in selected {
        let file = read(c).map_err(|d| vec![d]);
        let list = file.and_then(|f| {
            crate::values::products::enabled(
                manager,
                c,
                f.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
            )
        });
        match list {
            Ok(list) => {
                enabled.insert(&c.slug, list);
            }
            Err(problems) => results.push(Checked {
                name: c.slug.clone(),
                valid: false,
                problems,
            }),
        }
    }
    for view in manager.products() {
        let name = view.product.clone().unwrap_or_default();
        let subscribed: Vec<Customer> = selected
            .iter()
            .filter(|c| {
                enabled
                    .get(c.slug.as_str())
                    .is_some_and(|l| l.contains(&name))
            })
            .map(|c| Customer {
                environments: c
                    .environments
                    .iter()
                    .filter(|e| view.environment(e).is_some())
                    .cloned()
                    .collect(),
                ..(*c).clone()
            })
            .collect();
        let refs: Vec<&Customer> = subscribed.iter().collect();
        results.extend(check_product(&view, registry, &refs, jobs, lints)?);
    }
    Ok(results)
}

/// The results as JSON, or one line each.
fn show(results: &[Checked], json: bool, out: &Output) -> Result<()> {
    if json {
        out.json(&results)
            .map_err(|e| Error::failed(format!("serialising the results: {e}")))?;
    } else if !results.is_empty() {
        // One write for the whole list: thousands of files print thousands
        // of lines.
        let mut text = String::new();
        for r in results {
            use std::fmt::Write as _;
            let _ = write!(
                text,
                "{} {}",
                if r.valid { "ok     " } else { "invalid" },
                r.name
            );
            if !r.valid {
                let n = r.problems.len();
                let _ = write!(
                    text,
                    " ({})",
                    crate::util::text::count(n, "problem", "problems")
                );
            }
            text.push('\n');
        }
        text.pop();
        out.result(&text);
    }
    Ok(())
}

pub fn run(settings: Settings, manager_dir: &Path, out: &Output) -> Result<()> {
    let mut lints = Vec::new();
    let results = match settings.target {
        Target::Files { schema, files } => check_files(
            schema.as_deref(),
            &files,
            settings.jobs,
            manager_dir,
            &mut lints,
        )?,
        Target::Customers(wanted) => {
            check_customers(&wanted, settings.jobs, manager_dir, &mut lints)?
        }
    };
    for d in &lints {
        if settings.strict {
            out.diagnostic(d);
        } else {
            out.warning(d);
        }
    }
    let invalid = results.iter().filter(|r| !r.valid).count();
    for r in &results {
        out.diagnostics(&r.problems);
    }
    show(&results, settings.json, out)?;
    if invalid > 0 {
        return Err(Error::failed(format!(
            "{invalid} of {} invalid",
            results.len()
        )));
    }
    if settings.strict && !lints.is_empty() {
        return Err(Error::failed(format!(
            "{} in the schema (--strict)",
            crate::util::text::count(lints.len(), "finding", "findings")
        )));
    }
    Ok(())
}
