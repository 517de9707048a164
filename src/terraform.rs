//! Running Terraform (or OpenTofu) for one customer × environment.
//!
//! Each run gets an isolated working copy of the manager's root module with
//! its own `TF_DATA_DIR`, so parallel runs never collide. Variables reach
//! Terraform only through a JSON var file; `TF_VAR_*` and `TF_CLI_ARGS*` from
//! the environment are removed so nothing else can set them, and so is
//! `FLEETFORM_TOKEN` (the GitHub token that reaches every customer repo).
//! The backend is written by fleetform from the manager config alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::{Backend, Engine, Manager};

#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error("`{binary}` was not found on PATH; install it (https://developer.hashicorp.com/terraform/install or https://opentofu.org/docs/intro/install/) or set FLEETFORM_TERRAFORM to its path")]
    NotFound { binary: String },
    #[error("cannot prepare the working copy: {0}")]
    Io(#[from] std::io::Error),
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
}

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

/// An isolated working copy.
#[derive(Debug)]
pub struct Workspace {
    dir: tempfile::TempDir,
    pub log: String,
}

impl Workspace {
    /// Copies the root module under `parent` and writes the backend override.
    pub fn prepare(
        manager: &Manager,
        parent: &Path,
        customer: &str,
        environment: &str,
    ) -> Result<Self, TerraformError> {
        std::fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new()
            .prefix(".work-")
            .tempdir_in(parent)?;
        let module = manager.path(&manager.config.terraform.working_dir);
        crate::fsutil::copy_module(&module, dir.path())?;
        let key = manager.state_key(customer, environment);
        let backend = backend_override(manager, &key)?;
        std::fs::write(dir.path().join("_fleetform_backend_override.tf"), backend)?;
        Ok(Workspace {
            dir,
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

fn backend_override(manager: &Manager, key: &str) -> Result<String, TerraformError> {
    Ok(match &manager.config.terraform.backend {
        Backend::Local { state_dir } => {
            let dir = manager.path(state_dir);
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let abs = std::path::absolute(&path)?;
            format!(
                "# Written by fleetform from fleetform.yml; do not edit.\nterraform {{\n  backend \"local\" {{\n    path = {}\n  }}\n}}\n",
                hcl_str(&abs.to_string_lossy())
            )
        }
        Backend::S3 {
            bucket,
            region,
            endpoint,
            use_path_style,
            use_lockfile,
        } => {
            let mut body = format!(
                "    bucket = {}\n    key = {}\n    region = {}\n    use_lockfile = {}\n    use_path_style = {}\n",
                hcl_str(bucket),
                hcl_str(key),
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
            format!("# Written by fleetform from fleetform.yml; do not edit.\nterraform {{\n  backend \"s3\" {{\n{body}  }}\n}}\n")
        }
    })
}

impl Terraform {
    fn command(&self, ws: &Workspace) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(ws.path());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            // FLEETFORM_TOKEN reaches every customer repo: providers,
            // `external` data sources and provisioners never need it.
            if k.starts_with("TF_VAR_")
                || k.starts_with("TF_CLI_ARGS")
                || k == "TF_WORKSPACE"
                || k == "TF_DATA_DIR"
                || k == "FLEETFORM_TOKEN"
            {
                cmd.env_remove(k.as_ref());
            }
        }
        if let Some(n) = self.threads {
            cmd.env("GOMAXPROCS", n.to_string());
        }
        cmd.env("TF_DATA_DIR", ws.data_dir())
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
        if step != "show -json" {
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
        self.run(
            ws,
            "init",
            &["init", "-input=false", "-no-color", "-lock-timeout=120s"],
        )?;
        Ok(())
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
        let out = Command::new(&self.binary)
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
