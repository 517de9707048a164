//! The value-template sandbox. Invariants: no panic, output within the cap,
//! and (with libFuzzer's -timeout and -rss_limit_mb) bounded time and
//! memory for any template.

use fleetform::values::template::{ValueTemplates, VALUE_MAX_OUTPUT};
use std::sync::LazyLock;

static T: LazyLock<ValueTemplates> = LazyLock::new(ValueTemplates::default);

/// One input, as the fuzzer gives it.
pub fn run(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = serde_json::json!({
        "customer": "acme",
        "environment": "staging",
        "project_name": "p".repeat(256),
        "repo": "acme-corp/acme-infra",
    });
    if let Ok(out) = T.render(src, &ctx) {
        assert!(out.len() <= VALUE_MAX_OUTPUT);
    }
}
