//! Recovery drills (`fleetform state drill`, a scheduled job): for each
//! selected pair (or a sample a run, the next ones each day, so every pair
//! is proven over a window), the newest version of its state is copied to
//! a scratch key under `fleetform-drill/<run>/` in the state bucket, and
//! the pair is planned against that copy with its current inputs. A plan
//! that changes nothing proves the version restores; a plan that changes
//! something, or a version that cannot be read, is a failure, with the
//! pair in the report, the audit log and the records (the dashboard's
//! "last proven restorable") and a `drill_failed` notification. One bad
//! pair never stops the others. Every version of the scratch copies is
//! removed after; the states themselves are only read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Customer;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fleet::{Outcome, Row};
use crate::flows::github_loop::customer_files::DefaultBranch;
use crate::records::state_bucket::{StateBucket, SCRATCH_PREFIX};
use crate::terraform::state_file::StateFile;

/// What `state drill` was asked.
#[derive(Debug, Clone)]
pub struct Drill {
    pub customer: Option<String>,
    pub environment: Option<String>,
    /// Pairs a run (all when `None`).
    pub sample: Option<usize>,
    pub out: PathBuf,
    pub terraform: Option<PathBuf>,
    pub json: bool,
}

/// One pair's drill.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub customer: String,
    pub environment: String,
    /// The version drilled, when one was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    pub proven: bool,
    /// What the drill found.
    pub result: String,
}

/// Drills the selected pairs, reports them, and fails when any failed.
pub fn drill(d: &Drill, manager_dir: &Path, cx: &Context) -> Result<()> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    if manager.has_products() {
        return Err(Error::usage(
            "`state drill` does not yet drill a manager with `products:`; drill by hand with `state versions` and a plan",
        ));
    }
    let bucket = StateBucket::for_manager(&manager, &cx.net).ok_or_else(|| {
        Error::usage(
            "`state drill` proves the versions of an s3 backend's bucket, and `terraform.backend` in fleetform.yml is local (see the book's \"Recovering a state\")",
        )
    })?;
    let pairs = selected(d, &manager, &registry)?;
    let run = run_id()?;
    let mut view = manager.clone();
    view.config.terraform.state_key = format!(
        "{SCRATCH_PREFIX}{run}/{}",
        manager.config.terraform.state_key
    );
    let mut proofs = Vec::new();
    let mut copied: Vec<(&Customer, Vec<String>)> = Vec::new();
    let mut scratch = Vec::new();
    for (c, env) in &pairs {
        let key = manager.state_key(&c.slug, env);
        let to = view.state_key(&c.slug, env);
        match copy_newest(&bucket, &key, &to) {
            Ok((version, serial)) => {
                scratch.extend([to.clone(), format!("{to}.tflock")]);
                copied.push((c, vec![env.clone()]));
                proofs.push(proof(
                    c,
                    env,
                    Some(version),
                    Some(serial),
                    true,
                    String::new(),
                ));
            }
            Err(why) => proofs.push(proof(c, env, None, None, false, why)),
        }
    }
    let rows = plan_copies(d, &view, &registry, &copied, cx);
    let removed = bucket.remove_scratch(&scratch);
    judge(&mut proofs, &rows);
    keep(&manager, &proofs, cx);
    show(d, &proofs, cx);
    if let Err(e) = removed {
        return Err(Error::failed(format!(
            "the drill's scratch copies under {SCRATCH_PREFIX}{run}/ were not all removed: {e}; remove them by hand"
        )));
    }
    let failed = proofs.iter().filter(|p| !p.proven).count();
    match failed {
        0 => Ok(()),
        n => Err(Error::failed(format!(
            "{n} of {} not proven restorable",
            crate::util::text::count(proofs.len(), "pair", "pairs")
        ))),
    }
}

