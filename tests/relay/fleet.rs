//! The relay serving a fleet: the customer loop with no customer-held
//! secret, concurrent dispatches, onboarding, load, the container image and
//! the schema (the relay world of `relay`).

use serde_json::json;

use crate::common::{self, stderr, stdout};
use crate::world::{ok, ACME, MANAGER};

use crate::relay::scale::{burst, received, relay_at_githubs_limits};
use crate::relay::serve::{dispatch, http, http_from, verified, RelayWorld, SLUG};
use crate::support::readme_budgets::Budgets;

/// The book's "Request budgets" rows of the relay's routes.
pub(crate) const DISPATCH: &str = "`relay serve`, `POST /dispatch`";
/// The redelivery sweep's requests, counted by its own row, on its own
/// clock beside the routes.
pub(crate) const SWEEP_PATH: &str = "/app/hook/deliveries";
const SCHEMA: &str = "`relay serve`, `GET /schema`";

/// The whole loop: the customer's trigger (OIDC token only) → the relay →
/// the manager's plan (trusting the App as sender) → the PR comment. No
/// customer-held secret anywhere.
#[test]
fn the_customer_loop_runs_with_no_customer_held_secret() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("feature", 11);
    let pr = rw.w.gh.open_pr(ACME, "feature", "main", "eleven");
    let id = rw.w.gh.repo_id(ACME);
    rw.issuer.set_runner_claims(rw.issuer.claims(
        ACME,
        id,
        "pull_request",
        "refs/heads/feature",
        &sha,
    ));
    let (mut cmd, _files) = rw.w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = rw.through_relay(&mut cmd, &relay.url).output().unwrap();
    ok(&out);
    assert!(
        stdout(&out).contains("dispatched fleetform-plan for acme"),
        "{}",
        stdout(&out)
    );
    // A new token for each request to the relay (the schema, the
    // dispatch): GitHub's tokens live minutes, a busy relay's caller may
    // wait nine.
    assert_eq!(rw.issuer.token_requests(), 2);
    let d = rw.w.gh.dispatches(MANAGER).last().cloned().unwrap();
    assert_eq!(d["sender"]["login"], format!("{SLUG}[bot]"));

    // The manager's plan job trusts the relay's App as the sender: it
    // needs no dispatch secret for it.
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": d["sender"] });
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    let out = cmd
        .env_remove("FLEETFORM_DISPATCH_SECRET")
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
        .unwrap();
    ok(&out);
    let comments = rw.w.gh.comments(ACME, pr);
    assert_eq!(comments.len(), 1, "{}", stderr(&out));

    // The same payload sent by anyone else: refused (no signature).
    let forged = json!({ "action": d["event_type"], "client_payload": d["client_payload"], "sender": { "login": "someone", "type": "User" } });
    let (mut cmd, _f) =
        rw.w.step(MANAGER, "repository_dispatch", &forged, &"e".repeat(40));
    let out = cmd
        .args(["plan", "--dispatch", "--env", "staging"])
        .output()
        .unwrap();
    common::assert_code(&out, 3);
    assert!(
        stderr(&out).contains("only the relay (as the manager App) sends"),
        "{}",
        stderr(&out)
    );
}

/// 200 pushes, each asked for twice at once (200 runners and their
/// re-runs, 400 client addresses), at GitHub's default limits (the relay's
/// and the fake's), the manager batching: every caller ends accepted
/// (asking again after a busy answer's Retry-After, as the trigger does:
/// the reads of 400 requests on one repository are more than its
/// installation's 900 points a minute, so some wait for the next minute),
/// each event reaches the manager once, none lost, and GitHub never
/// answers a limit.
#[test]
fn two_hundred_concurrent_dispatches_none_lost_or_doubled() {
    let rw = RelayWorld::new();
    rw.w.fx.write(
        "manager/.github/workflows/manager-batch.yml",
        "# the manager's batch workflow (its presence turns batches on)\n",
    );
    let shas: Vec<String> = (0..200).map(|i| rw.w.change_acme("main", 20 + i)).collect();
    let relay = relay_at_githubs_limits(&rw);
    let pushes: Vec<(String, String)> = shas
        .iter()
        .flat_map(|sha| [0, 1].map(|_| (ACME.to_string(), sha.clone())))
        .collect();
    let b = burst(&rw, &relay, &pushes);
    for (status, answer, _) in &b.answers {
        assert!(verified(*status, answer), "{status} {answer}");
    }
    crate::relay::redeliver::wait_idle(&relay);
    let (_, events) = received(&rw);
    assert_eq!(
        events.keys().cloned().collect::<Vec<_>>(),
        shas.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        "an event lost"
    );
    assert!(events.values().all(|n| *n == 1), "an event doubled");
    assert_eq!(rw.w.gh.limit_answers(), 0, "GitHub answered a limit");
    // The relay reads nothing on the customer's repo for a push (one read
    // per attempt was 465): the manager reads the pull request it merged.
    let customer_reads =
        rw.w.gh
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with(&format!("/repos/{ACME}")))
            .count();
    assert_eq!(customer_reads, 0, "{}", rw.w.gh.request_lines());
}

