//! The provider's GitHub App manifests `fleetform init` writes
//! (`apps/<name>-app.json`), one per App of `util::apps`, and a page that
//! posts each to GitHub ("Registering a GitHub App from a manifest"): a
//! form sending `manifest` (the JSON) to
//! `https://github.com/settings/apps/new` (or
//! `/organizations/<org>/settings/apps/new`). GitHub then shows the App
//! for a name and a click, and redirects to `redirect_url` with a `code`
//! that `POST /app-manifests/{code}/conversions` turns into the App's id,
//! private key and webhook secret within the hour. Placeholders in capitals
//! (`PROVIDER`, `RELAY.EXAMPLE`) are the provider's to replace (README,
//! "The Apps").

use serde_json::{json, Map, Value};

use crate::util::apps::{AppSpec, ALL};

/// Where a finished registration lands; its address bar then holds the
/// `code` (any page of the provider's does).
const REDIRECT_URL: &str = "https://github.com/PROVIDER/MANAGER-REPO";

/// The relay's webhook, which GitHub posts the customer App's events to.
pub const HOOK_URL: &str = "https://RELAY.EXAMPLE/webhook";

/// One App's manifest.
pub fn manifest(spec: &AppSpec) -> Value {
    let permissions: Map<String, Value> = spec
        .permissions
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let mut m = json!({
        "name": format!("PROVIDER fleetform {}", spec.name),
        "url": "https://github.com/PROVIDER",
        "description": description(spec),
        "redirect_url": REDIRECT_URL,
        "public": spec.public,
        "default_permissions": permissions,
        "default_events": spec.events,
    });
    if !spec.events.is_empty() {
        m["hook_attributes"] = json!({ "url": HOOK_URL, "active": true });
    }
    m
}

fn description(spec: &AppSpec) -> &'static str {
    match spec.name {
        "customer" => "Installed by each customer on its infrastructure repo: fleetform reads it and reports plans there (commit statuses, pull request comments, deployments). It cannot push.",
        "manager" => "Installed on the provider's fleetform manager repo only: dispatches customers' plans and applies to it.",
        _ => "Opt-in: fleetform sync pushes the customer template to a branch of each customer's repo and opens a pull request.",
    }
}

/// `apps/<name>-app.json` for every App, and `apps/register.html`.
pub fn files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = ALL
        .iter()
        .map(|spec| {
            let text = serde_json::to_string_pretty(&manifest(spec)).unwrap_or_default();
            (format!("apps/{}-app.json", spec.name), text + "\n")
        })
        .collect();
    files.push(("apps/register.html".to_string(), register_page()));
    files
}

/// A page with one form per App; opened in a browser signed in to GitHub,
/// each button registers that App under the account the form names.
fn register_page() -> String {
    let mut forms = String::new();
    for spec in ALL {
        let json = serde_json::to_string(&manifest(spec)).unwrap_or_default();
        forms.push_str(&format!(
            "<h2>The {label}</h2>\n<form action=\"https://github.com/settings/apps/new\" method=\"post\">\n  <input type=\"hidden\" name=\"manifest\" value=\"{}\">\n  <button type=\"submit\">Register the {label}</button>\n</form>\n",
            html_escape(&json),
            label = spec.label
        ));
    }
    format!(
        "<!doctype html>\n<!-- Written by `fleetform init`. Replace the placeholders in capitals first\n     (README, \"The Apps\"); for an organisation, make each form's action\n     https://github.com/organizations/<org>/settings/apps/new -->\n<html><head><meta charset=\"utf-8\"><title>fleetform: register the GitHub Apps</title></head>\n<body>\n{forms}</body></html>\n"
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
