//! Records that must outlive a runner: every audit event and the
//! deployment record of every successful apply, kept in a folder or an
//! S3-compatible bucket (`records:` in fleetform.yml).
//!
//! Every record is its own object under a key that names its time and a
//! random suffix, written **create-only**: a folder gets it through a hard
//! link of a finished temporary file (which fails if the name exists), a
//! bucket through a conditional put (`If-None-Match: *`). Parallel jobs
//! never contend for one object, and nothing is ever overwritten; a bucket
//! with S3 Object Lock and a default retention also refuses deletes for
//! the retention period.
//!
//! Keys: `audit/<YYYY>/<MM>/<DD>/<time>-<random>.json`,
//! `deployments/<customer>/<product or _>/<environment>/<time>-<random>.json`,
//! a drift run's causes `drift-causes/<time>-<random>.json`,
//! an adoption's `adoptions/<customer>/<product or _>/<environment>/<time>-<random>-<adopted|released>.json`,
//! an adoption wave's halts and resumes `adoption-waves/<environment>/<product or _>/<time>-<random>-<halted|resumed>.json`,
//! and an offboarding's `offboarded/<customer>/<time>-<random>-offboarding.json`
//! with each state it archived before its destroy,
//! `offboarded/<customer>/<product or _>/<environment>/<time>-<random>-state-before-destroy.json`;
//! beside them the segments and manifests of `records compact`
//! (`segments/`, [`segments`], [`deploy_segments`]) and the record of each
//! deletion `records compact --delete-covered` made, `deletions/<time>-<random>.json`
//! ([`delete`]).
//!
//! The state bucket of an s3 backend is read through the same client
//! ([`state_bucket`]): its versions, for recovering a state, and its
//! settings, for doctor ([`state_settings`]).
//!
//! May import: `config`, `data` (the cost estimate a deployment keeps),
//! `net` (the HTTP client) and `util`.

pub mod compact;
pub mod delete;
pub mod deploy_segments;
pub mod local;
mod s3;
mod s3_http;
pub mod segments;
pub mod state_bucket;
pub mod state_lock;
pub mod state_settings;
mod store;

pub use store::Store;

use std::path::PathBuf;

use crate::config::Unit;

/// The largest record read, from a folder or a bucket: fleetform writes
/// records of a few KiB (a deployment record holds the customer's files,
/// each at most 1 MiB), and anything larger is not one of them.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

/// Why a record could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("record {key} exists already; records are never overwritten")]
    Exists { key: String },
    #[error("{what} {key}: {reason}")]
    Io {
        what: &'static str,
        key: String,
        reason: String,
    },
}

/// Keys are relative, `/`-separated, without `..`: built by fleetform from
/// slugs and times, and checked again here.
fn check_key(key: &str) -> Result<(), RecordsError> {
    let ok = !key.starts_with('/')
        && !key.split('/').any(|s| s == ".." || s == ".")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RecordsError::Io {
            what: "refusing the key",
            key: key.to_string(),
            reason: "not a record key".into(),
        })
    }
}

/// A folder key `a/b/c/` of `parts`, each one name: never empty, `.` or
/// `..`, and never holding a path separator (`/`, `\\`), so a part read
/// back from a record (a rollout id) can never reach another folder of the
/// store.
pub fn folder_key(parts: &[&str]) -> Result<String, RecordsError> {
    let mut key = String::new();
    for part in parts {
        let one_name = !part.is_empty()
            && *part != "."
            && *part != ".."
            && !part.contains(['/', '\\'])
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !one_name {
            return Err(RecordsError::Io {
                what: "refusing the key part",
                key: format!("{}{}", key, part.escape_debug()),
                reason: "a part of a record key is one name (letters, digits, `-`, `_`, `.`, `:`), never a path".into(),
            });
        }
        key.push_str(part);
        key.push('/');
    }
    Ok(key)
}

