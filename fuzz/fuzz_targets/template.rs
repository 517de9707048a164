//! libFuzzer's entry for [`fleetform_fuzz::template`] (the target's body and
//! invariants live in `fuzz/src/template.rs`, where the main test build
//! compiles them and runs them over `fuzz/seeds/template/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fleetform_fuzz::template::run(data));
