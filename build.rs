//! Bakes the build target and the git commit into the binary for
//! `fleetform --version`, and packs the static binary's relocations.

fn main() {
    pack_relative_relocations();
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=FLEETFORM_BUILD_TARGET={target}");
    let commit = std::env::var("FLEETFORM_GIT_COMMIT").ok().or_else(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=FLEETFORM_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=FLEETFORM_GIT_COMMIT");
    for file in git_files_naming_head() {
        println!("cargo:rerun-if-changed={file}");
    }
}

/// The files whose change moves HEAD: HEAD itself, the branch it names and
/// packed-refs, wherever git keeps them. Asked of git, since in a worktree
/// `.git` is a file and HEAD and the branches live elsewhere. Only files that
/// exist (cargo reruns on every build for a missing one); none without git.
fn git_files_naming_head() -> Vec<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut paths = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(branch);
    }
    paths
        .iter()
        .filter_map(|p| git(&["rev-parse", "--git-path", p]))
        .filter(|f| std::path::Path::new(f).is_file())
        .collect()
}

/// A static glibc binary is a static PIE: it relocates itself at start-up,
/// and its 18,000 relative relocations took 441 KB as RELA entries (24
/// bytes each). `-z pack-relative-relocs` stores them as DT_RELR (a few KB)
/// and keeps the PIE (address randomisation). The static start-up code of
/// glibc 2.36 and later applies DT_RELR; older ones do not, so it is asked
/// for only when the glibc linked into the binary (the build host's: native
/// builds only) is new enough. A linker without the option ignores it with
/// a warning. musl (the release builds) and dynamic builds are unchanged.
fn pack_relative_relocations() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let gnu_linux = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if static_crt && gnu_linux && var("HOST") == var("TARGET") && host_glibc_applies_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the build host's glibc is 2.36 or later (DT_RELR in static PIEs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn host_glibc_applies_relr() -> bool {
    extern "C" {
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: glibc returns a static NUL-terminated string such as "2.36".
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version.to_str().unwrap_or("").split('.');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    (next(), next()) >= (2, 36)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn host_glibc_applies_relr() -> bool {
    false
}
