//! `fleetform rollout start|status|tick|halt|resume`: flags → the rollout
//! layer → result lines or JSON.

use std::path::Path;

use crate::cli::{RolloutArgs, RolloutCommand};
use crate::config::{Manager, Registry};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::records::Store;
use crate::rollout::{self, Fleet, StartSettings, TickSettings};

/// Who runs the command, for the events.
fn actor() -> String {
    crate::ci::RunContext::from_env()
        .actor
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

pub fn run(args: &RolloutArgs, manager_dir: &Path, out: &Output) -> Result<()> {
    let manager = Manager::load(manager_dir)?;
    let registry = Registry::load(&manager)?;
    let store = Store::for_manager(&manager);
    let f = Fleet {
        manager: &manager,
        registry: &registry,
        store: &store,
    };
    match &args.command {
        RolloutCommand::Start {
            base,
            json,
            allow_dirty,
        } => start(&f, manager_dir, base, (*json, *allow_dirty), out),
        RolloutCommand::Status { id, json, summary } => {
            status(&f, id.as_deref(), *json, *summary, out)
        }
        RolloutCommand::Tick {
            id,
            jobs,
            out: out_dir,
            terraform,
            one_stage,
            shard,
            plans_from,
        } => {
            let s = rollout::pick(&store, id.as_deref())?;
            let deployments = Deployments::from_env(&s.manager_sha, out);
            let key = match plans_from {
                Some(_) => Some(artifact_key()?),
                None => None,
            };
            let units = shard.as_deref().map(parse_units).transpose()?;
            // Shards of one stage may run side by side on one machine:
            // each works in its own folder (its working copies, providers).
            let own_dir = match &units {
                Some(u) => out_dir.join(shard_folder(u)),
                None => out_dir.clone(),
            };
            let mut settings = tick_settings(&manager, *jobs, &own_dir, terraform.as_deref());
            settings.one_stage = *one_stage;
            settings.shard = units;
            settings.plans_from = plans_from.as_deref().zip(key.as_ref());
            settings.observer = deployments
                .as_ref()
                .map(|d| d as &dyn rollout::ApplyObserver);
            let lines = rollout::tick(&f, &s.id, &settings, out)?;
            for line in &lines {
                out.result(line);
            }
            summarise_tick(&store, &s, &lines);
            halted_is_an_error(&store, &s.id)
        }
        RolloutCommand::Rollback {
            id,
            jobs,
            out: out_dir,
            terraform,
        } => {
            let s = rollout::pick(&store, id.as_deref())?;
            let deployments = Deployments::from_env(&s.base, out);
            let mut settings = tick_settings(&manager, *jobs, out_dir, terraform.as_deref());
            settings.observer = deployments
                .as_ref()
                .map(|d| d as &dyn rollout::ApplyObserver);
            rollback(&f, manager_dir, &s, &settings, out)
        }
        RolloutCommand::Plan {
            id,
            shard,
            jobs,
            out: out_dir,
            terraform,
        } => {
            let s = rollout::pick(&store, id.as_deref())?;
            let key = artifact_key()?;
            let mut settings = tick_settings(&manager, *jobs, out_dir, terraform.as_deref());
            settings.shard = shard.as_deref().map(parse_units).transpose()?;
            plan(&f, &s.id, &key, &settings, out)
        }
        RolloutCommand::Halt { id, reason } => {
            let mut s = rollout::pick(&store, id.as_deref())?;
            rollout::halt(&f, &mut s, reason, &actor(), out)?;
            out.result(&format!("rollout {} halted: {reason}", s.id));
            Ok(())
        }
        RolloutCommand::Resume { id } => {
            let mut s = rollout::pick(&store, id.as_deref())?;
            rollout::resume(&f, &mut s, &actor(), out)?;
            out.result(&format!("rollout {} resumed; the next tick goes on", s.id));
            Ok(())
        }
    }
}

fn artifact_key() -> Result<crate::dispatch::seal::ArtifactKey> {
    crate::dispatch::seal::ArtifactKey::from_env().map_err(|e| Error::Usage(e.to_string()))
}

/// `rollout plan`: the stage's plans for review, grouped in the job
/// summary, and a line per pair.
fn plan(
    f: &Fleet<'_>,
    id: &str,
    key: &crate::dispatch::seal::ArtifactKey,
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<()> {
    let (s, planned) = rollout::plan::plan_stage(f, id, key, settings, out)?;
    let stage = &s.stages[s.current.min(s.stages.len().saturating_sub(1))];
    let digests: Vec<(String, String)> = planned
        .iter()
        .map(|(u, summary, _)| (u.to_string(), summary.plan_sha256.clone()))
        .collect();
    for (u, d) in &digests {
        out.result(&format!("planned {u} (sha256:{d})"));
    }
    let groups = crate::report::impact::group_plans(planned);
    let md = crate::report::rollout::plan_summary(
        id,
        &stage.wave,
        &stage.environment,
        &groups,
        &digests,
    );
    let _ = crate::ci::RunContext::from_env().append_summary(&md);
    let failed = stage
        .units
        .iter()
        .filter(|u| s.failed.contains_key(u))
        .count();
    if failed > 0 {
        return Err(Error::Failed(format!(
            "{failed} pair(s) of the wave failed to plan"
        )));
    }
    Ok(())
}

/// The folder of a shard's work under the tick's results folder: named
/// from its first pair and a digest of all of them.
fn shard_folder(units: &[crate::config::Unit]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for u in units {
        h.update(u.to_string().as_bytes());
        h.update(b"\n");
    }
    let digest = crate::util::fs::hex(&h.finalize());
    format!("shard-{}", &digest[..12])
}

/// A shard: a JSON list of `customer[/product]/environment`.
fn parse_units(text: &str) -> Result<Vec<crate::config::Unit>> {
    let bad = |why: String| Error::Usage(format!("--shard: {why}"));
    let list: Vec<String> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    list.iter()
        .map(|u| {
            let parts: Vec<&str> = u.split('/').collect();
            let ok = |s: &str| crate::config::is_slug(s);
            match parts.as_slice() {
                [c, e] if ok(c) && ok(e) => Ok(crate::config::Unit::new(c, None, e)),
                [c, p, e] if ok(c) && ok(p) && ok(e) => Ok(crate::config::Unit::new(c, Some(p), e)),
                _ => Err(bad(format!(
                    "`{}` is not customer[/product]/environment",
                    u.escape_debug()
                ))),
            }
        })
        .collect()
}

/// The next stage's pending pairs as a job matrix: at most `max_parallel`
/// shards, pairs dealt round-robin.
fn stage_matrix(units: &[crate::config::Unit], max_parallel: usize) -> serde_json::Value {
    let n = max_parallel.clamp(1, 256).min(units.len().max(1));
    let mut shards: Vec<Vec<String>> = vec![Vec::new(); n];
    for (i, u) in units.iter().enumerate() {
        shards[i % n].push(u.to_string());
    }
    let include: Vec<serde_json::Value> = shards
        .into_iter()
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, shard)| serde_json::json!({"id": (i + 1).to_string(), "shard": shard}))
        .collect();
    serde_json::json!({ "include": include })
}

