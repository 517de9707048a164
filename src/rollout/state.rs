//! A rollout is its events: one create-only record each, numbered, in the
//! manager's records store (`rollouts/<id>/<seq>.json`). The state is the
//! fold of the events; writing the next number is the lock: of two jobs
//! that read the same state, only one can write what comes next, and the
//! other reads again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::Unit;
use crate::records::{RecordsError, Store};

/// One stage of a rollout: a wave of customers in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub environment: String,
    pub wave: String,
    /// The pairs of this stage, in order.
    pub units: Vec<Unit>,
    /// Bake time after the stage, in seconds.
    pub bake: u64,
    /// With `products:`, the products of this stage: a wave's pairs go in
    /// one stage per dependency level, so a product is planned (and its
    /// plan reviewed) after the products it needs were applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
}

/// A deployment owed on a customer's repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedDeployment {
    pub repo: String,
    /// The customer commit applied.
    pub sha: String,
    pub environment: String,
    pub wave: String,
    /// Made already: only its final status is owed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// How the apply ended, and the rollout's words for it.
    pub ok: bool,
    pub detail: String,
    /// When the apply ended (Unix seconds).
    pub applied_at: u64,
    /// The run that applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The marker the tick put in the deployment's payload (empty: none,
    /// the owed event's own is used).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub marker: String,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Started {
        manager_sha: String,
        base: String,
        stages: Vec<Stage>,
        at: u64,
        actor: String,
        /// A rollback: the rollout this one undoes (its base's
        /// configuration, newest stage first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rollback_of: Option<String>,
    },
    /// A tick took the current stage until `lease_until`.
    TickStarted {
        stage: usize,
        at: u64,
        lease_until: u64,
    },
    Applied {
        unit: Unit,
        plan_sha256: String,
        changed: bool,
        at: u64,
        /// Who the apply is recorded as: the approver of the wave, or who
        /// ran the tick where the environment needs no approval.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        actor: String,
        /// Applied by hand with `--unreviewed` where the environment
        /// needs approval: no second person saw it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unreviewed: bool,
    },
    /// A pair left out: its customer is unknown, revoked or no longer has
    /// the environment (in the registry the tick read). Decided, not failed.
    Skipped {
        unit: Unit,
        reason: String,
        at: u64,
    },
    /// A tick found the stage's reviewed plans not approved (yet): the
    /// stage waits for the approval and a re-run of that tick, and is not
    /// planned again by a scheduled run.
    ApprovalWanted {
        stage: usize,
        digest: String,
        reason: String,
        at: u64,
    },
    Failed {
        unit: Unit,
        reason: String,
        at: u64,
    },
    /// A plan made for review before the wave's approval (`rollout plan`).
    Planned {
        unit: Unit,
        plan_sha256: String,
        at: u64,
    },
    /// Every pair of the stage applied; the next waits until `bake_until`.
    StageDone {
        stage: usize,
        at: u64,
        bake_until: u64,
    },
    Halted {
        reason: String,
        at: u64,
        actor: String,
    },
    Resumed {
        at: u64,
        actor: String,
    },
    Finished {
        at: u64,
    },
    /// A newer rollout took over this one (a halted one, every open one
    /// with `start --supersede`, or the ones queued behind a rollout that
    /// is rolled back).
    Superseded {
        by: String,
        at: u64,
    },
    /// Rolling back: the base's configuration goes back to every pair this
    /// rollout changed, last stage first, by the rollout `by` (ticked,
    /// reviewed and approved like any other). Nothing of this one is ticked
    /// any more.
    RollbackStarted {
        at: u64,
        actor: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    RolledBack {
        unit: Unit,
        plan_sha256: String,
        at: u64,
    },
    RollbackFailed {
        unit: Unit,
        reason: String,
        at: u64,
    },
    RollbackDone {
        at: u64,
    },
    /// A pair's GitHub deployment that did not fit GitHub's write budget
    /// when it was applied (written after the pair's event): sent later,
    /// with its final status ([`super::owed`]).
    DeploymentOwed {
        unit: Unit,
        deployment: OwedDeployment,
        at: u64,
    },
    /// Owed deployments (named by their event's number) sent, or dropped
    /// (GitHub will never take them: the repo or commit is gone), with why.
    DeploymentsSent {
        sent: Vec<usize>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dropped: Vec<(usize, String)>,
        at: u64,
    },
}

