//! OIDC tokens in every workflow template (`workflows/*.yml`, read with a
//! YAML parser): a job that needs one asks for it (`id-token: write` in its
//! own permissions), and no other job does (nor any workflow at its top).
//!
//! A job needs a token when it assumes a role
//! (`aws-actions/configure-aws-credentials`), deploys GitHub Pages
//! (`actions/deploy-pages` proves the run with one), proves its run to the
//! dispatch relay (the trigger's `relay-url`), writes the manager's records
//! store (every fleetform command that records: it assumes the records
//! role, `FLEETFORM_RECORDS_WRITE_ROLE`), or calls a reusable workflow one
//! of whose jobs asks for one (the caller's permissions cap the callee's).

use yaml_serde::Value as Y;

use crate::templates::jobs::{load, s};

/// The fleetform actions that write the records store.
const RECORDING_ACTIONS: [&str; 5] = ["authorise", "plan", "apply", "conclude", "drift"];

/// `fleetform <command>` lines that write the records store (audit lines,
/// deployment records, a rollout's events, an offboarding's archive).
const RECORDING_COMMANDS: [&str; 5] = [
    "fleetform rollout ",
    "fleetform state ",
    "fleetform apply ",
    "fleetform plan ",
    "fleetform customers offboard ",
];

fn templates() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yml"))
        .map(|n| format!("workflows/{n}"))
        .collect();
    names.sort();
    names
}

fn steps(job: &Y) -> &[Y] {
    job["steps"].as_sequence().map_or(&[], |v| v.as_slice())
}

fn uses(step: &Y) -> &str {
    step["uses"].as_str().unwrap_or_default()
}

fn asks_for_a_token(job: &Y) -> bool {
    job["permissions"]
        .get("id-token")
        .and_then(Y::as_str)
        .is_some_and(|v| v == "write")
}

/// Whether a step writes the records store.
fn records(step: &Y) -> bool {
    let action = uses(step);
    if let Some(rest) = action.strip_prefix("fleetform/fleetform/actions/") {
        // A drift merge (`from-reports`) plans nothing: it reads the
        // shards' reports and writes issues, no record.
        let merge = step["with"].get("from-reports").is_some();
        return !merge
            && RECORDING_ACTIONS
                .iter()
                .any(|a| rest.starts_with(&format!("{a}@")));
    }
    let run = step["run"].as_str().unwrap_or_default();
    run.lines().any(|l| {
        let l = format!("{} ", l.trim());
        RECORDING_COMMANDS
            .iter()
            .any(|c| l.starts_with(c) || l.contains(&format!(") {c}")))
    })
}

/// Why a job needs an OIDC token (empty: it does not).
fn needs(job: &Y) -> Vec<String> {
    let mut why = Vec::new();
    let all = steps(job);
    if all
        .iter()
        .any(|st| uses(st).starts_with("aws-actions/configure-aws-credentials@"))
    {
        why.push("assumes a role".to_string());
    }
    if all
        .iter()
        .any(|st| uses(st).starts_with("actions/deploy-pages@"))
    {
        why.push("deploys GitHub Pages".to_string());
    }
    if all.iter().any(|st| st["with"].get("relay-url").is_some()) {
        why.push("proves its run to the relay".to_string());
    }
    if all.iter().any(records) {
        why.push("writes the records store (with the records role)".to_string());
    }
    if let Some(callee) = job["uses"]
        .as_str()
        .and_then(|u| u.strip_prefix("./.github/"))
    {
        let doc = load(&format!(
            "workflows/{}",
            callee.trim_start_matches("workflows/")
        ));
        let asking: Vec<&str> = doc["jobs"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, j)| asks_for_a_token(j))
            .map(|(n, _)| s(n, "job name"))
            .collect();
        if !asking.is_empty() {
            why.push(format!(
                "calls {callee}, whose {} ask for one",
                asking.join(", ")
            ));
        }
    }
    why
}

/// Every mismatch of `rel`: a job that needs a token without asking, one
/// that asks without needing it, one that writes records without assuming
/// the records role, and a token asked for at the top.
fn problems(rel: &str) -> Vec<String> {
    let doc = load(rel);
    let mut out = Vec::new();
    if doc["permissions"].get("id-token").is_some() {
        out.push(format!(
            "{rel}: id-token at the top (give it to the jobs that need it)"
        ));
    }
    for (name, job) in doc["jobs"].as_mapping().unwrap() {
        let name = s(name, "job name");
        let why = needs(job);
        match (why.is_empty(), asks_for_a_token(job)) {
            (false, false) => out.push(format!(
                "{rel}: job `{name}` {} but has no `id-token: write`",
                why.join(", ")
            )),
            (true, true) => out.push(format!(
                "{rel}: job `{name}` has `id-token: write` but needs no token"
            )),
            _ => {}
        }
        let assumes_records = steps(job).iter().any(|st| {
            st["with"]["role-to-assume"].as_str()
                == Some("${{ vars.FLEETFORM_RECORDS_WRITE_ROLE }}")
        });
        if steps(job).iter().any(records) && !assumes_records {
            out.push(format!(
                "{rel}: job `{name}` writes the records store but assumes no records role (FLEETFORM_RECORDS_WRITE_ROLE)"
            ));
        }
    }
    out
}

/// The rule over every template.
#[test]
fn every_job_that_needs_an_oidc_token_asks_for_it_and_no_other_does() {
    let all: Vec<String> = templates().iter().flat_map(|rel| problems(rel)).collect();
    assert!(
        all.is_empty(),
        "OIDC tokens in the templates:\n  {}",
        all.join("\n  ")
    );
}

/// The rule tells the cases apart: each kind of need, a token asked for
/// without one, and records written without the records role.
#[test]
fn the_oidc_rule_finds_each_kind_of_mismatch() {
    let job = |text: &str| -> Y { yaml_serde::from_str(text).unwrap() };
    let assume = job(
        "permissions: {contents: read}\nsteps:\n  - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c\n    with: {role-to-assume: x}\n",
    );
    assert_eq!(needs(&assume), ["assumes a role"]);
    assert!(!asks_for_a_token(&assume));
    let pages = job("permissions: {id-token: write}\nsteps:\n  - uses: actions/deploy-pages@v4\n");
    assert_eq!(needs(&pages), ["deploys GitHub Pages"]);
    assert!(asks_for_a_token(&pages));
    let idle = job("permissions: {id-token: write}\nsteps:\n  - run: echo hi\n");
    assert!(needs(&idle).is_empty() && asks_for_a_token(&idle));
    let ops = job("steps:\n  - run: |\n      fleetform state rm \"$X\" --github\n");
    assert_eq!(
        needs(&ops),
        ["writes the records store (with the records role)"]
    );
    let switch = job("steps:\n  - run: |\n      case \"$A\" in\n        halt) fleetform rollout halt ;;\n      esac\n");
    assert!(records(&steps(&switch)[0]));
    let report = job("steps:\n  - run: fleetform report --records --html x\n");
    assert!(needs(&report).is_empty(), "reading is not writing");
}
