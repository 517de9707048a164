//! Running Terraform (or OpenTofu) for one customer × environment.
//!
//! Each run gets an isolated working copy of the manager's root module with
//! its own `TF_DATA_DIR`, so parallel runs never collide. Variables reach
//! Terraform only through a JSON var file; `TF_VAR_*` and `TF_CLI_ARGS*` from
//! the environment are removed so nothing else can set them, and so is every
//! credential fleetform or the runner holds (see [`crate::util::process`]).
//! The backend is written by fleetform from the manager config alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::datadir::Template;
use crate::config::{Backend, Engine, Manager};

#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error("`{binary}` was not found on PATH; install it (https://developer.hashicorp.com/terraform/install or https://opentofu.org/docs/intro/install/) or set FLEETFORM_TERRAFORM to its path")]
    NotFound { binary: String },
    #[error("cannot prepare the working copy: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot prepare the working copy: {0}")]
    Fs(#[from] crate::util::fs::FsError),
    #[error("`{binary} {step}` failed (exit {code}):\n{output}")]
    Failed {
        binary: String,
        step: &'static str,
        code: i32,
        output: String,
    },
    #[error("the saved plan is stale: the state changed after it was made; plan again")]
    StalePlan { output: String },
    #[error("the state is locked by another run; wait for it to finish (or release a stuck lock with `force-unlock`):\n{output}")]
    Locked { output: String },
}

/// The engine binary to run.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub binary: PathBuf,
    pub engine: Engine,
    /// OS threads each run may use (`GOMAXPROCS`), when several share the
    /// machine; `None` leaves the Go runtime's default (one per core).
    pub threads: Option<usize>,
    /// Withheld variables fleetform.yml passes on (`terraform.pass_env`).
    pub pass_env: Vec<String>,
    /// The providers of this run, installed once ([`Terraform::install_providers`]).
    pub providers: Option<Providers>,
}

/// Providers installed once for a fleet run: the plugin cache every pair's
/// `init` links them from, and the lock file it does so against.
#[derive(Debug, Clone)]
pub struct Providers {
    /// `TF_PLUGIN_CACHE_DIR` for the pairs; `None` when the user's own
    /// (environment or CLI config) is in use.
    pub cache: Option<PathBuf>,
    /// The lock file to give working copies whose module has none (the
    /// one the installing `init` wrote); the manager's own wins.
    pub lock_file: Option<String>,
    /// The data dir every pair's is copied from instead of running its own
    /// `init` ([`super::datadir`]); `None` when it could not be made or
    /// checked.
    pub template: Option<std::sync::Arc<Prepared>>,
}

/// The template data dir and the scratch copy that holds it.
#[derive(Debug)]
pub struct Prepared {
    template: Template,
    _scratch: tempfile::TempDir,
}

/// The lock file Terraform reads next to the root module.
pub const LOCK_FILE: &str = ".terraform.lock.hcl";

impl Terraform {
    /// Finds the engine: `FLEETFORM_TERRAFORM` if set, else the engine's
    /// binary on PATH.
    pub fn locate(engine: Engine, explicit: Option<&Path>) -> Result<Self, TerraformError> {
        let name = engine.binary();
        if let Some(p) = explicit {
            if p.is_file() {
                return Ok(Terraform {
                    binary: p.to_path_buf(),
                    engine,
                    threads: None,
                    pass_env: Vec::new(),
                    providers: None,
                });
            }
            return Err(TerraformError::NotFound {
                binary: p.display().to_string(),
            });
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(Terraform {
                    binary: candidate,
                    engine,
                    threads: None,
                    pass_env: Vec::new(),
                    providers: None,
                });
            }
        }
        Err(TerraformError::NotFound {
            binary: name.to_string(),
        })
    }

    fn name(&self) -> String {
        self.engine.binary().to_string()
    }

    /// Shares the cores among `runs` concurrent runs: each Terraform (a Go
    /// program, as are its providers) gets `cores / runs` OS threads, at
    /// least one, instead of one per core each. Oversubscribed Go runtimes
    /// spend CPU on idle spinning and scheduling that the other runs need;
    /// a `GOMAXPROCS` set by the user is always kept.
    pub fn share_cores(&mut self, runs: usize, cores: usize) {
        self.threads =
            (runs > 1 && std::env::var_os("GOMAXPROCS").is_none()).then(|| (cores / runs).max(1));
    }
}

