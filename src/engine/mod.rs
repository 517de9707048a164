//! The plan/apply engine for one customer × environment, shared by local
//! fleet mode and the GitHub path: values → plan folder → gates → apply,
//! and the policy tools a plan's gates run (`tools`). Built once per run
//! by [`Engine::with_terraform`] (or [`Engine::without_terraform`] for
//! what only reads the values).
//!
//! May import: `config`, `values`, `terraform`, `policy`, `report` (the
//! plan comment it writes into the plan folder), `records` (the names of
//! the customer-files and Infracost files a plan keeps), `data` (the plan summary it
//! fills in), `output` (the masker of secrets), `error` and `util`. Never
//! `fleet`, `rollout`, `deploy`, the commands, the GitHub client or the
//! runner's I/O (`ci`).
//!
//! Results of a plan land in one folder per customer × environment:
//! `tfplan`, `variables.tfvars.json`, `plan.txt`, `comment.md`,
//! `terraform.log` and, written last, `summary.json` (which records the plan
//! file's SHA-256).

mod applies;
mod folder;
pub mod ops;
mod run;
mod secrets;
pub mod tools;
pub use tools::SECRET_MARKER;

pub use folder::read_summary;
use folder::{ensure_out_dir, publish, Results};
use run::{run_plan, Made};
pub use secrets::{holds_a_key, WITHHELD};

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::Activity;
use crate::config::{Customer, Manager, Unit};
use crate::data::summary::{PlanSummary, ProductFacts, SecretAge};
use crate::error::{Error, Say};
use crate::records::StateMark;
use crate::report::comment::{render_comment, CommentContext};
use crate::terraform::needs::Inputs;
use crate::terraform::{Terraform, TerraformError, Workspace};
use crate::util::fs::{sha256_file, write_atomic};
use crate::values::customer::{self, CustomerDocs, ManagerLayers};
use crate::values::layers::Layered;
use crate::values::schema::Schema;
use crate::values::template::ValueTemplates;

pub const SUMMARY_FILE: &str = "summary.json";
/// The root module variable the pair's identity is passed in, when the
/// module declares it.
pub const IDENTITY_VARIABLE: &str = "fleetform";
pub const PLAN_FILE: &str = "tfplan";
pub use crate::records::FILES_FILE;
pub use tools::INFRACOST_FILE;

/// Everything loaded once per run.
pub struct Engine<'m> {
    pub manager: &'m Manager,
    pub schema: Schema,
    pub layers: ManagerLayers,
    pub templates: ValueTemplates,
    pub terraform: Option<Terraform>,
    /// The products this one needs (a product view's `needs:`).
    pub needs: Vec<crate::terraform::needs::Need>,
    /// Every plan of this run is targeted (`-replace`, `-target`, `-destroy`).
    pub targeting: Option<crate::data::summary::Targeting>,
    /// Told each customer secret before Terraform runs, so the runner
    /// masks it in every log (the output layer's; none: not on Actions).
    pub mask: Option<Masker>,
    /// Plans of an unreviewed manager change (impact): a pair with
    /// secrets is refused, never decrypted (its plan would hand them to
    /// code no second person has read).
    pub withhold_secrets: bool,
    /// An adoption plan's import blocks, written into each working copy.
    pub imports: Vec<crate::terraform::Import>,
    /// The customer's secrets identities handed over by the deploy
    /// workflow's key job (`flows::github_loop::handoff`), beside those of
    /// this process's environment.
    pub handed_keys: Option<crate::values::secret_files::Keys>,
    /// The settings the pull request being planned changes, linked to
    /// the customer's reference (the plan comment lists them).
    pub changed_settings: Vec<crate::report::comment::SettingLink>,
}

/// Registers a secret with the runner's mask list.
pub type Masker = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

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
    /// Needed products whose plans here change outputs (see
    /// [`crate::data::summary::ProductFacts::awaiting`]).
    pub awaiting: Vec<String>,
    /// Run the policy tools of `policies` on the plan (false for drift
    /// checks, which judge no plan).
    pub policy_tools: bool,
    /// The Infracost JSON the pair's last apply kept
    /// ([`crate::records::cost_baseline`]): Infracost diffs the plan
    /// against it; without one it breaks the plan down.
    pub cost_baseline: Option<PathBuf>,
}

