//! The GitHub-traffic bench (bench/github.py, `bash bench/run.sh
//! --github-only`), ignored by default: fleet commands at fleet scale
//! against the fake GitHub enforcing GitHub's secondary limits on a
//! scaled clock, once with the request scheduler (its limits set to the
//! same numbers) and once with `FLEETFORM_GITHUB_SCHEDULER=off`. Plans are
//! made by a stand-in for Terraform (tests/support/stand_in_terraform.rs):
//! the GitHub traffic does not depend on what plans.
//!
//! The scaled clock: time runs `FLEETFORM_BENCH_TIME_SCALE` (k, default 5)
//! times faster, so a real minute stands for k minutes: the per-minute
//! limits are k × GitHub's per real minute (writes 80 k, points 900 k),
//! the per-hour write limit is GitHub's 500 (`FLEETFORM_BENCH_WRITES_PER_HOUR`)
//! per run, each run standing for the next hour (a run is shorter than a
//! scaled hour, 60/k real minutes; the fake's counts start over between
//! runs). Prints one JSON line per mode (`BENCH {...}`) for the bench.
//!
//! This file: drift with `--issues` over `FLEETFORM_BENCH_CUSTOMERS`
//! (default 2,000) drifted customers, run again until every customer has
//! its issue. tests/bench/fleet.rs: sync and a rollout wave.

use crate::common::Fixture;
use crate::support::fake_github::{FakeGitHub, Limits};

use serde_json::{json, Value};
use std::time::Instant;

pub const MANAGER_REPO: &str = "provider/manager";

/// Customer `i`'s slug.
pub fn slug(i: usize) -> String {
    format!("c{i:04}")
}

/// The examples with `n` customers in staging, each a copy of acme
/// (`repo`: with its GitHub repo named by it, else a local path): no
/// Terraform provider, as the stand-in plans.
pub fn fleet(n: usize, repo: Option<fn(usize) -> String>) -> Fixture {
    let fx = Fixture::new();
    let vars = fx.read("customers/acme/infra/variables.yml");
    let mut registry = String::from("customers:\n");
    for i in 1..=n {
        let c = slug(i);
        let place = match repo {
            Some(name) => format!("repo: {}", name(i)),
            None => {
                let text = vars.replace("acme", &c);
                fx.write(&format!("customers/{c}/infra/variables.yml"), &text);
                format!("path: ../customers/{c}")
            }
        };
        registry.push_str(&format!(
            "  - slug: {c}\n    {place}\n    contact: ops@{c}.test\n    environments: [staging]\n    added: 2026-01-01\n"
        ));
    }
    fx.write("manager/customers.yml", &registry);
    fx
}

/// The modes to measure: `FLEETFORM_BENCH_MODE` on, off or both (the
/// default; on first).
pub fn modes() -> Vec<bool> {
    match std::env::var("FLEETFORM_BENCH_MODE").as_deref() {
        Ok("on") => vec![true],
        Ok("off") => vec![false],
        _ => vec![true, false],
    }
}

pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The scaled limits a bench runs against.
#[derive(Clone, Copy)]
pub struct Scale {
    /// k: a real minute stands for k minutes.
    pub time: usize,
    pub writes_per_hour: usize,
}

impl Scale {
    pub fn from_env() -> Scale {
        Scale {
            time: setting("FLEETFORM_BENCH_TIME_SCALE", 5).max(1),
            writes_per_hour: setting("FLEETFORM_BENCH_WRITES_PER_HOUR", 500),
        }
    }

    /// What the fake enforces: GitHub's limits on the scaled clock.
    pub fn limits(&self) -> Limits {
        Limits {
            writes_per_minute: 80 * self.time,
            writes_per_hour: self.writes_per_hour,
            points_per_minute: 900 * self.time as u64,
        }
    }

    /// The scheduler's limits set to the same numbers, or the scheduler
    /// off; the longest wait 90 s (the default: a scaled minute is
    /// waited, an hour is not).
    pub fn configure(&self, cmd: crate::common::Run, scheduled: bool) -> crate::common::Run {
        let l = self.limits();
        let cmd = cmd.env("FLEETFORM_RETRY_MAX_WAIT_SECS", "90");
        if scheduled {
            cmd.env(
                "FLEETFORM_GITHUB_WRITES_PER_MINUTE",
                l.writes_per_minute.to_string(),
            )
            .env(
                "FLEETFORM_GITHUB_WRITES_PER_HOUR",
                l.writes_per_hour.to_string(),
            )
            .env(
                "FLEETFORM_GITHUB_POINTS_PER_MINUTE",
                l.points_per_minute.to_string(),
            )
        } else {
            cmd.env("FLEETFORM_GITHUB_SCHEDULER", "off")
        }
    }
}

/// What the fake saw over a mode's runs.
#[derive(Default)]
pub struct Tally {
    pub runs: usize,
    pub limit_answers: usize,
    pub primary_answers: usize,
    pub not_modified: u64,
    pub most_writes_in_a_run: usize,
    pub busiest_minute: usize,
    pub deferred: u64,
}

impl Tally {
    /// Starts a run: the fake's counts start over (a new scaled hour).
    pub fn begin(&mut self, gh: &FakeGitHub, scale: &Scale) -> usize {
        self.runs += 1;
        gh.enforce_limits(scale.limits());
        // GitHub's primary limit for a user token, per run too.
        gh.enforce_primary_limit(5000, std::time::Duration::from_secs(3600));
        gh.write_count()
    }