impl Terraform {
    /// Installs the root module's providers once, before a fleet run's
    /// parallel phase: one serial `init` in a scratch copy of the module
    /// fills a plugin cache and makes the data dir every pair's is copied
    /// from ([`super::datadir`]), so no pair runs `init` (nor hashes the
    /// providers again). Terraform's cache is not safe for concurrent
    /// writers, so it is filled here, alone; the pairs only read it.
    ///
    /// The manager's `.terraform.lock.hcl` is the source of truth; a module
    /// without one gets the lock file this `init` wrote, in every working
    /// copy. A `TF_PLUGIN_CACHE_DIR` in the environment or a
    /// `plugin_cache_dir` in the CLI configuration is the user's, and used
    /// as it is. State, `TF_DATA_DIR` and working copies stay per pair.
    /// Returns a note when the template could not be checked (every pair
    /// then runs its own `init`, linking from the cache).
    pub fn install_providers(
        &mut self,
        manager: &Manager,
        cache_root: &Path,
    ) -> Result<Option<String>, TerraformError> {
        let own_cache = user_plugin_cache().is_none();
        let cache = cache_root.join("plugin-cache");
        std::fs::create_dir_all(&cache).map_err(|e| fs_err("creating", &cache, e))?;
        // Terraform runs in each working copy: the cache path must not be
        // relative to where fleetform started.
        let cache = cache
            .canonicalize()
            .map_err(|e| fs_err("resolving", &cache, e))?;
        self.providers = Some(Providers {
            cache: own_cache.then(|| cache.clone()),
            lock_file: None,
            template: None,
        });
        let scratch = scratch_copy(manager, cache_root, ".install-")?;
        let (field, _) = pair_backend(manager, "")?;
        let placeholder = scratch.path().join("placeholder.tfstate");
        let placeholder = match field {
            "path" => placeholder.to_string_lossy().into_owned(),
            _ => ".fleetform/install/terraform.tfstate".to_string(),
        };
        // A relative data dir: the module paths it records then hold in
        // every working copy.
        self.run_in(
            scratch.path(),
            Path::new(".terraform"),
            "init (installing the providers)",
            &[
                "init",
                "-input=false",
                "-no-color",
                "-lock-timeout=120s",
                &format!("-backend-config={field}={placeholder}"),
            ],
        )?;
        let module = manager.path(manager.working_dir());
        if !module.join(LOCK_FILE).exists() {
            let lock = scratch.path().join(LOCK_FILE);
            if let Ok(text) = std::fs::read_to_string(&lock) {
                if let Some(p) = self.providers.as_mut() {
                    p.lock_file = Some(text);
                }
            }
        }
        let template = Template::capture(
            &scratch.path().join(".terraform"),
            manager.config.terraform.backend.kind(),
            field,
        );
        let Some(template) = template else {
            return Ok(Some("the data dir's backend record is not in a known shape; every customer × environment runs its own `init`".into()));
        };
        let prepared = Prepared {
            template,
            _scratch: scratch,
        };
        if let Err(e) = self.check_template(manager, cache_root, &prepared) {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default().to_string();
            return Ok(Some(format!(
                "a copied data dir did not work ({first}); every customer × environment runs its own `init`"
            )));
        }
        if let Some(p) = self.providers.as_mut() {
            p.template = Some(std::sync::Arc::new(prepared));
        }
        Ok(None)
    }

