//! #84's acceptance, a relay killed mid-batch: two customers' events leave
//! the relay in one `fleetform-batch` dispatch; GitHub takes it, and the
//! relay is killed (SIGKILL) before GitHub's answer comes, so it never
//! learns the batch went. Started again, it finds both events claimed and
//! not done once the claims are stale, and dispatches them again: the
//! manager receives each event twice. Every dispatch the manager received
//! runs its workflow as GitHub runs it (the batch workflow, or the deploy
//! workflow for a plain one), with the records in the bucket: each
//! customer's event is planned once, and every later delivery of it ends
//! at `authorise` as a duplicate.

use std::time::Duration;

use serde_json::Value;

use fleetform::relay::events::STALE_ENV;

use crate::relay::durable::{dispatch_on_a_thread, with_bucket, AWS};
use crate::relay::serve::GLOBEX;
use crate::support::actions_runner::{Event, WorkflowRun};
use crate::support::fake_github::Fault;
use crate::templates::deploy_run::deploy_runner;
use crate::world::{ACME, MANAGER};

/// How long a claim stays another instance's (the relay's
/// [`STALE_ENV`], 2 minutes in service).
const STALE: &str = "6";

fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < end,
            "waited {secs} s for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The customers whose event each dispatch carries (a batch's entries).
fn customers_of(d: &Value) -> Vec<String> {
    crate::relay::scale::payloads(d)
        .iter()
        .map(|p| p["customer_repo"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// (customer repo, planned) for each entry a run worked on: whether its
/// staging plan ran, or its authorise found the event claimed already.
fn planned_in(run: &WorkflowRun, repos: &[String]) -> Vec<(String, bool)> {
    let prefix = |i: usize| match run.path.ends_with("manager-batch.yml") {
        true => format!("deploy ({i}) / "),
        false => String::new(),
    };
    repos
        .iter()
        .enumerate()
        .map(|(i, repo)| {
            let p = prefix(i);
            let authorise = run.job(&format!("{p}authorise"));
            assert_eq!(authorise.result, "success", "{}", authorise.log);
            let plan = run.job(&format!("{p}plan-staging"));
            let duplicate = authorise
                .log
                .contains("duplicate: this fleetform-plan dispatch");
            assert_ne!(
                plan.result == "success",
                duplicate,
                "{repo}: plan {} after authorise:\n{}",
                plan.result,
                authorise.log
            );
            (repo.clone(), !duplicate)
        })
        .collect()
}

#[test]
fn a_batch_sent_again_after_the_relay_died_mid_send_is_planned_once() {
    let (_moto, rw) = with_bucket();
    // The manager has the batch workflow: the relay sends batches.
    rw.w.fx.write(
        "manager/.github/workflows/manager-batch.yml",
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/manager-batch.yml"),
        )
        .unwrap(),
    );
    let env = [AWS[0], AWS[1], AWS[2], (STALE_ENV, STALE)];
    let mut a = rw.start_env(8, 10, &[], &env);
    let acme = rw.w.change_acme("feature", 11);
    let globex_vars = rw.w.fx.read("customers/globex/infra/variables.yml");
    let globex = rw.w.gh.commit(
        GLOBEX,
        "feature",
        &[("infra/variables.yml", &globex_vars.replace("3", "4"))],
    );
    // GitHub takes the first dispatch and holds its answer until the
    // test ends (the relay is killed long before): a loaded machine
    // cannot let the answer reach the relay before the kill.
    rw.w.gh.inject_matching(
        "POST",
        "/dispatches",
        Fault::AnswerLate(Duration::from_secs(3600)),
    );
    let callers: Vec<_> = [(ACME, acme.clone()), (GLOBEX, globex.clone())]
        .into_iter()
        .map(|(repo, sha)| {
            let (url, token) = (a.url.clone(), rw.push_token(repo, "feature", &sha));
            // The trigger's request: its connection ends with the relay.
            dispatch_on_a_thread(url, token)
        })
        .collect();
    wait_until("GitHub took the batch", 180, || {
        let sent = rw.w.gh.dispatches(MANAGER);
        sent.len() == 1 && customers_of(&sent[0]).len() == 2
    });
    // Killed before GitHub's answer came.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    for c in callers {
        assert!(
            c.join().unwrap().is_empty(),
            "the relay answered before it died"
        );
    }
    rw.w.gh.clear_faults();
    let _a2 = rw.start_env(8, 10, &[], &env);
    wait_until("each event dispatched again", 300, || {
        let sent = rw.w.gh.dispatches(MANAGER);
        let all: Vec<String> = sent.iter().flat_map(customers_of).collect();
        [ACME, GLOBEX]
            .iter()
            .all(|r| all.iter().filter(|c| c == r).count() >= 2)
    });

    // Every dispatch the manager received runs as GitHub runs it.
    let mut runner = deploy_runner(&rw.w);
    for (k, v) in AWS {
        runner.machine_env(k, v);
    }
    let mut planned: Vec<(String, bool)> = Vec::new();
    for d in rw.w.gh.dispatches(MANAGER) {
        let workflow = match d["event_type"].as_str() {
            Some("fleetform-batch") => "workflows/manager-batch.yml",
            _ => "workflows/manager-deploy.yml",
        };
        let run = runner.run(&rw.w.gh, workflow, &Event::dispatch(&d));
        planned.extend(planned_in(&run, &customers_of(&d)));
    }
    for repo in [ACME, GLOBEX] {
        let runs: Vec<bool> = planned
            .iter()
            .filter(|(r, _)| r == repo)
            .map(|(_, p)| *p)
            .collect();
        assert!(runs.len() >= 2, "{repo}: delivered {} times", runs.len());
        assert_eq!(
            runs.iter().filter(|p| **p).count(),
            1,
            "{repo}: planned {runs:?}"
        );
    }
    for (repo, sha) in [(ACME, &acme), (GLOBEX, &globex)] {
        let staging =
            rw.w.gh
                .status_of(repo, sha, "infra/terraform-deploy/staging")
                .unwrap_or_else(|| panic!("{repo}: no staging status"));
        assert_eq!(staging.state, "success", "{repo}: {staging:?}");
    }
    rw.w.gh.assert_clean();
}
