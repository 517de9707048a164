//! libFuzzer's entry for [`fleetform_fuzz::layers`] (the target's body and
//! invariants live in `fuzz/src/layers.rs`, where the main test build
//! compiles them and runs them over `fuzz/seeds/layers/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fleetform_fuzz::layers::run(data));
