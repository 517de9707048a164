//! GitHub Actions OIDC tokens, checked the way an identity provider's
//! relying party must: RS256 only (never `none`, never an HMAC, never an
//! algorithm the token chooses), a key of the issuer's JWKS by `kid`, the
//! issuer and audience exactly, and the times with a small skew. Only then
//! are the claims read, and only the claims say who the caller is. The
//! signature, algorithm, `exp`/`nbf`, `iss` and `aud` are checked by the
//! `jsonwebtoken` crate (over ring); this module adds what it does not
//! do: the size cap and shape check before any key is fetched, the
//! algorithm pinned before the header is trusted, `crit` refused, `iat`,
//! and the workflow that asked for the token.
//!
//! The issuer's keys are held by [`jwks`]: one fetch at a time shared by
//! all callers, failures remembered for a few seconds, every caller
//! answered within 2 s, held keys used past their refresh time while the
//! issuer cannot be reached.

mod jwks;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

pub use jwks::{parse_jwks, Jwks, KeysUnavailable, RsaKey, Timing, REFRESH_ENV};

/// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
pub const SKEW_SECS: u64 = 60;
/// The longest token accepted (GitHub's are about 1.5 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused. The messages name the check, never the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a JWT (three base64url parts, at most {MAX_TOKEN_BYTES} bytes)")]
    Malformed,
    #[error("the token's algorithm `{0}` is refused: only RS256 is accepted")]
    Algorithm(String),
    #[error("the token names no key (`kid`)")]
    NoKid,
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token's issuer is not {expected}")]
    Issuer { expected: String },
    #[error("the token's audience is not `{expected}`: request the OIDC token with that audience (the trigger's `relay-audience` input, the FLEETFORM_RELAY_AUDIENCE variable in the template)")]
    Audience { expected: String },
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet (nbf or iat in the future)")]
    NotYet,
    #[error("the token lacks the claim `{0}`")]
    Claim(&'static str),
}

/// The claims of a GitHub Actions OIDC token the relay uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// `owner/name` of the repo whose workflow asked for the token.
    pub repository: String,
    /// Its numeric id: a renamed repo keeps it, a recreated one does not.
    #[serde(deserialize_with = "number_or_string")]
    pub repository_id: u64,
    /// The commit the run is on (for a pull request: the merge commit).
    pub sha: String,
    /// The ref the run is on (`refs/heads/..`, `refs/pull/N/merge`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// `push`, `pull_request`, `workflow_dispatch`, ...
    pub event_name: String,
    #[serde(default, deserialize_with = "opt_number_or_string")]
    pub run_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_number_or_string")]
    pub run_attempt: Option<u64>,
    /// The token's unique id.
    #[serde(default)]
    pub jti: Option<String>,
    /// When the token expires (Unix seconds; checked before the claims
    /// are read).
    #[serde(default)]
    pub exp: u64,
    /// When GitHub issued the token (Unix seconds; checked not to be in
    /// the future): when the customer's job asked for it, which the
    /// manager measures a plan from (`dispatch::Batch`'s `asked_at`).
    #[serde(default)]
    pub iat: u64,
    #[serde(default)]
    pub actor: Option<String>,
    /// The workflow that asked for the token:
    /// `owner/repo/.github/workflows/file.yml@ref`.
    #[serde(default)]
    pub job_workflow_ref: Option<String>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("not a positive integer")),
        Value::String(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom("not a positive integer")),
        _ => Err(serde::de::Error::custom("not a positive integer")),
    }
}

fn opt_number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number_or_string(d).map(Some)
}

/// What a token must carry besides a good signature.
#[derive(Debug, Clone)]
pub struct Expect {
    pub issuer: String,
    pub audience: String,
    /// The workflow paths (in the token's own repository) whose runs may
    /// call the relay: `relay.workflows`.
    pub workflows: Vec<String>,
}