    /// Ends a run that began with `writes_before` writes.
    pub fn end(&mut self, gh: &FakeGitHub, writes_before: usize, report: &Value) {
        self.limit_answers += gh.limit_answers();
        self.primary_answers += gh.primary_limit_answers();
        self.busiest_minute = self.busiest_minute.max(gh.busiest_write_minute());
        let in_run = gh.write_count() - writes_before;
        self.most_writes_in_a_run = self.most_writes_in_a_run.max(in_run);
        self.not_modified += report["not_modified"].as_u64().unwrap_or(0);
        self.deferred += report["deferred"].as_array().map_or(0, |d| d.len() as u64);
        let run = json!({"run": self.runs, "writes": in_run, "limit_answers_so_far": self.limit_answers,
            "primary_limit_answers_so_far": self.primary_answers, "busiest_minute": gh.busiest_write_minute()});
        println!("RUN {run}");
    }

    /// The row: these counts and the fake's request log.
    pub fn row(&self, gh: &FakeGitHub, scale: &Scale, scheduled: bool, wall: f64) -> Value {
        let requests = gh.requests();
        let writes = requests.iter().filter(|r| r.method != "GET").count();
        let v = gh.take_violations();
        assert!(v.is_empty(), "{v:?}");
        json!({
            "scheduler": scheduled,
            "runs": self.runs,
            "writes_per_hour": scale.writes_per_hour,
            "writes_per_minute": scale.limits().writes_per_minute,
            "time_scale": scale.time,
            "requests": requests.len(),
            "writes_sent": writes,
            "most_writes_in_a_run": self.most_writes_in_a_run,
            "busiest_minute": self.busiest_minute,
            "not_modified": self.not_modified,
            "limit_answers": self.limit_answers,
            "primary_limit_answers": self.primary_answers,
            "deferred": self.deferred,
            "wall_secs": wall,
            "peak_rss_kb": children_peak_rss_kb(),
        })
    }
}

/// The largest peak resident set of any child this test process has
/// waited for (KiB): the fleetform runs, with the stand-in terraform each
/// ran (the kernel folds a waited child's own children into its figure).
#[cfg(unix)]
fn children_peak_rss_kb() -> Option<i64> {
    // SAFETY: getrusage writes only into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_CHILDREN) failed");
    Some(usage.ru_maxrss)
}

#[cfg(not(unix))]
fn children_peak_rss_kb() -> Option<i64> {
    None
}

/// Parses a command's `--json` report (null when there is none).
pub fn report(out: &impl crate::common::Streams) -> Value {
    if std::env::var_os("FLEETFORM_BENCH_DEBUG").is_some() {
        eprintln!("{}", crate::common::stderr(out));
    }
    serde_json::from_slice(out.out_bytes()).unwrap_or(Value::Null)
}

/// One mode's drift runs until every drifted customer has its issue.
fn drift_until_done(n: usize, scale: &Scale, scheduled: bool) -> Value {
    let fx = fleet(n, None);
    let stand_in = crate::support::stand_in_terraform::install(&fx.path("stand-in"));
    let gh = FakeGitHub::start();
    gh.add_repo(MANAGER_REPO);
    let cache = fx.path("etags.json");
    let most_runs = n.div_ceil(scale.writes_per_hour.max(1)) + 3;
    let started = Instant::now();
    let mut tally = Tally::default();
    while tally.runs < most_runs && gh.issues(MANAGER_REPO).len() < n {
        let before = tally.begin(&gh, scale);
        let cmd = crate::common::Run::from(fx.fleetform())
            .env("FLEETFORM_TOKEN", gh.token())
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_REPOSITORY", MANAGER_REPO);
        let out = scale
            .configure(cmd, scheduled)
            .args(["drift", "--env", "staging", "--issues", "--json"])
            .args(["--manager-repo", MANAGER_REPO, "--etag-cache"])
            .arg(&cache)
            .arg("--terraform")
            .arg(&stand_in)
            .output();
        tally.end(&gh, before, &report(&out));
    }
    let wall = started.elapsed().as_secs_f64();
    let issues = gh.issues(MANAGER_REPO);
    let mut titles: Vec<&str> = issues.iter().map(|i| i.title.as_str()).collect();
    titles.sort();
    let all = titles.len();
    titles.dedup();
    let mut row = tally.row(&gh, scale, scheduled, wall);
    row["customers"] = json!(n);
    row["done"] = json!(titles.len() == n);
    row["issues"] = json!(titles.len());
    row["duplicated"] = json!(all - titles.len());
    row
}

#[test]
#[ignore = "a bench: bash bench/run.sh --github-only"]
fn drift_over_a_drifted_fleet_across_runs() {
    let n = setting("FLEETFORM_BENCH_CUSTOMERS", 2000);
    let scale = Scale::from_env();
    for scheduled in modes() {
        let row = drift_until_done(n, &scale, scheduled);
        println!("BENCH {row}");
    }
}

/// The bench at smoke size in the default run (a few seconds): with the
/// scheduler, drift and sync finish across runs with no limit answer,
/// each run within its write budget, nothing written twice; without it,
/// the same runs meet the limit.
#[test]
fn bench_smoke_the_scheduler_keeps_inside_the_limits_where_off_does_not() {
    let scale = Scale {
        time: 5,
        writes_per_hour: 2,
    };
    let drift = [true, false].map(|on| drift_until_done(3, &scale, on));
    let sync = [true, false].map(|on| crate::bench::fleet::sync_until_done(3, &scale, on));
    for [on, off] in [&drift, &sync] {
        assert_eq!(on["done"], true, "{on}");
        assert_eq!(on["limit_answers"], 0, "{on}");
        assert_eq!(on["duplicated"], 0, "{on}");
        assert!(on["most_writes_in_a_run"].as_u64().unwrap() <= 2, "{on}");
        assert!(on["runs"].as_u64().unwrap() >= 2, "{on}");
        assert!(off["limit_answers"].as_u64().unwrap() > 0, "{off}");
    }
}
