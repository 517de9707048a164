//! A GitHub Actions job matrix (JSON for `fromJSON`) of customers' pairs,
//! within GitHub's 256 jobs: what `fleetform matrix` writes for the fan-out
//! jobs and what a rollout's stage runs in. Shards hold units in the one
//! shard syntax, `customer/environment` (`config::Unit::parse`).

use serde::Serialize;

/// GitHub's limit on jobs per matrix.
pub const GITHUB_MAX_JOBS: usize = 256;

#[derive(Debug, Serialize)]
pub struct Job {
    /// A stable, readable job id.
    pub id: String,
    /// The job's pairs, `customer/environment` (the shard syntax of
    /// [`crate::config::Unit::parse`], what `--shard` takes).
    pub shard: Vec<String>,
    /// The read-only (plan) cloud identity of a one-pair job, when
    /// fleetform.yml names identities: the template assumes it. A shard of
    /// many pairs has none (one job holds one role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::config::CloudIdentity>,
}

#[derive(Debug, Serialize)]
pub struct Matrix {
    pub include: Vec<Job>,
}

/// The jobs for `groups` (a customer and its pairs, in order): one job per
/// pair when they fit in `max_jobs`, else contiguous chunks of whole
/// customers, at most `max_jobs` of them. Every pair is in exactly one job
/// and a customer's pairs always share one. `fleetform matrix` and a
/// rollout's stage build their matrices with it.
pub fn build(pairs_by_customer: &[(String, Vec<String>)], max_jobs: usize) -> Matrix {
    let total: usize = pairs_by_customer.iter().map(|(_, u)| u.len()).sum();
    let nonempty: Vec<&(String, Vec<String>)> = pairs_by_customer
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .collect();
    if total <= max_jobs {
        let include = nonempty
            .iter()
            .flat_map(|(_, units)| {
                units.iter().map(move |u| Job {
                    id: u.replace('/', "-"),
                    shard: vec![u.clone()],
                    identity: None,
                })
            })
            .collect();
        return Matrix { include };
    }
    // Contiguous chunks of whole customers: ceil(C / max) customers each,
    // which makes at most `max_jobs` shards.
    let per = nonempty.len().div_ceil(max_jobs);
    let shards = nonempty.len().div_ceil(per);
    let include = nonempty
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| Job {
            id: format!(
                "shard-{:0w$}-of-{shards}",
                i + 1,
                w = shards.to_string().len()
            ),
            shard: chunk
                .iter()
                .flat_map(|(_, units)| units.iter().cloned())
                .collect(),
            identity: None,
        })
        .collect();
    Matrix { include }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fleets_get_one_job_per_pair() {
        let m = build(
            &[
                ("a".into(), vec!["a/s".into(), "a/p".into()]),
                ("b".into(), vec!["b/s".into()]),
            ],
            256,
        );
        let ids: Vec<&str> = m.include.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["a-s", "a-p", "b-s"]);
    }

    #[test]
    fn big_fleets_are_packed_into_at_most_max_jobs() {
        let pairs: Vec<(String, Vec<String>)> = (0..1000)
            .map(|i| {
                (
                    format!("c{i:04}"),
                    vec![format!("c{i:04}/staging"), format!("c{i:04}/production")],
                )
            })
            .collect();
        let m = build(&pairs, 256);
        assert!(m.include.len() <= 256);
        let all: Vec<&String> = m.include.iter().flat_map(|j| &j.shard).collect();
        assert_eq!(all.len(), 2000);
        let unique: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 2000, "every pair exactly once");
    }
}