/// Why the workflow that asked for the token may not call the relay: the
/// caller gets 403 `workflow_not_allowed`. Names the workflow, never the
/// token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("the token carries no `job_workflow_ref`: only a run of the trigger workflow may call the relay; run it from {allowed}")]
    Missing { allowed: String },
    #[error("the token was asked for by the workflow `{workflow}`, which is not of the repository {repository}: run the trigger from the customer's repo itself ({allowed}), not from a reusable workflow of another repo")]
    OtherRepo {
        workflow: String,
        repository: String,
        allowed: String,
    },
    #[error("the token was asked for by the workflow `{workflow}`, which may not call the relay: run the trigger from {allowed} (the provider lists the allowed workflows in `relay.workflows` of its fleetform.yml)")]
    NotListed { workflow: String, allowed: String },
}

/// Checks that the token's `job_workflow_ref` is
/// `<repository>/<one of workflows>@<any ref>`.
pub fn check_workflow(claims: &Claims, workflows: &[String]) -> Result<(), WorkflowError> {
    let allowed = workflows
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let shown = |s: &str| s.chars().filter(|c| !c.is_control()).take(300).collect();
    let Some(full) = claims.job_workflow_ref.as_deref().filter(|r| !r.is_empty()) else {
        return Err(WorkflowError::Missing { allowed });
    };
    let prefix = format!("{}/", claims.repository);
    let in_repo = full
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(&prefix))
        .map(|_| &full[prefix.len()..]);
    let Some(rest) = in_repo else {
        return Err(WorkflowError::OtherRepo {
            workflow: shown(full),
            repository: claims.repository.clone(),
            allowed,
        });
    };
    if workflows.iter().any(|w| {
        rest.strip_prefix(w.as_str())
            .is_some_and(|r| r.starts_with('@'))
    }) {
        return Ok(());
    }
    let path = rest.split('@').next().unwrap_or(rest);
    Err(WorkflowError::NotListed {
        workflow: shown(path),
        allowed,
    })
}

/// Either the token is refused, or the keys could not be had.
#[derive(Debug)]
pub enum VerifyError {
    Token(TokenError),
    Keys(KeysUnavailable),
    Workflow(WorkflowError),
}

/// Checks `token` and returns its claims.
pub async fn verify(
    jwks: &Jwks,
    token: &str,
    expect: &Expect,
    now: u64,
) -> Result<Claims, VerifyError> {
    let parts = split(token).map_err(VerifyError::Token)?;
    let kid = header_kid(&parts.header).map_err(VerifyError::Token)?;
    let key = jwks
        .key(&kid)
        .await
        .map_err(VerifyError::Keys)?
        .ok_or(VerifyError::Token(TokenError::UnknownKey))?;
    let checked = library_checks(token, &key, expect).map_err(VerifyError::Token)?;
    let claims = check_claims(&checked, expect, now).map_err(VerifyError::Token)?;
    check_workflow(&claims, &expect.workflows).map_err(VerifyError::Workflow)?;
    Ok(claims)
}

/// The signature (RS256 only, by `key`), `exp` and `nbf` (with
/// [`SKEW_SECS`]), `iss` and `aud`, checked by `jsonwebtoken`: the claims.
fn library_checks(token: &str, key: &RsaKey, expect: &Expect) -> Result<Value, TokenError> {
    use jsonwebtoken::errors::ErrorKind;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.leeway = SKEW_SECS;
    v.validate_nbf = true;
    v.set_issuer(&[&expect.issuer]);
    v.set_audience(&[&expect.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    let key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&key.n, &key.e);
    let issuer = || TokenError::Issuer {
        expected: expect.issuer.clone(),
    };
    let audience = || TokenError::Audience {
        expected: expect.audience.clone(),
    };
    match jsonwebtoken::decode::<Value>(token.trim(), &key, &v) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => TokenError::Signature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYet,
            ErrorKind::InvalidIssuer => issuer(),
            ErrorKind::InvalidAudience => audience(),
            ErrorKind::MissingRequiredClaim(c) if c == "iss" => issuer(),
            ErrorKind::MissingRequiredClaim(c) if c == "aud" => audience(),
            ErrorKind::MissingRequiredClaim(_) => TokenError::Claim("exp"),
            ErrorKind::InvalidAlgorithm => TokenError::Algorithm("RS256".into()),
            _ => TokenError::Malformed,
        }),
    }
}

