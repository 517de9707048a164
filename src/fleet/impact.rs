//! The fleet-wide impact of a change to the manager repo: for every active
//! customer × product × environment at the head (a "pair"), what its
//! Terraform variables were at the base and are at the head (key by key,
//! with the file that set the new value), whether the customer's files
//! still validate against the head schema, and whether the product's root
//! module, lock file or backend changed.
//!
//! The customer's files are what is deployed when a deployment record of
//! the pair exists (see [`crate::records`]), else the local checkout. Both
//! sides render the same customer files, so every difference is the
//! manager's. `--plan` (in `impact_plan`) plans both sides the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use crate::report::impact::{Broken, Impact, PairImpact, Plans, ValueChange};

use crate::config::Activity;
use crate::config::{Customer, Manager, Registry, Unit};
use crate::data::Diagnostic;
use crate::values::customer::{self, CustomerSource, ManagerLayers};
use crate::values::schema::Schema;
use crate::values::template::ValueTemplates;

mod deployed;
mod pair;
mod pinned;
mod revisions;

pub use revisions::{of_revisions, Revisions};

/// One side of the comparison: the manager as it was at a revision.
pub struct Side {
    pub manager: Manager,
    /// The commit it was read at (shown after a file's path: `values/base.yml:12:15
    /// at 1a2b3c4d5e6f`); `None` for the working tree.
    pub at: Option<String>,
}

/// Where the comparison reads the customers from (the registry of the
/// manager in use, its records store) and what changed in git.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub store: &'a crate::records::Store,
    /// Files changed between base and head, relative to the manager root.
    pub changed_files: Vec<PathBuf>,
    pub jobs: usize,
}

/// One product's engine parts at one side.
struct Layers {
    view: Manager,
    /// Where the side's files are, and the commit they were read at: a
    /// file is shown relative to the manager, at that commit, never at the
    /// scratch folder it was read from.
    root: PathBuf,
    at: Option<String>,
    schema: Schema,
    /// The schema file's bytes: an unchanged schema cannot break anyone.
    schema_bytes: Vec<u8>,
    layers: ManagerLayers,
}

