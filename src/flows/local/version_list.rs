//! `fleetform state versions`: the versions of one pair's state, newest
//! first, each with its serial and lineage and the apply that wrote it,
//! found by the serial and lineage its deployment record keeps (by time
//! for a record kept before records had them, and said so).

use std::path::Path;

use serde::Serialize;

use super::ops::OpTarget;
use super::state_versions::{pair, s3_err, READ_VERSIONS};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::records::state_bucket::ObjectVersion;
use crate::terraform::state_file::StateFile;

/// One line of `state versions`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    #[serde(flatten)]
    pub version: ObjectVersion,
    pub serial: Option<u64>,
    pub lineage: Option<String>,
    /// Why it is not a state, when it is not one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// The apply whose deployment record followed this version: its
    /// actor and plan digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// How the apply was found: by the serial and lineage its record
    /// keeps, or, for a record kept before records had them, by time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<MatchedBy>,
}

/// How a version was matched to the apply that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    /// The deployment record keeps the version's serial and lineage.
    Serial,
    /// The record keeps no serial (kept before records had one): the
    /// version written last before it, within ten minutes.
    Time,
}

/// The versions of the pair's state, newest first (`state versions`).
pub fn versions(t: &OpTarget, manager_dir: &Path, cx: &Context) -> Result<Vec<VersionRow>> {
    let (manager, registry) = crate::config::load(manager_dir)?;
    let p = pair(&manager, &registry, t, cx)?;
    let listed = p.source.versions(&p.key).map_err(s3_err)?;
    if listed.is_empty() {
        return Err(Error::usage(format!(
            "{} has no versions: {} was never applied, or its state is elsewhere (check `terraform.state_key`)",
            p.source.describe(&p.key),
            p.unit
        )));
    }
    if listed.len() > READ_VERSIONS {
        cx.out.note(&format!(
            "{} versions: the newest {READ_VERSIONS} are read for their serial and lineage, the others listed only",
            listed.len()
        ));
    }
    let mut rows = Vec::with_capacity(listed.len());
    for (i, v) in listed.into_iter().enumerate() {
        let (serial, lineage, unreadable) = match v.deleted {
            true => (None, None, Some("a delete marker".to_string())),
            false if i >= READ_VERSIONS => (None, None, None),
            false => match p.source.read_version(&p.key, &v.version_id) {
                Ok(bytes) => match StateFile::parse(&bytes) {
                    Ok(s) => (Some(s.serial), Some(s.lineage), None),
                    Err(e) => (None, None, Some(e.to_string())),
                },
                Err(e) => (None, None, Some(e.to_string())),
            },
        };
        rows.push(VersionRow {
            version: v,
            serial,
            lineage,
            unreadable,
            applied_by: None,
            plan_sha256: None,
            matched_by: None,
        });
    }
    let store = crate::records::Store::for_manager(&manager, &cx.net);
    let cache = crate::records::segments::cache_dir(&manager);
    match crate::records::deployments_of(&store, &p.unit, Some(&cache)) {
        Ok(deployments) => match_applies(&mut rows, &deployments),
        Err(e) => cx.out.note(&format!(
            "the deployment records could not be read ({e}): versions are shown without the applies that wrote them"
        )),
    }
    Ok(rows)
}

