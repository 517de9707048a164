//! Drift repairs by policy (`fleetform repair`), after a drift run whose
//! report (`drift-report.json`) says, per drifted pair, what its
//! environment's `drift.repair` policy calls for.
//!
//! 1. **Plan** (`repair --from DRIFT_OUT`): every pair the report marks
//!    `repair` or `propose` gets a plan that puts it back: the pair's plan
//!    at the manager's head (at its pin for a pinned customer), marked as a
//!    repair with the causes in its reason, and sealed like the ops
//!    workflow's plans. The plan itself is judged again: a pair stays
//!    `repair` only when its plan updates in place, every change it makes
//!    is one the cloud made (`cloud_drift`: no edit that was never
//!    applied), and the run's cap (`drift.max_repairs`) still has room;
//!    anything else is proposed, with why. `repairs.json` lists each pair
//!    with its plan's digest.
//! 2. **Apply** (`repair --apply PLANS`): each pair still marked `repair`
//!    is applied through the local apply ([`crate::flows::local::apply`]): the
//!    sealed plan's digest, a second person (the apply job's environment
//!    reviewers, `--confirms`, or `--unreviewed` on a workstation, recorded
//!    as such), an audit line with the repair's reason, the deployment
//!    record and, with `--github`, a deployment on the customer's repo.
//!    The judgement of step 1 is checked again on the opened plan, so an
//!    edited `repairs.json` cannot widen it. A proposed pair is applied by
//!    an operator like any sealed plan: `fleetform apply --customer C --env
//!    E --plan-dir DIR --plan-sha256 DIGEST`.
//!
//! One pair's failure never stops the others; the command fails when any
//! did.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Customer, Manager, MaxRepairs, Registry};
use crate::context::Context;
use crate::data::summary::{Action, PlanSummary, Targeting};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::report::drift_causes::{Repair, RepairAction};

use crate::flows::github_loop::customer_files::DefaultBranch;

/// The file step 1 writes into its results folder.
pub const REPAIRS_FILE: &str = "repairs.json";

/// The list's seal is bound to this name (it spans customers and
/// environments), never to a pair's: a pair's sealed plan does not open
/// as a list, nor a list as a plan.
const SEALED_AS: &str = "fleetform drift repairs";

/// The file step 2 writes beside it: the list with what became of each
/// pair. `repairs.json` itself is never rewritten, so its digest stays the
/// one a second person confirmed.
pub const APPLIED_FILE: &str = "repairs-applied.json";

/// Step 1's settings.
#[derive(Debug, Clone)]
pub struct RepairPlan {
    /// The drift run's results folder (its `drift-report.json`).
    pub from: PathBuf,
    /// Where the repair plans go.
    pub out: PathBuf,
    /// Only this environment's pairs (`--env`).
    pub environment: Option<String>,
    /// Customer files from each repo's default branch (as the drift run
    /// read them), for customers without a local checkout.
    pub token: Option<crate::github::Token>,
    pub terraform: Option<PathBuf>,
    pub json: bool,
}

/// Step 2's settings.
#[derive(Debug, Clone)]
pub struct RepairApply {
    /// Step 1's results folder (its `repairs.json` and plan folders).
    pub plans: PathBuf,
    pub terraform: Option<PathBuf>,
    pub github: bool,
    pub confirms: Option<u64>,
    /// The digest of `repairs.json` the second person read.
    pub list_sha256: Option<String>,
    pub unreviewed: bool,
    pub json: bool,
}

/// One pair's repair plan, as `repairs.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    /// `repair` (applied by `repair --apply`) or `propose`.
    pub action: RepairAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Resources the plan changes.
    pub resources: usize,
    /// `action address` of each resource the plan changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The customer's drift issue, when the drift run keeps issues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// The sealed plan's digest, when it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// Its folder under the results folder (`customer[/product]/env`).
    pub plan_dir: String,
    /// Why no plan was made (the plan failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Step 2: `applied`, `refused: ...` or `failed: ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