    /// Checks a copy of the template in another scratch copy, with another
    /// backend setting: Terraform must take its backend as initialised.
    fn check_template(
        &self,
        manager: &Manager,
        cache_root: &Path,
        prepared: &Prepared,
    ) -> Result<(), TerraformError> {
        let probe = scratch_copy(manager, cache_root, ".probe-")?;
        let data_dir = probe.path().join(".terraform");
        let (field, _) = pair_backend(manager, "")?;
        let value = match field {
            "path" => probe
                .path()
                .join("probe.tfstate")
                .to_string_lossy()
                .into_owned(),
            _ => ".fleetform/probe/terraform.tfstate".to_string(),
        };
        prepared.template.materialise(&data_dir, &value)?;
        self.run_in(
            probe.path(),
            &data_dir,
            "workspace list",
            &["workspace", "list", "-no-color"],
        )?;
        Ok(())
    }

    /// Runs one command in `dir` outside a pair's working copy (installing,
    /// checking), with the pairs' environment.
    fn run_in(
        &self,
        dir: &Path,
        data_dir: &Path,
        step: &'static str,
        args: &[&str],
    ) -> Result<(), TerraformError> {
        let out = self
            .command_in(dir, data_dir)
            .args(args)
            .output()
            .map_err(TerraformError::Io)?;
        if out.status.success() {
            return Ok(());
        }
        Err(TerraformError::Failed {
            binary: self.name(),
            step,
            code: out.status.code().unwrap_or(-1),
            output: tail(
                &format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                60,
            ),
        })
    }
}

fn fs_err(what: &'static str, path: &Path, e: std::io::Error) -> TerraformError {
    TerraformError::Fs(crate::util::fs::FsError::new(what, path, e))
}

/// A scratch copy of the root module under `root`, with the backend
/// override, for work outside any pair.
fn scratch_copy(
    manager: &Manager,
    root: &Path,
    prefix: &str,
) -> Result<tempfile::TempDir, TerraformError> {
    let scratch = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .map_err(|e| fs_err("creating a scratch copy in", root, e))?;
    let module = manager.path(manager.working_dir());
    crate::util::fs::copy_module(&module, scratch.path())?;
    let path = scratch.path().join(BACKEND_OVERRIDE);
    std::fs::write(&path, backend_override(manager)).map_err(|e| fs_err("writing", &path, e))?;
    Ok(scratch)
}

/// The file fleetform writes the backend into, in every working copy.
const BACKEND_OVERRIDE: &str = "_fleetform_backend_override.tf";

/// Variables that would set Terraform's inputs, flags, workspace or data
/// dir behind fleetform's back.
fn tf_withheld(k: &str) -> bool {
    k.starts_with("TF_VAR_")
        || k.starts_with("TF_CLI_ARGS")
        || k == "TF_WORKSPACE"
        || k == "TF_DATA_DIR"
}

/// The user's own plugin cache: `TF_PLUGIN_CACHE_DIR`, or `plugin_cache_dir`
/// in the CLI configuration (`TF_CLI_CONFIG_FILE`, else `~/.terraformrc`).
fn user_plugin_cache() -> Option<String> {
    if let Some(v) = std::env::var_os("TF_PLUGIN_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Some(v.to_string_lossy().into_owned());
    }
    let config = std::env::var_os("TF_CLI_CONFIG_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".terraformrc")))?;
    let text = std::fs::read_to_string(config).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("plugin_cache_dir") && l.contains('='))
        .map(str::to_string)
}