/// A unique name for a record made now: the time (sortable) and a random
/// suffix, so two jobs recording in the same millisecond never collide.
///
/// `FLEETFORM_RECORDS_STAMP` (tests only) fixes the time and replaces the
/// random part by a count, so a second run makes the same keys as the
/// first: the store must refuse every one of them.
fn stamp() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if let Ok(fixed) = std::env::var("FLEETFORM_RECORDS_STAMP") {
        if fixed.len() == 20
            && fixed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return format!("{fixed}-{n:012}");
        }
    }
    let now = jiff::Timestamp::now();
    let mut rand = [0u8; 6];
    getrandom::fill(&mut rand).expect("the OS has randomness");
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%S%.3fZ"),
        crate::util::fs::hex(&rand)
    )
}

/// Where drift runs keep their causes across runs (one record a run).
pub const DRIFT_CAUSES_PREFIX: &str = "drift-causes/";

/// The key of a drift run's causes record (its time sorts it).
pub fn drift_causes_key() -> String {
    format!("{DRIFT_CAUSES_PREFIX}{}.json", stamp())
}

/// The key of a new audit record.
pub fn audit_key() -> String {
    let s = stamp();
    format!("audit/{}/{}/{}/{s}.json", &s[0..4], &s[4..6], &s[6..8])
}

/// The folder of a unit's deployment records.
pub fn deployments_prefix(unit: &Unit) -> String {
    format!(
        "deployments/{}/{}/{}/",
        unit.customer,
        unit.product.as_deref().unwrap_or("_"),
        unit.environment
    )
}

/// The key of a new deployment record of `unit`.
pub fn deployment_key(unit: &Unit) -> String {
    format!("{}{}.json", deployments_prefix(unit), stamp())
}

/// The key of a unit's state archived by an offboarding before its
/// destroy (every resource it held).
pub fn state_before_destroy_key(unit: &Unit) -> String {
    format!(
        "offboarded/{}/{}/{}/{}-state-before-destroy.json",
        unit.customer,
        unit.product.as_deref().unwrap_or("_"),
        unit.environment,
        stamp()
    )
}

/// The key of an offboarding's record (what was approved, by whom, where
/// each state is kept).
pub fn offboarding_key(customer: &str) -> String {
    format!("offboarded/{customer}/{}-offboarding.json", stamp())
}

/// The folder of a unit's adoption records (adopted, released).
pub fn adoptions_prefix(unit: &Unit) -> String {
    format!(
        "adoptions/{}/{}/{}/",
        unit.customer,
        unit.product.as_deref().unwrap_or("_"),
        unit.environment
    )
}

/// The key of a new adoption record of `unit` (`event`: `adopted`,
/// `released`).
pub fn adoption_key(unit: &Unit, event: &str) -> String {
    format!("{}{}-{event}.json", adoptions_prefix(unit), stamp())
}

/// The folder of an adoption wave's halts and resumes, per environment
/// (and product).
pub fn adoption_waves_prefix(environment: &str, product: Option<&str>) -> String {
    format!("adoption-waves/{environment}/{}/", product.unwrap_or("_"))
}

/// The key of a new adoption wave record (`event`: `halted`, `resumed`).
pub fn adoption_wave_key(environment: &str, product: Option<&str>, event: &str) -> String {
    format!(
        "{}{}-{event}.json",
        adoption_waves_prefix(environment, product),
        stamp()
    )
}

/// One customer file as applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedFile {
    pub path: String,
    pub sha256: String,
    pub content: String,
}

/// What is deployed where: written after every successful apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    pub time: String,
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_sha: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_sha: Option<String>,
    pub plan_sha256: String,
    /// The customer's variables files the plan was made from.
    pub files: Vec<AppliedFile>,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The customer's pull request the apply came from, when it came from
    /// one (in `customer_repo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
    /// The plan's cost estimate (Infracost), when one was made: what the
    /// pair costs per month once applied, and the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::data::cost::CostEstimate>,
    /// Infracost's JSON of the plan applied ([`INFRACOST_FILE`]): what the
    /// pair's next plan is diffed against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infracost: Option<serde_json::Value>,
    /// The state's serial and lineage once the apply wrote it (read back
    /// with `state pull`): the version of the state this apply wrote.
    /// Records kept before fleetform kept it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateMark>,
}

