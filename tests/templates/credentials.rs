//! The workflow templates' credentials: the doctor's weekly run, OIDC only
//! where a customer's role is assumed, and the relay trigger holding no
//! provider credential.

use std::collections::BTreeMap;

use yaml_serde::Value as Y;

use crate::templates::jobs::{header, load, read, s, steps_using};

/// The doctor runs weekly and on demand, reads nothing with the job's own
/// token but the checkout, and hands its two tokens to fleetform through
/// `env:` only.
#[test]
fn the_doctor_template_runs_weekly_with_its_tokens_in_env() {
    let rel = "workflows/manager-doctor.yml";
    let doc = load(rel);
    let on = doc["on"].as_mapping().unwrap();
    let events: Vec<&str> = on.keys().map(|k| s(k, "event")).collect();
    assert_eq!(events, ["schedule", "workflow_dispatch"]);
    let cron = s(&doc["on"]["schedule"][0]["cron"], "cron");
    assert_eq!(cron.split(' ').nth(4), Some("1"), "weekly: {cron}");
    assert_eq!(
        yaml_serde::to_string(&doc["permissions"]).unwrap().trim(),
        "{}"
    );
    let job = &doc["jobs"]["doctor"];
    assert_eq!(job["environment"].as_str(), Some("doctor"));
    assert_eq!(
        yaml_serde::to_string(&job["permissions"]).unwrap().trim(),
        "contents: read\nid-token: write"
    );
    let steps = job["steps"].as_sequence().unwrap();
    // With state in an s3 backend, the doctor role reads the bucket's
    // settings; none named, none assumed.
    let assume: Vec<&Y> = steps_using(steps, "aws-actions/configure-aws-credentials@").collect();
    assert_eq!(assume.len(), 1, "{rel}");
    assert_eq!(
        assume[0]["with"]["role-to-assume"].as_str(),
        Some("${{ vars.FLEETFORM_DOCTOR_ROLE }}")
    );
    assert_eq!(
        assume[0]["if"].as_str(),
        Some("vars.FLEETFORM_DOCTOR_ROLE != ''")
    );
    let run = steps
        .iter()
        .find(|st| st.get("run").is_some())
        .expect("a run step");
    assert_eq!(s(&run["run"], "run").trim(), "fleetform doctor");
    let env = &run["env"];
    assert_eq!(
        env["FLEETFORM_MANAGER_TOKEN"].as_str(),
        Some("${{ secrets.FLEETFORM_DOCTOR_TOKEN }}")
    );
    // The customer repos are read with the customer App, a token per
    // repository (#81 point 3): no token for them all.
    assert_eq!(env.get("FLEETFORM_TOKEN"), None);
    assert_eq!(
        env["FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"].as_str(),
        Some("${{ secrets.FLEETFORM_CUSTOMER_APP_PRIVATE_KEY }}")
    );
    assert_eq!(
        env["FLEETFORM_CUSTOMER_APP_ID"].as_str(),
        Some("${{ vars.FLEETFORM_CUSTOMER_APP_ID }}")
    );
    for st in steps {
        let text = st.get("run").and_then(|r| r.as_str()).unwrap_or_default();
        assert!(!text.contains("${{"), "{rel}: an expression inside run:");
    }
    assert!(steps
        .iter()
        .any(|st| st["uses"].as_str() == Some("fleetform/fleetform@v1")));
    let h = header(rel);
    for needle in [
        "exit 5",
        "FLEETFORM_DOCTOR_TOKEN",
        "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
        "names only",
    ] {
        assert!(h.contains(needle), "the header explains: {needle}");
    }
}

