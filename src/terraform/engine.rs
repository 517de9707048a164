//! The plan/apply engine for one customer × environment, shared by local
//! fleet mode and the GitHub path.
//!
//! Results of a plan land in one folder per customer × environment:
//! `tfplan`, `variables.tfvars.json`, `plan.txt`, `comment.md`,
//! `terraform.log` and, written last, `summary.json` (which records the plan
//! file's SHA-256).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::{Customer, Manager};
use crate::report::comment::{render_comment, CommentContext};
use crate::terraform::summary::PlanSummary;
use crate::terraform::{Terraform, TerraformError, Workspace};
use crate::util::fs::{sha256_file, write_atomic};
use crate::values::customer::{self, CustomerDocs, Diagnostic, ManagerLayers};
use crate::values::layers::Layered;
use crate::values::schema::Schema;
use crate::values::template::ValueTemplates;

pub const SUMMARY_FILE: &str = "summary.json";
pub const PLAN_FILE: &str = "tfplan";

/// Why one customer × environment did not plan or apply.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid values")]
    Values(Vec<Diagnostic>),
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    #[error("refused: {0}")]
    Refused(String),
    /// Shown with its whole chain of causes, so an OS error ("No space
    /// left on device") is never hidden behind "writing comment.md".
    #[error("{0:#}")]
    Io(#[from] anyhow::Error),
}

impl From<crate::util::fs::FsError> for RunError {
    fn from(e: crate::util::fs::FsError) -> Self {
        RunError::Io(e.into())
    }
}

impl RunError {
    /// A one-line description for tables.
    pub fn short(&self) -> String {
        match self {
            RunError::Values(d) => match d.first() {
                Some(first) if d.len() == 1 => first.to_string(),
                Some(first) => format!("{first} (and {} more)", d.len() - 1),
                None => "invalid values".into(),
            },
            RunError::Terraform(TerraformError::Failed {
                binary, step, code, ..
            }) => {
                format!("`{binary} {step}` failed (exit {code})")
            }
            other => other.to_string(),
        }
    }
}

/// Creates the results folder `<root>/<customer>/<environment>` so that
/// neither of the two folders fleetform names can be a planted symlink
/// that sends the plan's files (or a truncated lock) elsewhere.
fn ensure_out_dir(dir: &Path, customer: &str, env: &str) -> Result<(), crate::util::fs::FsError> {
    let tail = Path::new(customer).join(env);
    let root = match dir.parent().and_then(Path::parent) {
        Some(root) if dir.ends_with(&tail) => root,
        _ => return crate::util::fs::ensure_dir(dir, Path::new("")).map(drop),
    };
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    crate::util::fs::ensure_dir(root, &tail).map(drop)
}

/// Everything loaded once per run.
pub struct Engine<'m> {
    pub manager: &'m Manager,
    pub schema: Schema,
    pub layers: ManagerLayers,
    pub templates: ValueTemplates,
    pub terraform: Option<Terraform>,
}

/// One plan to make.
pub struct PlanRequest<'a> {
    pub customer: &'a Customer,
    pub environment: &'a str,
    pub docs: &'a CustomerDocs,
    /// Results folder for this customer × environment.
    pub out_dir: PathBuf,
    pub sha: Option<String>,
    pub run_url: Option<String>,
    pub refresh_only: bool,
    /// The pull request, for gates that need its labels or reviews.
    pub pull: Option<&'a crate::policy::PullFacts>,
}

/// A finished plan.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    pub summary: PlanSummary,
    pub dir: PathBuf,
    pub comment: String,
    pub plan_text: String,
    pub log: String,
}

