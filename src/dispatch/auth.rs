//! Who may dispatch for whom: every `repository_dispatch` carries an
//! HMAC-SHA256 signature (`sig`) made with the sending customer's
//! **dispatch key**, and the manager checks it against the key of the
//! customer the payload names.
//!
//! - The manager holds one secret (`FLEETFORM_DISPATCH_SECRET`). Each
//!   customer's key is derived from it:
//!   `HMAC-SHA256(secret, "fleetform/dispatch-key/v1" 0x00 slug 0x00 generation)`.
//!   The manager stores no per-customer keys; rotating a key bumps the
//!   registry's `key_generation`, which voids the old one.
//! - The customer stores its key (text form `ffdk1.<slug>.<generation>.<64 hex>`)
//!   as the secret `FLEETFORM_DISPATCH_KEY`; the trigger signs with it.
//! - The signature `v1.<unix-seconds>.<generation>.<64 hex>` is the HMAC,
//!   under the customer's key, of [`canonical`]: the event type, the time,
//!   the key generation and every field of the payload in a fixed
//!   length-prefixed serialisation. Changing any of them (another commit,
//!   customer, PR, file list or event type) breaks it; the time bounds how
//!   late it may be used.
//!
//! Keys never appear in `Debug` output or in any error message.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::Payload;
use crate::config::is_slug;

type HmacSha256 = Hmac<Sha256>;

/// The manager's secret, from which every customer's key is derived.
pub const SECRET_ENV: &str = "FLEETFORM_DISPATCH_SECRET";
/// The customer's key, read by the trigger; also the name of the customer
/// repo's Actions secret that holds it.
pub const KEY_ENV: &str = "FLEETFORM_DISPATCH_KEY";

/// A plan accepts a dispatch signed at most this long ago. A re-run of the
/// manager's workflow keeps the original event (and its signature); after
/// this long the customer's trigger has to run again.
pub const PLAN_MAX_AGE_SECS: u64 = 3600;
/// An apply accepts a dispatch signed at most this long ago: GitHub keeps a
/// deployment waiting for its environment's reviewers for at most 30 days.
pub const APPLY_MAX_AGE_SECS: u64 = 30 * 24 * 3600;
/// How far in the future a signature may be (clock skew between runners).
pub const MAX_SKEW_SECS: u64 = 300;

/// Shortest manager secret accepted (bytes): 32 random bytes as hex are 64.
pub const MIN_SECRET_LEN: usize = 32;
const MAX_SECRET_LEN: usize = 1024;
const KEY_PREFIX: &str = "ffdk1";
const SIG_PREFIX: &str = "v1";
const DERIVE_LABEL: &[u8] = b"fleetform/dispatch-key/v1";
const CANONICAL_LABEL: &str = "fleetform/dispatch/v1";
/// Highest key generation (the registry's bound).
pub use crate::config::MAX_KEY_GENERATION as MAX_GENERATION;