/// OIDC tokens only where a customer's role is assumed: each deploy plan
/// and apply job (its own stage's role, from the authorise job's
/// `identity` output, never from the payload), each drift job and each PR
/// plan shard (the matrix job's plan role), and the two jobs that read the
/// records store (the dashboard's build, the role in
/// `vars.FLEETFORM_RECORDS_READ_ROLE`; the PR's impact job runs the pull
/// request's code unreviewed and holds none). No other job of any template may
/// ask for one, but the dashboard's Pages deployment, which GitHub requires
/// it for.
#[test]
fn oidc_only_in_jobs_that_assume_the_customers_role() {
    let rels = [
        "workflows/customer-trigger.yml",
        "workflows/customer-trigger-token.yml",
        "workflows/inbox-relay.yml",
        "workflows/manager-dashboard.yml",
        "workflows/manager-deploy.yml",
        "workflows/manager-doctor.yml",
        "workflows/manager-drift.yml",
        "workflows/manager-pr.yml",
        "workflows/manager-rollout.yml",
    ];
    let mut with_oidc = Vec::new();
    for rel in rels {
        let doc = load(rel);
        assert!(
            doc["permissions"].get("id-token").is_none(),
            "{rel}: not at the top"
        );
        for (name, job) in doc["jobs"].as_mapping().unwrap() {
            let name = s(name, "job name").to_string();
            let oidc = job["permissions"]
                .get("id-token")
                .map(|v| s(v, "id-token").to_string());
            let assumes = |st: &&Y| {
                st["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            };
            let steps = job["steps"].as_sequence().unwrap();
            // The records role's step (its credential for fleetform alone)
            // is checked by `records_are_written_with_their_own_role`.
            let assume = steps
                .iter()
                .filter(assumes)
                .find(|st| st["id"].as_str() != Some("records"));
            let pages = steps_using(steps, "actions/deploy-pages@").next().is_some();
            let records = steps
                .iter()
                .filter(assumes)
                .any(|st| st["id"].as_str() == Some("records"));
            match (oidc.as_deref(), assume) {
                (None, None) => continue,
                // Only the records role (the deploy's authorise and
                // conclude jobs).
                (Some("write"), None) if records => {
                    with_oidc.push(format!("{rel}:{name}"));
                }
                // GitHub Pages' deployment proves the run with an OIDC token.
                (Some("write"), None) if pages => continue,
                // The customer's trigger proves its run to the relay.
                (Some("write"), None) if rel == "workflows/customer-trigger.yml" => {
                    with_oidc.push(format!("{rel}:{name}"));
                }
                (Some("write"), Some(step)) => {
                    let role = s(&step["with"]["role-to-assume"], "role-to-assume");
                    if role == "${{ vars.FLEETFORM_DOCTOR_ROLE }}" {
                        // The state bucket's settings, for doctor alone.
                        assert!(rel.ends_with("manager-doctor.yml"), "{rel}: {name}");
                        with_oidc.push(format!("{rel}:{name}"));
                        continue;
                    }
                    if role == "${{ vars.FLEETFORM_RECORDS_READ_ROLE }}" {
                        // The records store's read role, only where the
                        // job reads the records and never beside another.
                        assert!(rel.ends_with("manager-dashboard.yml"), "{rel}: {name}");
                        assert_eq!(
                            step["if"].as_str(),
                            Some("vars.FLEETFORM_RECORDS_READ_ROLE != ''"),
                            "{rel}: {name}: no role, no assume"
                        );
                        with_oidc.push(format!("{rel}:{name}"));
                        continue;
                    }
                    let expected = if let Some(env) = name.strip_prefix("plan-") {
                        format!("fromJSON(needs.authorise.outputs.identity)['{env}'].plan.role_arn")
                    } else if let Some(env) = name.strip_prefix("apply-") {
                        format!(
                            "fromJSON(needs.authorise.outputs.identity)['{env}'].apply.role_arn"
                        )
                    } else {
                        "matrix.identity.role_arn".to_string()
                    };
                    assert_eq!(role, format!("${{{{ {expected} }}}}"), "{rel}: {name}");
                    assert!(
                        s(&step["uses"], "uses")
                            .contains("@e6de054238d6b7531b4efff3b6587d9aade6a06c"),
                        "{rel}: {name}: pinned to a commit"
                    );
                    with_oidc.push(format!("{rel}:{name}"));
                }
                other => {
                    panic!("{rel}: {name}: id-token {other:?} without (or with) an assume step")
                }
            }
        }
    }
    assert_eq!(
        with_oidc,
        [
            "workflows/customer-trigger.yml:trigger",
            "workflows/manager-dashboard.yml:build",
            "workflows/manager-deploy.yml:authorise",
            "workflows/manager-deploy.yml:plan-staging",
            "workflows/manager-deploy.yml:plan-production",
            "workflows/manager-deploy.yml:apply-staging",
            "workflows/manager-deploy.yml:apply-production",
            "workflows/manager-deploy.yml:conclude",
            "workflows/manager-doctor.yml:doctor",
            "workflows/manager-drift.yml:drift",
            "workflows/manager-drift.yml:repair-plan",
            "workflows/manager-drift.yml:repair-apply",
            "workflows/manager-drift.yml:repair-confirm",
            "workflows/manager-pr.yml:plan",
            "workflows/manager-rollout.yml:start",
            "workflows/manager-rollout.yml:control",
            "workflows/manager-rollout.yml:next",
            "workflows/manager-rollout.yml:plan",
            "workflows/manager-rollout.yml:tick",
            "workflows/manager-rollout.yml:deployments",
        ]
    );
}

/// The default trigger holds no credential of the provider: its job may
/// read the checkout and ask for an OIDC token, nothing else; it names no
/// secret; the trigger step goes through the relay; forks and Dependabot
/// (no OIDC token) get a notice.
#[test]
fn the_relay_trigger_holds_no_provider_credential() {
    let rel = "workflows/customer-trigger.yml";
    let doc = load(rel);
    assert_eq!(
        yaml_serde::to_string(&doc["permissions"]).unwrap().trim(),
        "{}"
    );
    let perms = doc["jobs"]["trigger"]["permissions"].as_mapping().unwrap();
    let got: BTreeMap<&str, &str> = perms
        .iter()
        .map(|(k, v)| (s(k, "perm"), s(v, "perm")))
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([("contents", "read"), ("id-token", "write")])
    );
    let text = read(rel);
    assert!(!text.contains("secrets."), "{rel} names a secret");
    let steps = doc["jobs"]["trigger"]["steps"].as_sequence().unwrap();
    let trigger = steps_using(steps, "fleetform/fleetform/actions/trigger@")
        .next()
        .unwrap();
    let with: BTreeMap<&str, &str> = trigger["with"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (s(k, "with"), s(v, "with")))
        .collect();
    assert_eq!(
        with,
        BTreeMap::from([
            ("relay-url", "${{ vars.FLEETFORM_RELAY_URL }}"),
            ("relay-audience", "${{ vars.FLEETFORM_RELAY_AUDIENCE }}"),
        ])
    );
    for st in steps.iter().skip(1) {
        assert_eq!(
            st["if"].as_str(),
            Some("steps.identity.outputs.available == 'true'")
        );
    }
    // The inbox (legacy) keeps its relay token in an environment.
    let inbox = load("workflows/inbox-relay.yml");
    assert_eq!(
        inbox["jobs"]["relay"]["environment"].as_str(),
        Some("fleetform-inbox")
    );
}