/// What a plan must be for a drift job to apply it by itself: `None`, or
/// why it is only proposed.
pub fn not_repairable(s: &PlanSummary) -> Option<String> {
    let reshapes: Vec<&str> = s
        .resources
        .iter()
        .filter(|r| !matches!(r.action, Action::Update | Action::Read))
        .map(|r| r.address.as_str())
        .collect();
    if !reshapes.is_empty() || s.create + s.delete + s.replace > 0 {
        return Some(format!(
            "its plan creates, destroys or replaces ({})",
            shown(&reshapes)
        ));
    }
    let from_edits: Vec<&str> = s
        .resources
        .iter()
        .filter(|r| r.action == Action::Update)
        .filter(|r| !s.cloud_drift.iter().any(|d| d.address == r.address))
        .map(|r| r.address.as_str())
        .collect();
    if !from_edits.is_empty() {
        return Some(format!(
            "its plan also applies edits never applied ({})",
            shown(&from_edits)
        ));
    }
    if s.pin.is_some() {
        return Some("the customer is pinned".into());
    }
    None
}

fn shown(addresses: &[&str]) -> String {
    match addresses.len() {
        0 => "no resource named".into(),
        1..=3 => addresses.join(", "),
        n => format!("{} and {} more", addresses[..3].join(", "), n - 3),
    }
}

/// What the cap leaves of the pairs to repair, in report order: a pair
/// past `max_repairs` customers or resources is proposed instead.
fn cap(planned: &mut [Planned], max: MaxRepairs) {
    let mut customers = std::collections::BTreeSet::new();
    let mut resources = 0usize;
    for p in planned.iter_mut() {
        if p.action != RepairAction::Repair {
            continue;
        }
        let new_customer = !customers.contains(&p.customer);
        if (new_customer && customers.len() >= max.customers)
            || resources + p.resources > max.resources
        {
            p.action = RepairAction::Propose;
            p.why = Some(format!(
                "past this run's cap (drift.max_repairs: {} customers, {} resources)",
                max.customers, max.resources
            ));
            continue;
        }
        customers.insert(p.customer.clone());
        resources += p.resources;
    }
}

/// What a drift run's report says of the repairs: the pairs to plan
/// (`repair` or `propose`), its run, and each customer's drift issue.
struct Wanted {
    pairs: Vec<Repair>,
    run_url: Option<String>,
    issues: std::collections::BTreeMap<String, String>,
}

/// The drift report's pairs to plan a repair for (`repair` or `propose`).
fn wanted(from: &Path) -> Result<Wanted> {
    let path = from.join("drift-report.json");
    let text = crate::util::fs::read_input_text(&path).map_err(|e| {
        Error::usage(format!(
            "{}: {e}; --from names a drift run's results folder (drift --out)",
            path.display()
        ))
    })?;
    #[derive(Deserialize)]
    struct Report {
        #[serde(default)]
        repairs: Vec<Repair>,
        #[serde(default)]
        run_url: Option<String>,
        #[serde(default)]
        issues: std::collections::BTreeMap<String, String>,
    }
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| Error::usage(format!("{}: not a drift report: {e}", path.display())))?;
    let pairs = report
        .repairs
        .into_iter()
        .filter(|r| matches!(r.action, RepairAction::Repair | RepairAction::Propose))
        .collect();
    Ok(Wanted {
        pairs,
        run_url: report.run_url,
        issues: report.issues,
    })
}

