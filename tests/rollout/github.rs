//! The rollout workflow's steps as they run on GitHub Actions, against the
//! fake GitHub: the next stage as step outputs and in the job summary, the
//! wave's plans for review, and a tick that applies exactly those plans
//! only after the approval `apply --dispatch` needs (the run's deployment
//! reviews, or `approvals:` on the change's pull request), with the
//! approver as the applies' actor; the registry on the default branch at
//! apply time; control actions only from the operators team.

use crate::common;
use crate::support::fake_github::FakeGitHub;
use crate::support::readme_budgets::Budgets;
use crate::support::rollout_world::{World, MANAGER_REPO};

use common::{stderr, stdout};
use serde_json::Value;

/// The book's "Request budgets" rows these tests count.
const TICK: &str = "`rollout tick` (with a token)";
const PLAN: &str = "`rollout plan`";
const CONTROL: &str = "`rollout halt` / `resume` / `rollback` / `start --supersede`";

/// The step outputs and job summary files of one job.
pub(crate) struct Step {
    dir: tempfile::TempDir,
}

impl Step {
    fn new() -> Step {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("output"), "").unwrap();
        std::fs::write(dir.path().join("summary"), "").unwrap();
        Step { dir }
    }

    fn run(&self, w: &World, args: &[&str]) -> crate::common::Ran {
        w.fleetform()
            .env("GITHUB_OUTPUT", self.dir.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", self.dir.path().join("summary"))
            .args(args)
            .output()
    }

    fn outputs(&self) -> std::collections::BTreeMap<String, String> {
        common::parse_outputs(&std::fs::read_to_string(self.dir.path().join("output")).unwrap())
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary")).unwrap()
    }
}

fn code(out: &impl crate::common::Streams) -> Option<i32> {
    out.exit_code()
}