/// How ticks and rollbacks plan and apply.
fn tick_settings<'a>(
    manager: &Manager,
    jobs: Option<usize>,
    out_dir: &'a Path,
    terraform: Option<&'a Path>,
) -> TickSettings<'a> {
    let config = manager.config.rollout.as_ref();
    TickSettings {
        jobs: jobs.or(config.map(|c| c.max_parallel)).unwrap_or(1),
        out_dir,
        terraform,
        actor: actor(),
        lease_secs: 3600,
        one_stage: false,
        shard: None,
        plans_from: None,
        observer: None,
    }
}

/// The commit a revision names, so a rollout keeps what `--base` meant.
/// The commit a start records, shortened for messages.
fn started_sha(settings: &StartSettings<'_>) -> String {
    settings.manager_sha.chars().take(12).collect()
}

/// What in the manager's folder differs from HEAD: changed, staged and
/// untracked files (ignored ones, fleetform's own `.fleetform/` and the
/// registry's lock excluded), as `git status` names them.
fn uncommitted(manager_dir: &Path) -> Result<Vec<String>> {
    let text = crate::util::git::run(
        manager_dir,
        &[
            "status",
            "--porcelain=v1",
            "--untracked-files=all",
            "--",
            ".",
            ":(exclude).fleetform",
            ":(exclude)*.lock",
        ],
    )
    .map_err(|e| Error::Usage(format!("reading the manager's git status: {e}")))?;
    Ok(text
        .lines()
        .filter_map(|l| l.get(3..))
        .map(str::to_string)
        .collect())
}

/// At most five file names, then how many more.
fn shown_files(files: &[String]) -> String {
    let mut s = files
        .iter()
        .take(5)
        .map(|f| crate::util::text::shown(f))
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > 5 {
        s.push_str(&format!(" and {} more", files.len() - 5));
    }
    s
}

fn commit_of(manager_dir: &Path, flag: &str, rev: &str) -> Result<String> {
    crate::util::git::check_revision(flag, rev).map_err(Error::Usage)?;
    crate::util::git::run(
        manager_dir,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )
    .map(|s| s.trim().to_string())
    .map_err(|e| Error::Usage(format!("{flag} {rev}: {e}")))
}

