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

/// The action ref fleetform pins in what it writes (`sync`, `customers
/// instructions`): the release workflow pushes `v<version>-action`, the
/// release tag's commit plus the release's checksums, so the setup action
/// installs the verified release instead of building from source.
pub fn action_ref() -> String {
    format!("v{SHORT}-action")
}