/// A stage's reviewed plans as one digest (what an approver approves),
/// and when the newest of them was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageDigest {
    pub digest: String,
    pub planned_at: u64,
    /// The pairs it covers.
    pub pairs: usize,
}

/// A rollout as its events say it is now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    pub id: String,
    pub manager_sha: String,
    pub base: String,
    /// Who started it (the author of the change, on GitHub the pusher).
    pub started_by: String,
    pub started_at: u64,
    /// The rollout this one rolls back, if it is a rollback.
    pub rollback_of: Option<String>,
    /// The rollback rollout of this one.
    pub rolled_back_by: Option<String>,
    pub stages: Vec<Stage>,
    /// The first stage not done.
    pub current: usize,
    pub applied: BTreeSet<Unit>,
    pub failed: BTreeMap<Unit, String>,
    /// The digest of each pair's plan made for review, and when.
    pub planned: BTreeMap<Unit, String>,
    pub planned_at: BTreeMap<Unit, u64>,
    /// Pairs left out, with why.
    pub skipped: BTreeMap<Unit, String>,
    /// The stage and digest a tick wanted an approval of.
    pub approval_wanted: Option<(usize, String)>,
    /// Who each applied pair is recorded as.
    pub applied_by: BTreeMap<Unit, String>,
    pub halted: Option<String>,
    pub bake_until: Option<u64>,
    pub lease_until: Option<u64>,
    pub finished: bool,
    pub superseded_by: Option<String>,
    /// Pairs this rollout applied with changes (what a rollback undoes).
    pub changed: BTreeSet<Unit>,
    pub rolling_back: bool,
    pub rolled_back: BTreeSet<Unit>,
    pub rollback_failed: BTreeMap<Unit, String>,
    pub rollback_done: bool,
    /// Deployments owed on GitHub, by the number of their event, oldest
    /// first.
    pub owed: BTreeMap<usize, (Unit, OwedDeployment)>,
    /// How many events there are (the next one's number).
    pub events: usize,
}

impl State {
    /// The fold of `events`.
    pub fn of(id: &str, events: &[Event]) -> State {
        let mut s = State {
            id: id.to_string(),
            events: events.len(),
            ..State::default()
        };
        for (n, e) in events.iter().enumerate() {
            s.apply(n, e);
        }
        s
    }

    /// Folds in event number `n`.
    fn apply(&mut self, n: usize, e: &Event) {
        match e {
            Event::Started {
                manager_sha,
                base,
                stages,
                at,
                actor,
                rollback_of,
            } => {
                self.manager_sha = manager_sha.clone();
                self.base = base.clone();
                self.stages = stages.clone();
                self.started_by = actor.clone();
                self.started_at = *at;
                self.rollback_of = rollback_of.clone();
            }
            Event::TickStarted { lease_until, .. } => self.lease_until = Some(*lease_until),
            Event::Applied {
                unit,
                changed,
                actor,
                ..
            } => {
                self.failed.remove(unit);
                self.applied.insert(unit.clone());
                if !actor.is_empty() {
                    self.applied_by.insert(unit.clone(), actor.clone());
                }
                if *changed {
                    self.changed.insert(unit.clone());
                }
            }
            Event::Skipped { unit, reason, .. } => {
                self.skipped.insert(unit.clone(), reason.clone());
            }
            Event::ApprovalWanted { stage, digest, .. } => {
                self.approval_wanted = Some((*stage, digest.clone()));
            }
            Event::Failed { unit, reason, .. } => {
                self.failed.insert(unit.clone(), reason.clone());
            }
            Event::Planned {
                unit,
                plan_sha256,
                at,
            } => {
                self.planned.insert(unit.clone(), plan_sha256.clone());
                self.planned_at.insert(unit.clone(), *at);
            }
            Event::StageDone {
                stage, bake_until, ..
            } => {
                self.current = stage + 1;
                self.bake_until = Some(*bake_until);
                self.lease_until = None;
            }
            Event::Halted { reason, .. } => {
                self.halted = Some(reason.clone());
                self.lease_until = None;
            }
            Event::Resumed { .. } => {
                self.halted = None;
                self.failed.clear();
            }
            Event::Finished { .. } => {
                self.finished = true;
                self.lease_until = None;
            }
            Event::Superseded { by, .. } => self.superseded_by = Some(by.clone()),
            Event::RollbackStarted { .. }
            | Event::RolledBack { .. }
            | Event::RollbackFailed { .. }
            | Event::RollbackDone { .. } => self.apply_rollback(e),
            Event::DeploymentOwed { .. } | Event::DeploymentsSent { .. } => {
                self.apply_deployments(n, e)
            }
        }
    }