/// Step 1: a sealed plan per pair to repair or propose, judged again.
pub fn plan_repairs(settings: &RepairPlan, manager_dir: &Path, cx: &Context) -> Result<()> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let Wanted {
        mut pairs,
        run_url,
        issues,
    } = wanted(&settings.from)?;
    if let Some(env) = &settings.environment {
        pairs.retain(|p| &p.environment == env);
    }
    let files = Files::new(settings.token.as_ref(), cx)?;
    let mut planned = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        let reason = match &run_url {
            Some(u) => format!("drift repair ({}), found by {u}", pair.policy),
            None => format!("drift repair ({})", pair.policy),
        };
        let ctx = PlanContext {
            settings,
            manager: &manager,
            registry: &registry,
            files: &files,
        };
        let mut p = plan_one(&ctx, pair, &reason, cx);
        p.issue = issues.get(&pair.customer).cloned();
        planned.push(p);
    }
    cap(&mut planned, manager.config.drift.max_repairs);
    let digest = write_list(&settings.out, REPAIRS_FILE, &planned)?;
    // The list is what the second person confirms: sealed with the
    // artifact key, so step 2 runs only a list a drift job made.
    crate::flows::github_loop::artifact::seal_preview(
        SEALED_AS,
        SEALED_AS,
        &settings.out,
        REPAIRS_FILE,
    )?;
    show(&planned, &digest, settings.json, &cx.out);
    let apply_environment = settings
        .environment
        .as_deref()
        .and_then(|e| manager.environment(e))
        .map(|e| e.apply_environment());
    let md = summary(
        &planned,
        &digest,
        settings.environment.as_deref(),
        apply_environment.as_deref(),
    );
    if let Err(e) = crate::ci::RunContext::from_env().append_summary(&md) {
        cx.out
            .note(&format!("could not write the run's summary: {e}"));
    }
    let failed = planned.iter().filter(|p| p.error.is_some()).count();
    if failed > 0 {
        return Err(Error::failed(format!(
            "{} of {} failed; the others are sealed in {}",
            failed,
            crate::util::text::count(planned.len(), "repair plan", "repair plans"),
            settings.out.display()
        )));
    }
    Ok(())
}

/// Where step 1 reads customer files: each repo's default branch (through
/// its own client with the customer App, else the token's), else the
/// local checkouts.
struct Files {
    remote: Option<(tokio::runtime::Runtime, crate::github::CustomerRepos)>,
}

impl Files {
    fn new(token: Option<&crate::github::Token>, cx: &Context) -> Result<Files> {
        let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
        let repos = crate::flows::github_loop::session::customer_repos_or(
            &rt,
            crate::flows::github_loop::session::access::FILES,
            token,
            cx,
        )?;
        Ok(Files {
            remote: repos.map(|repos| (rt, repos)),
        })
    }

    fn default_branch(
        &self,
    ) -> Option<crate::flows::github_loop::customer_files::DefaultBranch<'_>> {
        self.remote.as_ref().map(|(rt, repos)| {
            crate::flows::github_loop::customer_files::DefaultBranch { rt, repos }
        })
    }
}

/// What every pair's plan shares.
struct PlanContext<'a> {
    settings: &'a RepairPlan,
    manager: &'a Manager,
    registry: &'a Registry,
    files: &'a Files,
}

/// One pair's repair plan: planned, sealed, judged.
fn plan_one(ctx: &PlanContext<'_>, pair: &Repair, reason: &str, cx: &Context) -> Planned {
    let mut p = Planned {
        customer: pair.customer.clone(),
        product: pair.product.clone(),
        environment: pair.environment.clone(),
        action: pair.action,
        why: pair.why.clone(),
        resources: pair.resources,
        changes: Vec::new(),
        issue: None,
        plan_sha256: None,
        plan_dir: String::new(),
        error: None,
        applied: None,
    };
    match plan_and_seal(ctx, pair, reason, cx) {
        Ok((dir, summary)) => {
            p.plan_dir = dir;
            p.plan_sha256 = Some(summary.plan_sha256.clone());
            p.resources = summary.resources.len();
            p.changes = summary
                .resources
                .iter()
                .map(|r| format!("{} {}", r.action.word(), r.address))
                .collect();
            if p.action == RepairAction::Repair {
                if let Some(why) = not_repairable(&summary) {
                    p.action = RepairAction::Propose;
                    p.why = Some(why);
                }
            }
        }
        Err(e) => {
            cx.out.error(&format!("{}: {e}", place(&p)));
            p.error = Some(e.to_string());
        }
    }
    p
}

fn place(p: &Planned) -> String {
    match &p.product {
        Some(prod) => format!("{}/{prod}/{}", p.customer, p.environment),
        None => format!("{}/{}", p.customer, p.environment),
    }
}