impl Engine<'_> {
    /// Tells the engine that `runs` plans or applies run at once on this
    /// machine (see [`Terraform::share_cores`]).
    pub fn share_cores(&mut self, runs: usize) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let Some(tf) = self.terraform.as_mut() {
            tf.share_cores(runs, cores);
        }
    }

    /// Installs the root module's providers once for a fleet run, under
    /// `cache_root` (see [`Terraform::install_providers`]); nothing without
    /// a Terraform. Returns a note when the pairs still run their own
    /// `init`.
    pub fn install_providers(&mut self, cache_root: &Path) -> Result<Option<String>, RunError> {
        let manager = self.manager;
        match self.terraform.as_mut() {
            Some(tf) => Ok(tf.install_providers(manager, cache_root)?),
            None => Ok(None),
        }
    }

    fn terraform(&self) -> Result<&Terraform, RunError> {
        self.terraform.as_ref().ok_or_else(|| {
            RunError::Terraform(TerraformError::NotFound {
                binary: self.manager.config.terraform.engine.binary().into(),
            })
        })
    }

    /// Layers and renders the values for one customer × environment.
    pub fn render(
        &self,
        customer: &Customer,
        env: &str,
        docs: &CustomerDocs,
    ) -> Result<Layered, RunError> {
        customer::render(&self.layers, docs, customer, env, &self.templates)
            .map_err(RunError::Values)
    }

    /// Plans one customer × environment and writes its results.
    pub fn plan(&self, req: &PlanRequest<'_>) -> Result<PlanOutcome, RunError> {
        let tf = self.terraform()?;
        // Rendering refuses credentials, so nothing below ever holds one.
        let values = self.render(req.customer, req.environment, req.docs)?;
        let slug = &req.customer.slug;
        let env = req.environment;
        ensure_out_dir(&req.out_dir, slug, env)?;
        let mut ws = Workspace::prepare(self.manager, &req.out_dir, slug, env)?;
        let var_file = ws.path().join("fleetform.tfvars.json");
        let vars = serde_json::to_vec_pretty(&values.value).context("serialising variables")?;
        write_atomic(&var_file, &vars)?;
        let plan_path = ws.path().join(PLAN_FILE);
        let result = run_plan(tf, &mut ws, &var_file, &plan_path, req.refresh_only);
        let log_path = req.out_dir.join("terraform.log");
        write_atomic(&log_path, ws.log.as_bytes())?;
        let (has_changes, json, plan_text) = result?;
        let summary = self.summarise(req, &plan_path, &json, has_changes)?;
        let full_plan_at = req
            .run_url
            .clone()
            .unwrap_or_else(|| req.out_dir.join("plan.txt").display().to_string());
        let comment = render_comment(
            &CommentContext {
                summary: &summary,
                full_plan_at: &full_plan_at,
                run_url: req.run_url.as_deref(),
            },
            &plan_text,
        )
        .context("rendering the plan comment")?;
        let results = Results {
            plan: &plan_path,
            vars: &vars,
            plan_text: &plan_text,
            comment: &comment,
            summary: &summary,
        };
        publish(&req.out_dir, &results)?;
        Ok(PlanOutcome {
            summary,
            dir: req.out_dir.clone(),
            comment,
            plan_text,
            log: std::mem::take(&mut ws.log),
        })
    }

    /// The plan's summary: counts and addresses from `show -json`, the
    /// plan file's digest, and the gates' verdict at plan time.
    fn summarise(
        &self,
        req: &PlanRequest<'_>,
        plan_path: &Path,
        json: &serde_json::Value,
        has_changes: bool,
    ) -> Result<PlanSummary, RunError> {
        let (slug, env) = (&req.customer.slug, req.environment);
        let digest = sha256_file(plan_path)?;
        let key = self.manager.state_key(slug, env);
        let mut summary = PlanSummary::from_show_json(json, slug, env, &key, &digest, has_changes);
        summary.sha = req.sha.clone();
        let gates = self.manager.config.policies.for_environment(env);
        let verdict = crate::policy::evaluate(
            &gates,
            &summary,
            req.pull,
            jiff::Timestamp::now(),
            crate::policy::Stage::Plan,
        );
        summary.gates = (!verdict.results.is_empty()).then_some(verdict);
        Ok(summary)
    }

    /// Applies a saved plan after [`Engine::check_apply`] let it through.
    pub fn apply(
        &self,
        customer: &Customer,
        env: &str,
        dir: &Path,
        expected: Option<&str>,
        pull: Option<&crate::policy::PullFacts>,
    ) -> Result<ApplyOutcome, RunError> {
        let (actual, verdict) = self.check_apply(customer, env, dir, expected, pull)?;
        let plan_path = dir.join(PLAN_FILE);
        let tf = self.terraform()?;
        let mut ws = Workspace::prepare(self.manager, dir, &customer.slug, env)?;
        let abs_plan = std::path::absolute(&plan_path).map_err(io_err(&plan_path))?;
        let result = (|| -> Result<String, TerraformError> {
            tf.init(&mut ws)?;
            tf.apply(&mut ws, &abs_plan)
        })();
        let log_path = dir.join("apply.log");
        write_atomic(&log_path, ws.log.as_bytes())?;
        let output = result?;
        let outcome = ApplyOutcome {
            customer: customer.slug.clone(),
            environment: env.to_string(),
            plan_sha256: actual,
            applied: true,
            gates: verdict,
            output,
        };
        let result_path = dir.join("apply.json");
        write_atomic(
            &result_path,
            &serde_json::to_vec_pretty(&outcome).context("serialising the apply result")?,
        )?;
        Ok(outcome)
    }

    /// Every check an apply makes, without applying: the plan belongs to
    /// this customer × environment, its digest matches the expected (or
    /// recorded) one, the customer is active and the gates allow it now.
    /// Returns the plan's digest and the gates' verdict.
    pub fn check_apply(
        &self,
        customer: &Customer,
        env: &str,
        dir: &Path,
        expected: Option<&str>,
        pull: Option<&crate::policy::PullFacts>,
    ) -> Result<(String, crate::policy::Verdict), RunError> {
        let summary = read_summary(dir)?;
        if summary.customer != customer.slug || summary.environment != env {
            return Err(RunError::Refused(format!(
                "{} holds a plan for {}/{}, not {}/{}",
                dir.display(),
                summary.customer,
                summary.environment,
                customer.slug,
                env
            )));
        }
        if let Some(exp) = expected {
            if !exp.eq_ignore_ascii_case(&summary.plan_sha256) {
                return Err(RunError::Refused(format!(
                    "the expected plan digest {exp} differs from the one recorded in {} ({}); nothing was applied",
                    dir.join(SUMMARY_FILE).display(),
                    summary.plan_sha256
                )));
            }
        }
        let plan_path = dir.join(PLAN_FILE);
        let actual = sha256_file(&plan_path)?;
        if actual != summary.plan_sha256 {
            return Err(RunError::Refused(format!(
                "the plan file {} has SHA-256 {actual} but {} was approved; it changed after planning. Nothing was applied; plan again",
                plan_path.display(),
                summary.plan_sha256
            )));
        }
        if !customer.is_active() {
            return Err(RunError::Refused(format!(
                "customer `{}` was revoked; nothing was applied",
                customer.slug
            )));
        }
        // Gates again, now: labels may have been removed, the window closed.
        let gates = self.manager.config.policies.for_environment(env);
        let verdict = crate::policy::evaluate(
            &gates,
            &summary,
            pull,
            jiff::Timestamp::now(),
            crate::policy::Stage::Apply,
        );
        if !verdict.allows() {
            let why: Vec<String> = verdict
                .blocking()
                .iter()
                .map(|r| format!("{} ({})", r.gate, r.detail))
                .collect();
            return Err(RunError::Refused(format!(
                "policy gates block the apply: {}",
                why.join("; ")
            )));
        }
        Ok((actual, verdict))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub customer: String,
    pub environment: String,
    pub plan_sha256: String,
    pub applied: bool,
    pub gates: crate::policy::Verdict,
    #[serde(skip)]
    pub output: String,
}

