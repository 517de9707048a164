//! The customer's self-service files, made from the provider's schema and
//! value layers (`fleetform form`, `fleetform docs`, and `init --customer
//! --manager`): the GitHub issue form, the form's description for
//! `fleetform request` (the variables file and the schema, in one file the
//! customer's workflow reads), the workflow that turns an issue into a pull
//! request, and the reference page of every setting.

use std::path::Path;

use crate::config::Manager;
use crate::error::{Error, Result};
use crate::report::form::{Default, Names, Row};
use crate::values::form::fields::{self, Field, Kind};
use crate::values::schema::Schema;

/// Where the form's description lives in the customer's repo, one file
/// per form (`<label>.json`).
pub const FORMS_DIR: &str = ".github/fleetform";
/// The customer's workflow that answers an issue from the form.
pub const WORKFLOW_PATH: &str = ".github/workflows/customer-form.yml";
/// That workflow, as shipped.
pub const WORKFLOW: &str = include_str!("../../workflows/customer-form.yml");

/// One form's files, each `(path in the customer's repo, contents)`.
pub struct FormFiles {
    pub files: Vec<(String, String)>,
}

/// The form's label (and file names): `infra-change`, or
/// `infra-change-<product>`.
pub fn label_of(product: Option<&str>) -> String {
    match product {
        None => crate::report::form::LABEL.to_string(),
        Some(p) => format!("{}-{p}", crate::report::form::LABEL),
    }
}

/// The schema of `view` (a manager, or one product's view), loaded, and
/// its form's fields.
fn schema_and_fields(view: &Manager) -> Result<(Schema, Vec<Field>, String)> {
    let rel = view.schema_path().to_path_buf();
    let path = view.path(&rel);
    let schema = Schema::load(&path, &crate::config::display_path(&path))?;
    let fields = fields::fields(&schema.document).map_err(|n| {
        Error::usage(format!(
            "{}: the schema has {n} settings a form would ask for; a form holds at most {} (GitHub's issue body is at most 65,536 characters). Group settings under objects the form asks for as YAML",
            rel.display(),
            fields::MAX_FIELDS
        ))
    })?;
    Ok((schema, fields, rel.display().to_string()))
}

/// The rows the form and the reference show, with the provider's
/// defaults per environment.
fn rows(view: &Manager, schema: &Schema, fields: &[Field]) -> Result<Vec<Row>> {
    let layers =
        crate::values::customer::ManagerLayers::load(view, schema).map_err(Error::Values)?;
    let mut last_section: Option<&str> = None;
    Ok(fields
        .iter()
        .map(|f| {
            let section_start = match f.section.as_deref() {
                Some(s) if last_section != Some(s) => Some(s.to_string()),
                _ => None,
            };
            last_section = f.section.as_deref();
            row(f, section_start, defaults(view, &layers, f))
        })
        .collect())
}

fn row(f: &Field, section_start: Option<String>, defaults: Vec<Default>) -> Row {
    let input = match &f.kind {
        Kind::Text => "text",
        Kind::Integer => "integer",
        Kind::Number => "number",
        _ => "",
    };
    let values = match &f.kind {
        Kind::Choice(o) => o.clone(),
        _ => Vec::new(),
    };
    let (control, type_name, options) = match &f.kind {
        Kind::Text => ("input", "text".to_string(), Vec::new()),
        Kind::Integer => ("input", "whole number".to_string(), Vec::new()),
        Kind::Number => ("input", "number".to_string(), Vec::new()),
        Kind::Flag => ("checkboxes", "true or false".to_string(), Vec::new()),
        Kind::Choice(o) => (
            "dropdown",
            "one of a list".to_string(),
            o.iter().map(fields::flow).collect(),
        ),
        Kind::Yaml => ("textarea", yaml_words(&f.shape).to_string(), Vec::new()),
    };
    Row {
        id: f.id.clone(),
        label: f.label.clone(),
        path: f.path.clone(),
        input,
        values,
        control,
        type_name,
        description: f.description.clone(),
        constraints: f
            .constraints
            .iter()
            .map(|c| crate::report::form::Constraint {
                words: c.words.clone(),
                code: c.code.clone(),
            })
            .collect(),
        examples: f.examples.clone(),
        options,
        required: f.required,
        section_start,
        defaults,
        placeholder: None,
    }
}

/// What a YAML field holds, in words.
fn yaml_words(shape: &str) -> &'static str {
    match shape {
        "object" => "a mapping, written as YAML",
        "array" => "a list, written as YAML",
        _ => "a value written as YAML",
    }
}

/// The provider's value of `f` per environment: the environment's layer,
/// else the base layer; for a field in an environment's section, only
/// that environment's.
fn defaults(
    view: &Manager,
    layers: &crate::values::customer::ManagerLayers,
    f: &Field,
) -> Vec<Default> {
    let pointer: String = f
        .path
        .iter()
        .map(|k| format!("/{}", fleetform_yaml::escape_token(k)))
        .collect();
    let base = layers.base.as_ref().and_then(|d| d.value.pointer(&pointer));
    view.config
        .environments
        .iter()
        .filter(|e| f.section.as_deref().is_none_or(|s| s == e.name))
        .filter_map(|e| {
            let own = layers
                .envs
                .get(&e.name)
                .and_then(|d| d.value.pointer(&pointer));
            own.or(base).map(|v| Default {
                env: e.name.clone(),
                value: fields::flow(v),
            })
        })
        .collect()
}

