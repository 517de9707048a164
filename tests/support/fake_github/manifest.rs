//! GitHub's rules for an App manifest, applied as GitHub applies them when
//! the manifest is posted to `settings/apps/new` ("Registering a GitHub App
//! from a manifest",
//! <https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest>):
//! a manifest that breaks one is refused whole, and no App is made.
//!
//! - `name` is required and at most 34 characters ("Registering a GitHub
//!   App": "The name cannot be longer than 34 characters").
//! - `url` is required; `hook_attributes.url` is required when the App
//!   subscribes to events, and `public` is a boolean.
//! - Each of `default_events` needs a permission the manifest grants:
//!   "Default events are not supported by permissions: …" otherwise. The
//!   permission is each event's "Availability" line on "Webhook events and
//!   payloads"
//!   (<https://docs.github.com/en/webhooks/webhook-events-and-payloads>),
//!   given per event in [`EVENT_PERMISSION`].
//! - The permissions are GitHub's names, each `read` or `write` (or
//!   `admin` for the few that have it).

use serde_json::Value;

use super::apps::AppSettings;

/// GitHub's limit on an App's name.
pub(crate) const NAME_MAX: usize = 34;

/// The permission an App needs, at least `read`, to subscribe to each
/// event ("Webhook events and payloads", each event's "Availability for
/// `<event>`" line: "GitHub Apps ... with the `<permission>` permission").
/// An event not listed is a bug of the fake, not a pass.
const EVENT_PERMISSION: &[(&str, &str)] = &[
    ("check_run", "checks"),
    ("check_suite", "checks"),
    ("create", "contents"),
    ("delete", "contents"),
    ("deployment", "deployments"),
    ("deployment_status", "deployments"),
    ("issue_comment", "issues"),
    ("issues", "issues"),
    ("pull_request", "pull_requests"),
    ("pull_request_review", "pull_requests"),
    ("pull_request_review_comment", "pull_requests"),
    ("push", "contents"),
    ("release", "contents"),
    ("status", "statuses"),
    ("workflow_dispatch", "actions"),
    ("workflow_job", "actions"),
    ("workflow_run", "actions"),
];

/// The App settings a manifest makes, or GitHub's refusal.
pub(crate) fn check(manifest: &Value) -> Result<AppSettings, String> {
    let name = manifest["name"].as_str().unwrap_or_default();
    if name.trim().is_empty() {
        return Err("Name can't be blank".into());
    }
    if name.chars().count() > NAME_MAX {
        return Err(format!(
            "Name is too long (maximum is {NAME_MAX} characters): {name:?}"
        ));
    }
    if manifest["url"].as_str().is_none_or(|u| u.trim().is_empty()) {
        return Err("Url can't be blank".into());
    }
    let public = manifest.get("public").map_or(Some(false), Value::as_bool);
    let Some(public) = public else {
        return Err("public must be true or false".into());
    };
    let permissions = manifest
        .get("default_permissions")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    for (k, v) in permissions.as_object().into_iter().flatten() {
        if !matches!(v.as_str(), Some("read" | "write" | "admin")) {
            return Err(format!(
                "Default permissions: {k} must be read or write, not {v}"
            ));
        }
    }
    let events: Vec<String> = manifest["default_events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    if !events.is_empty() && manifest["hook_attributes"]["url"].as_str().is_none() {
        return Err("Hook url can't be blank (the App subscribes to events)".into());
    }
    let mut unsupported = Vec::new();
    for event in &events {
        let Some((_, needs)) = EVENT_PERMISSION.iter().find(|(e, _)| e == event) else {
            return Err(format!(
                "fake GitHub bug: no permission is known for the event {event}: add it to EVENT_PERMISSION from its Availability line"
            ));
        };
        if permissions[*needs].as_str().is_none() {
            unsupported.push(event.clone());
        }
    }
    if !unsupported.is_empty() {
        return Err(format!(
            "Default events are not supported by permissions: {}",
            unsupported.join(", ")
        ));
    }
    Ok(AppSettings {
        permissions,
        events,
        public,
    })
}
