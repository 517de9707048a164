//! The fuzz targets' bodies, one module each, every one `run(data)`: what
//! a target feeds fleetform and the invariants it asserts. `fuzz_targets/`
//! hands libFuzzer's input to them; the main test build compiles this file
//! too (`tests/fuzz/mod.rs` includes it by path) and runs each body over
//! its committed seeds, so a target that no longer compiles against the
//! library fails `tests/check.sh`, not only a nightly fuzzing run.

pub mod audit;
pub mod dispatch;
pub mod layers;
pub mod template;
pub mod yaml_validate;
