//! Customer files: loading, checking (syntax, credentials, schema) and
//! rendering the final Terraform variables through the layers.
//!
//! The same code serves local mode (files on disk) and the GitHub path
//! (files fetched at a commit): both hand over bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{display_path, Customer, Manager};
use crate::data::Diagnostic;
use crate::values::layers::{Layer, Layered, Source};
use crate::values::schema::Schema;
use crate::values::secrets;
use crate::values::template::{is_template, TemplateMemo, ValueTemplates};
use fleetform_yaml::{self as yaml, escape_token, Document, Limits, Location};

mod only;
mod schema_check;
mod secret_checks;
mod source;
mod strings;
pub use only::{changed_keys, render_only, render_only_if_the_rest_renders, Only};
use schema_check::SchemaCheck;
use source::read_diagnostic;
pub use source::{override_path, secrets_path};
use strings::Strings;

/// Raw customer files, however they were obtained.
#[derive(Debug, Clone)]
pub struct CustomerSource {
    /// Shown path and contents of the variables file.
    pub variables: (PathBuf, Vec<u8>),
    /// Per-environment override files that exist.
    pub overrides: BTreeMap<String, (PathBuf, Vec<u8>)>,
    /// Per-environment secrets files that exist (encrypted; README,
    /// "Customer secrets").
    pub secrets: BTreeMap<String, (PathBuf, Vec<u8>)>,
}

/// Checked customer documents.
#[derive(Debug, Clone)]
pub struct CustomerDocs {
    pub variables: Arc<Document>,
    pub overrides: BTreeMap<String, Arc<Document>>,
    /// The files as read (shown path, bytes): what a deployment record
    /// keeps of what was applied.
    pub files: Vec<(PathBuf, Arc<[u8]>)>,
    /// The secrets files, by environment, as read (still encrypted).
    pub secrets: BTreeMap<String, (PathBuf, Arc<[u8]>)>,
    /// Only [`check`] makes these, after scanning every file for
    /// credentials: rendering judges only what templates rendered
    /// (`strings::Strings`) and relies on that.
    _checked: Checked,
}

/// Held only by documents [`check`] made (see [`CustomerDocs`]).
#[derive(Debug, Clone)]
struct Checked;

fn parse(shown: &Path, bytes: &[u8]) -> Result<Arc<Document>, Diagnostic> {
    let doc = yaml::load_bytes(bytes, shown, &Limits::default()).map_err(|e| Diagnostic {
        location: e.location.clone(),
        pointer: None,
        message: e.message,
    })?;
    match &doc.value {
        Value::Object(_) => Ok(Arc::new(doc)),
        Value::Null => {
            let mut doc = doc;
            doc.value = Value::Object(Map::new());
            Ok(Arc::new(doc))
        }
        _ => Err(Diagnostic {
            location: doc.locate(""),
            pointer: Some(String::new()),
            message: "the file must be a mapping of keys to values".into(),
        }),
    }
}

/// Credential findings in a document, as diagnostics.
pub fn credential_diagnostics(doc: &Document) -> Vec<Diagnostic> {
    credential_findings(doc)
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

/// Credential findings in a document: each as a diagnostic, with the
/// pointer of the value (or keyed entry) it was found at.
fn credential_findings(doc: &Document) -> Vec<(Diagnostic, String)> {
    secrets::scan(&doc.value)
        .into_iter()
        .map(|f| {
            let pos = match f.spot {
                secrets::Spot::Key => doc.key_pos(&f.pointer),
                _ => doc.pos(&f.pointer),
            };
            let location = Location {
                file: doc.file.clone(),
                pos,
            };
            (credential_diagnostic(&f, location), f.pointer)
        })
        .collect()
}

/// True when one pointer is the other or inside it: a schema message about
/// either may quote what is at both.
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |p: &str, q: &str| p.strip_prefix(q).is_some_and(|r| r.starts_with('/'));
    a == b || inside(a, b) || inside(b, a)
}

/// One credential finding as a diagnostic: where it is and what it looks
/// like, never the value (nor a key that is the credential).
fn credential_diagnostic(f: &secrets::Finding, location: Location) -> Diagnostic {
    let what = match f.spot {
        secrets::Spot::Value => format!("value looks like {}", f.what),
        secrets::Spot::Key => format!("a key of this mapping looks like {}", f.what),
        secrets::Spot::TemplateText => {
            format!("the literal text of this template looks like {}", f.what)
        }
        secrets::Spot::Rendered => format!("value looks like {} once rendered", f.what),
    };
    Diagnostic {
        location,
        pointer: Some(f.shown_pointer().to_string()),
        message: format!(
            "{what}; secrets never go in variables files: remove it, rotate it, and have the provider reference it from a secret store"
        ),
    }
}

