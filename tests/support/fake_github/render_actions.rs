//! The Actions answers of the fake: a run's deployment reviews and a
//! workflow run, in GitHub's shapes.

use serde_json::{json, Value};

use super::render::{repo_api, repo_html, repository, user};
use super::state::{Repo, State};
use super::util::node_id;

/// `environment-approvals` items: the deployment reviews of one run.
pub(crate) fn run_reviews(state: &State, repo: &Repo, run_id: u64) -> Value {
    let reviews = repo.run_reviews.get(&run_id).cloned().unwrap_or_default();
    Value::Array(
        reviews
            .iter()
            .map(|r| {
                let env = &r.environment;
                json!({
                    "environments": [{
                        "id": 5_678_000 + env.len() as u64,
                        "node_id": node_id("Environment", 5_678_000 + env.len() as u64),
                        "name": env,
                        "url": format!("{}/repos/{}/environments/{env}", state.api_url, repo.full_name()),
                        "html_url": format!("{}/{}/deployments/activity_log?environments_filter={env}", state.web_url, repo.full_name()),
                        "created_at": r.at,
                        "updated_at": r.at,
                    }],
                    "state": r.state,
                    "user": user(state, &r.login),
                    "comment": r.comment,
                })
            })
            .collect(),
    )
}

/// `workflow-run`: one run of a workflow file, with who started it
/// (`actor`) and who started this attempt (`triggering_actor`).
pub(crate) fn workflow_run(
    state: &State,
    repo: &Repo,
    id: u64,
    r: &super::state::WorkflowRun,
) -> Value {
    let api = format!("{}/actions/runs/{id}", repo_api(state, repo));
    let minimal = repository(state, repo);
    json!({
        "id": id,
        "node_id": node_id("WorkflowRun", id),
        "name": "fleetform ops",
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.path,
        "display_title": "fleetform ops",
        "run_number": id % 1000,
        "run_attempt": r.attempt,
        "event": r.event,
        "status": "completed",
        "conclusion": "success",
        "workflow_id": 4_242,
        "url": api,
        "html_url": format!("{}/actions/runs/{id}", repo_html(state, repo)),
        "pull_requests": [],
        "created_at": r.at,
        "updated_at": r.at,
        "actor": user(state, &r.actor),
        "triggering_actor": user(state, &r.triggering_actor),
        "run_started_at": r.at,
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/check-suites/{id}", repo_api(state, repo)),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "workflow_url": format!("{}/actions/workflows/4242", repo_api(state, repo)),
        "head_commit": null,
        "repository": minimal,
        "head_repository": repository(state, repo),
    })
}
