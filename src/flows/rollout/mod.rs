//! The flows of `fleetform rollout start|status|plan|tick|halt|resume|rollback|deployments`:
//! the command's checked flags → the rollout layer → result lines or JSON.
//!
//! Under GitHub Actions the jobs that plan or apply read the registry on
//! the manager's default branch, a tick asks the wave's approval through
//! the API, and control actions (halt, resume, rollback, supersede) are
//! accepted only from the operators team ([`crate::flows::rollout::github::RolloutGitHub`]).
//! A plan or tick of a rollout whose commit is not the checkout's works
//! with the manager at the rollout's commit, exported from git.
//!
//! May import `rollout`, `fleet`, `config`, `records`, `report`, `audit`,
//! `context` (the command's audit log and network settings),
//! `ci`, `dispatch`, `github`, `util`, `error` and `output`, and `deploy`'s GitHub checks
//! and deployments; `steps`, `owed` and `dirty` are its own parts.

mod dirty;
pub mod github;
pub mod owed;
pub mod steps;

use std::path::Path;

use crate::config::{Manager, Registry};
use crate::context::Context;
use crate::error::{Error, Result, Say};
use crate::flows::github_loop::deployments::Deployments;
use crate::flows::rollout::github::{ChangeCommits, RolloutGitHub};
use crate::records::Store;
use crate::rollout::{self, Fleet, StartSettings, TickSettings};

/// Who runs the command, for the events.
pub fn actor() -> String {
    crate::ci::actor()
}

/// The checkout a command runs in: its folder, manager and store.
pub struct Live<'a> {
    pub dir: &'a Path,
    pub manager: &'a Manager,
    pub store: &'a Store,
}

impl<'a> Live<'a> {
    pub fn fleet<'r>(&self, registry: &'r Registry) -> Fleet<'r>
    where
        'a: 'r,
    {
        self.fleet_at(self.manager, registry)
    }

    /// The fleet of `manager` (the checkout's, or the one at a rollout's
    /// commit) with `registry` and this store.
    pub fn fleet_at<'r>(&self, manager: &'r Manager, registry: &'r Registry) -> Fleet<'r>
    where
        'a: 'r,
    {
        Fleet {
            manager,
            registry,
            store: self.store,
        }
    }
}

/// A control action: only an operator's, on GitHub.
pub enum Control<'a> {
    Halt(&'a str),
    Resume,
    Rollback,
}

pub fn control(live: &Live<'_>, id: Option<&str>, action: Control<'_>, cx: &Context) -> Result<()> {
    let done = match action {
        Control::Halt(_) => "halted",
        Control::Resume => "resumed",
        Control::Rollback => "rolled back",
    };
    let who = operator(live.manager, done, cx)?;
    let registry = Registry::load(live.manager)?;
    let f = live.fleet(&registry);
    let mut s = rollout::pick(live.store, id)?;
    match action {
        Control::Halt(reason) => {
            rollout::halt(&f, &mut s, reason, &who, cx)?;
            cx.out.result(&format!("rollout {} halted: {reason}", s.id));
        }
        Control::Resume => {
            rollout::resume(&f, &mut s, &who, cx)?;
            cx.out
                .result(&format!("rollout {} resumed; the next tick goes on", s.id));
        }
        Control::Rollback => {
            for line in rollout::rollback(&f, &s.id, &who, cx)? {
                cx.out.result(&line);
            }
        }
    }
    Ok(())
}

/// `rollout plan` of the rollout `id` (else the current one), with the
/// manager at its commit and the registry of now.
pub fn plan(live: &Live<'_>, id: Option<&str>, how: &TickFlags<'_>, cx: &Context) -> Result<()> {
    let s = rollout::pick(live.store, id)?;
    let key = artifact_key()?;
    let github = RolloutGitHub::from_env(cx)?;
    let at = ManagerAt::of(live.dir, live.manager, &s.manager_sha)?;
    let m = at.manager();
    let registry = registry(live.manager, github.as_ref())?;
    let f = live.fleet_at(m, &registry);
    let mut settings = tick_settings(m, how.jobs, how.out_dir, how.terraform);
    settings.shard = how.shard.map(steps::parse_units).transpose()?;
    steps::plan(&f, &s.id, &key, &settings, cx)
}

/// `rollout tick`'s (and `plan`'s) flags.
pub struct TickFlags<'a> {
    pub jobs: Option<usize>,
    pub out_dir: &'a Path,
    pub terraform: Option<&'a Path>,
    pub one_stage: bool,
    pub shard: Option<&'a str>,
    pub plans_from: Option<&'a Path>,
    pub unreviewed: bool,
}