/// Gives each version the apply that wrote it: the deployment record
/// that keeps the version's serial and lineage (read back from the state
/// after the apply). A record kept before records had them is matched by
/// time instead, and the row says so: the first version written at or
/// before the record, within ten minutes (an apply records its
/// deployment once its state is written).
fn match_applies(rows: &mut [VersionRow], deployments: &[crate::records::Deployment]) {
    for d in deployments {
        let Some(mark) = &d.state else { continue };
        let found = rows.iter_mut().find(|r| {
            !r.version.deleted
                && r.serial == Some(mark.serial)
                && r.lineage.as_deref() == Some(mark.lineage.as_str())
        });
        if let Some(r) = found {
            r.applied_by = Some(d.actor.clone());
            r.plan_sha256 = Some(d.plan_sha256.clone());
            r.matched_by = Some(MatchedBy::Serial);
        }
    }
    let at = |s: &str| s.parse::<jiff::Timestamp>().ok();
    let times: Vec<Option<jiff::Timestamp>> =
        rows.iter().map(|r| at(&r.version.last_modified)).collect();
    for d in deployments.iter().filter(|d| d.state.is_none()) {
        let Some(when) = at(&d.time) else { continue };
        // Rows are newest first: the first version written at or before
        // the record.
        let Some(i) = times.iter().position(|t| t.is_some_and(|t| t <= when)) else {
            continue;
        };
        let written = times[i].expect("found above");
        let soon = when.duration_since(written) <= jiff::SignedDuration::from_mins(10);
        let r = &mut rows[i];
        if soon && !r.version.deleted && r.applied_by.is_none() {
            r.applied_by = Some(d.actor.clone());
            r.plan_sha256 = Some(d.plan_sha256.clone());
            r.matched_by = Some(MatchedBy::Time);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, at: &str) -> VersionRow {
        VersionRow {
            version: ObjectVersion {
                version_id: id.into(),
                last_modified: at.into(),
                size: 1,
                is_latest: false,
                deleted: false,
            },
            serial: None,
            lineage: None,
            unreadable: None,
            applied_by: None,
            plan_sha256: None,
            matched_by: None,
        }
    }

    fn deployment(at: &str, actor: &str) -> crate::records::Deployment {
        crate::records::Deployment {
            time: at.into(),
            customer: "acme".into(),
            product: None,
            environment: "staging".into(),
            customer_repo: None,
            customer_sha: None,
            manager_sha: None,
            plan_sha256: "d".repeat(64),
            files: Vec::new(),
            actor: actor.into(),
            run_url: None,
            pr: None,
            cost: None,
            infracost: None,
            state: None,
        }
    }

    #[test]
    fn a_version_is_matched_by_time_to_a_record_without_a_serial() {
        let mut rows = vec![
            row("v3", "2026-01-01T12:00:00.000Z"),
            row("v2", "2026-01-01T10:00:00.000Z"),
            row("v1", "2026-01-01T09:00:00.000Z"),
        ];
        let applies = [
            deployment("2026-01-01T09:00:05.5Z", "alice"),
            deployment("2026-01-01T12:00:02Z", "bob"),
            // An apply whose record came long after any version: not matched.
            deployment("2026-01-01T11:00:00Z", "carol"),
        ];
        match_applies(&mut rows, &applies);
        let by: Vec<_> = rows
            .iter()
            .map(|r| (r.applied_by.as_deref(), r.matched_by))
            .collect();
        let t = Some(MatchedBy::Time);
        assert_eq!(by, [(Some("bob"), t), (None, None), (Some("alice"), t)]);
    }

    #[test]
    fn a_version_is_matched_by_the_serial_and_lineage_its_record_keeps() {
        let mark = |r: &mut VersionRow, serial, lineage: &str| {
            r.serial = Some(serial);
            r.lineage = Some(lineage.into());
        };
        let mut rows = vec![
            row("v3", "2026-01-01T12:00:00.000Z"),
            row("v2", "2026-01-01T10:00:00.000Z"),
            row("v1", "2026-01-01T09:00:00.000Z"),
        ];
        mark(&mut rows[0], 7, "l-1");
        mark(&mut rows[1], 6, "l-1");
        mark(&mut rows[2], 6, "l-0");
        let with = |at: &str, actor: &str, serial, lineage: &str| {
            let mut d = deployment(at, actor);
            d.state = Some(crate::records::StateMark {
                serial,
                lineage: lineage.into(),
            });
            d
        };
        let applies = [
            // Recorded long after v2 was written (a slow record, or a
            // state command since): the serial still finds it.
            with("2026-01-01T11:59:59Z", "alice", 6, "l-1"),
            // Right after v3, but of serial 6 in another lineage: v1.
            with("2026-01-01T12:00:01Z", "bob", 6, "l-0"),
            // A serial no version has: nothing.
            with("2026-01-01T12:00:02Z", "carol", 9, "l-1"),
        ];
        match_applies(&mut rows, &applies);
        let by: Vec<_> = rows
            .iter()
            .map(|r| (r.applied_by.as_deref(), r.matched_by))
            .collect();
        let s = Some(MatchedBy::Serial);
        assert_eq!(by, [(None, None), (Some("alice"), s), (Some("bob"), s)]);
    }
}