pub fn read_summary(dir: &Path) -> Result<PlanSummary, RunError> {
    let p = dir.join(SUMMARY_FILE);
    let bytes = std::fs::read(&p).map_err(|e| {
        RunError::Refused(format!(
            "no plan summary at {} ({e}); run `fleetform plan` first",
            p.display()
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        RunError::Refused(format!(
            "{} is not a fleetform plan summary: {e}",
            p.display()
        ))
    })
}

/// `init`, `plan -out` and, when there are changes, `show -json`: whether
/// the plan has changes, its JSON (null without changes) and its text.
fn run_plan(
    tf: &Terraform,
    ws: &mut Workspace,
    var_file: &Path,
    plan_path: &Path,
    refresh_only: bool,
) -> Result<(bool, serde_json::Value, String), TerraformError> {
    tf.init(ws)?;
    let (changes, text) = tf.plan(ws, var_file, plan_path, refresh_only)?;
    // `-detailed-exitcode` 0 means no resource, output or move changes:
    // the JSON plan would only list no-ops, so the summary is empty and
    // `show -json` is not run.
    let json = if changes {
        tf.show_json(ws, plan_path)?
    } else {
        serde_json::Value::Null
    };
    Ok((changes, json, text))
}

/// What a plan publishes into its results folder.
struct Results<'a> {
    /// The plan file in the working copy (moved into the folder).
    plan: &'a Path,
    vars: &'a [u8],
    plan_text: &'a str,
    comment: &'a str,
    summary: &'a PlanSummary,
}

/// Moves the plan into `dir` and writes the files next to it, the
/// summary that vouches for the plan last. Two runs publishing into the
/// same folder take turns, so the summary always vouches for the plan file
/// next to it.
fn publish(dir: &Path, r: &Results<'_>) -> Result<(), RunError> {
    let lock_path = dir.join(".publish.lock");
    let lock = crate::util::fs::open_lock_file(&lock_path)?;
    lock.lock().map_err(io_err(&lock_path))?;
    let plan = dir.join(PLAN_FILE);
    std::fs::rename(r.plan, &plan).map_err(io_err(&plan))?;
    let summary = serde_json::to_vec_pretty(r.summary).context("serialising the summary")?;
    for (name, bytes) in [
        ("variables.tfvars.json", r.vars),
        ("plan.txt", r.plan_text.as_bytes()),
        ("comment.md", r.comment.as_bytes()),
        (SUMMARY_FILE, &summary),
    ] {
        let path = dir.join(name);
        write_atomic(&path, bytes)?;
    }
    Ok(())
}

/// An I/O error that names its path and keeps the OS reason.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |e| RunError::Io(anyhow::anyhow!("{}: {e}", path.display()))
}

/// Builds the engine; `with_terraform` locates the engine binary up front so
/// a missing Terraform fails before any work starts.
pub fn build<'m>(
    manager: &'m Manager,
    with_terraform: bool,
    explicit: Option<&Path>,
) -> Result<Engine<'m>, crate::error::Error> {
    use crate::error::Error;
    let schema_path = manager.path(&manager.config.schema);
    let schema = crate::values::schema::Schema::load(
        &schema_path,
        &crate::config::display_path(&schema_path),
    )?;
    let layers = crate::values::customer::ManagerLayers::load(manager).map_err(Error::Values)?;
    let terraform = if with_terraform {
        let mut tf =
            crate::terraform::Terraform::locate(manager.config.terraform.engine, explicit)?;
        tf.pass_env = manager.config.terraform.pass_env.clone();
        Some(tf)
    } else {
        None
    };
    Ok(Engine {
        manager,
        schema,
        layers,
        templates: crate::values::template::ValueTemplates::default(),
        terraform,
    })
}