/// Plans the pair at the manager's head (at its pin when pinned), marked
/// as a repair, and seals the plan folder.
fn plan_and_seal(
    ctx: &PlanContext<'_>,
    pair: &Repair,
    reason: &str,
    cx: &Context,
) -> Result<(String, PlanSummary)> {
    let (settings, manager, registry) = (ctx.settings, ctx.manager, ctx.registry);
    let customer: &Customer = registry
        .require(&pair.customer)
        .map_err(|m| Error::usage(format!("{m}; no repair planned")))?;
    let view = manager
        .select_product(pair.product.as_deref())
        .map_err(Error::usage)?;
    if view.environment(&pair.environment).is_none() {
        return Err(Error::usage(format!(
            "unknown environment `{}`; no repair planned",
            pair.environment
        )));
    }
    let scratch = tempfile::tempdir()
        .map_err(|e| Error::failed(format!("a scratch folder for a pinned view: {e}")))?;
    let pinned = crate::config::pins::pinned_view(manager, &view, customer, scratch.path())
        .map_err(|e| Error::refused(format!("{e}; no repair planned")))?;
    let view = pinned.unwrap_or(view);
    let mut engine = crate::engine::Engine::with_terraform(&view, settings.terraform.as_deref())?;
    engine.targeting = Some(Targeting {
        repair: true,
        reason: reason.to_string(),
        actor: crate::audit::Entry::now("plan", "").actor,
        ..Targeting::default()
    });
    let selected = vec![(customer, vec![pair.environment.clone()])];
    let remote = ctx.files.default_branch();
    let local = crate::fleet::local_source(&view, registry);
    let source = |c: &Customer, envs: &[String]| match (&remote, DefaultBranch::repo_of(c)) {
        (Some(r), Some(repo)) => r.files(&view, repo, envs),
        _ => local(c, envs),
    };
    let fleet = crate::fleet::prepare(&engine, &selected, &source, &cx.out);
    let rows = crate::fleet::execute(&mut engine, fleet, 1, &settings.out, false, "plan", cx);
    if let Some(crate::fleet::Outcome::Failed { error, .. }) = rows.first().map(|r| &r.outcome) {
        return Err(Error::failed(format!("the repair plan failed: {error}")));
    }
    let unit = view.unit(&customer.slug, &pair.environment);
    let rel = unit.rel_dir();
    let dir = settings.out.join(&rel);
    let summary = crate::engine::read_summary(&dir)
        .map_err(|e| Error::failed(format!("nothing to seal in {}: {e}", dir.display())))?;
    crate::flows::github_loop::artifact::seal_local(&unit, &dir)?;
    Ok((rel.display().to_string(), summary))
}

/// Writes `repairs.json`; returns its digest (what a second person who
/// confirms the list names).
fn write_list(dir: &Path, name: &str, planned: &[Planned]) -> Result<String> {
    crate::util::fs::ensure_dir(dir, Path::new("."))
        .map_err(|e| Error::failed(format!("{}: {e}", dir.display())))?;
    let bytes = serde_json::to_vec_pretty(planned).expect("serialisable");
    crate::util::fs::write_atomic(&dir.join(name), &bytes)
        .map_err(|e| Error::failed(format!("writing {name}: {e}")))?;
    Ok(crate::util::fs::sha256_bytes(&bytes))
}

/// The list as a table (or JSON: `{"list_sha256", "repairs"}`), and the
/// list's digest, which a confirming second person names.
fn show(planned: &[Planned], list_sha256: &str, json: bool, out: &Output) {
    if json {
        let shown = serde_json::json!({ "list_sha256": list_sha256, "repairs": planned });
        out.json(&shown).expect("serialisable");
        return;
    }
    let rows: Vec<Vec<String>> = planned
        .iter()
        .map(|p| {
            let plan = p
                .plan_sha256
                .as_deref()
                .map(|d| format!("sha256:{}", &d[..12.min(d.len())]))
                .unwrap_or_else(|| "-".into());
            let state = p.applied.as_deref().unwrap_or(p.action.word());
            let why = p.error.as_deref().or(p.why.as_deref()).unwrap_or("-");
            vec![
                place(p),
                state.to_string(),
                p.resources.to_string(),
                plan,
                why.to_string(),
            ]
        })
        .collect();
    let table = crate::output::table(&["PAIR", "ACTION", "RESOURCES", "PLAN", "WHY"], &rows);
    out.result(&format!("{}\nlist sha256:{list_sha256}", table.trim_end()));
}

