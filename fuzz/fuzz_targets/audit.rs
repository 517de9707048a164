//! libFuzzer's entry for [`fleetform_fuzz::audit`] (the target's body and
//! invariants live in `fuzz/src/audit.rs`, where the main test build
//! compiles them and runs them over `fuzz/seeds/audit/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fleetform_fuzz::audit::run(data));
