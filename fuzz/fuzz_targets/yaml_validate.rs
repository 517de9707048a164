//! libFuzzer's entry for [`fleetform_fuzz::yaml_validate`] (the target's body and
//! invariants live in `fuzz/src/yaml_validate.rs`, where the main test build
//! compiles them and runs them over `fuzz/seeds/yaml_validate/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fleetform_fuzz::yaml_validate::run(data));
