//! Re-runs and schedules of the manager templates on github.com.
//!
//! GitHub keeps a run's artifacts across its attempts, so an upload under a
//! name an earlier attempt used fails with 409 unless it overwrites (or the
//! name carries `github.run_attempt`), and `deploy-pages` refuses a run
//! holding two Pages artifacts of one name. Scheduled runs at the top and
//! the half of the hour fall on GitHub's documented peak, where they are
//! delayed or dropped.

use std::path::PathBuf;

use yaml_serde::Value as Y;

fn load(rel: &str) -> Y {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn steps_using<'a>(job: &'a Y, prefix: &str) -> Vec<&'a Y> {
    job["steps"]
        .as_sequence()
        .map(|s| s.iter())
        .into_iter()
        .flatten()
        .filter(|st| st["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
        .collect()
}

/// Every upload of the PR, drift and dashboard templates survives a
/// re-run: it overwrites, or its name carries the run attempt.
#[test]
fn every_artifact_upload_survives_a_rerun() {
    let mut seen = 0;
    for rel in [
        "workflows/manager-pr.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-dashboard.yml",
    ] {
        let doc = load(rel);
        for (name, job) in doc["jobs"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            for up in steps_using(job, "actions/upload-artifact@") {
                seen += 1;
                let w = &up["with"];
                let per_attempt = w["name"]
                    .as_str()
                    .is_some_and(|n| n.contains("${{ github.run_attempt }}"));
                assert!(
                    w["overwrite"].as_bool() == Some(true) || per_attempt,
                    "{rel}: {name}: {:?} fails a re-run with 409",
                    w["name"]
                );
            }
        }
    }
    assert_eq!(
        seen, 7,
        "the PR's three (impact, each plan shard, the merge), drift's three (each shard's report, the merged report, each environment's repair plans) and the dashboard's"
    );
}

/// The Pages artifact is named per attempt and the deployment asks for
/// the build's name (a re-run of the publish job alone keeps the build's
/// output, so both agree on every attempt).
#[test]
fn the_pages_deployment_finds_one_artifact_on_every_attempt() {
    let doc = load("workflows/manager-dashboard.yml");
    let build = &doc["jobs"]["build"];
    assert_eq!(
        build["outputs"]["pages"].as_str(),
        Some("github-pages-${{ github.run_attempt }}")
    );
    let upload = steps_using(build, "actions/upload-pages-artifact@");
    assert_eq!(upload.len(), 1);
    assert_eq!(
        upload[0]["with"]["name"].as_str(),
        Some("github-pages-${{ github.run_attempt }}")
    );
    let publish = &doc["jobs"]["publish"];
    let deploy = steps_using(publish, "actions/deploy-pages@");
    assert_eq!(deploy.len(), 1);
    assert_eq!(
        deploy[0]["with"]["artifact_name"].as_str(),
        Some("${{ needs.build.outputs.pages }}")
    );
}

/// The dashboard is an artifact by default: Pages (its upload and the
/// publish job) only with the repository variable
/// `FLEETFORM_DASHBOARD_PAGES=true`, and the header says where that fits
/// (a public repo, or Enterprise; on Free no Pages for a private repo, on
/// Pro and Team its site is public), never "public on Free".
#[test]
fn the_dashboard_is_an_artifact_and_goes_to_pages_only_when_asked() {
    use crate::support::workflow_sim::{done, eval, simulate_workflow};
    let rel = "workflows/manager-dashboard.yml";
    let doc = load(rel);
    let build = &doc["jobs"]["build"];
    let artifact = steps_using(build, "actions/upload-artifact@");
    assert_eq!(artifact.len(), 1);
    assert_eq!(
        artifact[0]["with"]["name"].as_str(),
        Some("fleetform-dashboard")
    );
    assert!(artifact[0]["if"].is_null(), "the artifact always");
    let pages_step = steps_using(build, "actions/upload-pages-artifact@")[0]["if"]
        .as_str()
        .unwrap()
        .to_string();
    for (given, pages) in [(None, false), (Some("false"), false), (Some("true"), true)] {
        let values: Vec<(&str, &str)> = given
            .map(|v| ("vars.FLEETFORM_DASHBOARD_PAGES", v))
            .into_iter()
            .collect();
        let map = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(eval(&pages_step, &map).truthy(), pages, "{given:?}");
        let results = simulate_workflow(rel, &values, &|_| done(&[]));
        let want = if pages { "success" } else { "skipped" };
        assert_eq!(results["build"], "success");
        assert_eq!(results["publish"], want, "{given:?}");
    }
    let header: String =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel))
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
    let flat = header.replace("\n# ", " ").replace("\n#", " ");
    for said in [
        "on GitHub Free, Pages is not available for a private repository",
        "on Pro and Team a private repository's Pages site is public",
        "FLEETFORM_DASHBOARD_PAGES",
        "`fleetform doctor` says which applies",
    ] {
        assert!(flat.contains(said), "the header says: {said}\n{header}");
    }
    assert!(!flat.contains("public on Free"), "{header}");
}