impl Layers {
    fn load(view: Manager, side: &Side) -> Result<Layers, String> {
        let p = view.path(view.schema_path());
        let schema = Schema::of_manager(&view, view.schema_path()).map_err(|e| e.to_string())?;
        let schema_bytes = crate::util::fs::read_input(&p).map_err(|e| e.to_string())?;
        let layers = ManagerLayers::load(&view, &schema).map_err(|d| {
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok(Layers {
            view,
            root: side.manager.root.clone(),
            at: side.at.clone(),
            schema,
            schema_bytes,
            layers,
        })
    }
}

/// Compares base and head for every pair.
fn compare(base: &Loaded, head: &Loaded, ctx: &Context<'_>) -> Result<Impact, String> {
    let (Loaded(base, base_layers), Loaded(head, head_layers)) = (base, head);
    for (name, l) in head_layers {
        if let Err(e) = l {
            return Err(format!(
                "the head's {}: {e}",
                name.as_deref()
                    .map(|n| format!("product `{n}`"))
                    .unwrap_or("manager".into())
            ));
        }
    }
    let modules = changed_modules(base, head, ctx);
    let (work, mut unreadable) = pairs_at_head(&head.manager, head_layers, ctx);
    let groups = by_group(&work);
    // The manager's templates are rendered for every customer: compiled
    // once, here.
    let templates = ValueTemplates::default().knowing(
        head_layers
            .values()
            .chain(base_layers.values())
            .filter_map(|l| l.as_ref().ok())
            .flat_map(|l| l.layers.values()),
    );
    let deployed = deployed::Deployed::new(ctx.store);
    let same = same_per_product(head_layers, base_layers);
    let results = super::parallel::map(&groups, ctx.jobs, |(c, product, envs)| {
        let head_l = head_layers.get(product).and_then(|l| l.as_ref().ok());
        let base_l = base_layers.get(product).and_then(|l| l.as_ref().ok());
        let sides = Sides {
            head: head_l.expect("listed"),
            base: base_l,
            same: &same[product],
        };
        group(c, envs, &sides, ctx, &deployed, &templates)
    });
    let mut changed = Vec::new();
    let mut broken: Vec<Broken> = Vec::new();
    let units = groups.iter().flat_map(|(c, product, envs)| {
        envs.iter()
            .map(move |e| Unit::new(&c.slug, product.as_deref(), e))
    });
    for (r, unit) in results.into_iter().flatten().zip(units) {
        let who = |problems| Broken {
            customer: unit.customer.clone(),
            product: unit.product.clone(),
            environments: vec![unit.environment.clone()],
            problems,
        };
        match r {
            Outcome::Same => {}
            Outcome::Changed(p) => changed.push(p),
            Outcome::Broken(problems) => {
                match broken
                    .iter_mut()
                    .find(|b| b.customer == unit.customer && b.product == unit.product)
                {
                    Some(b) => b.environments.push(unit.environment.clone()),
                    None => broken.push(who(problems)),
                }
            }
            Outcome::Unreadable(problems) => unreadable.push(who(problems)),
        }
    }
    mark_modules(&mut changed, &work, &modules);
    let pinned = pinned::among(&changed, ctx.registry);
    Ok(Impact {
        base: String::new(),
        head: String::new(),
        pairs: work.len(),
        changed,
        broken,
        modules: modules.into_iter().collect(),
        unreadable,
        pinned,
        plans: None,
    })
}

/// Why the impact of two revisions could not be told.
#[derive(Debug, thiserror::Error)]
pub enum ImpactError {
    /// A revision git cannot read (a usage error).
    #[error("{0}")]
    Revision(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Failed(String),
}

/// A side with its products' schemas and layers loaded (which needs no
/// registry either).
struct Loaded(Side, Products);

impl Loaded {
    fn of(side: Side) -> Loaded {
        let products = products(&side);
        Loaded(side, products)
    }
}

/// The pairs grouped by customer × product (consecutive in `work`), with
/// their environments.
fn by_group<'r>(work: &[(Unit, &'r Customer)]) -> Vec<(&'r Customer, Option<String>, Vec<String>)> {
    let mut groups: Vec<(&Customer, Option<String>, Vec<String>)> = Vec::new();
    for (u, c) in work {
        match groups.last_mut() {
            Some((gc, gp, envs)) if gc.slug == c.slug && *gp == u.product => {
                envs.push(u.environment.clone())
            }
            _ => groups.push((c, u.product.clone(), vec![u.environment.clone()])),
        }
    }
    groups
}

