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

/// GitHub's longest App name ("Registering a GitHub App": "The name
/// cannot be longer than 34 characters"); a longer one refuses the whole
/// manifest.
pub const NAME_MAX: usize = 34;

/// The name of `provider`'s App `app`: "<provider> fleetform <app>", or
/// "<provider> <app>" when that is too long, or the provider's name cut to
/// fit before " <app>"; never over [`NAME_MAX`] characters, and the three
/// Apps' names stay apart (their `app` parts differ).
pub fn app_name(provider: &str, app: &str) -> String {
    let full = format!("{provider} fleetform {app}");
    if full.chars().count() <= NAME_MAX {
        return full;
    }
    let short = format!("{provider} {app}");
    if short.chars().count() <= NAME_MAX {
        return short;
    }
    let room = NAME_MAX - 1 - app.chars().count();
    let cut: String = provider.chars().take(room).collect();
    format!("{} {app}", cut.trim_end_matches(['-', ' ']))
}

/// One App's manifest, for `provider` (or the placeholder `PROVIDER`).
pub fn manifest(spec: &AppSpec, provider: Option<&str>) -> Value {
    let account = provider.unwrap_or("PROVIDER");
    let permissions: Map<String, Value> = spec
        .permissions
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let mut m = json!({
        "name": app_name(account, spec.name),
        "url": format!("https://github.com/{account}"),
        "description": description(spec),
        "redirect_url": REDIRECT_URL.replace("PROVIDER", account),
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
pub fn files(provider: Option<&str>) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = ALL
        .iter()
        .map(|spec| {
            let text = serde_json::to_string_pretty(&manifest(spec, provider)).unwrap_or_default();
            (format!("apps/{}-app.json", spec.name), text + "\n")
        })
        .collect();
    files.push(("apps/register.html".to_string(), register_page(provider)));
    files
}

/// A page with one form per App; opened in a browser signed in to GitHub,
/// each button registers that App under the account the form names.
fn register_page(provider: Option<&str>) -> String {
    let mut forms = String::new();
    for spec in ALL {
        let json = serde_json::to_string(&manifest(spec, provider)).unwrap_or_default();
        forms.push_str(&format!(
            "<h2>The {label}</h2>\n<form action=\"https://github.com/settings/apps/new\" method=\"post\">\n  <input type=\"hidden\" name=\"manifest\" value=\"{}\">\n  <button type=\"submit\">Register the {label}</button>\n</form>\n",
            html_escape(&json),
            label = spec.label
        ));
    }
    format!(
        "<!doctype html>\n<!-- Written by `fleetform init`. Replace the placeholders in capitals first\n     (README, \"The Apps\"; an App's name is at most 34 characters, or GitHub refuses the\n     manifest: `fleetform init --provider ACCOUNT` writes names that fit); for an organisation, make each form's action\n     https://github.com/organizations/<org>/settings/apps/new -->\n<html><head><meta charset=\"utf-8\"><title>fleetform: register the GitHub Apps</title></head>\n<body>\n{forms}</body></html>\n"
    )
}

/// `s` safe inside HTML text and a double-quoted attribute.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name fits GitHub's 34 characters and the three Apps keep
    /// names of their own, whatever the account's length (GitHub logins
    /// are at most 39 characters).
    #[test]
    fn app_names_fit_githubs_limit_for_any_account() {
        for len in 1..=39 {
            let account: String = "northwind-cloud-services-europe-gmbh-xyz"
                .chars()
                .take(len)
                .collect();
            if !crate::config::is_login(&account) {
                continue;
            }
            let names: Vec<String> = ALL.iter().map(|s| app_name(&account, s.name)).collect();
            for n in &names {
                assert!(n.chars().count() <= NAME_MAX, "{n:?} ({len})");
                assert!(!n.contains("  ") && !n.contains("- "), "{n:?}");
            }
            let distinct: std::collections::BTreeSet<_> = names.iter().collect();
            assert_eq!(distinct.len(), names.len(), "{names:?}");
        }
        assert_eq!(app_name("acme", "customer"), "acme fleetform customer");
        assert_eq!(
            app_name("northwind-cloud-services", "customer"),
            "northwind-cloud-services customer"
        );
    }
}
