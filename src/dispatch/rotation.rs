//! A rotation of the manager's dispatch secret without a gap: while
//! `FLEETFORM_DISPATCH_SECRET_PREVIOUS` holds the secret being replaced, a
//! dispatch signed with a customer's key derived from either secret is
//! accepted (each customer stores its new key, `fleetform customers
//! dispatch-key`, at its own pace), and the manager's log says which. The
//! window ends when the variable is unset. A customer's own key rotation
//! (its `key_generation`) voids the old key at once, as before: that is
//! the answer to a leaked key.

use super::auth::{self, AuthError, DispatchKey, Freshness, ManagerSecret, Signature};
use super::Payload;

/// The manager's previous dispatch secret, during a rotation.
pub const PREVIOUS_SECRET_ENV: &str = crate::util::credentials::DISPATCH_SECRET_PREVIOUS;

/// Why the previous secret was not accepted; never quotes it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RotationError {
    #[error("{PREVIOUS_SECRET_ENV} is not a dispatch secret ({0}); set it to the secret FLEETFORM_DISPATCH_SECRET held before the rotation, or unset it")]
    Weak(String),
    #[error("{PREVIOUS_SECRET_ENV} is the same as FLEETFORM_DISPATCH_SECRET: set the new secret as FLEETFORM_DISPATCH_SECRET and the one it replaces as {PREVIOUS_SECRET_ENV}")]
    Same,
}

/// The previous secret of `text` (unset or empty: none), checked as the
/// current one is and told apart from `current`.
pub fn previous(
    text: Option<&str>,
    current: &ManagerSecret,
) -> Result<Option<ManagerSecret>, RotationError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let secret = ManagerSecret::new(text).map_err(|e| match e {
        AuthError::SecretWeak(why) => RotationError::Weak(why.to_string()),
        _ => RotationError::Weak("not accepted".into()),
    })?;
    if secret.expose() == current.expose() {
        return Err(RotationError::Same);
    }
    Ok(Some(secret))
}

/// The previous secret from [`PREVIOUS_SECRET_ENV`].
pub fn previous_from_env(current: &ManagerSecret) -> Result<Option<ManagerSecret>, RotationError> {
    let text = std::env::var(PREVIOUS_SECRET_ENV).ok();
    previous(text.as_deref(), current)
}

/// [`auth::verify`] against each key in turn (the current secret's first):
/// the signature and the index of the key that made it. Only a MAC that
/// does not match moves on to the next key; the answer when none matches is
/// the first key's.
pub fn verify_any(
    keys: &[DispatchKey],
    event_type: &str,
    payload: &Payload,
    fresh: Freshness,
) -> Result<(Signature, usize), AuthError> {
    let mut first = None;
    for (i, key) in keys.iter().enumerate() {
        match auth::verify(key, event_type, payload, fresh) {
            Ok(sig) => return Ok((sig, i)),
            Err(e @ AuthError::Mismatch { .. }) => {
                first.get_or_insert(e);
            }
            Err(e) => return Err(first.unwrap_or(e)),
        }
    }
    Err(first.unwrap_or(AuthError::SecretMissing))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old-dispatch-secret-0123456789abcdef0123456789";
    const NEW: &str = "new-dispatch-secret-0123456789abcdef0123456789";

    fn payload() -> Payload {
        serde_json::from_value(serde_json::json!({
            "v": 1, "customer_repo": "acme/infra", "sha": "a".repeat(40),
            "ref": "refs/heads/main", "event": "push", "dispatch_id": "r1-1-x", "files": [],
        }))
        .unwrap()
    }

    #[test]
    fn a_key_of_either_secret_verifies_while_both_are_held() {
        let (old, new) = (
            ManagerSecret::new(OLD).unwrap(),
            ManagerSecret::new(NEW).unwrap(),
        );
        let mut p = payload();
        let fresh = Freshness::now(3600);
        p.sig = Some(
            old.customer_key("acme", 1)
                .sign("fleetform-plan", &p, fresh.now),
        );
        let keys = [new.customer_key("acme", 1), old.customer_key("acme", 1)];
        assert_eq!(verify_any(&keys, "fleetform-plan", &p, fresh).unwrap().1, 1);
        // The new secret alone: the old key no longer verifies.
        assert!(matches!(
            verify_any(&keys[..1], "fleetform-plan", &p, fresh),
            Err(AuthError::Mismatch { .. })
        ));
        // Another generation is refused whichever secret.
        let keys = [new.customer_key("acme", 2), old.customer_key("acme", 2)];
        assert!(matches!(
            verify_any(&keys, "fleetform-plan", &p, fresh),
            Err(AuthError::Generation { .. })
        ));
    }

    #[test]
    fn the_previous_secret_is_checked_and_told_apart() {
        let new = ManagerSecret::new(NEW).unwrap();
        assert!(previous(None, &new).unwrap().is_none());
        assert!(previous(Some(""), &new).unwrap().is_none());
        assert!(previous(Some(OLD), &new).unwrap().is_some());
        assert_eq!(previous(Some(NEW), &new).unwrap_err(), RotationError::Same);
        let short = previous(Some("short"), &new).unwrap_err();
        assert!(matches!(short, RotationError::Weak(_)));
        assert!(!short.to_string().contains("short\""));
    }
}