/// Working copies are folders named `.work-<random>` inside the results
/// folder of their customer × environment.
pub const WORK_PREFIX: &str = ".work-";
/// The lock file inside each working copy, held while its run lives.
const WORK_LOCK: &str = ".fleetform-work.lock";
/// A working copy without a lock file is taken for a leftover only once
/// it is this old: a live run creates its lock right after the folder.
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// An isolated working copy. It holds the lock file inside it for as long
/// as it lives, so [`remove_stale_workspaces`] can tell a copy in use from
/// one a killed run left behind.
#[derive(Debug)]
pub struct Workspace {
    // Dropped first: the lock is released, then the folder removed (a
    // locked file could not be removed on Windows).
    _lock: std::fs::File,
    dir: tempfile::TempDir,
    /// The backend's per-pair setting: (`path` or `key`, its value).
    backend: (&'static str, String),
    pub log: String,
}

impl Workspace {
    /// Creates a working copy under `parent`, locks it, copies the root
    /// module into it and writes the backend override.
    pub fn prepare(
        manager: &Manager,
        parent: &Path,
        customer: &str,
        environment: &str,
    ) -> Result<Self, TerraformError> {
        let ws = Workspace::backend_only(manager, parent, customer, environment)?;
        let module = manager.path(manager.working_dir());
        crate::util::fs::copy_module(&module, ws.path())?;
        Ok(ws)
    }

    /// A working copy with the backend of `manager`'s product for
    /// customer × environment and nothing else: enough to read that
    /// state's outputs through Terraform, without its providers.
    pub fn backend_only(
        manager: &Manager,
        parent: &Path,
        customer: &str,
        environment: &str,
    ) -> Result<Self, TerraformError> {
        std::fs::create_dir_all(parent).map_err(|e| fs_err("creating", parent, e))?;
        let dir = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(parent)
            .map_err(|e| fs_err("creating a working copy in", parent, e))?;
        let lock_path = dir.path().join(WORK_LOCK);
        let lock =
            std::fs::File::create_new(&lock_path).map_err(|e| fs_err("creating", &lock_path, e))?;
        lock.try_lock()
            .map_err(|e| fs_err("locking", &lock_path, std::io::Error::other(e.to_string())))?;
        let key = manager.state_key(customer, environment);
        let backend = pair_backend(manager, &key)?;
        let override_path = dir.path().join(BACKEND_OVERRIDE);
        std::fs::write(&override_path, backend_override(manager))
            .map_err(|e| fs_err("writing", &override_path, e))?;
        Ok(Workspace {
            _lock: lock,
            dir,
            backend,
            log: String::new(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join(".terraform")
    }
}

/// What [`remove_stale_workspaces`] did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// Working copies removed: no run held them.
    pub removed: Vec<PathBuf>,
    /// Stale working copies that could not be removed, and why.
    pub failed: Vec<(PathBuf, std::io::Error)>,
}

/// Removes the working copies that killed runs left under `root` (a
/// results folder: `<root>/<customer>/<environment>/.work-*`, or `root`
/// itself for an apply's plan folder). A copy whose lock a live run holds,
/// here or in another process, is kept; so is a young copy without a lock
/// file (its run is about to lock it). Symbolic links are never followed.
pub fn remove_stale_workspaces(root: &Path) -> Sweep {
    let mut sweep = Sweep::default();
    let mut level = vec![root.to_path_buf()];
    for depth in 0..=2 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with(WORK_PREFIX) {
                    if is_stale(&path) {
                        match std::fs::remove_dir_all(&path) {
                            Ok(()) => sweep.removed.push(path),
                            Err(e) => sweep.failed.push((path, e)),
                        }
                    }
                } else if depth < 2 {
                    next.push(path);
                }
            }
        }
        level = next;
    }
    sweep.removed.sort();
    sweep
}

/// True when no live run holds the working copy at `dir`.
fn is_stale(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(WORK_LOCK)) {
        // Taken (and released when `f` drops): its run is gone.
        Ok(f) => f.try_lock().is_ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNLOCKED_GRACE),
        Err(_) => false,
    }
}

