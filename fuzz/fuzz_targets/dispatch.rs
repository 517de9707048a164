//! The repository_dispatch payload parser. Invariants: no panic; what it
//! accepts is well-formed (sha, repo, relative file names) and round-trips.
#![no_main]

use fleetform::dispatch::{is_sha, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(p) = Payload::parse(&v) {
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
        let again = Payload::parse(&serde_json::to_value(&p).unwrap()).expect("round trip");
        assert_eq!(again, p);
    }
});