/// Why a dispatch, a key or the manager's secret was not accepted. The
/// messages name what is wrong and what to do; they never hold key material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{SECRET_ENV} is not set, so no dispatch can be checked and every dispatch is refused. Store the manager's dispatch secret (e.g. the output of `openssl rand -hex 32`) as the secret {SECRET_ENV} of the `<env>-plan` and `<env>-apply` environments and pass it to the plan and apply actions (`dispatch-secret: ${{{{ secrets.{SECRET_ENV} }}}}`)")]
    SecretMissing,
    #[error("{SECRET_ENV} {0}; use e.g. the output of `openssl rand -hex 32`")]
    SecretWeak(&'static str),
    #[error("{KEY_ENV} is not set: store the dispatch key the provider issued as the repository secret {KEY_ENV} and pass it to the trigger action (`dispatch-key: ${{{{ secrets.{KEY_ENV} }}}}`)")]
    KeyMissing,
    #[error("{KEY_ENV} is not a fleetform dispatch key ({0}); it looks like `{KEY_PREFIX}.<customer>.<generation>.<64 hex>`: store the key exactly as the provider issued it")]
    KeyMalformed(&'static str),
    #[error("the dispatch is not signed (no `sig`): the customer's trigger must sign it with its dispatch key (update the trigger action and store the key as the repository secret {KEY_ENV}; `fleetform customers dispatch-key {slug}` shows it)")]
    Unsigned { slug: String },
    #[error("the dispatch is signed with key generation {signed}, but `{slug}`'s dispatch key is at generation {current} (the key was rotated and the old one is void): the customer must store the current key (`fleetform customers dispatch-key {slug}`)")]
    Generation {
        slug: String,
        signed: u32,
        current: u32,
    },
    #[error("the signature does not match `{slug}`'s dispatch key: the dispatch was not signed by `{slug}`, or something it covers (event type, repo, sha, ref, pr, event, run URL, dispatch id, files, time) was changed after signing")]
    Mismatch { slug: String },
    #[error("the dispatch was signed at {signed} ({age}s ago), more than the {max}s allowed: a re-run keeps the original dispatch and its signature; run the customer's trigger again (re-run its workflow or push) for a new one")]
    TooOld { signed: String, age: u64, max: u64 },
    #[error("the dispatch is signed at {signed}, {ahead}s in the future (at most {MAX_SKEW_SECS}s of clock skew are allowed): check the clock of the runner that signed it")]
    FromTheFuture { signed: String, ahead: u64 },
}

/// The manager's dispatch secret.
pub struct ManagerSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for ManagerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ManagerSecret(<redacted>)")
    }
}

impl ManagerSecret {
    /// Checks a secret's text: long enough, and free of whitespace and
    /// control characters (a stray newline would derive other keys).
    pub fn new(text: &str) -> Result<ManagerSecret, AuthError> {
        if text.is_empty() {
            return Err(AuthError::SecretMissing);
        }
        if text.len() < MIN_SECRET_LEN {
            return Err(AuthError::SecretWeak("is shorter than 32 characters"));
        }
        if text.len() > MAX_SECRET_LEN {
            return Err(AuthError::SecretWeak("is longer than 1024 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AuthError::SecretWeak(
                "holds whitespace or control characters (a pasted line break?)",
            ));
        }
        Ok(ManagerSecret(Zeroizing::new(text.as_bytes().to_vec())))
    }

    /// The secret from `FLEETFORM_DISPATCH_SECRET`.
    pub fn from_env() -> Result<ManagerSecret, AuthError> {
        match std::env::var(SECRET_ENV) {
            Ok(v) => ManagerSecret::new(&v),
            Err(std::env::VarError::NotPresent) => Err(AuthError::SecretMissing),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(AuthError::SecretWeak("is not valid UTF-8"))
            }
        }
    }

    /// The text, for `::add-mask::` only.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The dispatch key of customer `slug` at `generation`.
    pub fn customer_key(&self, slug: &str, generation: u32) -> DispatchKey {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(DERIVE_LABEL);
        mac.update(b"\0");
        mac.update(slug.as_bytes());
        mac.update(b"\0");
        mac.update(generation.to_string().as_bytes());
        DispatchKey {
            slug: slug.to_string(),
            generation,
            key: Zeroizing::new(mac.finalize().into_bytes().into()),
        }
    }
}