    /// Folds in a rollback's events.
    fn apply_rollback(&mut self, e: &Event) {
        match e {
            Event::RollbackStarted { by, .. } => {
                self.rolling_back = true;
                self.rolled_back_by = by.clone();
                self.rollback_failed.clear();
                self.lease_until = None;
            }
            Event::RolledBack { unit, .. } => {
                self.rollback_failed.remove(unit);
                self.rolled_back.insert(unit.clone());
            }
            Event::RollbackFailed { unit, reason, .. } => {
                self.rollback_failed.insert(unit.clone(), reason.clone());
            }
            Event::RollbackDone { .. } => self.rollback_done = true,
            _ => {}
        }
    }

    /// Folds in the events of owed deployments (event number `n`).
    fn apply_deployments(&mut self, n: usize, e: &Event) {
        match e {
            Event::DeploymentOwed {
                unit, deployment, ..
            } => {
                self.owed.insert(n, (unit.clone(), deployment.clone()));
            }
            Event::DeploymentsSent { sent, dropped, .. } => {
                for n in sent.iter().chain(dropped.iter().map(|(n, _)| n)) {
                    self.owed.remove(n);
                }
            }
            _ => {}
        }
    }

    /// Neither finished, superseded nor rolled back (or being rolled
    /// back).
    pub fn is_open(&self) -> bool {
        !self.finished && self.superseded_by.is_none() && !self.rolling_back
    }

    /// Every pair of `stage` applied, failed or skipped.
    pub fn decided(&self, stage: &Stage) -> bool {
        stage.units.iter().all(|u| {
            self.applied.contains(u) || self.failed.contains_key(u) || self.skipped.contains_key(u)
        })
    }

    /// The digest of `stage`'s reviewed plans: SHA-256 over a line
    /// `<pair> <plan sha256>` per pair with a plan made for review, in
    /// pair order, whether applied yet or not (shards of one stage see the
    /// same digest). `None` when no pair has one.
    pub fn stage_digest(&self, stage: &Stage) -> Option<StageDigest> {
        use sha2::Digest as _;
        let mut units: Vec<&Unit> = stage
            .units
            .iter()
            .filter(|u| self.planned.contains_key(*u))
            .collect();
        if units.is_empty() {
            return None;
        }
        units.sort_by_key(|u| u.to_string());
        let mut h = sha2::Sha256::new();
        for u in &units {
            h.update(format!("{u} {}\n", self.planned[*u]).as_bytes());
        }
        Some(StageDigest {
            digest: crate::util::fs::hex(&h.finalize()),
            planned_at: units
                .iter()
                .filter_map(|u| self.planned_at.get(*u))
                .copied()
                .max()
                .unwrap_or(0),
            pairs: units.len(),
        })
    }
}

/// Where a rollout's events live: refused for anything but a rollout id,
/// so no id (typed, or read back from a record) reaches another folder.
pub fn prefix(id: &str) -> Result<String, RecordsError> {
    super::trust::id(id).map_err(|reason| RecordsError::Io {
        what: "refusing the rollout",
        key: format!("rollouts/{}/", id.escape_debug()),
        reason,
    })?;
    crate::records::folder_key(&["rollouts", id])
}