/// The names the form's files show.
fn names<'a>(view: &'a Manager, schema: &'a str, reference: &'a str, name: &'a str) -> Names<'a> {
    Names {
        name,
        schema,
        variables: &view.config.customer.variables,
        workflow: WORKFLOW_PATH,
        reference,
        product: view.product.as_deref(),
    }
}

/// `view`'s schema, as the manager names it, and its form's rows, read
/// once for every file made from them.
struct Loaded {
    schema: Schema,
    shown: String,
    rows: Vec<Row>,
}

fn load(view: &Manager) -> Result<Loaded> {
    let (schema, fields, shown) = schema_and_fields(view)?;
    let rows = rows(view, &schema, &fields)?;
    Ok(Loaded {
        schema,
        shown,
        rows,
    })
}

/// The reference page of `view`'s settings.
pub fn reference(view: &Manager) -> Result<String> {
    render_reference(view, &load(view)?)
}

fn render_reference(view: &Manager, loaded: &Loaded) -> Result<String> {
    let secrets = fields::secrets(&loaded.schema.document);
    let title = match view.product.as_deref() {
        Some(p) => format!("Settings of {p}"),
        None => "Infrastructure settings".to_string(),
    };
    let form = form_name(view);
    let reference = view.config.customer.reference_page();
    crate::report::form::reference(
        &loaded.rows,
        &secrets,
        &names(view, &loaded.shown, &reference, &form),
        &title,
        Some(&form),
    )
    .map_err(|e| Error::failed(format!("rendering the reference page: {e:#}")))
}

fn form_name(view: &Manager) -> String {
    match view.product.as_deref() {
        Some(p) => format!("Change {p}"),
        None => "Change my infrastructure".to_string(),
    }
}

/// Every file of `view`'s form for a customer's repo: the issue form, its
/// description for `fleetform request`, the reference page and the
/// workflow, its fleetform actions pinned to `action_ref`.
pub fn customer_files(view: &Manager, action_ref: &str) -> Result<FormFiles> {
    let loaded = load(view)?;
    let (schema, shown, rows) = (&loaded.schema, &loaded.shown, &loaded.rows);
    self_contained(schema, shown)?;
    let label = label_of(view.product.as_deref());
    let form = form_name(view);
    let reference = view.config.customer.reference_page();
    let issue_form =
        crate::report::form::issue_form(rows, &names(view, shown, &reference, &form), &label)
            .map_err(|e| Error::failed(format!("rendering the issue form: {e:#}")))?;
    let described = serde_json::json!({
        "variables": view.config.customer.variables,
        "schema_from": shown,
        "schema": schema.document,
    });
    let description = serde_json::to_string_pretty(&described)
        .map_err(|e| Error::failed(format!("the form's description: {e}")))?;
    Ok(FormFiles {
        files: vec![
            (format!(".github/ISSUE_TEMPLATE/{label}.yml"), issue_form),
            (format!("{FORMS_DIR}/{label}.json"), description + "\n"),
            (reference.clone(), render_reference(view, &loaded)?),
            (
                WORKFLOW_PATH.to_string(),
                crate::report::workflow::pin_actions(WORKFLOW, action_ref, crate::version::SHORT),
            ),
        ],
    })
}

/// The customer's copy of the schema is checked there alone: a schema
/// that refers to other files of the manager repo cannot be.
fn self_contained(schema: &Schema, shown: &str) -> Result<()> {
    let bytes =
        serde_json::to_vec(&schema.document).map_err(|e| Error::failed(format!("{shown}: {e}")))?;
    Schema::from_bytes(&bytes, Path::new(shown))
        .map(|_| ())
        .map_err(|e| {
            Error::usage(format!(
                "{shown} cannot be checked on its own in a customer's repo ({e}); the form needs a schema without references to other files"
            ))
        })
}

/// Writes the form's files under `dir`, each atomically (never through a
/// symbolic link).
pub fn write(dir: &Path, made: &FormFiles) -> Result<()> {
    for (rel, text) in &made.files {
        crate::util::fs::write_atomic(&dir.join(rel), text.as_bytes())
            .map_err(|e| Error::failed(e.to_string()))?;
    }
    Ok(())
}

/// The change form as one HTML page ([`crate::report::form::html`]); with
/// `repo` (the customer's, `owner/name`), its link opens the answers in
/// the repository's issue form on `server` (https://github.com, or a
/// GitHub Enterprise Server).
pub fn html_page(view: &Manager, repo: Option<&str>, server: &str) -> Result<String> {
    let Loaded { shown, rows, .. } = load(view)?;
    let label = label_of(view.product.as_deref());
    let form = form_name(view);
    let reference = view.config.customer.reference_page();
    let issue_url = repo.map(|r| {
        format!(
            "{}/{r}/issues/new?template={label}.yml",
            server.trim_end_matches('/')
        )
    });
    crate::report::form::html(
        &rows,
        &names(view, &shown, &reference, &form),
        issue_url.as_deref(),
        repo,
    )
    .map_err(|e| Error::failed(format!("rendering the HTML form: {e:#}")))
}
