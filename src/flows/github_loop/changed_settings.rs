//! The settings a customer's pull request changes, for its plan comment
//! (with `sync.form`, which carries the customer's reference page): the
//! variables file on the customer's default branch read (1 request) and
//! compared with the pull request's, each changed value named by the
//! form's field that holds it and linked to its entry in the reference at
//! the pull request's commit. A file that cannot be read or compared
//! lists nothing: a link never stops a plan.

use std::path::Path;

use serde_json::Value;

use crate::config::Manager;
use crate::dispatch::Payload;
use crate::github::GitHub;
use crate::report::comment::SettingLink;
use crate::values::customer::CustomerSource;
use crate::values::form::fields;
use crate::values::schema::Schema;

/// The settings `payload`'s pull request changes in `view`'s variables
/// file (`head`, fetched at its commit), linked on `server`.
pub(super) async fn changed_settings(
    gh: &GitHub,
    view: &Manager,
    payload: &Payload,
    head: &CustomerSource,
    schema: &Schema,
    server: &str,
) -> Vec<SettingLink> {
    let from_pull = payload.event == "pull_request" && payload.pr.is_some();
    if !view.config.sync.form || !from_pull {
        return Vec::new();
    }
    let vars = &view.config.customer.variables;
    let Ok(Some(base)) = gh.get_file(&payload.customer_repo, vars, None).await else {
        return Vec::new();
    };
    let load = |bytes: &[u8]| {
        fleetform_yaml::load_bytes(bytes, Path::new(vars), &Default::default())
            .ok()
            .map(|d| d.value)
    };
    let (Some(base), Some(now)) = (load(&base), load(&head.variables.1)) else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    differing(&base, &now, &mut Vec::new(), &mut changed);
    let fields = fields::fields(&schema.document).unwrap_or_default();
    let page = view.config.customer.reference_page();
    let mut out: Vec<SettingLink> = Vec::new();
    for path in changed {
        // The form's field that holds it: the longest field path that is
        // a prefix of it, else its top-level key.
        let label = fields
            .iter()
            .filter(|f| path.starts_with(&f.path))
            .max_by_key(|f| f.path.len())
            .map(|f| f.label.clone())
            .unwrap_or_else(|| path.first().cloned().unwrap_or_default());
        if label.is_empty() || out.iter().any(|l| l.label == label) {
            continue;
        }
        let url = format!(
            "{}/{}/blob/{}/{page}#{}",
            server.trim_end_matches('/'),
            payload.customer_repo,
            payload.sha,
            crate::report::form::anchor(&format!("`{label}`"))
        );
        out.push(SettingLink { label, url });
    }
    out
}

/// Every path where `a` and `b` differ: into mappings key by key, a
/// value of another kind (or a list) as a whole.
fn differing(a: &Value, b: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                at.push(k.clone());
                differing(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    at,
                    out,
                );
                at.pop();
            }
        }
        _ if a != b => out.push(at.clone()),
        _ => {}
    }
}
