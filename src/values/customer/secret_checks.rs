//! The checks of a customer's secrets that need no key (what `validate`
//! and the customer's own CI can run): a secret variable (the schema's
//! `writeOnly: true`) never comes from a values file, and a secrets file
//! is well formed and holds only the schema's secrets. Decrypting (and the
//! shape of the decrypted values) happens in the plan job of that
//! customer × environment, or in `validate` when its process holds a key
//! (`engine::Engine::check_secrets`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::data::Diagnostic;
use crate::values::schema::Schema;
use crate::values::secret_files;
use fleetform_yaml::{escape_token, Document, Location};

/// Diagnostics of the customer's files about secrets; `secrets` are the
/// secrets files as read, by environment. Returns where a secret was
/// written in plain (pointers), so no schema message there quotes it.
pub(super) fn check(
    schema: &Schema,
    variables: &Document,
    overrides: &BTreeMap<String, Arc<Document>>,
    secrets: &BTreeMap<String, (PathBuf, Vec<u8>)>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut plain = Vec::new();
    let names = secret_files::secret_names(&schema.document);
    for name in names.keys() {
        let key = escape_token(name);
        let mut spots = vec![(
            variables,
            format!("/{key}"),
            "infra/secrets.<environment>.yml".to_string(),
        )];
        if let Some(Value::Object(envs)) = variables.value.get("environments") {
            for env in envs.keys() {
                spots.push((
                    variables,
                    format!("/environments/{}/{key}", escape_token(env)),
                    env.clone(),
                ));
            }
        }
        for (env, doc) in overrides {
            spots.push((doc, format!("/{key}"), env.clone()));
        }
        for (doc, pointer, env) in spots {
            if doc.exact_pos(&pointer).is_some() {
                diags.push(plain_secret(doc, &pointer, name, &env));
                plain.push(pointer);
            }
        }
    }
    for (shown, bytes) in secrets.values() {
        match secret_files::parse(shown, bytes) {
            Ok(file) => {
                for e in file.entries.iter().filter(|e| !names.contains_key(&e.name)) {
                    diags.push(Diagnostic {
                        location: e.location.clone(),
                        pointer: None,
                        message: format!(
                            "`{}` is not a secret of the schema (a property with `writeOnly: true`): plain values go in the variables file; a secrets file holds only the schema's secrets ({})",
                            e.name.escape_debug(),
                            listed(&names)
                        ),
                    });
                }
            }
            Err(e) => diags.push(Diagnostic {
                location: e.location,
                pointer: None,
                message: e.message,
            }),
        }
    }
    plain
}

/// A secret set in one of the manager's value files: named where it is
/// written, never quoted.
pub(crate) fn in_manager_values(
    doc: &Document,
    names: &BTreeMap<String, Value>,
) -> Vec<Diagnostic> {
    names
        .keys()
        .map(|name| (name, format!("/{}", escape_token(name))))
        .filter(|(_, pointer)| doc.exact_pos(pointer).is_some())
        .map(|(name, pointer)| Diagnostic {
            location: Location {
                file: doc.file.clone(),
                pos: doc.key_pos(&pointer),
            },
            message: format!(
                "`{}` is a secret (`writeOnly: true` in the schema): it never goes in the manager's values, where it would replace every customer's own; a secret comes only from a secrets file (a customer's, or the provider-wide one in `secrets.file`)",
                name.escape_debug()
            ),
            pointer: Some(pointer),
        })
        .collect()
}

fn listed(names: &BTreeMap<String, Value>) -> String {
    if names.is_empty() {
        return "it has none".into();
    }
    let n: Vec<String> = names.keys().map(|k| format!("`{k}`")).collect();
    format!("it has {}", n.join(", "))
}

/// A secret written in a values file: named, never quoted.
fn plain_secret(doc: &Document, pointer: &str, name: &str, env: &str) -> Diagnostic {
    let file = if env.contains('<') {
        env.to_string()
    } else {
        format!("the `{env}` secrets file")
    };
    Diagnostic {
        location: Location {
            file: doc.file.clone(),
            pos: doc.key_pos(pointer),
        },
        pointer: Some(pointer.to_string()),
        message: format!(
            "`{}` is a secret (`writeOnly: true` in the schema): it never goes in a values file, where plans, comments and logs would show it; remove it here and put it, encrypted to your recipient, in {file} (README, \"Customer secrets\")",
            name.escape_debug()
        ),
    }
}