/// One customer's dispatch key at one generation.
pub struct DispatchKey {
    slug: String,
    generation: u32,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DispatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchKey")
            .field("slug", &self.slug)
            .field("generation", &self.generation)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl DispatchKey {
    /// Parses the text form `ffdk1.<slug>.<generation>.<64 lowercase hex>`
    /// (surrounding whitespace, e.g. a pasted newline, is ignored).
    pub fn parse(text: &str) -> Result<DispatchKey, AuthError> {
        let Some([prefix, slug, generation, hex]) = four_parts(text.trim()) else {
            return Err(AuthError::KeyMalformed("not four parts separated by `.`"));
        };
        if prefix != KEY_PREFIX {
            return Err(AuthError::KeyMalformed("wrong prefix"));
        }
        if !is_slug(slug) {
            return Err(AuthError::KeyMalformed("the customer part is not a slug"));
        }
        let generation = parse_generation(generation)
            .ok_or(AuthError::KeyMalformed("the generation is not a number"))?;
        let key = decode_32(hex).ok_or(AuthError::KeyMalformed(
            "the key part is not 64 lowercase hex characters",
        ))?;
        Ok(DispatchKey {
            slug: slug.to_string(),
            generation,
            key,
        })
    }

    /// The key from `FLEETFORM_DISPATCH_KEY`.
    pub fn from_env() -> Result<DispatchKey, AuthError> {
        match std::env::var(KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => DispatchKey::parse(&v),
            Ok(_) | Err(std::env::VarError::NotPresent) => Err(AuthError::KeyMissing),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(AuthError::KeyMalformed("not valid UTF-8"))
            }
        }
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The text form, for printing where the user asked for it.
    pub fn expose(&self) -> String {
        format!(
            "{KEY_PREFIX}.{}.{}.{}",
            self.slug,
            self.generation,
            crate::util::fs::hex(self.key.as_slice())
        )
    }

    /// The strings to register with `::add-mask::`: the text form and its
    /// key part on its own.
    pub fn mask_strings(&self) -> [String; 2] {
        [self.expose(), crate::util::fs::hex(self.key.as_slice())]
    }

    fn mac(&self, event_type: &str, payload: &Payload, time: u64) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.key.as_slice()).expect("HMAC takes keys of any length");
        mac.update(&canonical(event_type, payload, time, self.generation));
        mac
    }

    /// The `sig` value for `payload` sent as `event_type` at `time` (Unix
    /// seconds). The payload's own `sig` is not covered.
    pub fn sign(&self, event_type: &str, payload: &Payload, time: u64) -> String {
        let tag = self.mac(event_type, payload, time).finalize().into_bytes();
        Signature {
            time,
            generation: self.generation,
            mac: tag.into(),
        }
        .to_string()
    }
}

fn parse_generation(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse().ok().filter(|g| (1..=MAX_GENERATION).contains(g))
}

fn decode_32(s: &str) -> Option<Zeroizing<[u8; 32]>> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(s, out.as_mut_slice()).ok()?;
    Some(out)
}

/// A parsed `sig`: `v1.<unix-seconds>.<generation>.<64 lowercase hex>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    pub time: u64,
    pub generation: u32,
    mac: [u8; 32],
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SIG_PREFIX}.{}.{}.{}",
            self.time,
            self.generation,
            crate::util::fs::hex(&self.mac)
        )
    }
}

/// The shape `sig` must have, for messages.
pub const SIG_SHAPE: &str = "v1.<unix-seconds>.<key generation>.<64 lowercase hex>";

impl Signature {
    /// Parses a `sig` value; `None` when it does not have [`SIG_SHAPE`].
    pub fn parse(s: &str) -> Option<Signature> {
        if s.len() > 96 {
            return None;
        }
        let Some([SIG_PREFIX, time, generation, hex]) = four_parts(s) else {
            return None;
        };
        if time.is_empty()
            || time.len() > 12
            || !time.bytes().all(|b| b.is_ascii_digit())
            || (time.len() > 1 && time.starts_with('0'))
        {
            return None;
        }
        Some(Signature {
            time: time.parse().ok()?,
            generation: parse_generation(generation)?,
            mac: *decode_32(hex)?,
        })
    }
}

/// How fresh a signature must be.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// Oldest accepted signature, in seconds before `now`.
    pub max_age: u64,
    /// The check's clock, Unix seconds.
    pub now: u64,
}