/// The selected pairs, in order; with `--sample N`, N of them starting
/// where today's share starts, so consecutive days cover them all.
fn selected<'r>(
    d: &Drill,
    manager: &crate::config::Manager,
    registry: &'r crate::config::Registry,
) -> Result<Vec<(&'r Customer, String)>> {
    let wanted = d.customer.as_ref().map(|c| vec![c.clone()]);
    let envs = d.environment.as_ref().map(|e| vec![e.clone()]);
    crate::fleet::check_environments(manager, envs.as_deref())?;
    let customers = crate::fleet::select(registry, wanted.as_deref())?
        .into_iter()
        .filter(|c| c.takes_part(crate::config::Activity::Drift))
        .collect();
    let all: Vec<(&Customer, String)> = crate::fleet::pairs(manager, customers, envs.as_deref())
        .into_iter()
        .flat_map(|(c, envs)| envs.into_iter().map(move |e| (c, e)))
        .collect();
    let day = jiff::Timestamp::now().as_second().div_euclid(86_400) as usize;
    Ok(sample(all, d.sample, day))
}

/// `n` of `all` (all when `None` or more), the `day`th share of them.
fn sample<T>(all: Vec<T>, n: Option<usize>, day: usize) -> Vec<T> {
    let len = all.len();
    match n {
        Some(n) if n > 0 && n < len => {
            let start = (day % len.div_ceil(n)) * n;
            let mut all = all;
            all.rotate_left(start);
            all.truncate(n);
            all
        }
        _ => all,
    }
}

fn run_id() -> Result<String> {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| Error::failed(format!("no randomness: {e}")))?;
    Ok(crate::util::fs::hex(&id))
}

fn proof(
    c: &Customer,
    env: &str,
    version: Option<String>,
    serial: Option<u64>,
    proven: bool,
    result: String,
) -> Proof {
    Proof {
        customer: c.slug.clone(),
        environment: env.to_string(),
        version,
        serial,
        proven,
        result,
    }
}

/// Copies the newest version of `key` to the scratch key `to`: its id and
/// serial, or why it could not be read.
fn copy_newest(
    bucket: &StateBucket,
    key: &str,
    to: &str,
) -> std::result::Result<(String, u64), String> {
    let versions = bucket.versions(key).map_err(|e| e.to_string())?;
    let newest = versions
        .first()
        .ok_or_else(|| format!("{} has no versions", bucket.describe(key)))?;
    if newest.deleted {
        return Err(format!(
            "the newest version of {} is a delete marker",
            bucket.describe(key)
        ));
    }
    let bytes = bucket
        .read_version(key, &newest.version_id)
        .map_err(|e| e.to_string())?;
    let state = StateFile::parse(&bytes)
        .map_err(|e| format!("version {} cannot be read: {e}", newest.version_id))?;
    bucket.put_scratch(to, bytes).map_err(|e| e.to_string())?;
    Ok((newest.version_id.clone(), state.serial))
}

/// Plans the copied pairs against their scratch copies.
fn plan_copies(
    d: &Drill,
    view: &crate::config::Manager,
    registry: &crate::config::Registry,
    copied: &[(&Customer, Vec<String>)],
    cx: &Context,
) -> Vec<Row> {
    if copied.is_empty() {
        return Vec::new();
    }
    let mut engine = match crate::engine::Engine::with_terraform(view, d.terraform.as_deref()) {
        Ok(e) => e,
        Err(e) => return failed_rows(copied, &e.short()),
    };
    // The pair's current inputs: its checkout (the registry's `path`), or
    // its default branch on GitHub read with the customer App, as drift.
    let rt = match crate::github::runtime() {
        Ok(rt) => rt,
        Err(e) => return failed_rows(copied, &e.to_string()),
    };
    use crate::flows::github_loop::session::{access, customer_repos_or};
    let repos = match customer_repos_or(&rt, access::FILES, None, cx) {
        Ok(r) => r,
        Err(e) => return failed_rows(copied, &e.short()),
    };
    let remote = repos.as_ref().map(|repos| DefaultBranch { rt: &rt, repos });
    let local = crate::fleet::local_source(view, registry);
    let source = |c: &Customer, envs: &[String]| match (&remote, DefaultBranch::repo_of(c)) {
        (Some(r), Some(repo)) => r.files(view, repo, envs),
        _ => local(c, envs),
    };
    let fleet = crate::fleet::prepare(&engine, copied, &source, &cx.out);
    let out = d.out.join("drill");
    crate::fleet::execute(
        &mut engine,
        fleet,
        crate::fleet::terraform_jobs(),
        &out,
        false,
        "plan",
        cx,
    )
}

