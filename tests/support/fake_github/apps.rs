//! GitHub Apps in the fake: registered Apps (their public keys), their
//! installations, JWT checks, and installation tokens restricted to the
//! repositories and permissions asked for ("Generating a JSON Web Token
//! (JWT) for a GitHub App", "Create an installation access token for an
//! app").

use base64::Engine as _;
use serde_json::{json, Value};

use super::handlers::{Answer, Ctx};
use super::render;
use super::state::{repo_key, State};
use super::util::{epoch_secs, rfc3339};

/// A registered App.
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub id: u64,
    /// RSAPublicKey DER.
    pub public_key: Vec<u8>,
    /// What the App's settings grant (`GET /app`'s `permissions`), its
    /// webhook events and whether it is public; `None` until set: then
    /// any token permission is granted.
    pub settings: Option<AppSettings>,
}

/// An App's settings page: permissions, events, visibility.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub permissions: Value,
    pub events: Vec<String>,
    pub public: bool,
}

/// An App's installation on an account, for some of its repositories.
#[derive(Debug, Clone)]
pub(crate) struct Installation {
    pub id: u64,
    pub app_id: u64,
    pub account: String,
    /// `owner/name`, as given.
    pub repos: Vec<String>,
    /// Installed on every repository of the account (GitHub's
    /// `repository_selection: all`), not only the ones selected.
    pub all: bool,
}

/// An installation token the fake minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    pub token: String,
    pub installation_id: u64,
    /// The App whose JWT asked for it.
    pub app_id: u64,
    /// Lowercase `owner/name`.
    pub repos: Vec<String>,
    pub permissions: Value,
}

/// The App a bearer JWT was signed by, or what is wrong with it.
pub(crate) fn verify_jwt(st: &State, jwt: &str) -> Result<u64, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, sig] = parts.as_slice() else {
        return Err("a JWT has three parts".into());
    };
    let decode = |p: &str| {
        b64.decode(p)
            .map_err(|_| "a JWT part is not base64url".to_string())
    };
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("JWT alg must be RS256, not {}", header["alg"]));
    }
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let iss = match &claims["iss"] {
        Value::String(s) => s
            .parse::<u64>()
            .map_err(|_| format!("iss {s} is not an App id"))?,
        Value::Number(n) => n.as_u64().ok_or("iss is not an App id")?,
        _ => return Err("JWT without iss".into()),
    };
    let app = st
        .apps
        .iter()
        .find(|a| a.id == iss)
        .ok_or(format!("no App {iss}"))?;
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.public_key,
    );
    let signed = jwt.rsplit_once('.').map(|(s, _)| s).unwrap_or_default();
    key.verify(signed.as_bytes(), &decode(sig)?)
        .map_err(|_| "the JWT's signature does not verify with the App's key".to_string())?;
    let (now, iat, exp) = (
        epoch_secs() as i64,
        claims["iat"].as_i64().ok_or("JWT without iat")?,
        claims["exp"].as_i64().ok_or("JWT without exp")?,
    );
    if exp <= now || iat > now + 60 || exp - iat > 660 {
        return Err(format!(
            "JWT times out of bounds (iat {iat}, exp {exp}, now {now}; at most 10 minutes)"
        ));
    }
    Ok(iss)
}

/// Paths a JWT may call: the App's own endpoints.
pub(crate) fn jwt_may_call(path: &str) -> bool {
    path == "/app"
        || path.starts_with("/app/")
        || path
            .strip_prefix("/repos/")
            .is_some_and(|r| r.split('/').count() == 3 && r.ends_with("/installation"))
}

/// `GET /repos/{owner}/{repo}/installation`.
pub(crate) fn repo_installation(st: &mut State, ctx: &Ctx, repo: &str) -> Answer {
    let Some(app) = st.current_app else {
        return Answer::error(401, "A JSON web token could not be decoded");
    };
    let key = repo_key(repo);
    let Some(inst) = st
        .installations
        .iter()
        .find(|i| i.app_id == app && i.repos.iter().any(|r| repo_key(r) == key))
        .cloned()
    else {
        return Answer::not_found();
    };
    let _ = ctx;
    Answer::json(200, installation_json(st, &inst))
}

fn installation_json(st: &mut State, inst: &Installation) -> Value {
    let api = st.api_url.clone();
    let account = render::user(st, &inst.account);
    json!({
        "id": inst.id,
        "account": account,
        "repository_selection": if inst.all { "all" } else { "selected" },
        "access_tokens_url": format!("{api}/app/installations/{}/access_tokens", inst.id),
        "repositories_url": format!("{api}/installation/repositories"),
        "html_url": format!("{}/organizations/{}/settings/installations/{}", st.web_url, inst.account, inst.id),
        "app_id": inst.app_id,
        "target_id": 1,
        "target_type": "Organization",
        "permissions": { "contents": "read", "statuses": "write", "pull_requests": "write", "deployments": "write" },
        "events": [],
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "single_file_name": null,
        "app_slug": st.app_slugs.get(&inst.app_id).cloned().unwrap_or_else(|| "fleetform-test".into()),
        "suspended_by": null,
        "suspended_at": null,
    })
}