/// `next`'s step, then `plan` and `tick` of the one shard it gives (as
/// the workflow runs them): the plan's step, the tick's and its output.
pub(crate) fn plan_then_tick(w: &World) -> (Step, Step, crate::common::Ran) {
    let next = Step::new();
    let out = next.run(w, &["rollout", "status", "--summary"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let outputs = next.outputs();
    assert_eq!(outputs["ready"], "true", "{outputs:?}");
    let matrix: Value = serde_json::from_str(&outputs["matrix"]).unwrap();
    let shard = matrix["include"][0]["shard"].to_string();
    let plan = Step::new();
    let out = plan.run(
        w,
        &[
            "rollout",
            "plan",
            "--id",
            &outputs["id"],
            "--shard",
            &shard,
            "--out",
            "rollout-plans",
        ],
    );
    assert_eq!(code(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let (step, out) = tick_step(w, &outputs["id"], &shard);
    (plan, step, out)
}

fn tick_step(w: &World, id: &str, shard: &str) -> (Step, crate::common::Ran) {
    let args = [
        "rollout",
        "tick",
        "--id",
        id,
        "--one-stage",
        "--shard",
        shard,
        "--plans-from",
        "rollout-plans",
    ];
    let step = Step::new();
    let out = step.run(w, &args);
    (step, out)
}

pub(crate) fn tick(w: &World, id: &str, shard: &str) -> crate::common::Ran {
    tick_step(w, id, shard).1
}

/// Production with `auto_apply: false` and no `approvals:`: the tick
/// refuses, applying nothing, until someone other than who started the
/// run approved its deployment to `production-apply`; that approver is the
/// actor of the applies, their audit lines and deployment records.
#[test]
fn a_production_wave_applies_only_after_someone_else_approved_the_run() {
    let gh = FakeGitHub::start();
    let mut w = World::with(1, "production");
    w.on_github(&gh, "ops-dana");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let (_, _, out) = plan_then_tick(&w);
    assert_eq!(code(&out), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("no one approved the deployment to `production-apply`"),
        "{}",
        stderr(&out)
    );
    assert!(w.rolled().is_empty(), "nothing applied unreviewed");

    // Who started the run approving it is self-review.
    gh.review_run(
        MANAGER_REPO,
        4242,
        "production-apply",
        "ops-dana",
        "approved",
    );
    let shard = r#"["c01/production"]"#;
    let id = w.status()["id"].as_str().unwrap().to_string();
    let out = tick(&w, &id, shard);
    assert_eq!(code(&out), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("self-review"), "{}", stderr(&out));
    assert!(w.rolled().is_empty());

    gh.review_run(
        MANAGER_REPO,
        4242,
        "production-apply",
        "ops-carol",
        "approved",
    );
    gh.reset_counters();
    let out = tick(&w, &id, shard);
    assert_eq!(code(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    // The book's "Request budgets": the registry, the pull request of the
    // change's one commit (its author) and the run's reviews.
    let b = Budgets::from_book();
    assert_eq!(
        gh.request_count(),
        b.n(TICK, " (the registry on the default branch)")
            + b.n(TICK, " per commit of the change (its first-parent")
            + b.n(TICK, " (the run's reviews)")
    );
    assert_eq!(w.rolled(), ["c01"]);
    let applies: Vec<Value> = w
        .audit()
        .into_iter()
        .filter(|e| e["action"] == "apply" && e["result"] == "ok")
        .collect();
    assert_eq!(applies.len(), 1);
    for a in &applies {
        assert_eq!(a["actor"], "ops-carol", "{a}");
        assert_eq!(a["triggering_actor"], "ops-dana", "{a}");
    }
    let records =
        w.fx.path("manager/.fleetform/records/deployments/c01/_/production");
    let record = std::fs::read_dir(records)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record: Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    assert_eq!(record["actor"], "ops-carol");
}

/// With `approvals:` for production, the wave's plans (their digest) are
/// approved on the pull request that merged the change; until then the
/// tick refuses, says what to write where, and scheduled runs do not plan
/// the stage again (a dispatched `tick` does: `--replan`).
#[test]
fn with_approvals_a_wave_waits_for_approvals_of_its_plans_on_the_change_pull_request() {
    let gh = FakeGitHub::start();
    let mut w = World::with(1, "production");
    w.fx.append(
        "manager/fleetform.yml",
        "approvals:\n  production:\n    users: [ops-erin]\n",
    );
    w.fx.git(&["commit", "-q", "-am", "approvals"]);
    let pr = w.on_github(&gh, "ops-dana");
    w.expect(0, &["rollout", "start", "--base", "HEAD~2"]);
    let (plan, _, out) = plan_then_tick(&w);
    assert_eq!(code(&out), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    let re =
        regex::Regex::new(r"comment `/fleetform approve ([0-9a-f]{12})` on provider/manager#(\d+)")
            .unwrap();
    let caps = re.captures(&err).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(caps[2].parse::<u64>().unwrap(), pr);
    let prefix = caps[1].to_string();
    assert!(w.rolled().is_empty());
    let status = w.status();
    let state = status["stages"][0]["state"].as_str().unwrap();
    assert!(state.ends_with(&format!("(sha256:{prefix})")), "{state}");
    assert!(
        plan.summary().contains("- `c01/production`: "),
        "{}",
        plan.summary()
    );

    // A scheduled run leaves the plans waiting; a dispatched one replans.
    let next = Step::new();
    next.run(&w, &["rollout", "status", "--summary"]);
    assert_eq!(next.outputs()["ready"], "false");
    assert!(
        next.outputs()["waiting"].contains("wait for approval"),
        "{:?}",
        next.outputs()
    );
    let next = Step::new();
    next.run(&w, &["rollout", "status", "--summary", "--replan"]);
    assert_eq!(next.outputs()["ready"], "true");

    // Someone not listed approving does not count; ops-erin does.
    gh.add_comment(
        MANAGER_REPO,
        pr,
        "mallory",
        &format!("/fleetform approve {prefix}"),
    );
    let id = status["id"].as_str().unwrap();
    let shard = r#"["c01/production"]"#;
    assert_eq!(code(&tick(&w, id, shard)), Some(3));
    gh.add_comment(
        MANAGER_REPO,
        pr,
        "ops-erin",
        &format!("/fleetform approve {prefix}"),
    );
    gh.reset_counters();
    let out = tick(&w, id, shard);
    assert_eq!(code(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    // The book's "Request budgets": the registry, the pull requests of the
    // change's two commits (since HEAD~2), the commit's pull request (its
    // author), its reviews and its comments.
    let b = Budgets::from_book();
    assert_eq!(
        gh.request_count(),
        b.n(TICK, " (the registry on the default branch)")
            + 2 * b.n(TICK, " per commit of the change and")
            + b.n(TICK, " (the pull request, its reviews, its comments")
    );
    assert_eq!(w.rolled(), ["c01"]);
    let events = w.events();
    let applied: Vec<&Value> = events.iter().filter(|e| e["event"] == "applied").collect();
    assert!(
        applied.iter().all(|e| e["actor"] == "ops-erin"),
        "{applied:?}"
    );
}

/// On GitHub, halt, resume and rollback are accepted only from active
/// members of `rollout.operators` (through the API, naming the team when
/// refused), and refused when no team is configured.
#[test]
fn only_operators_halt_resume_and_roll_back() {
    let gh = FakeGitHub::start();
    let mut w = World::with(1, "staging");
    w.on_github(&gh, "mallory");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let out = w.expect(3, &["rollout", "halt", "--reason", "no team"]);
    assert!(
        stderr(&out).contains("`rollout.operators`"),
        "{}",
        stderr(&out)
    );

    w.operators_are_provider_ops();
    gh.add_team_member("provider", "ops", "ops-dana", "active");
    gh.add_team_member("provider", "ops", "pending-pat", "pending");
    for (who, args) in [
        ("mallory", &["rollout", "halt", "--reason", "x"][..]),
        ("pending-pat", &["rollout", "halt", "--reason", "x"][..]),
        ("mallory", &["rollout", "rollback"][..]),
        ("mallory", &["rollout", "start", "--supersede"][..]),
    ] {
        w.set_env("GITHUB_ACTOR", who);
        let out = w.expect(3, args);
        assert!(
            stderr(&out).contains(&format!(
                "`{who}` is not an active member of `provider/ops`"
            )),
            "{who} {args:?}: {}",
            stderr(&out)
        );
    }
    assert!(w.status()["halted"].is_null());
    w.set_env("GITHUB_ACTOR", "ops-dana");
    gh.reset_counters();
    w.expect(0, &["rollout", "halt", "--reason", "by an operator"]);
    assert_eq!(
        gh.request_count(),
        Budgets::from_book().n(CONTROL, " per actor checked")
    );
    // The workflow's next step: no stage runs, and its summary says why
    // and what to do (issue #52), not nothing.
    let next = Step::new();
    let out = next.run(&w, &["rollout", "status", "--summary"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(next.outputs()["ready"], "false");
    let summary = next.summary();
    assert!(
        summary.starts_with("> [!CAUTION]\n> **Rollout `")
            && summary.contains("is halted:** by an operator")
            && summary.contains("**Next step:**")
            && summary.contains("fleetform rollout resume --id "),
        "{summary}"
    );
    // Re-run by someone else: both must be operators.
    w.set_env("GITHUB_TRIGGERING_ACTOR", "mallory");
    w.expect(3, &["rollout", "resume"]);
    w.set_env("GITHUB_TRIGGERING_ACTOR", "ops-dana");
    w.expect(0, &["rollout", "resume"]);
    let halted = w
        .audit()
        .into_iter()
        .find(|e| e["result"] == "halted")
        .unwrap();
    assert_eq!(halted["actor"], "ops-dana");
}

/// The registry is the default branch's when a tick applies: a customer
/// revoked there, or removed, during the approval wait is skipped and
/// named (not applied from the run's checkout), and the stage settles.
#[test]
fn the_registry_on_the_default_branch_decides_at_apply_time() {
    let gh = FakeGitHub::start();
    let mut w = World::with(3, "staging");
    w.on_github(&gh, "ops-dana");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    gh.reset_counters();
    w.expect(0, &["rollout", "plan", "--out", "rollout-plans"]);
    assert_eq!(gh.request_count(), Budgets::from_book().lead(PLAN));
    assert_eq!(w.digests("planned").len(), 2);
    // Meanwhile on the default branch: c01 leaves, c02 is revoked.
    let registry = w.fx.read("manager/customers.yml");
    let c02 = registry.find("  - slug: c02").unwrap();
    let rest = registry[c02..].replacen(
        "    added: 2026-01-01\n",
        "    added: 2026-01-01\n    status: revoked\n    revoked: {date: 2026-02-01, reason: left}\n",
        1,
    );
    let header = &registry[..registry.find("  - slug: c01").unwrap()];
    gh.commit(
        MANAGER_REPO,
        "main",
        &[("customers.yml", &format!("{header}{rest}"))],
    );
    let out = w.expect(
        0,
        &[
            "rollout",
            "tick",
            "--one-stage",
            "--plans-from",
            "rollout-plans",
        ],
    );
    let said = stdout(&out);
    let origin = "`customers.yml` on provider/manager's default branch";
    assert!(
        said.contains(&format!("customer `c01` is no longer in {origin}")),
        "{said}"
    );
    assert!(
        said.contains(&format!("customer `c02` is revoked in {origin}")),
        "{said}"
    );
    assert!(said.contains("stage done"), "{said}");
    assert!(!said.contains("shard"), "{said}");
    assert!(w.rolled().is_empty(), "neither was applied");
    assert_eq!(w.status()["next"]["wave"], "half");
}

/// The workflow's first steps: `status --summary` gives the next stage as
/// step outputs and its wave and customers in the job summary (what the
/// reviewer approves); `tick --one-stage` runs that stage only and says
/// what it applied, and with which plan, in the job summary.
#[test]
fn github_steps_show_the_next_wave_and_tick_one_stage() {
    let gh = FakeGitHub::start();
    let mut w = World::with(3, "staging");
    w.on_github(&gh, "ops-dana");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let next = Step::new();
    next.run(&w, &["rollout", "status", "--summary"]);
    let outputs = next.outputs();
    assert_eq!(
        (
            outputs["ready"].as_str(),
            outputs["environment"].as_str(),
            outputs["wave"].as_str(),
            outputs["stage"].as_str()
        ),
        ("true", "staging", "internal", "1")
    );
    let text = next.summary();
    assert!(text.contains("wave `internal` in `staging`"), "{text}");
    for c in ["c01/staging", "c02/staging"] {
        assert!(text.contains(c), "{text}");
    }
    let (_, tick, out) = plan_then_tick(&w);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(w.rolled(), ["c01", "c02"]);
    let text = tick.summary();
    assert!(text.contains("- `c01/staging`: applied sha256:"), "{text}");
    let status = w.status();
    assert_eq!(status["next"]["wave"], "half");
    assert!(status["next"]["waiting"].is_null(), "{status:#}");
}

/// On GitHub a rollout's apply is a deployment on the customer's repo: the
/// commit its last deployment record names, in the environment, described
/// by the rollout, the wave and the manager commit, `in_progress` then
/// `success`, linked to the run. Pairs without such a record have none.
#[test]
fn a_rollout_apply_is_a_deployment_on_the_customers_repo() {
    let w = World::with(2, "staging");
    let gh = FakeGitHub::start();
    let repo = "c01-org/infra";
    gh.add_repo(repo);
    let vars = w.fx.read("customers/c01/infra/variables.yml");
    let sha = gh.commit(repo, "main", &[("infra/variables.yml", &vars)]);
    w.fx.write("vars-c01.yml", &vars);
    let record = serde_json::json!({
        "time": "2026-01-01T00:00:00Z",
        "customer": "c01",
        "environment": "staging",
        "customer_repo": repo,
        "customer_sha": sha,
        "plan_sha256": "0".repeat(64),
        "files": [{
            "path": "infra/variables.yml",
            "sha256": common::sha256_hex(&w.fx.path("vars-c01.yml")),
            "content": vars,
        }],
        "actor": "ops-dana",
    });
    w.fx.write(
        "manager/.fleetform/records/deployments/c01/_/staging/20260101T000000.000Z-000000000000.json",
        &record.to_string(),
    );
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    gh.reset_counters();
    let out = w
        .fleetform()
        .env("FLEETFORM_TOKEN", gh.token())
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", MANAGER_REPO)
        .env("GITHUB_RUN_ID", "4242")
        .args(["rollout", "tick", "--one-stage"])
        .output();
    assert_eq!(code(&out), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(w.rolled(), ["c01", "c02"]);
    assert_eq!(
        gh.request_count(),
        Budgets::from_book().lead(TICK),
        "one deployment and its two statuses"
    );
    let deployments = gh.deployments(repo);
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(
        (d.sha.as_str(), d.environment.as_str()),
        (sha.as_str(), "staging")
    );
    let description = d.description.clone().unwrap_or_default();
    assert!(
        description.contains("wave internal") && description.contains("manager "),
        "{description}"
    );
    let states: Vec<&str> = d.statuses.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(states, ["in_progress", "success"]);
    assert_eq!(
        d.statuses[1].2.as_deref(),
        Some("https://github.com/provider/manager/actions/runs/4242")
    );
}

/// The wave's pairs in shards (`status --summary`'s `matrix`, at most
/// `max_parallel`), ticked by parallel jobs: every pair applied once, and
/// the stage marked done once, by whichever shard finished last.
#[test]
fn shards_of_a_wave_run_together_and_the_last_settles_it() {
    let w = World::with(3, "staging");
    let config = w.fx.read("manager/fleetform.yml");
    let waves = &config[config.find("  waves:").unwrap()..];
    let config = config
        .replace(waves, "  waves:\n    - name: all\n")
        .replace("  max_parallel: 4\n", "  max_parallel: 2\n");
    w.fx.write("manager/fleetform.yml", &config);
    w.fx.git(&["commit", "-q", "-am", "one wave, three shards"]);
    w.expect(0, &["rollout", "start", "--base", "HEAD~2"]);
    let next = Step::new();
    next.run(&w, &["rollout", "status", "--summary"]);
    let matrix: Value = serde_json::from_str(&next.outputs()["matrix"]).unwrap();
    let shards: Vec<String> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["shard"].to_string())
        .collect();
    assert_eq!(shards.len(), 2, "max_parallel shards of 3 pairs: {matrix}");
    let outputs: Vec<common::Ran> = std::thread::scope(|s| {
        let jobs: Vec<_> = shards
            .iter()
            .map(|shard| {
                let cmd = w.fleetform();
                s.spawn(move || {
                    cmd.args(["rollout", "tick", "--one-stage", "--shard", shard])
                        .output()
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(code(out), Some(0), "{}\n{}", stdout(out), stderr(out));
    }
    assert_eq!(w.rolled().len(), 3);
    let events = w.events();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("stage-done"), 1, "the stage once");
    assert_eq!(count("applied"), 3, "each pair once");
    // A shard that names something else is refused before any work.
    let out = w.run(&["rollout", "tick", "--shard", "[\"../x\"]"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
}

/// A tick on the manager (under Actions) whose pairs fail: one with
/// invalid values that quote a customer value, one whose apply fails with
/// Terraform's diagnostic. The step summary and `rollout status` name both
/// pairs as failed with the short reason, and neither the value nor
/// Terraform's output: every reader of the manager repo sees them.
#[test]
fn a_ticks_failures_reach_the_manager_without_values_or_terraform_output() {
    let gh = FakeGitHub::start();
    let mut w = World::with(4, "staging");
    w.on_github(&gh, "ops-dana");
    w.expect(0, &["rollout", "start", "--base", "HEAD~1"]);
    let vars = "customers/c01/infra/variables.yml";
    let text = w.fx.read(vars);
    w.fx.write(
        vars,
        &text.replacen("project_name: c01-shop", "project_name: Leaky_Value_77", 1),
    );
    assert!(w.fx.read(vars).contains("Leaky_Value_77"));
    w.set_env("FAKECLOUD_FAIL_ON", "c02-staging");
    let step = Step::new();
    let out = step.run(&w, &["rollout", "tick"]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(code(&out), Some(1), "{so}\n{se}");
    // The summary's Markdown escapes `(`, `)` and backticks.
    let text = step.summary().replace('\\', "");
    let status = w.status();
    let failed = status["failed"].as_array().unwrap().clone();
    let reason = |c: &str| {
        failed
            .iter()
            .find(|f| f["unit"]["customer"] == c)
            .and_then(|f| f["reason"].as_str())
            .unwrap_or_else(|| panic!("{c} is not failed: {failed:?}"))
            .to_string()
    };
    assert_eq!(reason("c01"), "plan: invalid values (1 problem)");
    assert!(
        reason("c02").starts_with("apply: `terraform apply` failed (exit 1)"),
        "{failed:?}"
    );
    assert!(text.contains("invalid values (1 problem)"), "{text}");
    assert!(text.contains("failed (exit 1)"), "{text}");
    // What the manager keeps and shows (the log of a fleet run still
    // carries the pairs' problems: SECURITY.md, known limit).
    for shown in [&text, &status.to_string()] {
        for secret in ["Leaky_Value_77", "injected failure"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
    }
}
