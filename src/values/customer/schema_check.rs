//! A customer's values against the schema: the variables file alone and
//! merged with each override file, every violation placed in its file.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{overlaps, CustomerSource};
use crate::data::Diagnostic;
use crate::values::layers::{Layer, Layered, Source};
use crate::values::schema::Schema;
use fleetform_yaml::{escape_token, Document, Location};

/// Schema validation of the customer's layers, each error placed in the
/// file (and line) it comes from, none repeated, none about a credential.
pub(super) struct SchemaCheck<'a> {
    pub(super) schema: &'a Schema,
    pub(super) source: &'a CustomerSource,
    pub(super) secret_at: Vec<String>,
    pub(super) seen: std::collections::BTreeSet<String>,
    pub(super) diags: Vec<Diagnostic>,
}

impl SchemaCheck<'_> {
    /// Validates one value; `locate` places an error's pointer in a file
    /// (at the key that introduced it, when the second argument is true).
    fn value(&mut self, value: &Value, locate: &dyn Fn(&str, bool) -> Location) {
        for v in self.schema.validate(value) {
            if self.secret_at.iter().any(|p| overlaps(p, &v.pointer)) {
                continue;
            }
            let location = locate(&v.pointer, v.at_key);
            let mut message = v.message;
            if v.number_for_string {
                if let Some(hint) = self.number_hint(&location, &v.pointer) {
                    message = format!("{message}: {hint}");
                }
            }
            let d = Diagnostic {
                location,
                pointer: Some(v.pointer),
                message,
            };
            if self.seen.insert(d.to_string()) {
                self.diags.push(d);
            }
        }
    }

    /// Why a number stands where the file seems to hold text.
    fn number_hint(&self, at: &Location, pointer: &str) -> Option<String> {
        let (_, text) = std::iter::once(&self.source.variables)
            .chain(self.source.overrides.values())
            .find(|(shown, _)| *shown == at.file)?;
        let key = pointer
            .rsplit_once('/')
            .map(|(_, k)| k.replace("~1", "/").replace("~0", "~"))
            .filter(|k| !k.chars().all(|c| c.is_ascii_digit()));
        crate::values::quoting::number_hint(text, at.pos, key.as_deref())
    }

    /// The variables file, then each environment's override file on top.
    pub(super) fn layers(
        &mut self,
        variables: &Arc<Document>,
        overrides: &BTreeMap<String, Arc<Document>>,
    ) {
        if overrides.is_empty() && !contains_null(&variables.value) {
            // Nothing to merge: the layered value would be the document
            // itself (only nulls change in a merge), so validate it as it
            // is and place errors in it directly.
            self.value(&variables.value, &|p, key| at(variables, p, key));
            return;
        }
        // Most customers' values are valid, and only a violation is placed
        // in a file: merge without origins first, and again with them only
        // to say where something is wrong.
        if merged(Layered::untracked(), variables, overrides, |l| {
            self.quiet(&l.value)
        }) {
            return;
        }
        let in_layers = |layered: &Layered, pointer: &str, key: bool| {
            match key {
                true => layered.origin_key(pointer),
                false => layered.origin(pointer),
            }
            .map(|o| o.location)
            .unwrap_or_else(|| at(variables, pointer, key))
        };
        merged(Layered::new(), variables, overrides, |l| {
            self.value(&l.value, &|p, key| in_layers(l, p, key));
            true
        });
    }

    /// Whether `value` holds nothing [`SchemaCheck::value`] would report.
    fn quiet(&self, value: &Value) -> bool {
        self.schema
            .validate(value)
            .iter()
            .all(|v| self.secret_at.iter().any(|p| overlaps(p, &v.pointer)))
    }
}

/// The layered values a customer's check validates, merged from `start`
/// (with origins or without): the variables file, then each environment's
/// override file on top of it, kept apart as its `environments.<env>`
/// block. `each` sees them in that order and stops the merge by returning
/// false; the answer is whether it saw them all.
fn merged(
    start: Layered,
    variables: &Arc<Document>,
    overrides: &BTreeMap<String, Arc<Document>>,
    mut each: impl FnMut(&Layered) -> bool,
) -> bool {
    let whole = |layer, doc: &Arc<Document>| Source {
        layer,
        doc: doc.clone(),
        root: String::new(),
    };
    let mut base = start;
    base.apply(whole(Layer::Customer, variables), &variables.value);
    if !each(&base) {
        return false;
    }
    overrides.iter().all(|(env, doc)| {
        let mut l = base.clone();
        let at = format!("/environments/{}", escape_token(env));
        l.apply_at(&at, whole(Layer::CustomerEnvFile, doc), &doc.value);
        each(&l)
    })
}

/// Where `pointer` is in `doc`: its key's position, or its value's.
fn at(doc: &Document, pointer: &str, key: bool) -> Location {
    match key {
        true => Location {
            file: doc.file.clone(),
            pos: doc.key_pos(pointer),
        },
        false => doc.locate(pointer),
    }
}

/// Whether a null appears anywhere in `v` (a merge deletes those keys).
fn contains_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.values().any(contains_null),
        Value::Array(a) => a.iter().any(contains_null),
        _ => false,
    }
}