/// `POST /app/installations/{installation_id}/access_tokens`.
pub(crate) fn create_token(st: &mut State, ctx: &Ctx) -> Answer {
    let Some(app) = st.current_app else {
        return Answer::error(401, "A JSON web token could not be decoded");
    };
    let id: u64 = ctx.param("installation_id").parse().unwrap_or(0);
    let Some(inst) = st
        .installations
        .iter()
        .find(|i| i.id == id && i.app_id == app)
        .cloned()
    else {
        return Answer::not_found();
    };
    let body = ctx.body.cloned().unwrap_or(json!({}));
    let owned = |name: &str| {
        inst.repos
            .iter()
            .find(|r| {
                r.split_once('/')
                    .is_some_and(|(_, n)| n.eq_ignore_ascii_case(name))
            })
            .map(|r| repo_key(r))
    };
    let repos: Vec<String> = match body.get("repositories").and_then(Value::as_array) {
        Some(names) => {
            let mut out = Vec::new();
            for n in names.iter().filter_map(Value::as_str) {
                match owned(n) {
                    Some(r) => out.push(r),
                    None => return Answer::error(422, &format!("There is at least one repository that does not exist or is not accessible to the parent installation: {n}")),
                }
            }
            out
        }
        None => inst.repos.iter().map(|r| repo_key(r)).collect(),
    };
    let permissions = body.get("permissions").cloned().unwrap_or(json!({}));
    if let Some(refused) = beyond_grant(st, app, &permissions) {
        return Answer::error(422, &refused);
    }
    let (token, expires_at) = mint(st, app, id, repos, permissions.clone());
    Answer::json(
        201,
        json!({
            "token": token,
            "expires_at": rfc3339(expires_at),
            "permissions": permissions,
            "repository_selection": "selected",
        }),
    )
}

/// A new installation token of App `app_id`'s installation for `repos`
/// (lowercase `owner/name`) with exactly `permissions`, kept as GitHub
/// keeps it: scoped to those repositories, expiring after the
/// installation token life. Its text and its expiry (Unix seconds).
pub(crate) fn mint(
    st: &mut State,
    app_id: u64,
    installation_id: u64,
    repos: Vec<String>,
    permissions: Value,
) -> (String, u64) {
    let token = format!("ghs_fakeinstallationtoken{:012}", st.next_id());
    let expires_at = epoch_secs() + st.installation_token_life;
    st.scoped_tokens.push((token.clone(), repos.clone()));
    st.token_expiry.insert(token.clone(), expires_at);
    st.minted.push(MintedToken {
        token: token.clone(),
        installation_id,
        app_id,
        repos,
        permissions,
    });
    (token, expires_at)
}

/// The account a request with `token` acts as: `<slug>[bot]` for an
/// installation token the fake minted, else the fake's own account.
pub(crate) fn sender_of(st: &State, token: Option<&str>) -> String {
    let minted = token.and_then(|t| st.minted.iter().find(|m| m.token == t));
    let app = minted.and_then(|m| {
        st.installations
            .iter()
            .find(|i| i.id == m.installation_id)
            .map(|i| i.app_id)
    });
    match app {
        Some(id) => format!(
            "{}[bot]",
            st.app_slugs
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("app-{id}"))
        ),
        None => st.bot_login.clone(),
    }
}

/// GitHub's refusal when a token asks more than the App was granted
/// ("The permissions requested are not granted to this installation.").
fn beyond_grant(st: &State, app: u64, asked: &Value) -> Option<String> {
    let settings = st.apps.iter().find(|a| a.id == app)?.settings.as_ref()?;
    let rank = |v: &str| match v {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    };
    let asked = asked.as_object()?;
    let over = asked.iter().any(|(k, v)| {
        let granted = settings.permissions[k].as_str().map_or(0, rank);
        rank(v.as_str().unwrap_or("")) > granted
    });
    over.then(|| "The permissions requested are not granted to this installation.".to_string())
}

/// The `integration` GitHub answers for an App.
fn app_json(st: &mut State, app: &App) -> Value {
    let slug = st
        .app_slugs
        .get(&app.id)
        .cloned()
        .unwrap_or_else(|| format!("app-{}", app.id));
    let (permissions, events) = match &app.settings {
        Some(s) => (s.permissions.clone(), s.events.clone()),
        None => (json!({ "metadata": "read" }), Vec::new()),
    };
    let owner = render::user(st, "provider");
    json!({
        "id": app.id,
        "slug": slug,
        "node_id": format!("MDM6QXBw{}", app.id),
        "client_id": format!("Iv1.fake{:08}", app.id),
        "owner": owner,
        "name": slug,
        "description": null,
        "external_url": "https://example.com",
        "html_url": format!("{}/apps/{slug}", st.web_url),
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "permissions": permissions,
        "events": events,
        "installations_count": st.installations.iter().filter(|i| i.app_id == app.id).count(),
    })
}

/// `GET /app`: the App whose JWT the request holds.
pub(crate) fn authenticated_app(st: &mut State) -> Answer {
    let Some(id) = st.current_app else {
        return Answer::error(401, "A JSON web token could not be decoded");
    };
    let Some(app) = st.apps.iter().find(|a| a.id == id).cloned() else {
        return Answer::not_found();
    };
    Answer::json(200, app_json(st, &app))
}

/// `GET /apps/{app_slug}`: a public App to anyone; a private one only to a
/// request with a credential (GitHub: "If the GitHub App you specify is
/// private, you must authenticate").
pub(crate) fn app_by_slug(st: &mut State, ctx: &Ctx, authenticated: bool) -> Answer {
    let slug = ctx.param("app_slug");
    let id = st
        .app_slugs
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(slug))
        .map(|(id, _)| *id);
    let app = id.and_then(|id| st.apps.iter().find(|a| a.id == id).cloned());
    match app {
        Some(a) if authenticated || a.settings.as_ref().is_none_or(|s| s.public) => {
            Answer::json(200, app_json(st, &a))
        }
        _ => Answer::not_found(),
    }
}

/// The public half of `pem` (a PKCS#1 RSA private key), as the fake keeps
/// an App's key.
pub(crate) fn public_key_of(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).expect("PEM body");
    let pair = ring::signature::RsaKeyPair::from_der(&der).expect("an RSA key");
    use ring::signature::KeyPair as _;
    pair.public_key().as_ref().to_vec()
}