/// Parses and checks a customer's files: YAML, credentials, then the
/// schema (the variables file alone, and merged with each override file).
/// Every problem is reported, not just the first.
pub fn check(source: &CustomerSource, schema: &Schema) -> Result<CustomerDocs, Vec<Diagnostic>> {
    check_parsed(parse_source(source)?, source, schema)
}

/// A customer's files parsed and scanned for credentials: the part of
/// [`check`] that needs no schema (see [`parse_source`]).
pub struct Parsed {
    variables: Arc<Document>,
    overrides: BTreeMap<String, Arc<Document>>,
    diags: Vec<Diagnostic>,
    secret_at: Vec<String>,
}

/// The first half of [`check`]: the files parsed (an unreadable variables
/// file stops here) and scanned for credentials. A caller still compiling
/// the schema can do this meanwhile, then finish with [`check_parsed`].
pub fn parse_source(source: &CustomerSource) -> Result<Parsed, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let variables = parse(&source.variables.0, &source.variables.1).map_err(|d| vec![d])?;
    let mut overrides = BTreeMap::new();
    for (env, (shown, bytes)) in &source.overrides {
        match parse(shown, bytes) {
            Ok(d) => {
                overrides.insert(env.clone(), d);
            }
            Err(d) => diags.push(d),
        }
    }
    let secret_at = credentials(&variables, &overrides, &mut diags);
    Ok(Parsed {
        variables,
        overrides,
        diags,
        secret_at,
    })
}

/// The second half of [`check`]: `parsed` (from the same `source`)
/// against the schema.
pub fn check_parsed(
    parsed: Parsed,
    source: &CustomerSource,
    schema: &Schema,
) -> Result<CustomerDocs, Vec<Diagnostic>> {
    let (variables, overrides, diags) = checked(parsed, source, schema);
    if !diags.is_empty() {
        return Err(diags);
    }
    // The secrets files too, still encrypted: the record of an apply says
    // which secrets it was made with (and their ages), never a value.
    let files = std::iter::once(&source.variables)
        .chain(source.overrides.values())
        .chain(source.secrets.values())
        .map(|(p, b)| (p.clone(), Arc::from(b.as_slice())))
        .collect();
    let secrets = source
        .secrets
        .iter()
        .map(|(env, (p, b))| (env.clone(), (p.clone(), Arc::from(b.as_slice()))))
        .collect();
    Ok(CustomerDocs {
        variables,
        overrides,
        files,
        secrets,
        _checked: Checked,
    })
}

/// What [`check_parsed`] reports (nothing: valid), without keeping the
/// documents and files it would hand on.
pub fn problems(parsed: Parsed, source: &CustomerSource, schema: &Schema) -> Vec<Diagnostic> {
    checked(parsed, source, schema).2
}

/// The documents of `parsed` and every problem found in them, in file
/// order.
fn checked(
    parsed: Parsed,
    source: &CustomerSource,
    schema: &Schema,
) -> (
    Arc<Document>,
    BTreeMap<String, Arc<Document>>,
    Vec<Diagnostic>,
) {
    let Parsed {
        variables,
        overrides,
        mut diags,
        mut secret_at,
    } = parsed;
    secret_at.extend(secret_checks::check(
        schema,
        &variables,
        &overrides,
        &source.secrets,
        &mut diags,
    ));
    let mut checker = SchemaCheck {
        schema,
        source,
        secret_at,
        seen: std::collections::BTreeSet::new(),
        diags,
    };
    checker.layers(&variables, &overrides);
    let mut diags = checker.diags;
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            (
                d.location.file.clone(),
                d.location.pos.line,
                d.location.pos.col,
            )
        };
        key(a).cmp(&key(b))
    });
    (variables, overrides, diags)
}

/// Credential findings in every file, as diagnostics; returns where they
/// are, as pointers into the merged value: a schema message about those
/// places (or around them) could quote one, so only the credential finding
/// is reported there.
fn credentials(
    variables: &Document,
    overrides: &BTreeMap<String, Arc<Document>>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut secret_at = Vec::new();
    for (d, p) in credential_findings(variables) {
        diags.push(d);
        secret_at.push(p);
    }
    for (env, doc) in overrides {
        for (d, p) in credential_findings(doc) {
            diags.push(d);
            secret_at.push(format!("/environments/{}{p}", escape_token(env)));
        }
    }
    secret_at
}