/// Without the manager's batch workflow every event is a dispatch of its
/// own: at GitHub's default limits the minute's 80 are sent, and the
/// callers past them are answered 503 with the wait as Retry-After within
/// seconds (nothing sent for them, no caller held for the minute), never
/// a limit answer from GitHub.
#[test]
fn past_the_minutes_writes_callers_are_told_when_to_come_back() {
    let rw = RelayWorld::new();
    let shas: Vec<String> = (0..90).map(|i| rw.w.change_acme("main", 300 + i)).collect();
    let relay = relay_at_githubs_limits(&rw);
    let url = relay.url.clone();
    let handles: Vec<_> = shas
        .iter()
        .enumerate()
        .map(|(i, sha)| {
            let (url, t) = (url.clone(), rw.push_token(ACME, "main", sha));
            let source = std::net::Ipv4Addr::new(127, 0, 2, 1 + i as u8);
            std::thread::spawn(move || {
                let body = json!({ "token": t }).to_string();
                http_from(source, &url, "POST", "/dispatch", &[], body.as_bytes())
            })
        })
        .collect();
    let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    let told: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(accepted, 80, "{answers:?}");
    assert_eq!(told.len(), 10, "{answers:?}");
    // Told, not held: a caller held for the minute would have been
    // dispatched once it passed and answered 202 (an 81st acceptance
    // above), whatever the machine's load; no clock is read.
    for (_, answer) in &told {
        assert_eq!(answer["error"], "queued_too_long", "{answer}");
        let wait = answer["retry_after"].as_u64().unwrap_or(0);
        assert!((30..=62).contains(&wait), "{answer}");
        // Told its place: asked again, the event keeps it.
        let place = answer["place"].as_u64().unwrap_or(0);
        assert!((1..=10).contains(&place), "{answer}");
    }
    assert_eq!(rw.w.gh.dispatches(MANAGER).len(), 80);
    assert_eq!(rw.w.gh.limit_answers(), 0, "GitHub answered a limit");
    // Batches are configured (the default), the workflow is missing: said
    // at start.
    let log = std::fs::read_to_string(&relay.stderr_log).unwrap();
    assert!(
        log.contains("warning: one event per dispatch: batches of 32 are configured but the manager checkout has no .github/workflows/manager-batch.yml"),
        "{log}"
    );
}

