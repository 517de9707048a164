//! The repository_dispatch payload parser and its signature. Invariants: no
//! panic; what it accepts is well-formed (sha, repo, relative file names, a
//! `sig` of the documented shape) and round-trips; a `sig` that parses prints
//! back as itself; verifying never panics, and a payload signed with a key
//! verifies with that key (and with no other customer's).

use fleetform::dispatch::auth::{verify, DispatchKey, Freshness, ManagerSecret, Signature};
use fleetform::dispatch::{is_sha, Payload, EVENT_APPLY, EVENT_PLAN};

const NOW: u64 = 1_800_000_000;

fn fresh() -> Freshness {
    Freshness {
        max_age: 3600,
        now: NOW,
    }
}

fn keys() -> (DispatchKey, DispatchKey) {
    let secret = ManagerSecret::new("fleetform-fuzz-dispatch-secret-0123456789").expect("valid");
    (
        secret.customer_key("acme", 1),
        secret.customer_key("globex", 1),
    )
}

/// Arbitrary text as a signature and as a key: no panic, and what parses
/// prints back unchanged (the shapes have one spelling each).
fn texts(s: &str) {
    if let Some(sig) = Signature::parse(s) {
        assert_eq!(sig.to_string(), s);
    }
    if let Ok(key) = DispatchKey::parse(s) {
        assert_eq!(key.expose(), s.trim());
        assert!(!format!("{key:?}").contains(&key.mask_strings()[1]));
    }
}

/// One input, as the fuzzer gives it.
pub fn run(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        texts(s);
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(p) = Payload::parse(&v) else {
        return;
    };
    assert!(is_sha(&p.sha));
    assert!(fleetform::config::is_repo(&p.customer_repo));
    assert!(!p.files.is_empty() && p.files.len() <= 32);
    for f in &p.files {
        assert!(
            !f.starts_with('/') && !f.split('/').any(|c| c == ".."),
            "{f}"
        );
        assert!(!f.chars().any(char::is_control));
    }
    if let Some(sig) = &p.sig {
        let parsed = Signature::parse(sig).expect("an accepted sig parses");
        assert_eq!(&parsed.to_string(), sig);
    }
    let again = Payload::parse(&serde_json::to_value(&p).unwrap()).expect("round trip");
    assert_eq!(again, p);

    // Whatever the payload's own sig, checking it never panics.
    let (acme, globex) = keys();
    for event_type in [EVENT_PLAN, EVENT_APPLY] {
        let _ = verify(&acme, event_type, &p, fresh());
    }
    // Signed now with acme's key: it verifies with acme's key, for this
    // event type only, and with no other customer's key; the signed
    // payload is still a valid payload.
    let mut signed = p.clone();
    signed.sig = Some(acme.sign(EVENT_PLAN, &p, NOW));
    verify(&acme, EVENT_PLAN, &signed, fresh()).expect("own signature verifies");
    assert!(verify(&acme, EVENT_APPLY, &signed, fresh()).is_err());
    assert!(verify(&globex, EVENT_PLAN, &signed, fresh()).is_err());
    // (The 10-key limit holds by construction; the size limit may not, for
    // an accepted payload just under it.)
    let v = serde_json::to_value(&signed).unwrap();
    if serde_json::to_vec(&v).unwrap().len() < fleetform::dispatch::MAX_BYTES {
        assert_eq!(Payload::parse(&v).expect("a signed payload parses"), signed);
    }
}