/// The manager's value layers, loaded once per run.
#[derive(Debug, Clone)]
pub struct ManagerLayers {
    pub base: Option<Arc<Document>>,
    pub envs: BTreeMap<String, Arc<Document>>,
    /// The variables this product takes from the outputs of the products
    /// it needs (`needs:`): no layer may set one, and [`render`] refuses a
    /// value for one where it is written, so `validate`, `render` and
    /// `plan` give the same verdict.
    pub passed: BTreeMap<String, Passed>,
    /// The manager's layers merged once (base, then the environment's
    /// file): every customer's layers go on top of a copy, instead of
    /// merging the same files again for each.
    merged: crate::values::layers::MergedManager,
}

/// A variable passed from another product's outputs.
#[derive(Debug, Clone)]
pub struct Passed {
    /// The product whose output it is.
    pub product: String,
    /// The `needs:` entry in fleetform.yml that passes it.
    pub at: Location,
}

impl Passed {
    /// Every variable `manager` (a product view) takes from the outputs of
    /// the products it needs.
    fn of(manager: &Manager) -> BTreeMap<String, Passed> {
        let index = manager
            .config
            .products
            .iter()
            .position(|p| Some(&p.name) == manager.product.as_ref())
            .unwrap_or(0);
        let mut passed = BTreeMap::new();
        for (product, vars) in manager.needs() {
            for var in vars.into_keys() {
                let pointer = format!(
                    "/products/{index}/needs/{}/{}",
                    escape_token(&product),
                    escape_token(&var)
                );
                let at = manager.doc.locate(&pointer);
                passed.insert(
                    var,
                    Passed {
                        product: product.clone(),
                        at,
                    },
                );
            }
        }
        passed
    }
}

impl ManagerLayers {
    /// The values of the manager's files: the base, then each
    /// environment's.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.base.iter().chain(self.envs.values()).map(|d| &d.value)
    }

    /// The manager's value files, read and checked: no credential, and
    /// no secret of `schema` (a secret comes only from a secrets file: a
    /// value here would replace every customer's, since a var file beats
    /// `TF_VAR_`).
    pub fn load(manager: &Manager, schema: &Schema) -> Result<Self, Vec<Diagnostic>> {
        let read = |rel: &Path| -> Result<Arc<Document>, Diagnostic> {
            let path = manager.path(rel);
            let shown = display_path(&path);
            let limit = Limits::default().max_bytes as u64;
            let bytes = crate::util::fs::read_bounded(&path, limit)
                .map_err(|e| read_diagnostic(&shown, "cannot read manager values file", e))?;
            parse(&shown, &bytes)
        };
        let mut diags = Vec::new();
        let base = match &manager.config.values.base {
            Some(p) => match read(p) {
                Ok(d) => Some(d),
                Err(d) => {
                    diags.push(d);
                    None
                }
            },
            None => None,
        };
        let mut envs = BTreeMap::new();
        for env in &manager.config.environments {
            if let Some(p) = &env.values {
                match read(p) {
                    Ok(d) => {
                        envs.insert(env.name.clone(), d);
                    }
                    Err(d) => diags.push(d),
                }
            }
        }
        let secrets = crate::values::secret_files::secret_names(&schema.document);
        for d in base.iter().chain(envs.values()) {
            diags.extend(credential_diagnostics(d));
            diags.extend(secret_checks::in_manager_values(d, &secrets));
        }
        if diags.is_empty() {
            Ok(ManagerLayers {
                merged: crate::values::layers::MergedManager::of(base.as_ref(), &envs),
                base,
                envs,
                passed: Passed::of(manager),
            })
        } else {
            Err(diags)
        }
    }
}

/// Longest `project_name` passed to value templates, in bytes.
pub const MAX_CONTEXT_VALUE: usize = 256;

/// The context every value template sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateContext {
    pub customer: String,
    pub environment: String,
    pub project_name: Option<String>,
    pub repo: Option<String>,
}

/// Layers the values for one customer × environment and renders templates.
///
/// The rendered values are scanned for credentials like raw ones (every key
/// and string), so a template cannot assemble a secret from harmless-looking
/// parts: nothing rendered reaches a var file, a plan, a comment or the
/// screen before it passed that scan.
pub fn render(
    layers: &ManagerLayers,
    docs: &CustomerDocs,
    customer: &Customer,
    env: &str,
    templates: &ValueTemplates,
) -> Result<Layered, Vec<Diagnostic>> {
    let memo = &mut TemplateMemo::new(templates);
    render_memo(layers, docs, customer, env, memo)
}