/// Rolls back with the manager at the rollout's base, exported from git,
/// keeping state and records where this one keeps them.
fn rollback(
    live: &Fleet<'_>,
    manager_dir: &Path,
    s: &rollout::state::State,
    settings: &TickSettings<'_>,
    out: &Output,
) -> Result<()> {
    let scratch =
        tempfile::tempdir().map_err(|e| Error::Failed(format!("a scratch folder: {e}")))?;
    let root = crate::util::git::export(manager_dir, &s.base, scratch.path())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let base = Manager::load(&root)?.with_state_of(live.manager);
    let base_fleet = Fleet {
        manager: &base,
        registry: live.registry,
        store: live.store,
    };
    for line in rollout::rollback(live, &base_fleet, &s.id, settings, out)? {
        out.result(&line);
    }
    Ok(())
}

fn start(
    f: &Fleet<'_>,
    manager_dir: &Path,
    base: &str,
    (json, allow_dirty): (bool, bool),
    out: &Output,
) -> Result<()> {
    let base = &commit_of(manager_dir, "--base", base)?;
    let manager_sha = commit_of(manager_dir, "HEAD", "HEAD")?;
    let dirty = uncommitted(manager_dir)?;
    if !dirty.is_empty() && !allow_dirty {
        return Err(Error::Refused(format!(
            "the manager's folder has uncommitted changes ({}); a rollout records the commit {}, which does not contain them, and would roll them out under it. Commit them (or stash them) and start again, or pass --allow-dirty to roll out the working tree as it is, recorded as such",
            shown_files(&dirty),
            &manager_sha[..12.min(manager_sha.len())]
        )));
    }
    let settings = StartSettings {
        manager_dir,
        base,
        manager_sha,
        jobs: crate::fleet::parallel::jobs(None),
        actor: actor(),
    };
    let started = rollout::start(f.manager, f.registry, f.store, &settings, out)?;
    if !dirty.is_empty() && !started.stages.is_empty() {
        let said = format!(
            "{}: started with --allow-dirty from a working tree with uncommitted changes ({}) that commit {} does not contain",
            started.id,
            shown_files(&dirty),
            started_sha(&settings)
        );
        out.note(&format!("warning: {said}"));
        crate::audit::record(
            out,
            crate::audit::Entry::now("rollout", "started-dirty").detail(said),
        );
    }
    if started.stages.is_empty() && !json {
        out.result(&format!(
            "nothing to roll out: no pair changes since {base}"
        ));
        return Ok(());
    }
    if json {
        out.result(&serde_json::to_string_pretty(&started).expect("serialisable"));
        return Ok(());
    }
    out.result(&format!(
        "rollout {}: {} stage(s)",
        started.id,
        started.stages.len()
    ));
    for (i, st) in started.stages.iter().enumerate() {
        out.result(&format!(
            "  {}. {} / {}: {} pair(s), bake {} s",
            i + 1,
            st.environment,
            st.wave,
            st.units.len(),
            st.bake
        ));
    }
    if !started.unassigned.is_empty() {
        out.note(&format!(
            "no wave selects {} (their pairs change but are not rolled out): {}",
            started.unassigned.len(),
            started.unassigned.join(", ")
        ));
    }
    Ok(())
}

/// The tick's step summary: what it said, and each pair it applied (plan
/// digest) or failed, from the events it wrote.
fn summarise_tick(store: &Store, before: &rollout::state::State, lines: &[String]) {
    use rollout::state::Event;
    let events = rollout::state::events(store, &before.id).unwrap_or_default();
    let pairs: Vec<(String, String)> = events
        .iter()
        .skip(before.events)
        .filter_map(|e| match e {
            Event::Applied {
                unit,
                plan_sha256,
                changed,
                ..
            } => Some((
                unit.to_string(),
                match changed {
                    true => format!("applied sha256:{plan_sha256}"),
                    false => "no changes".into(),
                },
            )),
            Event::Failed { unit, reason, .. } => Some((unit.to_string(), reason.clone())),
            _ => None,
        })
        .collect();
    let md = crate::report::rollout::tick_summary(&before.id, lines, &pairs);
    let _ = crate::ci::RunContext::from_env().append_summary(&md);
}