/// A tick of the rollout `id` (else the current one), with the manager at
/// its commit, the registry of now, the approval gate and the customers'
/// deployments on GitHub; a tick that leaves it halted is an error.
pub fn tick(live: &Live<'_>, id: Option<&str>, how: &TickFlags<'_>, cx: &Context) -> Result<()> {
    let s = rollout::pick(live.store, id)?;
    let github = RolloutGitHub::from_env(cx)?;
    if how.unreviewed && github.is_some() {
        return Err(Error::usage(
            "--unreviewed is for a workstation: on GitHub Actions a second person approves each wave; nothing was applied"));
    }
    let at = ManagerAt::of(live.dir, live.manager, &s.manager_sha)?;
    let m = at.manager();
    let registry = registry(live.manager, github.as_ref())?;
    let f = live.fleet_at(m, &registry);
    let deployments = Deployments::from_env(&s.manager_sha, cx);
    if let (Some(d), None) = (&deployments, how.shard) {
        owed::before_tick(live.store, d, cx)?;
    }
    let key = how.plans_from.map(|_| artifact_key()).transpose()?;
    let units = how.shard.map(steps::parse_units).transpose()?;
    // Shards of one stage may run side by side on one machine: each works
    // in its own folder (its working copies, providers).
    let own_dir = match &units {
        Some(u) => how.out_dir.join(steps::shard_folder(u)),
        None => how.out_dir.to_path_buf(),
    };
    let change = match &github {
        Some(_) => Some(change_commits(live.dir, &s)?),
        None => None,
    };
    let gate = github.as_ref().zip(change).map(|(g, c)| g.gate(m, c));
    let workstation = rollout::Workstation {
        manager: m,
        unreviewed: how.unreviewed,
    };
    let mut settings = tick_settings(m, how.jobs, &own_dir, how.terraform);
    settings.one_stage = how.one_stage;
    settings.shard = units;
    settings.plans_from = how.plans_from.zip(key.as_ref());
    settings.observer = deployments
        .as_ref()
        .map(|d| d as &dyn rollout::ApplyObserver);
    settings.gate = Some(match &gate {
        Some(g) => g as &dyn rollout::ApprovalGate,
        None => &workstation,
    });
    let ticked = rollout::tick(&f, &s.id, &settings, cx);
    let lines = ticked.as_deref().unwrap_or_default();
    for line in lines {
        cx.out.result(line);
    }
    steps::summarise_tick(live.store, &s, lines, ticked.as_ref().err());
    ticked?;
    halted_is_an_error(live.store, &s.id)
}

/// The commits of a rollout's change, for its approval: the first-parent
/// commits from its base to its commit, newest first, from the checkout's
/// history (a rollback: its own commit, the base it goes back to).
fn change_commits(dir: &Path, s: &rollout::state::State) -> Result<ChangeCommits> {
    if s.rollback_of.is_some() {
        return Ok(ChangeCommits {
            commits: vec![s.manager_sha.clone()],
            more: false,
        });
    }
    let range = format!("{}..{}", s.base, s.manager_sha);
    let most = format!("--max-count={}", ChangeCommits::MAX + 1);
    let listed = crate::util::git::run(dir, &["rev-list", "--first-parent", &most, &range])
        .map_err(|e| {
            Error::Failed(Say::new(format!("listing the commits of rollout {}'s change ({range}), whose authors may not approve it: {e}", s.id)).help("check out with its history (fetch-depth: 0)"))
        })?;
    let mut commits: Vec<String> = listed.lines().map(str::to_string).collect();
    let more = commits.len() > ChangeCommits::MAX;
    commits.truncate(ChangeCommits::MAX);
    Ok(ChangeCommits { commits, more })
}

/// Who performs a control action: on GitHub, the run's actor once
/// checked against `rollout.operators` (fail closed); by hand, the user.
pub fn operator(manager: &Manager, action: &str, cx: &Context) -> Result<String> {
    match RolloutGitHub::from_env(cx)? {
        Some(gh) => gh.operator(manager, action),
        None => Ok(actor()),
    }
}

/// The registry a plan or tick works with, whatever commit the rollout is
/// of: what is registered now, on GitHub on the default branch, else in
/// the checkout.
pub fn registry(manager: &Manager, github: Option<&RolloutGitHub>) -> Result<Registry> {
    match github {
        Some(gh) => gh.registry(manager),
        None => Registry::load(manager).map_err(Error::from),
    }
}

fn artifact_key() -> Result<crate::dispatch::seal::ArtifactKey> {
    crate::dispatch::seal::ArtifactKey::from_env().map_err(|e| Error::usage(e.to_string()))
}