/// [`render`] with the templates' outputs kept in `memo` for the next
/// render with the same context.
pub fn render_memo(
    layers: &ManagerLayers,
    docs: &CustomerDocs,
    customer: &Customer,
    env: &str,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Result<Layered, Vec<Diagnostic>> {
    let l = layer(layers, docs, env);
    let project_name = project_name(&l);
    finish(layers, l, customer, env, project_name, memo)
}

/// `project_name` as value templates see it: only when plain and short (a
/// long value would let a short template concatenate megabytes).
fn project_name(l: &Layered) -> Option<String> {
    l.value
        .get("project_name")
        .and_then(Value::as_str)
        .filter(|s| !is_template(s) && s.len() <= MAX_CONTEXT_VALUE)
        .map(str::to_string)
}

/// What the templates of `customer`'s values in `env` see.
fn context(customer: &Customer, env: &str, project_name: Option<String>) -> TemplateContext {
    TemplateContext {
        customer: customer.slug.clone(),
        environment: env.to_string(),
        project_name,
        repo: customer.repo.clone(),
    }
}

/// Renders the templates of the layered values `l`, then refuses passed
/// variables and rendered credentials.
fn finish(
    layers: &ManagerLayers,
    mut l: Layered,
    customer: &Customer,
    env: &str,
    project_name: Option<String>,
    memo: &mut TemplateMemo<'_, TemplateContext>,
) -> Result<Layered, Vec<Diagnostic>> {
    let ctx = context(customer, env, project_name);
    let diags = passed_values(layers, &l);
    // Rendered in place: where a value came from is in `l`'s origins,
    // which do not need its value.
    let mut rendered = std::mem::take(&mut l.value);
    let mut strings = Strings {
        ctx: &ctx,
        templates: memo,
        layered: &l,
        diags,
        found: Vec::new(),
    };
    strings.render(&mut rendered, &mut Vec::new(), None);
    let (mut diags, found) = (strings.diags, strings.found);
    diags.extend(rendered_credentials(&l, found));
    if diags.is_empty() {
        l.value = rendered;
        Ok(l)
    } else {
        Err(diags)
    }
}

/// Values set for variables another product passes (see
/// [`ManagerLayers::passed`]), each refused where it is written.
fn passed_values(layers: &ManagerLayers, l: &Layered) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (var, passed) in &layers.passed {
        let pointer = format!("/{}", escape_token(var));
        if l.value.pointer(&pointer).is_none() {
            continue;
        }
        diags.push(Diagnostic {
            location: l
                .origin(&pointer)
                .map(|o| o.location)
                .unwrap_or_else(|| passed.at.clone()),
            pointer: Some(pointer),
            message: format!(
                "`{var}` is passed from the outputs of product `{}`; remove it here",
                passed.product
            ),
        });
    }
    diags
}

/// The five layers for one environment, merged with provenance.
fn layer(layers: &ManagerLayers, docs: &CustomerDocs, env: &str) -> Layered {
    let mut l = layers
        .merged
        .envs
        .get(env)
        .unwrap_or(&layers.merged.base)
        .clone();
    let whole = |layer, doc: &Arc<Document>| Source {
        layer,
        doc: doc.clone(),
        root: String::new(),
    };
    let vars = &docs.variables;
    l.apply_without(whole(Layer::Customer, vars), &vars.value, "environments");
    if let Some(block) = vars.value.get("environments").and_then(|e| e.get(env)) {
        l.apply(
            Source {
                layer: Layer::CustomerEnv,
                doc: vars.clone(),
                root: format!("/environments/{}", escape_token(env)),
            },
            block,
        );
    }
    if let Some(d) = docs.overrides.get(env) {
        l.apply(whole(Layer::CustomerEnvFile, d), &d.value);
    }
    l
}

/// Credentials in the rendered values, placed at the origin of each value
/// (the template that produced it).
fn rendered_credentials(layered: &Layered, found: Vec<secrets::Finding>) -> Vec<Diagnostic> {
    found
        .into_iter()
        .map(|f| {
            let location = layered
                .origin(&f.pointer)
                .map(|o| o.location)
                .unwrap_or_else(unknown_origin);
            credential_diagnostic(&f, location)
        })
        .collect()
}

fn unknown_origin() -> Location {
    Location {
        file: PathBuf::from("<values>"),
        pos: yaml::Pos { line: 1, col: 1 },
    }
}

#[cfg(test)]
mod tests;