fn status(f: &Fleet<'_>, id: Option<&str>, json: bool, summary: bool, out: &Output) -> Result<()> {
    let store = f.store;
    let s = rollout::pick(store, id)?;
    let next = rollout::next(&s);
    if summary {
        if let Some(n) = next.as_ref().filter(|n| n.waiting.is_none()) {
            let units: Vec<String> = n.units.iter().map(|u| u.to_string()).collect();
            let md = crate::report::rollout::next_summary(
                &s.id,
                n.stage,
                &n.environment,
                &n.wave,
                &units,
            );
            let _ = crate::ci::RunContext::from_env().append_summary(&md);
        }
        let ctx = crate::ci::RunContext::from_env();
        let max_parallel = f
            .manager
            .config
            .rollout
            .as_ref()
            .map_or(1, |r| r.max_parallel);
        let matrix = next
            .as_ref()
            .map(|n| stage_matrix(&n.units, max_parallel))
            .unwrap_or_else(|| serde_json::json!({"include": []}));
        let outputs = [
            ("matrix", matrix.to_string()),
            ("id", s.id.clone()),
            (
                "ready",
                next.as_ref()
                    .is_some_and(|n| n.waiting.is_none())
                    .to_string(),
            ),
            (
                "environment",
                next.as_ref()
                    .map(|n| n.environment.clone())
                    .unwrap_or_default(),
            ),
            (
                "wave",
                next.as_ref().map(|n| n.wave.clone()).unwrap_or_default(),
            ),
        ];
        ctx.set_outputs(&outputs)
            .map_err(|e| Error::Failed(format!("writing GITHUB_OUTPUT: {e}")))?;
    }
    let rows = rollout::status(&s);
    if json {
        let v = serde_json::json!({
            "id": s.id,
            "manager_sha": s.manager_sha,
            "halted": s.halted,
            "superseded_by": s.superseded_by,
            "rolled_back": s.rollback_done,
            "finished": s.finished,
            "stages": rows,
            "next": next,
            "failed": s.failed.iter().map(|(u, r)| serde_json::json!({"unit": u, "reason": r})).collect::<Vec<_>>(),
        });
        out.result(&serde_json::to_string_pretty(&v).expect("serialisable"));
        return Ok(());
    }
    out.result(&crate::report::rollout::table(
        &s.id,
        &rows,
        s.halted.as_deref(),
    ));
    Ok(())
}

/// A tick that left the rollout halted ends with an error, so the job that
/// ran it turns red.
fn halted_is_an_error(store: &Store, id: &str) -> Result<()> {
    let s = rollout::state::load(store, id).map_err(rollout::records_err)?;
    match s.halted {
        Some(reason) => Err(Error::Failed(format!("rollout {id} is halted: {reason}"))),
        None => Ok(()),
    }
}

/// A rollout's applies as GitHub deployments on the customers' repos, when
/// a token is given (`FLEETFORM_TOKEN`, else `GITHUB_TOKEN`) and the pair's
/// last deployment record names the customer's repo and commit.
struct Deployments<'a> {
    rt: tokio::runtime::Runtime,
    gh: crate::github::GitHub,
    manager_sha: String,
    run_url: Option<String>,
    out: &'a Output,
}

impl<'a> Deployments<'a> {
    fn from_env(manager_sha: &str, out: &'a Output) -> Option<Deployments<'a>> {
        let token = crate::github::Token::from_env()?;
        out.mask(token.expose());
        let rt = crate::github::runtime().ok()?;
        let api = crate::github::GitHub::api_url_from_env();
        let gh = crate::github::GitHub::new(&rt, &api, Some(&token), false).ok()?;
        Some(Deployments {
            rt,
            gh,
            manager_sha: manager_sha.chars().take(12).collect(),
            run_url: crate::ci::RunContext::from_env().run_url(),
            out,
        })
    }
}

impl rollout::ApplyObserver for Deployments<'_> {
    fn started(
        &self,
        unit: &crate::config::Unit,
        deployed: &crate::records::Deployment,
        rollout: &str,
        wave: &str,
    ) -> Option<u64> {
        let (repo, sha) = (
            deployed.customer_repo.as_ref()?,
            deployed.customer_sha.as_ref()?,
        );
        let d = crate::github::NewDeployment {
            sha: sha.clone(),
            environment: unit.environment.clone(),
            description: format!(
                "fleetform rollout {rollout}, wave {wave}: manager {}",
                self.manager_sha
            ),
            production: unit.environment == "production",
        };
        let id = match self.rt.block_on(self.gh.create_deployment(repo, &d)) {
            Ok(id) => id?,
            Err(e) => {
                self.out
                    .note(&format!("no deployment recorded on {repo}: {e}"));
                return None;
            }
        };
        let run_url = self.run_url.as_deref();
        let set = self
            .gh
            .set_deployment_status(repo, id, "in_progress", "applying", run_url);
        if let Err(e) = self.rt.block_on(set) {
            self.out.note(&format!("deployment {id}: {e}"));
        }
        Some(id)
    }

    fn ended(&self, id: u64, deployed: &crate::records::Deployment, ok: bool, detail: &str) {
        let Some(repo) = deployed.customer_repo.as_ref() else {
            return;
        };
        let state = if ok { "success" } else { "failure" };
        let set = self
            .gh
            .set_deployment_status(repo, id, state, detail, self.run_url.as_deref());
        if let Err(e) = self.rt.block_on(set) {
            self.out.note(&format!("deployment {id}: {e}"));
        }
    }
}