/// The manager at a rollout's commit: the checkout when it is that commit
/// (with its uncommitted edits, for a run by hand), else that commit
/// exported from git into a scratch folder, with the checkout's state and
/// records. A tick never applies another commit's configuration.
struct ManagerAt {
    manager: Manager,
    _scratch: Option<tempfile::TempDir>,
}

impl ManagerAt {
    fn of(dir: &Path, live: &Manager, sha: &str) -> Result<ManagerAt> {
        let head = rollout::start::commit_of(dir, "HEAD", "HEAD").ok();
        if sha.is_empty() || head.as_deref() == Some(sha) {
            return Ok(ManagerAt {
                manager: live.clone(),
                _scratch: None,
            });
        }
        let scratch =
            tempfile::tempdir().map_err(|e| Error::failed(format!("a scratch folder: {e}")))?;
        let root = crate::util::git::export(dir, sha, scratch.path()).map_err(|e| {
            Error::Failed(Say::new(format!("the rollout is of manager commit {sha}, which this checkout cannot export ({e})")).help("check out with its history (fetch-depth: 0)"))
        })?;
        let manager = Manager::load(&root)?.with_state_of(live);
        Ok(ManagerAt {
            manager,
            _scratch: Some(scratch),
        })
    }

    fn manager(&self) -> &Manager {
        &self.manager
    }
}

/// How ticks and plans run.
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
        gate: None,
    }
}

/// `rollout start`'s flags.
pub struct StartFlags<'a> {
    pub base: Option<&'a str>,
    pub supersede: bool,
    pub allow_dirty: bool,
    pub json: bool,
}

pub fn start(
    f: &Fleet<'_>,
    manager_dir: &Path,
    how: &StartFlags<'_>,
    who: &str,
    cx: &Context,
) -> Result<()> {
    let manager_sha = rollout::start::commit_of(manager_dir, "HEAD", "HEAD")?;
    let uncommitted = dirty::uncommitted(manager_dir)?;
    if !uncommitted.is_empty() && !how.allow_dirty {
        return Err(dirty::refusal(&uncommitted, &manager_sha));
    }
    let settings = StartSettings {
        manager_dir,
        base: how.base,
        manager_sha,
        jobs: crate::fleet::parallel::jobs(None),
        actor: who.to_string(),
        supersede: how.supersede,
    };
    let started = rollout::start(f.manager, f.registry, f.store, &settings, cx)?;
    if !uncommitted.is_empty() && !started.stages.is_empty() {
        dirty::record(cx, &started.id, &uncommitted, &settings.manager_sha);
    }
    if how.json {
        cx.out.json(&started).expect("serialisable");
        return Ok(());
    }
    for old in &started.superseded {
        cx.out.result(&format!("rollout {old} superseded"));
    }
    if started.stages.is_empty() {
        cx.out.result(&format!(
            "nothing to roll out: no pair changes since {}",
            started.base
        ));
        return Ok(());
    }
    cx.out.result(&format!(
        "rollout {}: {}, the change since {}",
        started.id,
        crate::util::text::count(started.stages.len(), "stage", "stages"),
        crate::dispatch::short_sha(&started.base)
    ));
    if let Some(ahead) = &started.queued_behind {
        cx.out.result(&format!(
            "queued behind rollout {ahead}: it begins when that one ends"
        ));
    }
    if let (Some(ahead), Some(reason)) = (&started.queued_behind, &started.behind_halted) {
        cx.out.warn(&format!(
            "rollout {ahead} is halted ({reason}); a push does not end it: an operator resumes it, rolls it back, or supersedes it (`fleetform rollout start --supersede`, the workflow's `supersede` action)"
        ));
    }
    for (i, st) in started.stages.iter().enumerate() {
        cx.out.result(&format!(
            "  {}. {} / {}: {}, bake {} s",
            i + 1,
            st.environment,
            st.wave,
            crate::util::text::count(st.units.len(), "pair", "pairs"),
            st.bake
        ));
    }
    for p in &started.pinned {
        cx.out.note(&format!(
            "skipped {} (pinned at `{}` until {}; not rolled out)",
            p.unit, p.git_ref, p.until
        ));
    }
    if !started.unassigned.is_empty() {
        cx.out.note(&format!(
            "no wave selects {} (their pairs change but are not rolled out): {}",
            started.unassigned.len(),
            started.unassigned.join(", ")
        ));
    }
    Ok(())
}

/// A tick that left the rollout halted ends with an error, so the job that
/// ran it turns red (not once it was rolled back or superseded).
fn halted_is_an_error(store: &Store, id: &str) -> Result<()> {
    let s = rollout::state::load(store, id).map_err(rollout::records_err)?;
    match s.halted {
        Some(reason) if s.is_open() => {
            Err(Error::failed(format!("rollout {id} is halted: {reason}")))
        }
        _ => Ok(()),
    }
}