/// Where the Infracost JSON of a plan is kept: in the plan's working copy
/// while the tools run, then in its plan folder (sealed with the plan),
/// and by its apply in the pair's deployment record, to be the baseline
/// of the pair's next plan ([`cost_baseline`]).
pub const INFRACOST_FILE: &str = "infracost.json";

/// The file a plan's Infracost diff compares against.
const BASELINE_FILE: &str = "infracost-baseline.json";

/// Infracost's JSON of the pair's last applied plan, written into `dir`
/// for the next plan to be diffed against; none when the last apply
/// kept none (or there is none, or the records do not read: the plan is
/// then broken down, and its comment says so).
pub fn cost_baseline(store: &Store, unit: &Unit, dir: &std::path::Path) -> Option<PathBuf> {
    let json = last_deployment(store, unit).ok()??.infracost?;
    let path = dir.join(BASELINE_FILE);
    std::fs::create_dir_all(dir).ok()?;
    crate::util::fs::write_atomic(&path, &serde_json::to_vec(&json).ok()?).ok()?;
    Some(path)
}

/// A state's serial and lineage: which version of which state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateMark {
    pub serial: u64,
    pub lineage: String,
}

impl StateMark {
    /// The serial and lineage of a state as `terraform state pull` prints
    /// it; `None` for what is not one (a pair never applied prints nothing).
    pub fn read(state: &[u8]) -> Option<StateMark> {
        let json: serde_json::Value = serde_json::from_slice(state).ok()?;
        Some(StateMark {
            serial: json.get("serial")?.as_u64()?,
            lineage: json
                .get("lineage")?
                .as_str()
                .filter(|l| !l.is_empty())?
                .to_string(),
        })
    }
}

/// The apply's result in a plan folder (the engine writes it once the
/// apply is done), of which a deployment record keeps the state's mark.
pub const APPLY_FILE: &str = "apply.json";

/// The state's mark after the apply of the plan in `plan_dir`, if the
/// apply read it back.
fn applied_state(plan_dir: &std::path::Path) -> Option<StateMark> {
    #[derive(serde::Deserialize)]
    struct WithState {
        state: Option<StateMark>,
    }
    let bytes = crate::util::fs::read_input(plan_dir.join(APPLY_FILE)).ok()?;
    serde_json::from_slice::<WithState>(&bytes).ok()?.state
}

/// The plan's summary in a plan folder (the engine writes it last), of
/// which a deployment record keeps the cost estimate.
const SUMMARY_FILE: &str = "summary.json";

/// The cost estimate of the plan in `plan_dir`, if its summary has one.
fn planned_cost(plan_dir: &std::path::Path) -> Option<crate::data::cost::CostEstimate> {
    #[derive(serde::Deserialize)]
    struct WithCost {
        cost: Option<crate::data::cost::CostEstimate>,
    }
    let bytes = crate::util::fs::read_input(plan_dir.join(SUMMARY_FILE)).ok()?;
    serde_json::from_slice::<WithCost>(&bytes).ok()?.cost
}

/// The file in a plan folder with the customer's files the plan was made
/// from (path, digest, content), which the deployment record of its apply
/// keeps.
pub const FILES_FILE: &str = "customer-files.json";

/// The customer's files as a deployment record keeps them.
pub fn applied_files(files: &[(PathBuf, std::sync::Arc<[u8]>)]) -> Vec<AppliedFile> {
    files
        .iter()
        .map(|(p, b)| AppliedFile {
            path: p.display().to_string(),
            sha256: crate::util::fs::sha256_bytes(b),
            content: String::from_utf8_lossy(b).into_owned(),
        })
        .collect()
}