/// HCL string literal.
fn hcl_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The backend block every working copy gets: everything but the per-pair
/// setting, which `init` passes as partial configuration (and which the
/// data dir's backend record keeps out of its hash; see
/// [`super::datadir`]).
fn backend_override(manager: &Manager) -> String {
    let body = match &manager.config.terraform.backend {
        Backend::Local { .. } => String::new(),
        Backend::S3 {
            bucket,
            region,
            endpoint,
            use_path_style,
            use_lockfile,
        } => {
            let mut body = format!(
                "    bucket = {}\n    region = {}\n    use_lockfile = {}\n    use_path_style = {}\n",
                hcl_str(bucket),
                hcl_str(region),
                use_lockfile,
                use_path_style
            );
            if let Some(ep) = endpoint {
                body.push_str(&format!(
                    "    endpoints = {{ s3 = {} }}\n    skip_credentials_validation = true\n    skip_requesting_account_id = true\n    skip_metadata_api_check = true\n    skip_region_validation = true\n",
                    hcl_str(ep)
                ));
            }
            body
        }
    };
    format!(
        "# Written by fleetform from fleetform.yml; do not edit.\nterraform {{\n  backend \"{}\" {{\n{body}  }}\n}}\n",
        manager.config.terraform.backend.kind()
    )
}

/// The backend's per-pair setting for state `key`: the local state file's
/// absolute `path` (its folder created), or the s3 object `key`.
fn pair_backend(manager: &Manager, key: &str) -> Result<(&'static str, String), TerraformError> {
    Ok(match &manager.config.terraform.backend {
        Backend::Local { state_dir } => {
            let dir = manager.path(state_dir);
            if key.is_empty() {
                return Ok(("path", String::new()));
            }
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| fs_err("creating", parent, e))?;
            }
            let abs = std::path::absolute(&path).map_err(|e| fs_err("resolving", &path, e))?;
            ("path", abs.to_string_lossy().into_owned())
        }
        Backend::S3 { .. } => ("key", key.to_string()),
    })
}

impl Terraform {
    fn command(&self, ws: &Workspace) -> Command {
        let mut cmd = self.command_in(ws.path(), &ws.data_dir());
        if let Some(n) = self.threads {
            cmd.env("GOMAXPROCS", n.to_string());
        }
        cmd
    }

    /// Terraform in `dir` with `data_dir`, the plugin cache of the run and
    /// a scrubbed environment.
    fn command_in(&self, dir: &Path, data_dir: &Path) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(dir);
        // Credentials and the runner's files never reach Terraform, its
        // providers, `external` data sources or provisioners (see
        // `crate::util::process`); nor do variables that would set Terraform's
        // inputs, flags, workspace or data dir behind fleetform's back.
        crate::util::process::scrub_env(&mut cmd, &self.pass_env, tf_withheld);
        if let Some(cache) = self.providers.as_ref().and_then(|p| p.cache.as_ref()) {
            cmd.env("TF_PLUGIN_CACHE_DIR", cache);
        }
        cmd.env("TF_DATA_DIR", data_dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs one step; returns (exit code, stdout); stdout and stderr are
    /// appended to the workspace log.
    fn run(
        &self,
        ws: &mut Workspace,
        step: &'static str,
        args: &[&str],
    ) -> Result<(i32, String), TerraformError> {
        let out = self.command(ws).args(args).output().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TerraformError::NotFound {
                    binary: self.binary.display().to_string(),
                }
            } else {
                TerraformError::Io(e)
            }
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if step != "show -json" && step != "output -json" {
            ws.log
                .push_str(&format!("$ {} {}\n", self.name(), args.join(" ")));
            ws.log.push_str(&stdout);
            ws.log.push_str(&stderr);
        }
        let code = out.status.code().unwrap_or(-1);
        if code != 0 && !(step == "plan" && code == 2) {
            let output = tail(&format!("{stdout}{stderr}"), 60);
            if stderr.contains("Saved plan is stale") {
                return Err(TerraformError::StalePlan { output });
            }
            if stderr.contains("Error acquiring the state lock") {
                return Err(TerraformError::Locked { output });
            }
            return Err(TerraformError::Failed {
                binary: self.name(),
                step,
                code,
                output,
            });
        }
        Ok((code, stdout))
    }

