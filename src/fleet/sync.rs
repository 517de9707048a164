//! The customer template `sync` propagates: `sync.template_dir` in the
//! manager repo (default `templates/customer/`), files ending in `.j2`
//! rendered per customer with minijinja (the suffix is dropped), others
//! copied. Reading and rendering only; writing to customer repos is the
//! command's (through GitHub).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{is_relative_inside, Customer, Manager};
use crate::error::{Error, Result, Say};

/// The rendered template for one customer: path → content.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Template files: (path in the customer repo, source, render?).
pub fn template_files(manager: &Manager) -> Result<Vec<(String, String, bool)>> {
    let root = manager.path(&manager.config.sync.template_dir);
    if !root.is_dir() {
        return Err(Error::Usage(
            Say::new(format!(
                "no customer template at {}",
                crate::config::display_path(&root).display()
            ))
            .help("create it (sync.template_dir in fleetform.yml)"),
        ));
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(&rel))
            .map_err(|e| Error::usage(format!("{}: {e}", root.join(&rel).display())))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = rel.join(e.file_name());
            let ty = e.file_type().map_err(|err| Error::usage(err.to_string()))?;
            if ty.is_dir() {
                stack.push(name);
            } else if ty.is_file() {
                let text = crate::util::fs::read_input_text(e.path()).map_err(|err| {
                    Error::usage(format!(
                        "{}: {err} (template files must be UTF-8 text)",
                        e.path().display()
                    ))
                })?;
                let s = name.to_string_lossy().replace('\\', "/");
                let (path, render) = match s.strip_suffix(".j2") {
                    Some(p) => (p.to_string(), true),
                    None => (s, false),
                };
                if !is_relative_inside(Path::new(&path)) {
                    return Err(Error::usage(format!(
                        "template file `{path}` is not a safe relative path"
                    )));
                }
                out.push((path, text, render));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::usage("the customer template folder is empty"));
    }
    Ok(out)
}

pub fn render_for(
    manager: &Manager,
    templates: &[(String, String, bool)],
    c: &Customer,
    manager_repo: &str,
    action_ref: &str,
) -> Result<Files> {
    // Plain whitespace handling: templates here are YAML and Markdown files
    // whose lines must stay as written.
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    let ctx = minijinja::context! {
        customer => minijinja::Value::from(minijinja::value::Serde(c)),
        manager_repo => manager_repo,
        manager_owner => manager_repo.split_once('/').map(|(o, _)| o).unwrap_or(""),
        manager_name => manager_repo.split_once('/').map(|(_, n)| n).unwrap_or(""),
        version => env!("CARGO_PKG_VERSION"),
        action_ref => action_ref,
        pinned_to => crate::report::workflow::describe_pin(action_ref, env!("CARGO_PKG_VERSION")),
        schema_path => manager.config.schema.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        variables => manager.config.customer.variables.clone(),
        overrides => manager.config.customer.overrides.clone(),
        status_context => manager.config.status_context.clone(),
        environments => manager.environment_names().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    };
    let mut files = Files::new();
    for (path, src, render) in templates {
        let text = if *render {
            env.render_str(src, ctx.clone()).map_err(|e| {
                Error::usage(format!("template `{path}.j2` failed for `{}`: {e}", c.slug))
            })?
        } else {
            src.clone()
        };
        files.insert(path.clone(), text.into_bytes());
    }
    Ok(files)
}