/// A finished plan.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    pub summary: PlanSummary,
    pub dir: PathBuf,
    pub comment: String,
    pub plan_text: String,
    pub log: String,
    /// `show -json` of the plan (null for a plan without changes).
    pub json: serde_json::Value,
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
    pub fn install_providers(&mut self, cache_root: &Path) -> Result<Option<String>, Error> {
        let manager = self.manager;
        match self.terraform.as_mut() {
            Some(tf) => Ok(tf.install_providers(manager, cache_root)?),
            None => Ok(None),
        }
    }

    fn terraform(&self) -> Result<&Terraform, Error> {
        self.terraform.as_ref().ok_or_else(|| {
            Error::Terraform(TerraformError::NotFound {
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
    ) -> Result<Layered, Error> {
        customer::render(&self.layers, docs, customer, env, &self.templates).map_err(Error::Values)
    }

    /// How this plan is approved on the pull request, when fleetform.yml
    /// has `approvals:` for `env`.
    fn approve_hint(&self, env: &str, digest: &str) -> Option<String> {
        // An operator's targeted plan has no pull request to approve on.
        if self.targeting.is_some() {
            return None;
        }
        let rule = self.manager.approval_rule(env)?;
        let prefix = &digest[..crate::policy::approval::MIN_DIGEST_PREFIX.min(digest.len())];
        Some(format!(
            "{} approval{} by {}{}: comment `{} {prefix}` on this pull request after this plan (an edited comment does not count).",
            rule.required,
            if rule.required == 1 { "" } else { "s" },
            rule.approvers_shown(),
            if rule.allow_author { "" } else { ", not the author" },
            crate::policy::approval::APPROVE_COMMAND,
        ))
    }

    /// Plans one customer × environment and writes its results.
    pub fn plan(&self, req: &PlanRequest<'_>) -> Result<PlanOutcome, Error> {
        let tf = self.terraform()?;
        let slug = &req.customer.slug;
        let env = req.environment;
        let identity = self
            .manager
            .identities_of(req.customer, env)
            .map_err(|m| Error::refused(format!("the cloud identity: {m}")))?;
        // Rendering refuses credentials, so nothing below ever holds one.
        let mut values = self.render(req.customer, req.environment, req.docs)?;
        // Secrets never join `values`: they reach Terraform through its
        // environment only, and are masked before it runs.
        let (secrets, secret_ages) = self.secrets_for(req.customer, env, req.docs)?;
        if let Some(mask) = &self.mask {
            secrets.iter().for_each(|s| mask(&s.value));
        }
        ensure_out_dir(&req.out_dir, &self.manager.unit(slug, env))?;
        let inputs = self.inputs(tf, slug, env, &req.out_dir, &mut values)?;
        self.pair_identity(slug, env, &mut values)?;
        let mut ws = Workspace::prepare(self.manager, &req.out_dir, slug, env)?;
        ws.secret_env = secrets.into_iter().map(|s| (s.name, s.value)).collect();
        let var_file = ws.path().join("fleetform.tfvars.json");
        let vars = serde_json::to_vec_pretty(&values.value).context("serialising variables")?;
        write_atomic(&var_file, &vars)?;
        let plan_path = ws.path().join(PLAN_FILE);
        let result = run_plan(self, tf, &mut ws, (&var_file, &plan_path), req.refresh_only);
        let log_path = req.out_dir.join("terraform.log");
        write_atomic(&log_path, ws.log.as_bytes())?;
        let Made {
            changes: has_changes,
            json,
            text: plan_text,
            checksums_dropped,
        } = result?;
        let (tools, cost) = match req.policy_tools {
            true => self.run_tools(
                env,
                &ws,
                &json,
                (req.cost_baseline.as_deref(), &req.out_dir),
            )?,
            false => (Vec::new(), None),
        };
        let mut summary =
            self.summarise(req, &plan_path, &json, has_changes, tools, secret_ages)?;
        summary.cost = cost;
        summary.product = self.manager.product.clone().map(|name| ProductFacts {
            name,
            inputs_sha256: inputs.as_ref().map(Inputs::digest),
            inputs: inputs.map(|i| i.sources).unwrap_or_default(),
            awaiting: req.awaiting.clone(),
        });
        summary.identity = identity;
        summary.lock_checksums_dropped = checksums_dropped;
        summary.targeting = self.targeting.clone();
        let full_plan_at = req
            .run_url
            .clone()
            .unwrap_or_else(|| req.out_dir.join("plan.txt").display().to_string());
        let comment = render_comment(
            &CommentContext {
                summary: &summary,
                full_plan_at: &full_plan_at,
                run_url: req.run_url.as_deref(),
                approve: self.approve_hint(env, &summary.plan_sha256),
                applies: self.applies_hint(env),
                changed: &self.changed_settings,
            },
            &plan_text,
        )
        .context("rendering the plan comment")?;
        let files = crate::records::applied_files(&req.docs.files);
        let files = serde_json::to_vec_pretty(&files).context("serialising the customer files")?;
        let results = Results {
            plan: &plan_path,
            vars: &vars,
            files: &files,
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
            json,
        })
    }

    /// The outputs of the products this one needs, merged into `values`
    /// (none without needs). A value for one of these variables never
    /// gets here: rendering refused it where it is written
    /// (`customer::render`, the one check `validate` makes too).
    fn inputs(
        &self,
        tf: &Terraform,
        slug: &str,
        env: &str,
        out_dir: &Path,
        values: &mut Layered,
    ) -> Result<Option<Inputs>, Error> {
        if self.needs.is_empty() {
            return Ok(None);
        }
        let inputs = crate::terraform::needs::read(tf, &self.needs, slug, env, out_dir)?;
        if let Some(map) = values.value.as_object_mut() {
            for (k, v) in &inputs.values {
                map.insert(k.clone(), v.clone());
            }
        }
        Ok(Some(inputs))
    }

    /// The pair's identity for the root module, when it declares
    /// `variable "fleetform"` (cost allocation tags: the book's
    /// `default_tags`): the customer, the product, the environment and the
    /// manager's commit (`GITHUB_SHA` in the manager's workflows, else the
    /// checkout's HEAD; empty when neither is known).
    fn pair_identity(&self, slug: &str, env: &str, values: &mut Layered) -> Result<(), Error> {
        if !self.declared()?.contains_key(IDENTITY_VARIABLE) {
            return Ok(());
        }
        let commit = std::env::var("GITHUB_SHA")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                crate::util::git::run(&self.manager.root, &["rev-parse", "HEAD"])
                    .ok()
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_default();
        if let Some(map) = values.value.as_object_mut() {
            map.insert(
                IDENTITY_VARIABLE.into(),
                serde_json::json!({
                    "customer": slug,
                    "product": self.manager.product.clone().unwrap_or_default(),
                    "environment": env,
                    "manager_commit": commit,
                }),
            );
        }
        Ok(())
    }

    /// The plan's summary: counts and addresses from `show -json`, the
    /// plan file's digest, and the gates' verdict at plan time (`tools`:
    /// the policy tools' gates).
    fn summarise(
        &self,
        req: &PlanRequest<'_>,
        plan_path: &Path,
        json: &serde_json::Value,
        has_changes: bool,
        tools: Vec<crate::data::verdict::GateResult>,
        secrets: Vec<SecretAge>,
    ) -> Result<PlanSummary, Error> {
        let (slug, env) = (&req.customer.slug, req.environment);
        let digest = sha256_file(plan_path)?;
        let key = self.manager.state_key(slug, env);
        let mut summary = PlanSummary::from_show_json(json, slug, env, &key, &digest, has_changes);
        self.pinned_engine(summary.engine_version.as_deref())?;
        summary.sha = req.sha.clone();
        summary.pin = self.manager.pin.clone();
        // Before the gates: `refuse_stale_secrets` judges their ages.
        summary.secrets = secrets;
        let gates = self.manager.config.policies.for_environment(env);
        let verdict = crate::policy::evaluate(
            &gates,
            &summary,
            req.pull,
            crate::util::now(),
            crate::policy::Stage::Plan,
            tools,
        );
        summary.gates = (!verdict.results.is_empty()).then_some(verdict);
        Ok(summary)
    }

    /// A plan made by another engine version than fleetform.yml's
    /// `terraform.version` is refused: its apply would need that other
    /// version too.
    fn pinned_engine(&self, made_with: Option<&str>) -> Result<(), Error> {
        let cfg = &self.manager.config.terraform;
        match (&cfg.version, made_with) {
            (Some(pin), Some(made)) if pin.0 != made => {
                let engine = cfg.engine.binary();
                Err(Error::refused(
                    Say::new(format!(
                        "fleetform.yml pins {engine} {} (terraform.version); this plan was made with {engine} {made}",
                        pin.0
                    ))
                    .help(format!(
                        "install {engine} {} in this job (hashicorp/setup-terraform's terraform_version: the repository variable FLEETFORM_TERRAFORM_VERSION), or change terraform.version in a reviewed pull request",
                        pin.0
                    )),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Applies a saved plan after [`Engine::check_apply`] let it through.
    pub fn apply(
        &self,
        customer: &Customer,
        env: &str,
        dir: &Path,
        expected: Option<&str>,
        pull: Option<&crate::policy::PullFacts>,
    ) -> Result<ApplyOutcome, Error> {
        let (summary, verdict) = self.checked_plan(customer, env, dir, expected, pull)?;
        // The plan's lock file and the apply's must be equal for Terraform.
        let drop_checksums = summary.lock_checksums_dropped;
        let actual = summary.plan_sha256;
        let plan_path = dir.join(PLAN_FILE);
        let tf = self.terraform()?;
        tf.check_version(summary.engine_version.as_deref())?;
        // The secrets Terraform keeps out of the saved plan (bound for an
        // `ephemeral` variable), decrypted again from the files the plan
        // was made from, and masked before Terraform runs.
        let secrets = self.secrets_for_apply(customer, env, dir)?;
        if let Some(mask) = &self.mask {
            secrets.iter().for_each(|s| mask(&s.value));
        }
        let mut ws = Workspace::prepare(self.manager, dir, &customer.slug, env)?;
        ws.secret_env = secrets.into_iter().map(|s| (s.name, s.value)).collect();
        let abs_plan = std::path::absolute(&plan_path).map_err(io_err(&plan_path))?;
        let result = (|| -> Result<String, TerraformError> {
            tf.init(&mut ws, drop_checksums)?;
            tf.apply(&mut ws, &abs_plan)
        })();
        let log_path = dir.join("apply.log");
        write_atomic(&log_path, ws.log.as_bytes())?;
        let output = result?;
        // The state's serial and lineage for the deployment record (never logged).
        let state = (tf.state_pull(&mut ws).ok()).and_then(|s| StateMark::read(s.as_bytes()));
        let outcome = ApplyOutcome {
            customer: customer.slug.clone(),
            product: self.manager.product.clone(),
            environment: env.to_string(),
            plan_sha256: actual,
            applied: true,
            gates: verdict,
            output,
            state,
        };
        let result_path = dir.join(crate::records::APPLY_FILE);
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
    ) -> Result<(String, crate::data::verdict::Verdict), Error> {
        let (summary, verdict) = self.checked_plan(customer, env, dir, expected, pull)?;
        Ok((summary.plan_sha256, verdict))
    }

    /// [`Engine::check_apply`], returning the summary it checked (its
    /// digest is the plan file's).
    fn checked_plan(
        &self,
        customer: &Customer,
        env: &str,
        dir: &Path,
        expected: Option<&str>,
        pull: Option<&crate::policy::PullFacts>,
    ) -> Result<(PlanSummary, crate::data::verdict::Verdict), Error> {
        let summary = read_summary(dir)?;
        let planned = Unit::new(
            &summary.customer,
            summary.product.as_ref().map(|p| p.name.as_str()),
            &summary.environment,
        );
        let wanted = self.manager.unit(&customer.slug, env);
        if planned != wanted {
            return Err(Error::refused(format!(
                "{} holds a plan for {planned}, not {wanted}",
                dir.display(),
            )));
        }
        self.check_inputs(&summary, dir)?;
        if let Some(exp) = expected {
            if !exp.eq_ignore_ascii_case(&summary.plan_sha256) {
                return Err(Error::refused(format!(
                    "the expected plan digest {exp} differs from the one recorded in {} ({}); nothing was applied",
                    dir.join(SUMMARY_FILE).display(),
                    summary.plan_sha256
                )));
            }
        }
        let plan_path = dir.join(PLAN_FILE);
        let actual = sha256_file(&plan_path)?;
        if actual != summary.plan_sha256 {
            return Err(Error::Refused(Say::new(format!("the plan file {} has SHA-256 {actual} but {} was approved; it changed after planning. Nothing was applied", plan_path.display(), summary.plan_sha256)).help("plan again")));
        }
        // An offboarding's destroy plan applies only through the
        // offboarding (approved by its digest), and only there to a
        // revoked customer; the gates judge changes, not the end.
        let destroy = summary.targeting.as_ref().is_some_and(|t| t.destroy);
        if destroy != self.targeting.as_ref().is_some_and(|t| t.destroy) {
            return Err(Error::refused(format!(
                "{} holds {}; nothing was applied",
                dir.display(),
                match destroy {
                    true => "an offboarding's destroy plan: it applies only with `customers offboard --approve`",
                    false => "a plan that is not an offboarding's destroy plan",
                }
            )));
        }
        if !customer.takes_part(Activity::Plan) && !destroy {
            return Err(Error::refused(format!(
                "customer `{}` was revoked; nothing was applied",
                customer.slug
            )));
        }
        if destroy {
            return Ok((summary, crate::data::verdict::Verdict::default()));
        }
        // Gates again, now: labels may have been removed, the window closed.
        let gates = self.manager.config.policies.for_environment(env);
        let at_plan = summary.gates.as_ref().map_or(&[][..], |v| &v.results[..]);
        let tools =
            crate::policy::tools::recorded(gates.tools.as_deref().unwrap_or_default(), at_plan);
        let verdict = crate::policy::evaluate(
            &gates,
            &summary,
            pull,
            crate::util::now(),
            crate::policy::Stage::Apply,
            tools,
        );
        if !verdict.allows() {
            let why: Vec<String> = verdict
                .blocking()
                .iter()
                .map(|r| format!("{} ({})", r.gate, r.detail))
                .collect();
            return Err(Error::refused(format!(
                "policy gates block the apply: {}",
                why.join("; ")
            )));
        }
        Ok((summary, verdict))
    }
}

impl Engine<'_> {
    /// The needed products' outputs are still the ones the plan was made
    /// with: once a needed product was applied and its outputs changed,
    /// the plan is refused and must be made again.
    fn check_inputs(&self, summary: &PlanSummary, dir: &Path) -> Result<(), Error> {
        let Some(recorded) = summary
            .product
            .as_ref()
            .and_then(|p| p.inputs_sha256.as_ref())
        else {
            return Ok(());
        };
        let tf = self.terraform()?;
        let now = crate::terraform::needs::read(
            tf,
            &self.needs,
            &summary.customer,
            &summary.environment,
            dir,
        )?;
        if &now.digest() != recorded {
            let from: Vec<&str> = self
                .needs
                .iter()
                .filter_map(|n| n.view.product.as_deref())
                .collect();
            return Err(Error::refused(format!(
                "plan `{}` again: the outputs of {} changed since this plan was made (applied after it); nothing was applied",
                summary.product.as_ref().map(|p| p.name.as_str()).unwrap_or_default(),
                from.join(", ")
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    pub plan_sha256: String,
    pub applied: bool,
    pub gates: crate::data::verdict::Verdict,
    #[serde(skip)]
    pub output: String,
    /// The state's serial and lineage after the apply, when read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateMark>,
}

/// An I/O error that names its path and keeps the OS reason.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Other(anyhow::anyhow!("{}: {e}", path.display()))
}

impl<'m> Engine<'m> {
    /// The engine of one run, with Terraform located up front (`explicit`,
    /// or the manager's engine on PATH) so a missing Terraform fails before
    /// any work starts.
    pub fn with_terraform(
        manager: &'m Manager,
        explicit: Option<&Path>,
    ) -> Result<Engine<'m>, crate::error::Error> {
        build(manager, true, explicit)
    }

    /// The engine of one run that only reads and renders the values
    /// (`render`): no Terraform is located.
    pub fn without_terraform(manager: &'m Manager) -> Result<Engine<'m>, crate::error::Error> {
        build(manager, false, None)
    }
}

/// Builds the engine; `with_terraform` locates the engine binary up front so
/// a missing Terraform fails before any work starts.
fn build<'m>(
    manager: &'m Manager,
    with_terraform: bool,
    explicit: Option<&Path>,
) -> Result<Engine<'m>, crate::error::Error> {
    use crate::error::Error;
    if manager.has_products() && manager.product.is_none() {
        return Err(Error::usage(format!(
            "fleetform.yml declares products ({}); this command does not run per product yet: use `plan`, `apply --product`, `validate` or `render --product`",
            manager.product_names().join(", ")
        )));
    }
    manager.check_named_paths()?;
    let schema = crate::values::schema::Schema::of_manager(manager, manager.schema_path())?;
    let layers =
        crate::values::customer::ManagerLayers::load(manager, &schema).map_err(Error::Values)?;
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
        needs: crate::terraform::needs::of(manager),
        targeting: None,
        // The output layer registers each with the runner (on Actions).
        mask: Some(std::sync::Arc::new(|s: &str| {
            crate::output::Output::from_env(false, 0).mask(s)
        })),
        withhold_secrets: false,
        imports: Vec::new(),
        handed_keys: None,
        changed_settings: Vec::new(),
    })
}