    pub fn init(&self, ws: &mut Workspace) -> Result<(), TerraformError> {
        // Without a lock file Terraform would not link from the cache:
        // the one the installing `init` wrote, when the module has none.
        if let Some(lock) = self.providers.as_ref().and_then(|p| p.lock_file.as_ref()) {
            let path = ws.path().join(LOCK_FILE);
            if !path.exists() {
                std::fs::write(&path, lock).map_err(|e| {
                    TerraformError::Fs(crate::util::fs::FsError::new("writing", &path, e))
                })?;
            }
        }
        if let Some(prepared) = self.providers.as_ref().and_then(|p| p.template.as_ref()) {
            let data_dir = ws.data_dir();
            let started = std::time::Instant::now();
            prepared.template.materialise(&data_dir, &ws.backend.1)?;
            ws.log.push_str(&format!(
                "(init: the run's prepared data dir, copied in {:.1} ms)\n",
                started.elapsed().as_secs_f64() * 1000.0
            ));
            return Ok(());
        }
        self.init_backend(ws)
    }

    /// A real `init` with the pair's backend setting; alone it serves a
    /// [`Workspace::backend_only`] copy, never from the run's prepared
    /// data dir, which is another module's.
    pub fn init_backend(&self, ws: &mut Workspace) -> Result<(), TerraformError> {
        let backend = format!("-backend-config={}={}", ws.backend.0, ws.backend.1);
        self.run(
            ws,
            "init",
            &[
                "init",
                "-input=false",
                "-no-color",
                "-lock-timeout=120s",
                &backend,
            ],
        )?;
        Ok(())
    }

    /// `output -json`: the state's outputs, by name, each with its
    /// `value` and `sensitive` flag.
    pub fn outputs(
        &self,
        ws: &mut Workspace,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TerraformError> {
        let (_, out) = self.run(ws, "output -json", &["output", "-json", "-no-color"])?;
        match serde_json::from_str(&out) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Ok(serde_json::Map::new()),
            Err(e) => Err(TerraformError::Failed {
                binary: self.name(),
                step: "output -json",
                code: 0,
                output: format!("unreadable JSON: {e}"),
            }),
        }
    }

    /// `plan -detailed-exitcode -out`: whether there are changes, and the
    /// human-readable plan (plan's own output, without the closing "Saved
    /// the plan to ..." advice), which spares a `terraform show` run.
    pub fn plan(
        &self,
        ws: &mut Workspace,
        var_file: &Path,
        plan_out: &Path,
        refresh_only: bool,
    ) -> Result<(bool, String), TerraformError> {
        let var_arg = format!("-var-file={}", var_file.display());
        let out_arg = format!("-out={}", plan_out.display());
        let mut args = vec![
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-lock-timeout=120s",
            &var_arg,
            &out_arg,
        ];
        if refresh_only {
            args.push("-refresh-only");
        }
        let (code, stdout) = self.run(ws, "plan", &args)?;
        Ok((code == 2, plan_text(&stdout)))
    }

    pub fn show_json(
        &self,
        ws: &mut Workspace,
        plan: &Path,
    ) -> Result<serde_json::Value, TerraformError> {
        let p = plan.display().to_string();
        let (_, out) = self.run(ws, "show -json", &["show", "-json", &p])?;
        serde_json::from_str(&out).map_err(|e| TerraformError::Failed {
            binary: self.name(),
            step: "show -json",
            code: 0,
            output: format!("unreadable JSON: {e}"),
        })
    }

    pub fn show_text(&self, ws: &mut Workspace, plan: &Path) -> Result<String, TerraformError> {
        let p = plan.display().to_string();
        let (_, out) = self.run(ws, "show", &["show", "-no-color", &p])?;
        Ok(out)
    }

    pub fn apply(&self, ws: &mut Workspace, plan: &Path) -> Result<String, TerraformError> {
        let p = plan.display().to_string();
        let (_, out) = self.run(
            ws,
            "apply",
            &[
                "apply",
                "-input=false",
                "-no-color",
                "-lock-timeout=120s",
                &p,
            ],
        )?;
        Ok(out)
    }

