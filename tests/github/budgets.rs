//! API requests per command, counted by the fake GitHub, against
//! the book's "Request budgets" table (docs/src/reference/request-budgets.md): each expected count is read from the
//! row that states it (tests/support/readme_budgets.rs), and every
//! count must equal it, so the table and the code cannot drift apart; with
//! `FLEETFORM_BENCH_OUT=FILE` the table is also written there as JSON for
//! `bench/run.sh` (bench/results.md).

use crate::common;
use crate::world;

use crate::support::readme_budgets::Budgets;
use common::{stderr, stdout};
use serde_json::{json, Value};
use world::{StepFiles, ACME, MANAGER};

/// The shared test world (tests/support/world.rs), with the generic steps
/// this table needs.
struct World {
    inner: world::World,
}

impl std::ops::Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.inner
    }
}

impl World {
    fn new() -> World {
        World {
            inner: world::World::new(),
        }
    }

    fn trigger(&mut self, repo: &str, event_name: &str, event: &Value, sha: &str) -> Output {
        let checkout = self.inner.checkout(repo, sha);
        let github_sha = if event_name == "push" {
            sha.to_string()
        } else {
            "f".repeat(40)
        };
        let (cmd, files) = self
            .inner
            .trigger_step(repo, event_name, event, &github_sha, checkout);
        // `-v` is a global flag: after the subcommand as before it.
        let out = common::Run::from(cmd).arg("-v").output();
        Output { out, files }
    }

    fn plan(&mut self, env: &str) -> Output {
        let (out, files) = self.inner.plan_latest(env);
        Output { out, files }
    }

    /// The last dispatch's plan, authenticated as a GitHub App (its
    /// installation on the customer's repo) instead of a token.
    fn plan_as_app(&mut self, env: &str, app_id: u64, pem: &str) -> Output {
        let d = self.inner.last_dispatch();
        let (cmd, files) = self.inner.dispatch_step(&d);
        let out = common::Run::from(cmd)
            .env_remove("FLEETFORM_TOKEN")
            .env("FLEETFORM_CUSTOMER_APP_ID", app_id.to_string())
            .env("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY", pem)
            .args(["-v", "plan", "--dispatch", "--env", env])
            .output();
        Output { out, files }
    }

    /// The last dispatch's apply, with `-v` (a global flag).
    fn apply(&mut self, env: &str, sha256: &str) -> Output {
        let d = self.inner.last_dispatch();
        let (cmd, files) = self.inner.apply_step(&d, env, sha256);
        let out = common::Run::from(cmd).arg("-v").output();
        Output { out, files }
    }

    fn drift(&mut self, customers: &str) -> Output {
        let (cmd, files) = self
            .inner
            .step(MANAGER, "schedule", &json!({}), &"e".repeat(40));
        let out = common::Run::from(cmd)
            .args([
                "drift",
                "--customer",
                customers,
                "--env",
                "staging",
                "--issues",
                "--manager-repo",
                MANAGER,
            ])
            .output();
        Output { out, files }
    }
}

struct Output {
    out: common::Ran,
    files: StepFiles,
}

impl Output {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            stdout(&self.out),
            stderr(&self.out)
        );
        self
    }

    /// What `-v` says this run sent to GitHub, if it says.
    fn sent(&self) -> Option<usize> {
        stderr(&self.out).lines().find_map(|l| {
            let at = l.find(" API request")?;
            l.ends_with("sent to GitHub by this run")
                .then(|| l[..at].rsplit(' ').next()?.parse().ok())?
        })
    }

    /// One step output (GITHUB_OUTPUT).
    fn output(&self, key: &str) -> String {
        self.files
            .outputs()
            .remove(key)
            .unwrap_or_else(|| panic!("no `{key}` output"))
    }
}

/// One row of the table.
struct Count {
    command: &'static str,
    case: &'static str,
    requests: usize,
    /// What the book's table says.
    budget: usize,
}

const TRIGGER: &str = "`trigger`";
const PLAN: &str = "`plan --dispatch`, per environment";
const APPLY: &str = "`apply --dispatch`";
const DRIFT: &str = "`drift --issues`";
const APP: &str = "GitHub App authentication";