/// Every active customer's pairs at the head (its enabled products × its
/// environments), and the customers whose products file is unreadable.
fn pairs_at_head<'r>(
    head: &Manager,
    layers: &BTreeMap<Option<String>, Result<Layers, String>>,
    ctx: &Context<'r>,
) -> (Vec<(Unit, &'r Customer)>, Vec<Broken>) {
    let mut work = Vec::new();
    let mut unreadable = Vec::new();
    // Products in the order they run (dependencies first); told once, not
    // once per customer (each view is a copy of the manager's settings).
    let order: Vec<Option<String>> = head.products().into_iter().map(|v| v.product).collect();
    for c in ctx
        .registry
        .customers
        .iter()
        .filter(|c| c.takes_part(Activity::Plan))
    {
        let list = match enabled(head, ctx, c) {
            Ok(list) => list,
            Err(problems) => {
                unreadable.push(Broken {
                    customer: c.slug.clone(),
                    product: None,
                    environments: Vec::new(),
                    problems,
                });
                continue;
            }
        };
        for name in &order {
            let Some(Ok(l)) = layers.get(name) else {
                continue;
            };
            if name.as_ref().is_some_and(|n| !list.contains(n)) {
                continue;
            }
            for env in l.view.environment_names() {
                if c.environments.iter().any(|e| e == env) {
                    work.push((l.view.unit(&c.slug, env), c));
                }
            }
        }
    }
    (work, unreadable)
}

/// A module change touches every pair of the product, even those whose
/// values stay the same; the list keeps the pairs' order.
fn mark_modules(
    changed: &mut Vec<PairImpact>,
    work: &[(Unit, &Customer)],
    modules: &std::collections::BTreeSet<String>,
) {
    if modules.is_empty() {
        return; // no pair is marked and none added: `changed` is in work order
    }
    let touched = |u: &Unit| modules.contains(u.product.as_deref().unwrap_or_default());
    for p in changed.iter_mut() {
        p.module = touched(&p.unit);
    }
    let listed: std::collections::HashSet<&Unit> = changed.iter().map(|p| &p.unit).collect();
    let added: Vec<PairImpact> = work
        .iter()
        .filter(|(unit, _)| touched(unit) && !listed.contains(unit))
        .map(|(unit, _)| PairImpact {
            unit: unit.clone(),
            new: false,
            values: Vec::new(),
            module: true,
            files_from: String::new(),
        })
        .collect();
    if added.is_empty() {
        return;
    }
    changed.extend(added);
    let order: std::collections::HashMap<&Unit, usize> =
        work.iter().enumerate().map(|(i, (u, _))| (u, i)).collect();
    changed.sort_by_key(|p| order.get(&p.unit).copied());
}

enum Outcome {
    Same,
    Changed(PairImpact),
    Broken(Vec<Diagnostic>),
    Unreadable(Vec<Diagnostic>),
}

/// The products of one side by name (`None`: the implicit product), each
/// with its schema and layers loaded.
type Products = BTreeMap<Option<String>, Result<Layers, String>>;

fn products(side: &Side) -> Products {
    side.manager
        .products()
        .into_iter()
        .map(|v| (v.product.clone(), Layers::load(v, side)))
        .collect()
}

/// The customer's enabled products at the head (empty without products).
fn enabled(
    head: &Manager,
    ctx: &Context<'_>,
    c: &Customer,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    if !head.has_products() {
        return Ok(Vec::new());
    }
    let file = match ctx.registry.customer_dir(c) {
        Some(dir) => crate::values::products::read_local(&dir).map_err(|d| vec![d])?,
        None => None,
    };
    crate::values::products::enabled(
        head,
        c,
        file.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
    )
}

/// What stayed the same in one product between the sides, told once per
/// run rather than once per pair.
struct Same {
    /// The schema file's bytes are equal.
    schema: bool,
    /// The environments whose manager layers are equal (see [`unchanged`]).
    envs: std::collections::BTreeSet<String>,
    /// For the others: the top-level entries where the manager's values
    /// differ, when the sides can render those alone (see
    /// [`customer::changed_keys`]), and each side's manager part.
    keys: BTreeMap<String, Option<pair::AtKeys>>,
}

/// [`Same`] for every product the head has.
fn same_per_product(
    head: &BTreeMap<Option<String>, Result<Layers, String>>,
    base: &BTreeMap<Option<String>, Result<Layers, String>>,
) -> BTreeMap<Option<String>, Same> {
    head.iter()
        .map(|(name, h)| {
            let same = match h {
                Ok(h) => {
                    let b = base.get(name).and_then(|b| b.as_ref().ok());
                    let names = h.view.environment_names();
                    Same {
                        schema: b.is_some_and(|b| b.schema_bytes == h.schema_bytes),
                        envs: names
                            .iter()
                            .filter(|e| unchanged(h, b, e))
                            .map(|e| e.to_string())
                            .collect(),
                        keys: names
                            .iter()
                            .map(|e| {
                                let keys = b.and_then(|b| pair::AtKeys::of(h, b, e));
                                (e.to_string(), keys)
                            })
                            .collect(),
                    }
                }
                Err(_) => Same {
                    schema: false,
                    envs: Default::default(),
                    keys: Default::default(),
                },
            };
            (name.clone(), same)
        })
        .collect()
}

/// One product at both sides, and what stayed the same in it.
struct Sides<'a> {
    head: &'a Layers,
    base: Option<&'a Layers>,
    same: &'a Same,
}