/// Behind the relay, onboarding issues no key and hands out the relay
/// trigger; `customers add` records the repository id GitHub reports.
#[test]
fn onboarding_behind_the_relay_hands_out_no_credential() {
    let rw = RelayWorld::new();
    rw.w.gh.add_repo("hooli/infra");
    let out = common::Run::from(rw.w.fx.fleetform())
        .env_remove("FLEETFORM_DISPATCH_SECRET")
        .env("GITHUB_API_URL", rw.w.gh.api_url())
        .env("FLEETFORM_TOKEN", rw.w.gh.token())
        .args([
            "customers",
            "add",
            "hooli",
            "--repo",
            "hooli/infra",
            "--contact",
            "ops@hooli.example",
        ])
        .output();
    ok(&out);
    assert!(!stdout(&out).contains("ffdk1."), "{}", stdout(&out));
    let registry = rw.w.fx.read("manager/customers.yml");
    assert!(
        registry.contains(&format!(
            "repo: hooli/infra\n    repo_id: {}\n",
            rw.w.gh.repo_id("hooli/infra")
        )),
        "{registry}"
    );
    // Without a token to look it up, the relay's manager needs the id given.
    let out = common::Run::from(rw.w.fx.fleetform())
        .args([
            "customers",
            "add",
            "pied",
            "--repo",
            "pied/piper",
            "--contact",
            "ops@pied.example",
        ])
        .output();
    common::assert_code(&out, 2);
    assert!(stderr(&out).contains("--repo-id"), "{}", stderr(&out));

    let out = common::Run::from(rw.w.fx.fleetform())
        .args([
            "customers",
            "instructions",
            "hooli",
            "--manager-repo",
            MANAGER,
        ])
        .args(["--relay-url", "https://relay.provider.example"])
        .output();
    ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("`FLEETFORM_RELAY_URL` | `https://relay.provider.example`"),
        "{text}"
    );
    assert!(
        text.contains("relay-url: ${{ vars.FLEETFORM_RELAY_URL }}")
            && text.contains("relay-audience: ${{ vars.FLEETFORM_RELAY_AUDIENCE }}"),
        "{text}"
    );
    // The audience the relay requires: the manager repo's address.
    assert!(
        text.contains(&format!(
            "`FLEETFORM_RELAY_AUDIENCE` | `{}`",
            RelayWorld::audience()
        )),
        "{text}"
    );
    assert!(text.contains("id-token: write"), "{text}");
    for absent in ["MANAGER_REPO_PAT", "FLEETFORM_DISPATCH_KEY", "secrets."] {
        assert!(!text.contains(absent), "{absent}: {text}");
    }
}

/// The relay's image holds the static binary only and runs it unprivileged.
#[test]
fn the_relay_image_is_the_binary_alone_run_unprivileged() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"),
    )
    .unwrap();
    let instructions: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(instructions.first(), Some(&"FROM scratch"), "{text}");
    assert!(
        instructions.contains(&"COPY fleetform /fleetform"),
        "{text}"
    );
    assert!(
        instructions
            .iter()
            .filter(|l| l.starts_with("COPY"))
            .count()
            == 1,
        "{text}"
    );
    assert!(instructions.contains(&"USER 65532:65532"), "{text}");
    assert!(
        instructions.contains(&r#"ENTRYPOINT ["/fleetform", "-C", "/manager", "relay", "serve"]"#),
        "{text}"
    );
}

/// `GET /schema` answers a registered, active customer's run only.
#[test]
fn the_schema_is_served_to_registered_customers_only() {
    let rw = RelayWorld::new();
    let relay = rw.start(16);
    let sha = rw.w.change_acme("main", 16);
    let token = rw.push_token(ACME, "main", &sha);
    let auth = format!("Bearer {token}");
    rw.w.gh.reset_counters();
    let (status, answer) = http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{answer}");
    // The book's "Request budgets": the schema file, and the first time
    // what every route shares (the registry, the manager App's token and
    // its installation).
    let b = Budgets::from_book();
    let shared = b.n(DISPATCH, " per 30 s)")
        + b.n(DISPATCH, " per repository per 50 min")
        + b.n(DISPATCH, " for the installation's lookup");
    assert_eq!(
        rw.w.gh.request_count_but(SWEEP_PATH),
        b.lead(SCHEMA) + shared,
        "{}",
        rw.w.gh.request_lines()
    );
    rw.w.gh.reset_counters();
    let (status, again) = http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!((status, &again), (200, &answer));
    assert_eq!(
        rw.w.gh.request_count_but(SWEEP_PATH),
        b.lead(SCHEMA),
        "{}",
        rw.w.gh.request_lines()
    );
    assert_eq!(answer["schema_path"], "schema/variables.schema.json");
    assert!(answer["schema"]["properties"].is_object(), "{answer}");
    assert_eq!(answer["schema_formats"], "assert", "{answer}");
    assert_eq!(answer["variables"], "infra/variables.yml");
    let (status, answer) = http(&relay.url, "GET", "/schema", &[], b"");
    assert_eq!((status, answer["error"].as_str()), (401, Some("no_token")));
    rw.w.gh.add_repo("evil/infra");
    let evil = rw.push_token("evil/infra", "main", &sha);
    let auth = format!("Bearer {evil}");
    let (status, answer) = http(
        &relay.url,
        "GET",
        "/schema",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("unknown_repo")),
        "{answer}"
    );
    // Reading the schema does not use up the token's one dispatch.
    let (status, answer) = dispatch(&relay, &json!({ "token": token }));
    assert_eq!(status, 202, "{answer}");
}
