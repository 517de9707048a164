//! Version strings, with the build target and git commit baked in by
//! `build.rs`.

pub const SHORT: &str = env!("CARGO_PKG_VERSION");
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ntarget: ",
    env!("FLEETFORM_BUILD_TARGET"),
    "\ncommit: ",
    env!("FLEETFORM_GIT_COMMIT")
);