    pub fn version(&self) -> Option<String> {
        let mut cmd = Command::new(&self.binary);
        crate::util::process::scrub_env(&mut cmd, &self.pass_env, |_| false);
        let out = cmd
            .arg("version")
            .arg("-json")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("terraform_version")
            .and_then(|s| s.as_str())
            .map(str::to_string)
    }
}

/// Plan output up to the separator line before "Saved the plan to".
fn plan_text(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.starts_with('\u{2500}'))
        .filter(|i| {
            lines[*i..]
                .iter()
                .any(|l| l.starts_with("Saved the plan to"))
        })
        .unwrap_or(lines.len());
    let mut text = lines[..cut].join("\n");
    text.push('\n');
    text
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work_dir(parent: &Path, name: &str) -> PathBuf {
        let d = parent.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Makes `dir` look `secs` old.
    fn age(dir: &Path, secs: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::open(dir).unwrap().set_modified(t).unwrap();
    }

    /// A copy whose lock is held is kept until the lock is released; one
    /// without a lock file is kept while young; both go once stale.
    #[test]
    fn only_copies_no_run_holds_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let pair = root.path().join("acme/staging");
        let held = work_dir(&pair, ".work-held");
        let lock = std::fs::File::create_new(held.join(WORK_LOCK)).unwrap();
        lock.try_lock().unwrap();
        let young = work_dir(&pair, ".work-young");
        let old = work_dir(&pair, ".work-old");
        age(&old, 3600);
        let other = work_dir(&pair, "work-not-ours");
        age(&other, 3600);
        let sweep = remove_stale_workspaces(root.path());
        assert_eq!(sweep.removed, std::slice::from_ref(&old));
        assert!(held.exists() && young.exists() && other.exists());
        drop(lock);
        let sweep = remove_stale_workspaces(root.path());
        assert_eq!(sweep.removed, [held]);
        assert!(young.exists() && !old.exists());
        assert!(sweep.failed.is_empty());
    }

    /// A plan folder itself, results folders one and two levels down; not
    /// deeper, and never through a symbolic link.
    #[cfg(unix)]
    #[test]
    fn sweeps_two_levels_and_follows_no_links() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let found: Vec<PathBuf> = [".work-a", "c/.work-b", "c/e/.work-c"]
            .iter()
            .map(|n| {
                let d = work_dir(r, n);
                std::fs::write(d.join(WORK_LOCK), "").unwrap();
                d
            })
            .collect();
        let deep = work_dir(r, "c/e/f/.work-d");
        std::fs::write(deep.join(WORK_LOCK), "").unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = work_dir(outside.path(), "keep");
        std::fs::write(victim.join(WORK_LOCK), "").unwrap();
        std::os::unix::fs::symlink(&victim, r.join("c/.work-link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("link")).unwrap();
        let mut sweep = remove_stale_workspaces(r);
        sweep.removed.sort();
        let mut want = found.clone();
        want.sort();
        assert_eq!(sweep.removed, want);
        assert!(deep.exists() && victim.exists());
    }

    /// The working copy holds its own lock while it lives and leaves
    /// nothing behind.
    #[test]
    fn a_live_workspace_is_never_stale() {
        let dir = tempfile::tempdir().unwrap();
        let manager = dir.path().join("manager");
        std::fs::create_dir_all(manager.join("terraform")).unwrap();
        std::fs::write(
            manager.join("fleetform.yml"),
            "version: 1\nschema: s.json\nenvironments: [{name: staging}]\nterraform: {working_dir: terraform}\n",
        )
        .unwrap();
        let m = Manager::load(&manager).unwrap();
        let out = dir.path().join("out");
        let ws = Workspace::prepare(&m, &out.join("acme/staging"), "acme", "staging").unwrap();
        assert!(ws.path().join(WORK_LOCK).is_file());
        assert!(remove_stale_workspaces(&out).removed.is_empty());
        assert!(ws.path().exists());
        let path = ws.path().to_path_buf();
        drop(ws);
        assert!(!path.exists());
    }
}