/// The run summary's Markdown of the list (`report::repairs`).
fn summary(
    planned: &[Planned],
    list_sha256: &str,
    environment: Option<&str>,
    apply_environment: Option<&str>,
) -> String {
    let places: Vec<String> = planned.iter().map(place).collect();
    let rows: Vec<crate::report::repairs::RepairRow<'_>> = planned
        .iter()
        .zip(&places)
        .map(|(p, pair)| crate::report::repairs::RepairRow {
            pair,
            state: p.applied.as_deref().unwrap_or(p.action.word()),
            changes: &p.changes,
            plan_sha256: p.plan_sha256.as_deref(),
            issue: p.issue.as_deref(),
            why: p.error.as_deref().or(p.why.as_deref()),
        })
        .collect();
    crate::report::repairs::summary(environment, &rows, list_sha256, apply_environment)
}

/// Step 2: applies each pair step 1 left marked `repair`.
pub fn apply_repairs(settings: &RepairApply, manager_dir: &Path, cx: &Context) -> Result<()> {
    crate::flows::github_loop::artifact::open_preview(
        SEALED_AS,
        SEALED_AS,
        &settings.plans,
        REPAIRS_FILE,
    )?;
    let path = settings.plans.join(REPAIRS_FILE);
    let text = crate::util::fs::read_input_text(&path).map_err(|e| {
        Error::usage(format!(
            "{}: {e}; --apply names the folder `repair --from` wrote",
            path.display()
        ))
    })?;
    let read = crate::util::fs::sha256_bytes(text.as_bytes());
    if let Some(want) = &settings.list_sha256 {
        if !want.eq_ignore_ascii_case(&read) {
            return Err(Error::refused(format!(
                "{} is not the list that was confirmed (its digest is {read}, --list-sha256 says {want}); nothing was applied",
                path.display()
            )));
        }
    }
    let mut planned: Vec<Planned> = serde_json::from_str(&text)
        .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    let (manager, _) = crate::config::load(manager_dir)?;
    // The cap again, on what this step applies.
    cap(&mut planned, manager.config.drift.max_repairs);
    let (mut due, mut failed, mut refused) = (0, 0, 0);
    for p in planned.iter_mut() {
        if p.action != RepairAction::Repair || p.plan_sha256.is_none() {
            continue;
        }
        due += 1;
        let result = apply_one(settings, p, manager_dir, cx);
        p.applied = Some(match &result {
            Ok(()) => "applied".into(),
            Err(e) => {
                failed += 1;
                refused += usize::from(matches!(e, Error::Refused(_)));
                cx.out.error(&format!("{}: {e}", place(p)));
                format!("not applied: {e}")
            }
        });
    }
    write_list(&settings.plans, APPLIED_FILE, &planned)?;
    show(&planned, &read, settings.json, &cx.out);
    let said = format!(
        "{failed} of {} not applied",
        crate::util::text::count(due, "repair", "repairs")
    );
    match (failed, refused) {
        (0, _) => Ok(()),
        // Every one refused (no second person, a plan judged again): a
        // refusal, exit 3.
        (f, r) if f == r => Err(Error::refused(said)),
        _ => Err(Error::failed(said)),
    }
}