impl Freshness {
    /// `max_age` against the system clock.
    pub fn now(max_age: u64) -> Freshness {
        Freshness {
            max_age,
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

/// Checks the payload's signature against `key` (the key of the customer the
/// payload names, at its current generation): present, made with this
/// generation, matching (compared in constant time), then neither older than
/// `fresh.max_age` nor more than [`MAX_SKEW_SECS`] in the future. The time is
/// looked at only once the MAC has vouched for it.
pub fn verify(
    key: &DispatchKey,
    event_type: &str,
    payload: &Payload,
    fresh: Freshness,
) -> Result<Signature, AuthError> {
    let slug = || key.slug.clone();
    let sig = payload
        .sig
        .as_deref()
        .and_then(Signature::parse)
        .ok_or_else(|| AuthError::Unsigned { slug: slug() })?;
    if sig.generation != key.generation {
        return Err(AuthError::Generation {
            slug: slug(),
            signed: sig.generation,
            current: key.generation,
        });
    }
    key.mac(event_type, payload, sig.time)
        .verify_slice(&sig.mac)
        .map_err(|_| AuthError::Mismatch { slug: slug() })?;
    let signed = || crate::audit::rfc3339(sig.time);
    if sig.time > fresh.now.saturating_add(MAX_SKEW_SECS) {
        return Err(AuthError::FromTheFuture {
            signed: signed(),
            ahead: sig.time - fresh.now,
        });
    }
    let age = fresh.now.saturating_sub(sig.time);
    if age > fresh.max_age {
        return Err(AuthError::TooOld {
            signed: signed(),
            age,
            max: fresh.max_age,
        });
    }
    Ok(sig)
}

/// The bytes the MAC covers: a label, the key generation, the time, the
/// event type and every payload field but `sig`, in this order, one per
/// line, each string as `<byte length>:<bytes>` and an absent value as `-`:
///
/// ```text
/// fleetform/dispatch/v1
/// generation:<n>
/// time:<unix seconds>
/// event_type:<len>:<text>
/// v:<n>
/// customer_repo:<len>:<text>
/// sha:<len>:<text>
/// ref:<len>:<text>
/// pr:<n> | pr:-
/// event:<len>:<text>
/// trigger_run_url:<len>:<text> | trigger_run_url:-
/// dispatch_id:<len>:<text>
/// files:<count>
/// file:<len>:<text>        (once per file, in order)
/// comment:<n>              (only when the payload names a comment)
/// ```
pub fn canonical(event_type: &str, payload: &Payload, time: u64, generation: u32) -> Vec<u8> {
    // Destructured so that a new payload field cannot be left out unnoticed.
    let Payload {
        v,
        customer_repo,
        sha,
        git_ref,
        pr,
        event,
        trigger_run_url,
        dispatch_id,
        files,
        sig: _,
        // Set only by the relay, whose dispatches are not signed; a signed
        // payload carrying it is refused before the signature is checked.
        repo_id: _,
        comment,
    } = payload;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(CANONICAL_LABEL.as_bytes());
    out.push(b'\n');
    let mut line = |name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    };
    let text = |s: &str| format!("{}:{s}", s.len());
    let opt_text = |s: &Option<String>| s.as_deref().map_or_else(|| "-".to_string(), text);
    line("generation", &generation.to_string());
    line("time", &time.to_string());
    line("event_type", &text(event_type));
    line("v", &v.to_string());
    line("customer_repo", &text(customer_repo));
    line("sha", &text(sha));
    line("ref", &text(git_ref));
    line("pr", &pr.map_or_else(|| "-".to_string(), |n| n.to_string()));
    line("event", &text(event));
    line("trigger_run_url", &opt_text(trigger_run_url));
    line("dispatch_id", &text(dispatch_id));
    line("files", &files.len().to_string());
    for f in files {
        line("file", &text(f));
    }
    // Last and only when present: signatures over payloads without one
    // stay what they were.
    if let Some(id) = comment {
        line("comment", &id.to_string());
    }
    out
}

/// `s`'s parts separated by `.`, if there are exactly four.
fn four_parts(s: &str) -> Option<[&str; 4]> {
    s.split('.').collect::<Vec<_>>().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fleetform-test-dispatch-secret-0123456789abcdef";

    fn payload() -> Payload {
        Payload {
            v: 1,
            customer_repo: "acme-corp/acme-infra".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            git_ref: "refs/heads/feature".into(),
            pr: Some(7),
            event: "pull_request".into(),
            trigger_run_url: Some("https://github.com/acme-corp/acme-infra/actions/runs/1".into()),
            dispatch_id: "d-1".into(),
            files: vec!["infra/variables.yml".into()],
            sig: None,
            repo_id: None,
            comment: None,
        }
    }

    fn key(slug: &str, generation: u32) -> DispatchKey {
        ManagerSecret::new(SECRET)
            .unwrap()
            .customer_key(slug, generation)
    }

    fn fresh(now: u64) -> Freshness {
        Freshness {
            max_age: PLAN_MAX_AGE_SECS,
            now,
        }
    }

    const T: u64 = 1_800_000_000;

    fn signed(k: &DispatchKey, event_type: &str, time: u64) -> Payload {
        let mut p = payload();
        p.sig = Some(k.sign(event_type, &p, time));
        p
    }

    /// Values computed independently with Python's `hmac` module from the
    /// construction in the module comment and [`canonical`].
    #[test]
    fn derivation_and_signature_match_independent_vectors() {
        let k = key("acme", 1);
        assert_eq!(
            k.expose(),
            "ffdk1.acme.1.40ce9aee8e466d1d4a13f99ca2f3a0dfa6268869f7c7c1d1821899794a63b533"
        );
        assert_eq!(
            k.sign("fleetform-plan", &payload(), T),
            "v1.1800000000.1.f7faf64054a95445d934ff687110c1e688a156560cc2f489d5de69fe8c8d1549"
        );
    }

    #[test]
    fn a_signed_payload_verifies_and_any_change_breaks_it() {
        let k = key("acme", 1);
        let good = signed(&k, "fleetform-plan", T);
        assert_eq!(
            verify(&k, "fleetform-plan", &good, fresh(T + 10))
                .unwrap()
                .time,
            T
        );
        // Another event type, another customer's key, another generation.
        assert!(matches!(
            verify(&k, "fleetform-apply", &good, fresh(T)),
            Err(AuthError::Mismatch { .. })
        ));
        assert!(matches!(
            verify(&key("globex", 1), "fleetform-plan", &good, fresh(T)),
            Err(AuthError::Mismatch { .. })
        ));
        assert!(matches!(
            verify(&key("acme", 2), "fleetform-plan", &good, fresh(T)),
            Err(AuthError::Generation {
                signed: 1,
                current: 2,
                ..
            })
        ));
        // Every field is covered.
        let changes: Vec<fn(&mut Payload)> = vec![
            |p| p.v = 2,
            |p| p.customer_repo = "globex/globex-app".into(),
            |p| p.sha = "1".repeat(40),
            |p| p.git_ref = "refs/heads/main".into(),
            |p| p.pr = Some(8),
            |p| p.pr = None,
            |p| p.event = "push".into(),
            |p| p.trigger_run_url = None,
            |p| p.dispatch_id = "d-2".into(),
            |p| p.files.push("infra/variables.production.yml".into()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut p = good.clone();
            change(&mut p);
            assert!(
                matches!(
                    verify(&k, "fleetform-plan", &p, fresh(T)),
                    Err(AuthError::Mismatch { .. })
                ),
                "change {i} must break the signature"
            );
        }
        // The time is covered: moving it breaks the MAC.
        let mut p = good.clone();
        let moved = p
            .sig
            .as_deref()
            .unwrap()
            .replacen("1800000000", "1800000500", 1);
        p.sig = Some(moved);
        assert!(matches!(
            verify(&k, "fleetform-plan", &p, fresh(T)),
            Err(AuthError::Mismatch { .. })
        ));
    }

    #[test]
    fn freshness_bounds() {
        let k = key("acme", 1);
        let p = signed(&k, "fleetform-plan", T);
        assert!(verify(&k, "fleetform-plan", &p, fresh(T + PLAN_MAX_AGE_SECS)).is_ok());
        assert!(matches!(
            verify(&k, "fleetform-plan", &p, fresh(T + PLAN_MAX_AGE_SECS + 1)),
            Err(AuthError::TooOld { .. })
        ));
        assert!(verify(&k, "fleetform-plan", &p, fresh(T - MAX_SKEW_SECS)).is_ok());
        assert!(matches!(
            verify(&k, "fleetform-plan", &p, fresh(T - MAX_SKEW_SECS - 1)),
            Err(AuthError::FromTheFuture { .. })
        ));
        let apply = Freshness {
            max_age: APPLY_MAX_AGE_SECS,
            now: T + 7 * 24 * 3600,
        };
        assert!(verify(&k, "fleetform-plan", &p, apply).is_ok());
    }

    #[test]
    fn missing_and_malformed_signatures() {
        let k = key("acme", 1);
        assert!(matches!(
            verify(&k, "fleetform-plan", &payload(), fresh(T)),
            Err(AuthError::Unsigned { .. })
        ));
        let a64 = "a".repeat(64);
        for bad in [
            String::new(),
            "v1".into(),
            format!("v2.1.1.{a64}"),
            format!("v1.1.1.{}", "A".repeat(64)),
            format!("v1.1.0.{a64}"),
            format!("v1.01.1.{a64}"),
            format!("v1.-1.1.{a64}"),
            format!("v1.+1.1.{a64}"),
            format!("v1.1.1.{}", "a".repeat(63)),
            format!("v1.1.1.{a64}.x"),
            format!("v1.9999999999999.1.{a64}"),
            format!("v1.1.1.{}é", "a".repeat(62)),
        ] {
            assert!(Signature::parse(&bad).is_none(), "{bad}");
        }
        let s = format!("v1.0.3.{}", "ab".repeat(32));
        assert_eq!(Signature::parse(&s).unwrap().to_string(), s);
    }

    #[test]
    fn keys_parse_round_trip_and_never_show_in_debug() {
        let k = key("acme", 3);
        let text = k.expose();
        let back = DispatchKey::parse(&format!("{text}\n")).unwrap();
        assert_eq!((back.slug(), back.generation()), ("acme", 3));
        assert_eq!(back.expose(), text);
        let hex = &k.mask_strings()[1];
        for shown in [
            format!("{k:?}"),
            format!("{:?}", ManagerSecret::new(SECRET).unwrap()),
        ] {
            assert!(
                !shown.contains(hex.as_str()) && !shown.contains(SECRET),
                "{shown}"
            );
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        for bad in [
            String::new(),
            "ffdk1.acme.1".into(),
            "ffdk2.acme.1.x".into(),
            text.replace("ffdk1.acme", "ffdk1.ACME"),
            text.replace(".3.", ".0."),
            text.to_uppercase(),
            format!("{text}0"),
        ] {
            assert!(DispatchKey::parse(&bad).is_err(), "{bad}");
        }
        // Error messages never repeat the key.
        let e = DispatchKey::parse(&format!("{text}0"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains(hex.as_str()), "{e}");
    }

    #[test]
    fn weak_manager_secrets_are_refused() {
        assert!(matches!(
            ManagerSecret::new(""),
            Err(AuthError::SecretMissing)
        ));
        assert!(ManagerSecret::new("short").is_err());
        assert!(ManagerSecret::new(&format!("{SECRET}\n")).is_err());
        assert!(ManagerSecret::new(&"x".repeat(2000)).is_err());
        // Different secrets, slugs and generations give different keys.
        let other = ManagerSecret::new(&format!("{SECRET}x")).unwrap();
        let keys = [
            key("acme", 1).expose(),
            key("acme", 2).expose(),
            key("globex", 1).expose(),
            other.customer_key("acme", 1).expose(),
        ];
        let hexes: std::collections::BTreeSet<&str> =
            keys.iter().map(|k| k.rsplit('.').next().unwrap()).collect();
        assert_eq!(hexes.len(), 4);
    }
}