/// Writes the deployment record of an apply of `unit` from its plan
/// folder (the customer files the plan was made from).
pub fn record_deployment(
    store: &Store,
    unit: &Unit,
    plan_dir: &std::path::Path,
    facts: DeploymentFacts,
) -> Result<String, RecordsError> {
    let files_path = plan_dir.join(FILES_FILE);
    let files: Vec<AppliedFile> = match crate::util::fs::read_input(&files_path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let record = Deployment {
        time: jiff::Timestamp::now().to_string(),
        customer: unit.customer.clone(),
        product: unit.product.clone(),
        environment: unit.environment.clone(),
        customer_repo: facts.customer_repo,
        customer_sha: facts.customer_sha,
        manager_sha: facts.manager_sha,
        plan_sha256: facts.plan_sha256,
        files,
        actor: facts.actor,
        run_url: facts.run_url,
        pr: facts.pr,
        cost: planned_cost(plan_dir),
        infracost: crate::util::fs::read_input(plan_dir.join(INFRACOST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok()),
        state: applied_state(plan_dir),
    };
    let key = deployment_key(unit);
    let bytes = serde_json::to_vec_pretty(&record).expect("a record serialises");
    store.create(&key, &bytes)?;
    Ok(key)
}

/// What the caller knows of an apply.
#[derive(Debug, Default)]
pub struct DeploymentFacts {
    pub customer_repo: Option<String>,
    pub customer_sha: Option<String>,
    pub manager_sha: Option<String>,
    pub plan_sha256: String,
    pub actor: String,
    pub run_url: Option<String>,
    /// The customer's pull request the apply came from, if any.
    pub pr: Option<u64>,
}

/// The newest deployment record of a unit, if any.
pub fn last_deployment(store: &Store, unit: &Unit) -> Result<Option<Deployment>, RecordsError> {
    let keys = store.list(&deployments_prefix(unit))?;
    let Some(key) = keys.last() else {
        return Ok(None);
    };
    deployment_at(key, &store.read(key)?).map(Some)
}

/// The newest deployment record of `unit` out of its customer's `records`
/// (key and bytes, in key order, as [`deploy_segments::read_customer`]
/// gives them): the record [`last_deployment`] reads, without a request
/// of its own.
pub fn last_in(
    records: &[(String, Vec<u8>)],
    unit: &Unit,
) -> Result<Option<Deployment>, RecordsError> {
    let prefix = deployments_prefix(unit);
    records
        .iter()
        .rev()
        .find(|(k, _)| k.starts_with(&prefix))
        .map(|(key, bytes)| deployment_at(key, bytes))
        .transpose()
}

fn deployment_at(key: &str, bytes: &[u8]) -> Result<Deployment, RecordsError> {
    serde_json::from_slice(bytes).map_err(|e| RecordsError::Io {
        what: "reading",
        key: key.to_string(),
        reason: format!("not a deployment record: {e}"),
    })
}

/// Every deployment record of a unit, oldest first (one that is not a
/// deployment record is left out): through its customer's segments
/// ([`deploy_segments::read_customer`], the cache folder `cache`).
pub fn deployments_of(
    store: &Store,
    unit: &Unit,
    cache: Option<&std::path::Path>,
) -> Result<Vec<Deployment>, RecordsError> {
    let prefix = deployments_prefix(unit);
    Ok(
        deploy_segments::read_customer(store, &unit.customer, cache)?
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(_, bytes)| serde_json::from_slice::<Deployment>(&bytes).ok())
            .collect(),
    )
}

/// The folder of a local store, for the tests' and docs' sake.
pub fn local_root(store: &Store) -> Option<PathBuf> {
    store.local_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_and_stay_inside() {
        let a = audit_key();
        assert!(a.starts_with("audit/20"), "{a}");
        assert!(check_key(&a).is_ok());
        let u = Unit::new("acme", None, "staging");
        assert!(deployment_key(&u).starts_with("deployments/acme/_/staging/20"));
        for bad in ["../x", "/abs", "a/../b", "a b", "a/./b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_folder_key_refuses_path_separators_in_its_parts() {
        assert_eq!(
            folder_key(&["rollouts", "000000000001-abc-12"]).unwrap(),
            "rollouts/000000000001-abc-12/"
        );
        for bad in ["a/b", "..", ".", "", "a\\b", "/x", "x y"] {
            let e = folder_key(&["rollouts", bad]).unwrap_err();
            assert!(e.to_string().contains("never a path"), "{bad}: {e}");
        }
    }
}
