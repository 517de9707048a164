//! libFuzzer's entry for [`fleetform_fuzz::dispatch`] (the target's body and
//! invariants live in `fuzz/src/dispatch.rs`, where the main test build
//! compiles them and runs them over `fuzz/seeds/dispatch/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fleetform_fuzz::dispatch::run(data));
