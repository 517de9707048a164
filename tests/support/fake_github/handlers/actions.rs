//! The fake GitHub's Actions endpoints: a repository's secrets and public
//! key, workflow runs and their reviews (`src/github/actions.rs`).

use serde_json::json;

use super::super::render_actions;
use super::super::state::{Repo, SecretRec, State};
use super::super::util::{b64_decode, now_rfc3339};
use super::{Answer, Ctx};

pub(crate) fn public_key(repo: &Repo) -> Answer {
    Answer::json(
        200,
        json!({ "key_id": repo.public_key.0, "key": repo.public_key.1 }),
    )
}

/// A secret's name as "Naming your secrets" allows it (422 otherwise):
/// letters, digits and `_`, not starting with a digit or `GITHUB_`.
pub(crate) fn refused_secret_name(name: &str) -> Option<Answer> {
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    (!valid_name).then(|| Answer::invalid("Secret", "name", "invalid", Some("Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number or GITHUB_")))
}

/// Whether `value` is base64 of a sealed box: libsodium's sealed box is
/// 48 bytes longer than the plain text.
pub(crate) fn is_sealed_box(value: &str) -> bool {
    b64_decode(value).is_some_and(|bytes| bytes.len() >= 48)
}

pub(crate) fn put_secret(state: &mut State, repo_name: &str, ctx: &Ctx) -> Answer {
    let name = ctx.param("secret_name").to_string();
    if let Some(refused) = refused_secret_name(&name) {
        return refused;
    }
    let key_id = ctx.str_field("key_id").unwrap_or_default().to_string();
    let value = ctx
        .str_field("encrypted_value")
        .unwrap_or_default()
        .to_string();
    let repo = state.seeded(repo_name);
    if key_id != repo.public_key.0 {
        return Answer::invalid(
            "Secret",
            "key_id",
            "invalid",
            Some("key_id does not match the repository public key"),
        );
    }
    if !is_sealed_box(&value) {
        return Answer::invalid(
            "Secret",
            "encrypted_value",
            "invalid",
            Some("encrypted_value is not a sealed box"),
        );
    }
    let now = now_rfc3339();
    match repo.secrets.get_mut(&name) {
        Some(existing) => {
            existing.encrypted_value = value;
            existing.key_id = key_id;
            existing.updated_at = now;
            Answer::no_content()
        }
        None => {
            repo.secrets.insert(
                name,
                SecretRec {
                    encrypted_value: value,
                    key_id,
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            Answer::json(201, json!({}))
        }
    }
}

pub(crate) fn run_reviews(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    Answer::json(
        200,
        render_actions::run_reviews(state, repo, ctx.number("run_id")),
    )
}

pub(crate) fn workflow_run(state: &State, repo: &Repo, ctx: &Ctx) -> Answer {
    let id = ctx.number("run_id");
    match repo.workflow_runs.get(&id) {
        Some(run) => Answer::json(200, render_actions::workflow_run(state, repo, id, run)),
        None => Answer::not_found(),
    }
}