/// One repair: the opened plan judged again, then the local apply.
fn apply_one(settings: &RepairApply, p: &Planned, manager_dir: &Path, cx: &Context) -> Result<()> {
    let rel = Path::new(&p.plan_dir);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::refused(format!(
            "plan_dir `{}` is not a folder under {}",
            p.plan_dir,
            settings.plans.display()
        )));
    }
    let dir = settings.plans.join(rel);
    let unit = crate::config::Unit {
        customer: p.customer.clone(),
        product: p.product.clone(),
        environment: p.environment.clone(),
    };
    crate::flows::github_loop::artifact::open_local(&unit, &dir)?;
    let summary = crate::engine::read_summary(&dir)
        .map_err(|e| Error::refused(format!("{}: {e}", dir.display())))?;
    if let Some(why) = not_repairable(&summary) {
        return Err(Error::refused(format!(
            "not a repair a drift job applies by itself: {why}; propose it instead"
        )));
    }
    let local = crate::flows::local::apply::LocalApply {
        customer: p.customer.clone(),
        environment: p.environment.clone(),
        product: p.product.clone(),
        out: settings.plans.clone(),
        plan_dir: Some(dir),
        plan_sha256: p.plan_sha256.clone(),
        json: false,
        terraform: settings.terraform.clone(),
        github: settings.github,
        confirms: settings.confirms,
        unreviewed: settings.unreviewed,
        show: false,
    };
    crate::flows::local::apply::apply_local(&local, manager_dir, cx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::summary::ResourceChange;

    fn change(address: &str, action: Action) -> ResourceChange {
        serde_json::from_value(serde_json::json!({
            "address": address,
            "action": action,
        }))
        .unwrap()
    }

    /// A plan summary with these changes, of which `drifted` the cloud made.
    fn summary(changes: &[(&str, Action)], drifted: &[&str]) -> PlanSummary {
        let count = |a: Action| changes.iter().filter(|(_, x)| *x == a).count();
        serde_json::from_value(serde_json::json!({
            "customer": "acme", "environment": "staging",
            "create": count(Action::Create), "update": count(Action::Update),
            "delete": count(Action::Delete), "replace": count(Action::Replace),
            "resources": changes.iter().map(|(a, x)| change(a, *x)).collect::<Vec<_>>(),
            "outputs": [], "has_changes": !changes.is_empty(),
            "plan_sha256": "0".repeat(64), "state_key": "k",
            "cloud_drift": drifted.iter().map(|a| change(a, Action::Update)).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn only_in_place_changes_the_cloud_made_are_repaired() {
        let ok = summary(&[("a.b", Action::Update)], &["a.b"]);
        assert_eq!(not_repairable(&ok), None);
        for (changes, drifted, said) in [
            (vec![("a.b", Action::Create)], vec![], "creates"),
            (vec![("a.b", Action::Replace)], vec!["a.b"], "replaces"),
            (vec![("a.b", Action::Delete)], vec![], "destroys"),
            (
                vec![("a.b", Action::Update), ("a.c", Action::Update)],
                vec!["a.b"],
                "never applied (a.c)",
            ),
        ] {
            let why = not_repairable(&summary(&changes, &drifted)).unwrap_or_default();
            assert!(why.contains(said), "{changes:?}: {why}");
        }
    }

    fn planned(customer: &str, resources: usize) -> Planned {
        Planned {
            customer: customer.into(),
            product: None,
            environment: "staging".into(),
            action: RepairAction::Repair,
            why: None,
            resources,
            changes: Vec::new(),
            issue: None,
            plan_sha256: None,
            plan_dir: String::new(),
            error: None,
            applied: None,
        }
    }

    #[test]
    fn the_cap_counts_customers_and_resources_in_order() {
        let mut list = vec![
            planned("a", 2),
            planned("a", 2),
            planned("b", 5),
            planned("c", 1),
        ];
        cap(
            &mut list,
            MaxRepairs {
                customers: 2,
                resources: 6,
            },
        );
        let actions: Vec<_> = list.iter().map(|p| p.action).collect();
        use RepairAction::{Propose, Repair};
        // a and a fit (4 resources), b would make 9, c is the second customer.
        assert_eq!(actions, [Repair, Repair, Propose, Repair]);
        assert!(list[2].why.as_deref().unwrap().contains("cap"));
    }
}