/// The minutes a cron runs at: `17`, `2-59/5`, `*/30`, `0,30`.
fn minutes(field: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = part.split_once('/').unwrap_or((part, "1"));
        let step: u32 = step.parse().unwrap();
        let (lo, hi) = match range {
            "*" => (0, 59),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None if part.contains('/') => (r.parse().unwrap(), 59),
                None => (r.parse().unwrap(), r.parse().unwrap()),
            },
        };
        out.extend((lo..=hi).step_by(step as usize));
    }
    out
}

#[test]
fn cron_minutes_are_read_as_github_reads_them() {
    assert_eq!(minutes("17"), [17]);
    assert_eq!(minutes("*/30"), [0, 30]);
    assert_eq!(minutes("0,30"), [0, 30]);
    assert_eq!(minutes("2-59/5").first(), Some(&2));
    assert!(!minutes("2-59/5").contains(&0));
    assert_eq!(minutes("5/20"), [5, 25, 45]);
}

/// No schedule of any template in `workflows/` fires at :00 or :30,
/// and every template with a schedule is read (the rollout's tick too).
#[test]
fn schedules_avoid_the_peak_minutes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    let mut scheduled = Vec::new();
    for file in &files {
        let rel = format!("workflows/{file}");
        let doc = load(&rel);
        let Some(entries) = doc["on"]["schedule"].as_sequence() else {
            continue;
        };
        scheduled.push(file.as_str());
        for entry in entries {
            let cron = entry["cron"].as_str().unwrap();
            let minute = cron.split(' ').next().unwrap();
            let at = minutes(minute);
            assert!(
                !at.contains(&0) && !at.contains(&30),
                "{rel}: {cron} fires on the peak minute"
            );
        }
    }
    assert_eq!(
        scheduled,
        [
            "manager-dashboard.yml",
            "manager-doctor.yml",
            "manager-drift.yml",
            "manager-drill.yml",
            "manager-poll.yml",
            "manager-rollout.yml"
        ]
    );
}

/// Every artifact upload of every template survives "Re-run all jobs":
/// upload-artifact v4+ refuses (409) a name the run already holds unless
/// told to overwrite (the runner's stand-in refuses it too), so each
/// upload's name carries the run attempt or it says `overwrite: true`.
#[test]
fn every_upload_survives_a_rerun_of_all_jobs() {
    use github_actions_models::common::expr::LoE;
    use github_actions_models::workflow::job::Step;
    use github_actions_models::workflow::Job;
    let mut uploads = 0;
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows"))
            .unwrap()
    {
        let path = entry.unwrap().path();
        let rel = format!("workflows/{}", path.file_name().unwrap().to_string_lossy());
        let wf = crate::common::workflow::read(&rel);
        for (id, job) in &wf.jobs {
            let Job::NormalJob(job) = job else { continue };
            for step in &job.steps {
                let Step::Uses(u) = step else { continue };
                if !u.uses.raw().starts_with("actions/upload-artifact@") {
                    continue;
                }
                uploads += 1;
                let LoE::Literal(with) = &u.with else {
                    panic!("{rel}: job {id}: `with:` is an expression")
                };
                let name = with.get("name").map(|v| v.to_string()).unwrap_or_default();
                let overwrite = with.get("overwrite").is_some_and(|v| v.csharp_bool());
                assert!(
                    name.contains("github.run_attempt") || overwrite,
                    "{rel}: job {id} uploads `{name}` without the run attempt in its name or `overwrite: true`: Re-run all jobs fails there"
                );
            }
        }
    }
    assert!(uploads >= 10, "only {uploads} uploads found");
}

/// A job that waits for reviewers (an apply environment's) never holds a
/// workflow-wide concurrency group: while it waits (up to 30 days) every
/// other run of the workflow would queue behind it. Drift's repairs held
/// its one group, so no drift issue and no other repair ran meanwhile.
#[test]
fn a_job_waiting_for_reviewers_holds_no_workflow_wide_group() {
    for rel in [
        "workflows/manager-drift.yml",
        "workflows/manager-deploy.yml",
        "workflows/manager-rollout.yml",
    ] {
        let doc: yaml_serde::Value =
            yaml_serde::from_str(&crate::common::workflow::text(rel)).unwrap();
        let Some(group) = doc.get("concurrency") else {
            continue;
        };
        let has_apply = doc["jobs"].as_mapping().unwrap().values().any(|j| {
            j["environment"]
                .as_str()
                .is_some_and(|e| e.contains("-apply"))
        });
        assert!(
            !has_apply || format!("{group:?}").contains("inputs."),
            "{rel}: a workflow-wide concurrency group {group:?} with a job that waits for an apply environment's reviewers"
        );
    }
}