/// Every rollout's id, oldest first (ids start with their start time);
/// a folder under `rollouts/` that is not a rollout id is an error.
pub fn ids(store: &Store) -> Result<Vec<String>, RecordsError> {
    let mut ids: Vec<String> = Vec::new();
    for k in store.list("rollouts/")? {
        let Some(id) = k
            .strip_prefix("rollouts/")
            .and_then(|r| r.split('/').next())
        else {
            continue;
        };
        if ids.last().map(String::as_str) == Some(id) {
            continue;
        }
        super::trust::listed_id(id).map_err(|reason| RecordsError::Io {
            what: "reading the rollouts: the record",
            key: k.clone(),
            reason,
        })?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// A rollout's events, in order, each checked as if a stranger wrote it
/// ([`super::trust`]).
pub fn events(store: &Store, id: &str) -> Result<Vec<Event>, RecordsError> {
    let mut events = Vec::new();
    store.read_each(&store.list(&prefix(id)?)?, |k, bytes| {
        let bad = |reason: String| RecordsError::Io {
            what: "reading rollout event",
            key: k.to_string(),
            reason,
        };
        let event: Event = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        checked(&event).map_err(bad)?;
        events.push(event);
        Ok(())
    })?;
    Ok(events)
}

/// An event read back from the store, checked as if a stranger wrote it:
/// the ids, commits and pairs it names are what fleetform writes.
fn checked(e: &Event) -> Result<(), String> {
    use super::trust::{id, sha, unit};
    let found = match e {
        Event::Started {
            manager_sha,
            base,
            stages,
            rollback_of,
            ..
        } => sha("manager commit", manager_sha)
            .and_then(|()| sha("base", base))
            .and_then(|()| rollback_of.as_deref().map_or(Ok(()), id))
            .and_then(|()| {
                stages
                    .iter()
                    .flat_map(|s| s.units.iter())
                    .try_for_each(unit)
            }),
        Event::RollbackStarted { by, .. } => by.as_deref().map_or(Ok(()), id),
        Event::Applied { unit: u, .. }
        | Event::Skipped { unit: u, .. }
        | Event::Failed { unit: u, .. }
        | Event::Planned { unit: u, .. }
        | Event::RolledBack { unit: u, .. }
        | Event::RollbackFailed { unit: u, .. } => unit(u),
        Event::DeploymentOwed {
            unit: u,
            deployment: d,
            ..
        } => unit(u)
            .and_then(|()| sha("customer commit", &d.sha))
            .and_then(|()| match crate::config::is_repo(&d.repo) {
                true => Ok(()),
                false => Err(format!(
                    "its repo `{}` is not owner/name",
                    d.repo.escape_debug()
                )),
            }),
        _ => Ok(()),
    };
    found.map_err(super::trust::not_ours)
}

/// Loads a rollout's state.
pub fn load(store: &Store, id: &str) -> Result<State, RecordsError> {
    Ok(State::of(id, &events(store, id)?))
}

/// Writes event number `state.events`: [`RecordsError::Exists`] when
/// another job wrote it first (read the state again). Updates `state`.
pub fn append(store: &Store, state: &mut State, event: Event) -> Result<(), RecordsError> {
    let key = format!("{}{:06}.json", prefix(&state.id)?, state.events);
    store.create(
        &key,
        &serde_json::to_vec_pretty(&event).expect("serialisable"),
    )?;
    state.apply(state.events, &event);
    state.events += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(c: &str) -> Unit {
        Unit::new(c, None, "staging")
    }

    #[test]
    fn the_state_is_the_fold_of_the_events() {
        let stages = vec![Stage {
            environment: "staging".into(),
            wave: "canary".into(),
            units: vec![unit("acme"), unit("globex")],
            bake: 60,
            products: Vec::new(),
        }];
        let events = vec![
            Event::Started {
                manager_sha: "abc".into(),
                base: "main~1".into(),
                stages,
                at: 1,
                actor: "ops".into(),
                rollback_of: None,
            },
            Event::TickStarted {
                stage: 0,
                at: 2,
                lease_until: 100,
            },
            Event::Failed {
                unit: unit("acme"),
                reason: "boom".into(),
                at: 3,
            },
            Event::Halted {
                reason: "1 failed".into(),
                at: 4,
                actor: "fleetform".into(),
            },
        ];
        let s = State::of("r1", &events);
        assert_eq!(s.halted.as_deref(), Some("1 failed"));
        assert_eq!(s.failed.len(), 1);
        assert_eq!(s.lease_until, None);
        assert_eq!(s.events, 4);
        let mut more = events.clone();
        more.push(Event::Resumed {
            at: 5,
            actor: "ops".into(),
        });
        more.push(Event::Applied {
            unit: unit("acme"),
            plan_sha256: "f".into(),
            changed: true,
            at: 6,
            actor: "ops-erin".into(),
            unreviewed: false,
        });
        let s = State::of("r1", &more);
        assert!(s.halted.is_none() && s.failed.is_empty());
        assert!(s.applied.contains(&unit("acme")));
    }

    #[test]
    fn a_tampered_base_or_id_is_refused_with_what_to_do() {
        const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
        let started = |base: &str, rollback_of: Option<&str>| Event::Started {
            manager_sha: SHA.into(),
            base: base.into(),
            stages: Vec::new(),
            at: 1,
            actor: "ops".into(),
            rollback_of: rollback_of.map(str::to_string),
        };
        assert!(checked(&started(SHA, None)).is_ok());
        let e = checked(&started("0123456789ab/../../x", None)).unwrap_err();
        assert!(
            e.contains("its base `0123456789ab/../../x` is not a commit sha"),
            "{e}"
        );
        assert!(e.contains("outside fleetform"), "{e}");
        assert!(checked(&started("main~1", None)).is_err());
        assert!(checked(&started(SHA, Some("1-a/b"))).is_err());
        let by = Event::RollbackStarted {
            at: 1,
            actor: "ops".into(),
            by: Some("../1".into()),
        };
        assert!(checked(&by).is_err());
        let failed = Event::Failed {
            unit: Unit::new("acme/../x", None, "staging"),
            reason: "r".into(),
            at: 1,
        };
        assert!(checked(&failed).unwrap_err().contains("not a slug"));
    }

    #[test]
    fn only_one_job_writes_the_next_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_folder(dir.path().to_path_buf());
        let mut a = State::of("1-a1", &[]);
        let mut b = State::of("1-a1", &[]);
        let tick = |stage| Event::TickStarted {
            stage,
            at: 1,
            lease_until: 2,
        };
        append(&store, &mut a, tick(0)).unwrap();
        let lost = append(&store, &mut b, tick(0)).unwrap_err();
        assert!(matches!(lost, RecordsError::Exists { .. }), "{lost}");
        assert_eq!(load(&store, "1-a1").unwrap().events, 1);
    }

    #[test]
    fn an_owed_deployment_is_owed_until_sent_or_dropped_by_its_number() {
        let owed = |c: &str| Event::DeploymentOwed {
            unit: unit(c),
            deployment: OwedDeployment {
                repo: format!("org/{c}"),
                sha: "a".repeat(40),
                environment: "staging".into(),
                wave: "all".into(),
                id: None,
                ok: true,
                detail: "applied".into(),
                applied_at: 1,
                run_url: None,
                marker: String::new(),
            },
            at: 1,
        };
        let mut events = vec![owed("acme"), owed("globex"), owed("acme")];
        let s = State::of("r1", &events);
        assert_eq!(s.owed.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
        events.push(Event::DeploymentsSent {
            sent: vec![0],
            dropped: vec![(2, "gone".into())],
            at: 2,
        });
        let s = State::of("r1", &events);
        assert_eq!(s.owed.keys().copied().collect::<Vec<_>>(), [1]);
        assert_eq!(s.owed[&1].0, unit("globex"));
        let text = serde_json::to_string(&events[3]).unwrap();
        assert!(text.contains("\"event\":\"deployments-sent\""), "{text}");
    }
}
