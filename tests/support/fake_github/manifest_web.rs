//! GitHub's App manifest flow in the fake ("Registering a GitHub App from
//! a manifest",
//! <https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest>):
//!
//! 1. the browser posts the form field `manifest` to
//!    `<web>/settings/apps/new?state=…` (a personal account) or
//!    `<web>/organizations/<org>/settings/apps/new?state=…`; GitHub checks
//!    the manifest (`manifest.rs`: refused whole, with its reason, and no
//!    App made) and, once the person names the App and creates it (the
//!    fake takes the post as that click), redirects to the manifest's
//!    `redirect_url` with `code` and the same `state`;
//! 2. `POST /app-manifests/{code}/conversions` turns the code into the
//!    App: its id, slug, owner, permissions, events, `client_id`,
//!    `client_secret`, `webhook_secret` and private key (`pem`), once,
//!    within the hour ("expires after one hour"); a code used or unknown
//!    is 404.

use serde_json::{json, Value};

use super::state::State;
use super::util::{now_rfc3339, parse_query};

/// The private key the fake gives every App it registers this way (the
/// tests' App key: tokens it mints are then checked as any App's).
const PEM: &str = include_str!("../../fixtures/app/test-app.pem");

/// A web page's answer: status, headers, body.
pub(crate) type WebAnswer = (u16, Vec<(String, String)>, Vec<u8>);

/// An App made by the flow, until its code is exchanged.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub app: Value,
    pub used: bool,
}

/// The account a "new App" page belongs to: `Some(org)`, `Some("")` for
/// the signed-in user's, `None` for any other path.
fn new_app_page(path: &str) -> Option<&str> {
    if path == "/settings/apps/new" {
        return Some("");
    }
    path.strip_prefix("/organizations/")?
        .strip_suffix("/settings/apps/new")
        .filter(|org| !org.is_empty() && !org.contains('/'))
}

/// The web answer to `POST <web>/…/settings/apps/new`: `Some((status,
/// headers, body))`, or `None` when the request is not one.
pub(crate) fn serve(
    st: &mut State,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Option<WebAnswer> {
    let org = new_app_page(path)?;
    if method != "POST" {
        return Some(page(405, "post the manifest form to this page"));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let Some(text) = form.iter().find(|(k, _)| k == "manifest").map(|(_, v)| v) else {
        return Some(page(422, "no manifest"));
    };
    let Ok(manifest) = serde_json::from_str::<Value>(text) else {
        return Some(page(422, "the manifest is not JSON"));
    };
    let settings = match super::manifest::check(&manifest) {
        Ok(s) => s,
        Err(why) => return Some(page(422, &why)),
    };
    let Some(redirect) = manifest["redirect_url"].as_str().map(str::to_string) else {
        return Some(page(422, "Redirect url can't be blank"));
    };
    let state_param = parse_query(query)
        .into_iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let id = 7000 + st.apps.len() as u64 + st.manifest_codes.len() as u64;
    let name = manifest["name"].as_str().unwrap_or_default().to_string();
    let slug: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    register(st, id, &slug, &settings);
    let owner = if org.is_empty() {
        st.bot_login.clone()
    } else {
        org.to_string()
    };
    let hook = manifest.get("hook_attributes").is_some();
    let mut owner_json = super::render::user(st, &owner);
    if !org.is_empty() {
        owner_json["type"] = "Organization".into();
    }
    let now = now_rfc3339();
    let app = json!({
        "id": id,
        "slug": slug,
        "node_id": super::util::node_id("Integration", id),
        "client_id": format!("Iv1.fake{id}"),
        "owner": owner_json,
        "name": name,
        "description": manifest["description"].as_str().unwrap_or_default(),
        "external_url": manifest["url"],
        "html_url": format!("{}/apps/{slug}", st.web_url),
        "created_at": now,
        "updated_at": now,
        "permissions": settings.permissions,
        "events": settings.events,
        "client_secret": format!("fake-client-secret-{id}"),
        "webhook_secret": if hook { Value::from(format!("fake-webhook-secret-{id}")) } else { Value::Null },
        "pem": PEM,
    });
    let code = format!("fakecode{id}");
    st.manifest_codes
        .insert(code.clone(), Pending { app, used: false });
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{sep}code={code}&state={state_param}");
    Some((302, vec![("location".to_string(), location)], Vec::new()))
}

/// The App in the fake's registry, with the manifest's settings.
fn register(st: &mut State, id: u64, slug: &str, settings: &super::apps::AppSettings) {
    st.apps.push(super::apps::App {
        id,
        public_key: super::apps::public_key_of(PEM),
        settings: Some(settings.clone()),
    });
    st.app_slugs.insert(id, slug.to_string());
}

fn page(status: u16, message: &str) -> WebAnswer {
    let body = format!(
        "<!doctype html><html><body><p>{}</p></body></html>",
        message.replace('<', "&lt;")
    );
    (
        status,
        vec![(
            "content-type".to_string(),
            "text/html; charset=utf-8".to_string(),
        )],
        body.into_bytes(),
    )
}

/// `apps/create-from-manifest`: the App for `code`, once (201); 404 for a
/// code unknown or already used.
pub(crate) fn convert(st: &mut State, code: &str) -> super::handlers::Answer {
    match st.manifest_codes.get_mut(code) {
        Some(p) if !p.used => {
            p.used = true;
            super::handlers::Answer::json(201, p.app.clone())
        }
        _ => super::handlers::Answer::not_found(),
    }
}