/// One customer's product in some environments: the customer files read
/// and checked once per source (the deployed files of a pair that has a
/// deployment record, else the checkout, shared by the others), then every
/// environment rendered at both sides from the same parsed documents.
fn group(
    c: &Customer,
    envs: &[String],
    sides: &Sides<'_>,
    ctx: &Context<'_>,
    deployed: &deployed::Deployed<'_>,
    templates: &ValueTemplates,
) -> Vec<Outcome> {
    // Nothing the manager sets for these environments changed, nor the
    // schema: the customer's files are not even read.
    let same_layers = |env: &str| sides.same.envs.contains(env);
    let same_schema = sides.same.schema;
    if same_schema && envs.iter().all(|e| same_layers(e)) {
        return envs.iter().map(|_| Outcome::Same).collect();
    }
    // With the same schema, an environment whose layers are the same is
    // the same: its override file is not even read.
    let todo: Vec<String> = envs
        .iter()
        .filter(|e| !same_schema || !same_layers(e))
        .cloned()
        .collect();
    let mut done = changed_envs(c, &todo, sides, ctx, deployed, templates).into_iter();
    envs.iter()
        .map(|e| match todo.contains(e) {
            true => done.next().unwrap_or(Outcome::Same),
            false => Outcome::Same,
        })
        .collect()
}

/// The environments of one customer's product whose layers or schema
/// changed: read, checked and rendered at both sides.
fn changed_envs(
    c: &Customer,
    envs: &[String],
    sides: &Sides<'_>,
    ctx: &Context<'_>,
    deployed: &deployed::Deployed<'_>,
    templates: &ValueTemplates,
) -> Vec<Outcome> {
    let (head, base) = (sides.head, sides.base);
    let unit = |env: &str| head.view.unit(&c.slug, env);
    let same_layers = |env: &str| sides.same.envs.contains(env);
    let recorded: Vec<Option<CustomerSource>> = envs
        .iter()
        .map(|e| {
            deployed
                .last(&unit(e))
                .and_then(|d| from_record(&d, &head.view, e))
        })
        .collect();
    let local_envs: Vec<String> = envs
        .iter()
        .zip(&recorded)
        .filter(|(_, r)| r.is_none())
        .map(|(e, _)| e.clone())
        .collect();
    let local = (!local_envs.is_empty()).then(|| {
        local_files(c, &head.view, ctx, &local_envs).and_then(|src| {
            customer::check(&src, &head.schema)
                .map_err(|p| (true, p))
                .map(Arc::new)
        })
    });
    envs.iter()
        .zip(recorded)
        .map(|(env, record)| {
            let (docs, files_from) = match record {
                Some(src) => (
                    customer::check(&src, &head.schema)
                        .map_err(|p| (true, p))
                        .map(Arc::new),
                    "deployment record",
                ),
                None => (local.clone().expect("local envs have docs"), "local"),
            };
            match docs {
                Err((true, problems)) => Outcome::Broken(problems),
                Err((false, problems)) => Outcome::Unreadable(problems),
                Ok(_) if same_layers(env) => Outcome::Same,
                Ok(docs) => {
                    let keys = sides.same.keys.get(env).and_then(Option::as_ref);
                    let unit = unit(env);
                    pair::one(&unit, c, &docs, head, base, keys, templates, files_from)
                }
            }
        })
        .collect()
}

/// Whether the manager's layers for `env` are the same at both sides (the
/// product and the environment exist at the base, with the same files).
fn unchanged(head: &Layers, base: Option<&Layers>, env: &str) -> bool {
    let Some(base) = base else {
        return false;
    };
    fn value(d: Option<&Arc<fleetform_yaml::Document>>) -> Option<&Value> {
        d.map(|d| &d.value)
    }
    base.view.environment(env).is_some()
        && value(head.layers.base.as_ref()) == value(base.layers.base.as_ref())
        && value(head.layers.envs.get(env)) == value(base.layers.envs.get(env))
}

