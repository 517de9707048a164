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
use super::error::{fs_err, TerraformError};
use super::workspace::{backend_override, pair_backend, Workspace, BACKEND_OVERRIDE};
use crate::config::{Engine, Manager};

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

pub use super::lockfile::LOCK_FILE;

impl Terraform {
    /// Finds the engine: `FLEETFORM_TERRAFORM` if set, else the engine's
    /// binary on PATH.
    pub fn locate(engine: Engine, explicit: Option<&Path>) -> Result<Self, TerraformError> {
        let name = engine.binary();
        let bare = explicit.filter(|p| p.components().count() == 1 && !p.is_file());
        if let Some(p) = explicit.filter(|_| bare.is_none()) {
            let reason = match std::fs::metadata(p) {
                Ok(m) if m.is_file() => {
                    return Ok(Terraform {
                        binary: p.to_path_buf(),
                        engine,
                        threads: None,
                        pass_env: Vec::new(),
                        providers: None,
                    })
                }
                Ok(_) => "that is not a file".to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "no such file".to_string(),
                Err(e) => e.to_string(),
            };
            return Err(TerraformError::NotABinary {
                path: p.display().to_string(),
                reason,
            });
        }
        // A bare name (`--terraform tofu`) is looked up on PATH.
        let name = bare.map_or(std::ffi::OsStr::new(name), |p| p.as_os_str());
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
            binary: name.to_string_lossy().into_owned(),
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
        let installed = self.run_in(
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
        );
        if let Err(e) = installed {
            // Nothing is in the cache: the pairs install their own, each
            // into its own data dir. Terraform's cache is not safe for
            // concurrent writers, and pairs pointed at an empty one would
            // all write it at once.
            self.providers = None;
            return Err(e);
        }
        let module = manager.path(manager.working_dir());
        if !module.join(LOCK_FILE).exists() {
            let lock = scratch.path().join(LOCK_FILE);
            if let Ok(text) = crate::util::fs::read_input_text(&lock) {
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
            self.providers = None;
            return Ok(Some("the data dir's backend record is not in a known shape; every customer × environment runs its own `init`".into()));
        };
        let prepared = Prepared {
            template,
            _scratch: scratch,
        };
        if let Err(e) = self.check_template(manager, cache_root, &prepared) {
            // Each pair then installs its own providers into its own data
            // dir: pairs running `init` at once must not share the cache,
            // which Terraform writes without a lock.
            self.providers = None;
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
    let text = crate::util::fs::read_input_text(config).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("plugin_cache_dir") && l.contains('='))
        .map(str::to_string)
}

/// The steps that evaluate the configuration and so need the pair's
/// secrets as variables; every other one (`init` and the modules and
/// providers it fetches, `show`, `output`, `state mv`/`rm`,
/// `force-unlock`) runs without them.
const SECRETS_FOR: [&str; 3] = ["plan", "apply", "import"];

impl Terraform {
    fn command(&self, ws: &Workspace, step: &str) -> Command {
        let mut cmd = self.command_in(ws.path(), &ws.data_dir());
        if ws.own_providers {
            cmd.env_remove("TF_PLUGIN_CACHE_DIR");
        }
        if let Some(n) = self.threads {
            cmd.env("GOMAXPROCS", n.to_string());
        }
        if SECRETS_FOR.contains(&step) {
            for (name, value) in &ws.secret_env {
                cmd.env(format!("TF_VAR_{name}"), value.as_str());
            }
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
        let args = &colourless(step, args);
        let out = self.command(ws, step).args(args).output().map_err(|e| {
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
            // A state holds secrets: its bytes stay out of every log.
            if step != "state pull" {
                ws.log.push_str(&stdout);
            }
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

    /// Initialises the working copy; with `drop_checksums`, then drops the
    /// lock file's checksums (see `lockfile`). Returns whether it did.
    pub fn init(&self, ws: &mut Workspace, drop_checksums: bool) -> Result<bool, TerraformError> {
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
        } else {
            self.init_backend(ws)?;
        }
        // The packages were checked against the lock file's checksums (by
        // this `init`, or by the run's installing one): the commands that
        // follow need not hash them again (see `lockfile`).
        let dropped = drop_checksums && super::lockfile::drop_checksums_after_init(ws.path())?;
        if dropped {
            ws.log.push_str(
                "(lock file: providers checked by init; later commands skip the re-hash)\n",
            );
        }
        Ok(dropped)
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
        self.plan_with(ws, var_file, plan_out, refresh_only, &[])
    }

    /// [`Terraform::plan`] with `extra` flags (`-replace=ADDR`,
    /// `-target=ADDR`, `-destroy`), each one argument.
    pub fn plan_with(
        &self,
        ws: &mut Workspace,
        var_file: &Path,
        plan_out: &Path,
        refresh_only: bool,
        extra: &[String],
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
        args.extend(extra.iter().map(String::as_str));
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

    /// The current state, as `terraform state pull` prints it (empty for
    /// a pair never applied); never logged.
    pub fn state_pull(&self, ws: &mut Workspace) -> Result<String, TerraformError> {
        self.state_op(ws, "state pull", &["state", "pull"])
    }

    /// A state operation (`import`, `state mv`, `state rm`,
    /// `force-unlock`): `args` as given, in the pair's working copy with
    /// its backend and scrubbed environment. Returns its output.
    pub fn state_op(
        &self,
        ws: &mut Workspace,
        step: &'static str,
        args: &[&str],
    ) -> Result<String, TerraformError> {
        let (_, out) = self.run(ws, step, args)?;
        Ok(out)
    }

    /// Refuses to apply a plan `planned` by another version of the engine
    /// than this one: Terraform and OpenTofu refuse it too, but only after
    /// `init`, and without saying which version to install. Nothing to
    /// check for a plan that recorded no version, or an engine that does
    /// not tell its own (the engine then decides).
    pub fn check_version(&self, planned: Option<&str>) -> Result<(), TerraformError> {
        let (Some(planned), Some(running)) = (planned, self.version()) else {
            return Ok(());
        };
        if planned == running {
            return Ok(());
        }
        Err(TerraformError::OtherVersion {
            binary: self.name(),
            planned: planned.to_string(),
            running,
        })
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

/// `args` with `-no-color` right after the subcommand's words (`state
/// mv`, `import`, ...), unless it is there already: one way to run every
/// subcommand, so no log, comment or error carries colour codes.
fn colourless<'a>(step: &str, args: &[&'a str]) -> Vec<&'a str> {
    let mut out = args.to_vec();
    // JSON has no colour; the rest gets the flag once.
    if args.contains(&"-no-color") || args.contains(&"-json") {
        return out;
    }
    let words = step
        .split(' ')
        .take_while(|w| !w.starts_with('-'))
        .count()
        .min(args.len());
    let at = if args
        .iter()
        .zip(step.split(' '))
        .take(words)
        .all(|(a, s)| *a == s)
    {
        words
    } else {
        args.len()
    };
    out.insert(at, "-no-color");
    out
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
mod colour_tests {
    use super::colourless;

    #[test]
    fn every_subcommand_runs_without_colour_codes() {
        assert_eq!(
            colourless("state mv", &["state", "mv", "-lock-timeout=120s", "a", "b"]),
            ["state", "mv", "-no-color", "-lock-timeout=120s", "a", "b"]
        );
        assert_eq!(
            colourless("force-unlock", &["force-unlock", "-force", "id"]),
            ["force-unlock", "-no-color", "-force", "id"]
        );
        assert_eq!(
            colourless("show -json", &["show", "-json", "p"]),
            ["show", "-json", "p"]
        );
        assert_eq!(
            colourless("import", &["import", "-input=false", "-no-color", "a", "b"]),
            ["import", "-input=false", "-no-color", "a", "b"]
        );
    }
}