fn failed_rows(copied: &[(&Customer, Vec<String>)], error: &str) -> Vec<Row> {
    copied
        .iter()
        .flat_map(|(c, envs)| envs.iter().map(|e| failed_row(c, e, error)))
        .collect()
}

fn failed_row(c: &Customer, env: &str, error: &str) -> Row {
    Row {
        customer: c.slug.clone(),
        product: None,
        environment: env.to_string(),
        outcome: Outcome::Failed {
            error: error.to_string(),
            problems: Vec::new(),
        },
    }
}

/// Each copied pair's verdict from its plan: no change proves it.
fn judge(proofs: &mut [Proof], rows: &[Row]) {
    for p in proofs.iter_mut().filter(|p| p.proven) {
        let row = rows
            .iter()
            .find(|r| r.customer == p.customer && r.environment == p.environment);
        let (proven, result) = match row.map(|r| &r.outcome) {
            Some(Outcome::Planned { summary, .. }) if !summary.has_changes => {
                (true, "proven restorable: its plan changes nothing".to_string())
            }
            Some(Outcome::Planned { summary, .. }) => (
                false,
                format!(
                    "its plan would change the cloud ({}): the newest version is not what the cloud holds",
                    summary.counts()
                ),
            ),
            Some(Outcome::Failed { error, .. }) => (false, format!("its plan failed: {error}")),
            Some(Outcome::Skipped { reason }) => (false, format!("not planned: {reason}")),
            None => (false, "not planned".to_string()),
        };
        p.proven = proven;
        p.result = result;
    }
}

/// Each pair's audit event (kept in the records too: the dashboard's
/// "last proven restorable"), and a notification of each failure.
fn keep(manager: &crate::config::Manager, proofs: &[Proof], cx: &Context) {
    for p in proofs {
        let unit = crate::config::Unit::new(&p.customer, None, &p.environment);
        let detail = match (&p.version, p.serial) {
            (Some(v), Some(s)) => format!("drill of version {v} (serial {s}): {}", p.result),
            _ => format!("drill: {}", p.result),
        };
        let result = if p.proven { "ok" } else { "failed" };
        cx.record(
            crate::audit::Entry::now("drill", result)
                .unit(&unit)
                .detail(detail),
        );
        if !p.proven {
            let notice = crate::notify::Notice::new(
                crate::config::NotifyEvent::DrillFailed,
                format!("recovery drill failed: {}", p.result),
            )
            .unit(&p.customer, &p.environment, None);
            cx.notify(manager, &notice);
        }
    }
}

/// The report: a line per pair, or JSON.
fn show(d: &Drill, proofs: &[Proof], cx: &Context) {
    if d.json {
        cx.out.json(proofs).expect("serialisable");
        return;
    }
    let rows: Vec<Vec<String>> = proofs
        .iter()
        .map(|p| {
            vec![
                format!("{}/{}", p.customer, p.environment),
                p.version.clone().unwrap_or_else(|| "-".into()),
                p.serial.map_or("-".into(), |s| s.to_string()),
                match p.proven {
                    true => "proven".into(),
                    false => "FAILED".into(),
                },
                p.result.clone(),
            ]
        })
        .collect();
    cx.out.result(
        crate::output::table(&["pair", "version", "serial", "drill", "result"], &rows).trim_end(),
    );
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn a_sample_a_day_covers_every_pair() {
        let all: Vec<u32> = (0..7).collect();
        let mut seen: Vec<u32> = (0..3)
            .flat_map(|day| sample(all.clone(), Some(3), day))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, all);
        assert_eq!(sample(all.clone(), Some(3), 0), [0, 1, 2]);
        assert_eq!(sample(all.clone(), Some(3), 2), [6, 0, 1]);
        assert_eq!(sample(all.clone(), None, 5), all);
        assert_eq!(sample(all.clone(), Some(9), 5), all);
    }
}