/// The customer's files in its checkout; `Err((false, ...))`: unreadable.
fn local_files(
    c: &Customer,
    view: &Manager,
    ctx: &Context<'_>,
    envs: &[String],
) -> Result<CustomerSource, (bool, Vec<Diagnostic>)> {
    let Some(dir) = ctx.registry.customer_dir(c) else {
        return Err((
            false,
            vec![Diagnostic {
                location: ctx.registry.doc.locate("/customers"),
                pointer: None,
                message: format!(
                    "customer `{}` has no deployment record and no local `path`",
                    c.slug
                ),
            }],
        ));
    };
    CustomerSource::from_dir(view, &dir, envs).map_err(|d| (false, vec![d]))
}

/// Customer files for plans of what is deployed: for each pair, the files
/// of its last deployment record when there is one (a provider's rollout
/// needs no checkout of the customer's repo), else the local checkout.
pub fn deployed_or_local<'a>(
    manager: &'a Manager,
    registry: &'a Registry,
    store: &'a crate::records::Store,
) -> impl Fn(&Customer, &[String]) -> Result<CustomerSource, Vec<Diagnostic>> + 'a {
    let local = super::local_source(manager, registry);
    move |c, envs| {
        let recorded = match envs {
            [env] => crate::records::last_deployment(store, &manager.unit(&c.slug, env))
                .ok()
                .flatten()
                .and_then(|d| from_record(&d, manager, env)),
            _ => None,
        };
        match recorded {
            Some(src) => Ok(src),
            None => local(c, envs),
        }
    }
}

/// The customer files a deployment record keeps, as a source.
pub(super) fn from_record(
    d: &crate::records::Deployment,
    view: &Manager,
    env: &str,
) -> Option<CustomerSource> {
    let find = |name: &str| {
        d.files
            .iter()
            .find(|f| Path::new(&f.path).ends_with(name))
            .map(|f| (PathBuf::from(&f.path), f.content.clone().into_bytes()))
    };
    let variables = find(&view.config.customer.variables)?;
    let mut overrides = BTreeMap::new();
    if let Some(o) = find(&customer::override_path(view, env)) {
        overrides.insert(env.to_string(), o);
    }
    let mut secrets = BTreeMap::new();
    if let Some(s) = find(&customer::secrets_path(view, env)) {
        secrets.insert(env.to_string(), s);
    }
    Some(CustomerSource {
        variables,
        overrides,
        secrets,
    })
}

/// Products whose root module (a file under it, its lock file included)
/// changed, and every product when the backend or state key changed.
fn changed_modules(
    base: &Side,
    head: &Side,
    ctx: &Context<'_>,
) -> std::collections::BTreeSet<String> {
    let backend = |m: &Manager| {
        serde_json::to_string(&(&m.config.terraform.backend, &m.config.terraform.engine))
            .unwrap_or_default()
    };
    let base_keys: BTreeMap<Option<String>, String> = base
        .manager
        .products()
        .into_iter()
        .map(|v| (v.product.clone(), v.config.terraform.state_key.clone()))
        .collect();
    let mut out = std::collections::BTreeSet::new();
    for view in head.manager.products() {
        let name = view.product.clone().unwrap_or_default();
        let dir = crate::config::clean_path(view.working_dir());
        let module = ctx
            .changed_files
            .iter()
            .any(|f| crate::config::clean_path(f).starts_with(&dir));
        let key_moved = base_keys.get(&view.product) != Some(&view.config.terraform.state_key);
        if module || key_moved || backend(&base.manager) != backend(&head.manager) {
            out.insert(name);
        }
    }
    out
}

/// Relative paths of `files` under `root` (others dropped).
pub fn under(root: &Path, files: Vec<PathBuf>) -> Vec<PathBuf> {
    let root = crate::config::clean_path(
        &std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
    );
    files
        .into_iter()
        .filter_map(|f| {
            let f = crate::config::clean_path(&f);
            f.strip_prefix(&root).ok().map(Path::to_path_buf)
        })
        .collect()
}