#[test]
fn requests_per_command_within_the_readme_budgets() {
    let readme = Budgets::from_book();
    let mut w = World::new();
    let mut rows: Vec<Count> = Vec::new();
    let mut count = |w: &World, command, case, budget| {
        rows.push(Count {
            command,
            case,
            requests: w.gh.request_count(),
            budget,
        });
        w.gh.reset_counters();
    };

    // A pull request: trigger, then plan each environment.
    let vars = w.fx.read("customers/acme/infra/variables.yml");
    let changed = vars.replace("max_instances: 2", "max_instances: 3");
    assert_ne!(vars, changed);
    let sha =
        w.gh.commit(ACME, "feature", &[("infra/variables.yml", &changed)]);
    let pr = w.gh.open_pr(ACME, "feature", "main", "More instances");
    w.gh.reset_counters();
    let event = json!({
        "number": pr,
        "pull_request": { "number": pr, "head": { "sha": sha, "ref": "feature" } },
        "repository": { "default_branch": "main" }
    });
    let t = w.trigger(ACME, "pull_request", &event, &sha).expect(0);
    // `-v` counts every request sent (issue #52).
    assert_eq!(t.sent(), Some(w.gh.request_count()), "{}", stderr(&t.out));
    count(&w, "trigger", "pull request", readme.lead(TRIGGER));
    // A pull request's plan reads its head (the fork check).
    let pr_head = readme.n(PLAN, " for a pull request's plan");
    w.plan("staging").expect(0);
    count(
        &w,
        "plan --dispatch",
        "staging: variables file only, new comment",
        readme.lead(PLAN) + pr_head,
    );
    w.plan("production").expect(0);
    count(
        &w,
        "plan --dispatch",
        "production: + 1 override file, new comment",
        readme.lead(PLAN) + readme.n(PLAN, " per override file") + pr_head,
    );
    w.plan("staging").expect(0);
    count(
        &w,
        "plan --dispatch",
        "staging again: sticky comment updated",
        readme.lead(PLAN) + pr_head,
    );
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app/test-app.pem"),
    )
    .unwrap();
    w.gh.register_app(4242, &pem);
    w.gh.install_app(4242, "acme-corp", &[ACME]);
    w.gh.reset_counters();
    let app = w.plan_as_app("staging", 4242, &pem).expect(0);
    assert_eq!(w.gh.minted_tokens().len(), 1, "the plan ran as the App");
    assert_eq!(
        app.sent(),
        Some(w.gh.request_count()),
        "{}",
        stderr(&app.out)
    );
    count(
        &w,
        "plan --dispatch",
        "staging as a GitHub App: + installation, token",
        readme.lead(PLAN) + readme.n(APP, " per job") + pr_head,
    );

    // The merge: trigger on push, plan, apply.
    let merged = w.gh.merge_pr(ACME, pr);
    let event = json!({
        "ref": "refs/heads/main", "after": merged,
        "repository": { "default_branch": "main" },
        "head_commit": { "message": "Merge pull request #1 from acme-corp/feature" }
    });
    w.trigger(ACME, "push", &event, &merged).expect(0);
    count(
        &w,
        "trigger",
        "push to the default branch",
        readme.lead(TRIGGER),
    );
    let plan = w.plan("staging").expect(0);
    count(
        &w,
        "plan --dispatch",
        "staging, the merge's: variables file, the absent override looked up",
        readme.lead(PLAN) + readme.n(PLAN, " for the plan of an apply dispatch"),
    );
    let digest = plan.output("plan_sha256");
    let applied = w.apply("staging", &digest).expect(0);
    assert_eq!(
        applied.sent(),
        Some(w.gh.request_count()),
        "{}",
        stderr(&applied.out)
    );
    count(&w, "apply --dispatch", "staging", readme.lead(APPLY));

    // Drift with sticky issues: open, update, then close once it is gone.
    // globex's staging applied from its checkout, then changed there (a
    // pair never applied is no drift); acme's checkout is behind what the
    // dispatch applied.
    common::apply_locally(&w.fx, "globex", "staging");
    let v =
        w.fx.read("customers/globex/infra/variables.yml")
            .replace("max_instances: 3", "max_instances: 4");
    w.fx.write("customers/globex/infra/variables.yml", &v);
    // Edits not applied yet are no drift (exit 0), but their issues are
    // kept all the same; no cause (the cloud did not change) in a run over
    // two customers: no request about cause issues.
    w.gh.reset_counters();
    w.drift("acme,globex").expect(0);
    count(
        &w,
        "drift --issues",
        "2 customers with edits not applied: list + 2 issues opened",
        readme.lead(DRIFT) + 2 * readme.n(DRIFT, " (open or update;"),
    );
    w.drift("acme,globex").expect(0);
    count(
        &w,
        "drift --issues",
        "2 customers still with edits not applied, unchanged: list only",
        readme.lead(DRIFT),
    );
    for args in [
        ["plan", "--customer", "acme", "--env", "staging"],
        ["apply", "--customer", "acme", "--env", "staging"],
    ] {
        let out = common::Run::from(w.fx.fleetform()).args(args).output();
        common::assert_ok(&out);
    }
    w.gh.reset_counters();
    w.drift("acme").expect(0);
    count(
        &w,
        "drift --issues",
        "1 customer's drift gone: list + comments + note + close",
        readme.lead(DRIFT) + readme.n(DRIFT, " (close"),
    );
    w.gh.assert_clean();

    let table: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "command": r.command,
                "case": r.case,
                "requests": r.requests,
                "budget": r.budget,
            })
        })
        .collect();
    if let Some(path) = std::env::var_os("FLEETFORM_BENCH_OUT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&table).unwrap()).unwrap();
    }
    for r in &rows {
        println!(
            "{:<18} {:<55} {:>3} / {:<3}",
            r.command, r.case, r.requests, r.budget
        );
    }
    let off: Vec<String> = rows
        .iter()
        .filter(|r| r.requests != r.budget)
        .map(|r| {
            format!(
                "{} ({}): {} counted, the book says {}",
                r.command, r.case, r.requests, r.budget
            )
        })
        .collect();
    assert!(
        off.is_empty(),
        "the book's \"Request budgets\" is off: {off:#?}"
    );
}

/// Every row of the book's table is counted: its first cell is named, as
/// a string, in a test file that reads the table, so no row states a
/// number no test compares with what was sent (issue #52).
#[test]
fn every_row_of_the_table_is_read_by_a_counting_test() {
    let book = Budgets::from_book();
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    crate::layout::rust_files(&tests, &mut files);
    let readers: Vec<String> = files
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|text| text.contains("Budgets::from_book()"))
        .collect();
    assert!(readers.len() > 5, "{} readers", readers.len());
    let uncounted: Vec<&str> = book
        .rows()
        .filter(|row| {
            let quoted = format!("\"{row}\"");
            !readers.iter().any(|text| text.contains(&quoted))
        })
        .collect();
    assert!(
        uncounted.is_empty(),
        "rows of the book's \"Request budgets\" no counting test reads: {uncounted:#?}"
    );
}