/// The token's header and claims, decoded: its shape is checked (and its
/// size capped) before any key is fetched for it.
struct Parts {
    header: Value,
}

fn split(token: &str) -> Result<Parts, TokenError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(TokenError::Malformed);
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = |p: &str| -> Result<Value, TokenError> {
        let bytes = b64.decode(p).map_err(|_| TokenError::Malformed)?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        v.is_object().then_some(v).ok_or(TokenError::Malformed)
    };
    json(c)?;
    b64.decode(s).map_err(|_| TokenError::Malformed)?;
    Ok(Parts { header: json(h)? })
}

/// The header's `kid`, after the algorithm is pinned to RS256 and no
/// critical extension is asked for.
fn header_kid(header: &Value) -> Result<String, TokenError> {
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg != "RS256" {
        let shown: String = alg
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        return Err(TokenError::Algorithm(if shown.is_empty() {
            "(none)".into()
        } else {
            shown
        }));
    }
    if header.get("crit").is_some() {
        return Err(TokenError::Malformed);
    }
    header
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .map(str::to_string)
        .ok_or(TokenError::NoKid)
}

/// The claims the relay reads, after `iat` (which `jsonwebtoken` does not
/// check) and, again against the relay's own clock `now` (the one the unit
/// tests pin), the issuer, audience, `exp` and `nbf`.
fn check_claims(claims: &Value, expect: &Expect, now: u64) -> Result<Claims, TokenError> {
    let num = |name: &'static str| claims.get(name).and_then(Value::as_u64);
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer.as_str()) {
        return Err(TokenError::Issuer {
            expected: expect.issuer.clone(),
        });
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == expect.audience,
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(expect.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(TokenError::Audience {
            expected: expect.audience.clone(),
        });
    }
    let exp = num("exp").ok_or(TokenError::Claim("exp"))?;
    if exp.saturating_add(SKEW_SECS) <= now {
        return Err(TokenError::Expired);
    }
    let iat = num("iat").ok_or(TokenError::Claim("iat"))?;
    let nbf = num("nbf").unwrap_or(iat);
    if nbf > now + SKEW_SECS || iat > now + SKEW_SECS {
        return Err(TokenError::NotYet);
    }
    let claims: Claims = serde_json::from_value(claims.clone()).map_err(|e| {
        let missing = ["repository_id", "repository", "sha", "ref", "event_name"]
            .into_iter()
            .find(|k| e.to_string().contains(k))
            .unwrap_or("repository_id");
        TokenError::Claim(missing)
    })?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn algorithms_other_than_rs256_are_refused_before_any_key_is_fetched() {
        for alg in ["none", "HS256", "RS512", "ES256", ""] {
            let h = serde_json::json!({"alg": alg, "kid": "k"});
            assert!(
                matches!(header_kid(&h), Err(TokenError::Algorithm(_))),
                "{alg}"
            );
        }
        let ok = serde_json::json!({"alg": "RS256", "kid": "k"});
        assert_eq!(header_kid(&ok).unwrap(), "k");
        let crit = serde_json::json!({"alg": "RS256", "kid": "k", "crit": ["b64"]});
        assert_eq!(header_kid(&crit), Err(TokenError::Malformed));
    }

    #[test]
    fn malformed_tokens() {
        let h = b64(&serde_json::json!({"alg":"RS256","kid":"k"}));
        for t in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{h}.!!.x"),
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(split(t).is_err(), "{t:.40}");
        }
    }

    #[test]
    fn claims_are_checked_with_skew() {
        let e = Expect {
            issuer: "https://issuer".into(),
            audience: "fleetform".into(),
            workflows: vec![],
        };
        let base = serde_json::json!({
            "iss": "https://issuer", "aud": "fleetform", "exp": 1000, "iat": 900, "nbf": 900,
            "repository": "a/b", "repository_id": "42", "sha": "x", "ref": "refs/heads/main",
            "event_name": "push"
        });
        assert_eq!(check_claims(&base, &e, 950).unwrap().repository_id, 42);
        assert_eq!(
            check_claims(&base, &e, 1000 + SKEW_SECS),
            Err(TokenError::Expired)
        );
        assert!(check_claims(&base, &e, 1000 + SKEW_SECS - 1).is_ok());
        assert_eq!(
            check_claims(&base, &e, 900 - SKEW_SECS - 1),
            Err(TokenError::NotYet)
        );
        let mut aud = base.clone();
        aud["aud"] = serde_json::json!(["other", "fleetform"]);
        assert!(check_claims(&aud, &e, 950).is_ok());
        aud["aud"] = serde_json::json!("other");
        assert!(matches!(
            check_claims(&aud, &e, 950),
            Err(TokenError::Audience { .. })
        ));
        let mut iss = base.clone();
        iss["iss"] = serde_json::json!("https://issuer/");
        assert!(matches!(
            check_claims(&iss, &e, 950),
            Err(TokenError::Issuer { .. })
        ));
        let mut no_id = base;
        no_id.as_object_mut().unwrap().remove("repository_id");
        assert_eq!(
            check_claims(&no_id, &e, 950),
            Err(TokenError::Claim("repository_id"))
        );
    }

    fn run_of(workflow_ref: Option<&str>) -> Claims {
        Claims {
            repository: "acme/infra".into(),
            repository_id: 42,
            sha: "x".into(),
            git_ref: "refs/heads/main".into(),
            event_name: "push".into(),
            run_id: None,
            run_attempt: None,
            jti: None,
            exp: 0,
            iat: 0,
            actor: None,
            job_workflow_ref: workflow_ref.map(str::to_string),
        }
    }

    #[test]
    fn only_the_listed_workflows_of_the_tokens_own_repo_may_call() {
        let listed = vec![".github/workflows/customer-trigger.yml".to_string()];
        for ok in [
            "acme/infra/.github/workflows/customer-trigger.yml@refs/heads/main",
            "ACME/Infra/.github/workflows/customer-trigger.yml@refs/pull/3/merge",
            "acme/infra/.github/workflows/customer-trigger.yml@refs/tags/v1",
        ] {
            assert_eq!(check_workflow(&run_of(Some(ok)), &listed), Ok(()), "{ok}");
        }
        let refused = |r: Option<&str>| check_workflow(&run_of(r), &listed).unwrap_err();
        assert!(matches!(refused(None), WorkflowError::Missing { .. }));
        assert!(matches!(refused(Some("")), WorkflowError::Missing { .. }));
        for other_repo in [
            "evil/infra/.github/workflows/customer-trigger.yml@refs/heads/main",
            "acme/infra-fork/.github/workflows/customer-trigger.yml@refs/heads/main",
            "acme/.github/.github/workflows/customer-trigger.yml@refs/heads/main",
        ] {
            let e = refused(Some(other_repo));
            assert!(matches!(e, WorkflowError::OtherRepo { .. }), "{other_repo}");
        }
        for unlisted in [
            "acme/infra/.github/workflows/deploy.yml@refs/heads/main",
            "acme/infra/.github/workflows/customer-trigger.yml.bak@refs/heads/main",
            "acme/infra/.github/workflows/customer-trigger.yml",
            "acme/infra/x/.github/workflows/customer-trigger.yml@refs/heads/main",
        ] {
            let e = refused(Some(unlisted));
            assert!(matches!(e, WorkflowError::NotListed { .. }), "{unlisted}");
            assert!(e.to_string().contains("relay.workflows"), "{e}");
        }
    }
}
