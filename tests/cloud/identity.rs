//! The cloud identity of each customer × environment (`identity:` in
//! fleetform.yml, filled from the registry).
//!
//! - The authorise job outputs each enabled environment's plan and apply
//!   role for `aws-actions/configure-aws-credentials`; the plan's comment,
//!   outputs and audit line name the role; nothing a customer sends (its
//!   files, its values, the dispatch payload) changes it.
//! - An apply whose identity changed since its plan is refused.
//! - With moto enforcing IAM (only signed requests of known principals, and
//!   only what their policies allow), a runner identity that may only
//!   assume roles gets the customer's plan role through moto's STS, as
//!   configure-aws-credentials does, and fleetform plans and applies
//!   against the s3 backend with exactly those credentials; the runner's
//!   own credentials are refused.

use crate::common;
use crate::moto;
use crate::world;

use std::process::Command;

use serde_json::{json, Value};

use common::{require_terraform, stderr, stdout, Fixture};
use world::{ok, World, ACME, MANAGER};

const ACME_ACCOUNT: &str = "111111111111";
const ACME_PROD_ACCOUNT: &str = "222222222222";
const HOSTILE_ACCOUNT: &str = "999999999999";

const IDENTITY: &str = r#"
identity:
  aws:
    plan_role: "arn:aws:iam::{account}:role/{customer}-plan"
    apply_role: "arn:aws:iam::{account}:role/{customer}-apply"
    session_name: "fleetform-{customer}-{environment}"
    region: eu-west-1
"#;

/// fleetform.yml names identities; acme's registry entry fills them.
fn with_identity(fx: &Fixture, acme_account: &str, prod_account: &str) {
    fx.append("manager/fleetform.yml", IDENTITY);
    let reg = fx.read("manager/customers.yml");
    let acme = format!(
        "    added: 2026-01-15\n    identity:\n      account: \"{acme_account}\"\n      environments:\n        production:\n          account: \"{prod_account}\"\n"
    );
    let globex = "    added: 2026-03-02\n    identity:\n      account: \"333333333333\"\n";
    let reg = reg.replacen("    added: 2026-01-15\n", &acme, 1).replacen(
        "    added: 2026-03-02\n",
        globex,
        1,
    );
    assert!(reg.contains(acme_account) && reg.contains("333333333333"));
    fx.write("manager/customers.yml", &reg);
}

fn role(account: &str, stage: &str) -> String {
    format!("arn:aws:iam::{account}:role/acme-{stage}")
}

fn dispatch(sha: &str, pr: Option<u64>, event_type: &str, extra: &[(&str, Value)]) -> Value {
    let mut payload = json!({
        "v": 1, "customer_repo": ACME, "sha": sha, "ref": "refs/heads/feature",
        "pr": pr, "event": "pull_request", "trigger_run_url": null,
        "dispatch_id": "d-identity", "files": ["infra/variables.yml"]
    });
    let known = [
        "v",
        "customer_repo",
        "sha",
        "ref",
        "pr",
        "event",
        "trigger_run_url",
        "dispatch_id",
        "files",
    ];
    for (k, v) in extra.iter().filter(|(k, _)| known.contains(k)) {
        payload[*k] = v.clone();
    }
    // Keys the payload does not have ride along after signing, as a
    // customer holding its key could send them.
    let mut d = common::signed(&json!({ "event_type": event_type, "client_payload": payload }));
    for (k, v) in extra.iter().filter(|(k, _)| !known.contains(k)) {
        d["client_payload"][*k] = v.clone();
    }
    d
}

fn authorise(w: &mut World, d: &Value) -> (common::Ran, world::StepFiles) {
    let event = json!({ "action": d["event_type"], "client_payload": d["client_payload"] });
    let (cmd, files) = w.step(MANAGER, "repository_dispatch", &event, &"e".repeat(40));
    (common::Run::from(cmd).arg("authorise").output(), files)
}

#[test]
fn the_authorise_job_hands_each_job_its_role_from_the_registry() {
    let mut w = World::new();
    with_identity(&w.fx, ACME_ACCOUNT, ACME_PROD_ACCOUNT);
    let sha = w.gh.commit(
        ACME,
        "feature",
        &[(
            "infra/variables.yml",
            &w.fx.read("customers/acme/infra/variables.yml"),
        )],
    );
    let (out, files) = authorise(&mut w, &dispatch(&sha, None, "fleetform-plan", &[]));
    ok(&out);
    let ids: Value = serde_json::from_str(&files.outputs()["identity"]).unwrap();
    assert_eq!(
        ids["staging"]["plan"]["role_arn"],
        role(ACME_ACCOUNT, "plan")
    );
    assert_eq!(
        ids["staging"]["apply"]["role_arn"],
        role(ACME_ACCOUNT, "apply")
    );
    assert_eq!(
        ids["production"]["plan"]["role_arn"],
        role(ACME_PROD_ACCOUNT, "plan")
    );
    assert_eq!(
        ids["production"]["apply"]["role_arn"],
        role(ACME_PROD_ACCOUNT, "apply")
    );
    assert_eq!(
        ids["production"]["apply"]["session_name"],
        "fleetform-acme-production"
    );
    assert_eq!(ids["staging"]["plan"]["region"], "eu-west-1");
    assert!(ids["staging"]["plan"].get("external_id").is_none(), "{ids}");

    // Without identity: an empty object, which the templates skip on.
    let mut w = World::new();
    let d = dispatch(&sha_of_main(&w), None, "fleetform-plan", &[]);
    let (out, files) = authorise(&mut w, &d);
    ok(&out);
    assert_eq!(files.outputs()["identity"], "{}");
}

fn sha_of_main(w: &World) -> String {
    w.gh.commit(
        ACME,
        "feature",
        &[(
            "infra/variables.yml",
            &w.fx.read("customers/acme/infra/variables.yml"),
        )],
    )
}

/// Every way a customer can reach the manager: its variables (base and
/// override), extra files in its dispatch, extra payload keys. None moves
/// the identity: values are refused or ignored, the identity named stays
/// the registry's, and the hostile account appears nowhere fleetform
/// writes.
#[test]
fn nothing_a_customer_sends_changes_its_identity() {
    let mut w = World::new();
    with_identity(&w.fx, ACME_ACCOUNT, ACME_PROD_ACCOUNT);
    let hostile_role = format!("arn:aws:iam::{HOSTILE_ACCOUNT}:role/admin");
    let base = w.fx.read("customers/acme/infra/variables.yml");
    type Attempt<'a> = (&'a str, Vec<(String, String)>, Vec<(&'a str, Value)>);
    let attempts: Vec<Attempt> = vec![
        (
            "identity keys in the values",
            vec![(
                "infra/variables.yml".into(),
                format!("{base}\nidentity:\n  account: \"{HOSTILE_ACCOUNT}\"\n  plan_role: {hostile_role}\n"),
            )],
            vec![],
        ),
        (
            "a role in an environment override",
            vec![
                ("infra/variables.yml".into(), base.clone()),
                (
                    "infra/variables.staging.yml".into(),
                    format!("aws_role_arn: {hostile_role}\nrole_to_assume: {hostile_role}\n"),
                ),
            ],
            vec![],
        ),
        (
            "an identity file listed in the dispatch",
            vec![
                ("infra/variables.yml".into(), base.clone()),
                ("infra/identity.yml".into(), format!("account: \"{HOSTILE_ACCOUNT}\"\n")),
            ],
            vec![("files", json!(["infra/variables.yml", "infra/identity.yml"]))],
        ),
        (
            "an identity key in the payload",
            vec![("infra/variables.yml".into(), base.clone())],
            vec![("identity", json!({ "role_arn": hostile_role }))],
        ),
        (
            "a role key in the payload",
            vec![("infra/variables.yml".into(), base.clone())],
            vec![("role_arn", json!(hostile_role))],
        ),
    ];
    for (what, files, extra) in attempts {
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let sha = w.gh.commit(ACME, "feature", &refs);
        let pr = w.gh.open_pr(ACME, "feature", "main", what);
        let d = dispatch(&sha, Some(pr), "fleetform-plan", &extra);
        let (auth, auth_files) = authorise(&mut w, &d);
        let (plan, plan_files) = w.plan_event(&d, "staging");
        let mut seen = format!(
            "{}{}{}{}",
            stdout(&auth),
            stderr(&auth),
            stdout(&plan),
            stderr(&plan)
        );
        for f in [&auth_files, &plan_files] {
            seen.push_str(&std::fs::read_to_string(&f.output).unwrap());
            seen.push_str(&f.summary());
        }
        for c in w.gh.comments(ACME, pr) {
            seen.push_str(&c.body);
        }
        for line in std::fs::read_to_string(w.fx.path("manager/.fleetform/audit.jsonl"))
            .unwrap_or_default()
            .lines()
        {
            seen.push_str(line);
        }
        assert!(
            !seen.contains(HOSTILE_ACCOUNT),
            "{what}: the hostile account leaked into what fleetform wrote:\n{seen}"
        );
        if auth.status.success() {
            let ids: Value = serde_json::from_str(&auth_files.outputs()["identity"]).unwrap();
            assert_eq!(
                ids["staging"]["plan"]["role_arn"],
                role(ACME_ACCOUNT, "plan"),
                "{what}"
            );
        }
        if plan.status.success() {
            assert_eq!(
                plan_files.outputs()["identity"],
                role(ACME_ACCOUNT, "plan"),
                "{what}"
            );
            let comment = w.gh.comments(ACME, pr).last().unwrap().body.clone();
            assert!(
                comment.contains(&role(ACME_ACCOUNT, "plan")),
                "{what}: {comment}"
            );
        } else {
            common::assert_fails_for(format_args!("{what}"), &plan);
        }
    }
}

/// The plan names the role it was made with (outputs, comment, audit); an
/// apply after the registry moved the customer to another account is
/// refused, and one with the same identity runs and audits its role.
#[test]
fn an_apply_whose_identity_changed_since_its_plan_is_refused() {
    let mut w = World::new();
    with_identity(&w.fx, ACME_ACCOUNT, ACME_PROD_ACCOUNT);
    let sha = w.change_acme("main", 7);
    let d = dispatch(
        &sha,
        None,
        "fleetform-apply",
        &[("ref", json!("refs/heads/main")), ("event", json!("push"))],
    );
    let (plan, files) = w.plan_event(&d, "staging");
    ok(&plan);
    let outputs = files.outputs();
    assert_eq!(outputs["identity"], role(ACME_ACCOUNT, "plan"));
    let digest = outputs["plan_sha256"].clone();
    let audit = std::fs::read_to_string(w.fx.path("manager/.fleetform/audit.jsonl")).unwrap();
    let planned: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|e| e["action"] == "plan")
        .unwrap();
    assert_eq!(planned["identity"], role(ACME_ACCOUNT, "plan"));

    // The registry moves acme's staging to another account: refused.
    let reg = w.fx.read("manager/customers.yml");
    w.fx.write(
        "manager/customers.yml",
        &reg.replacen(
            &format!("account: \"{ACME_ACCOUNT}\""),
            "account: \"444444444444\"",
            1,
        ),
    );
    let (apply, _) = w.apply_latest_of(&d, "staging", &digest);
    common::assert_code(&apply, 3);
    assert!(
        stderr(&apply).contains("the cloud identity changed since the plan"),
        "{}",
        stderr(&apply)
    );
    assert!(
        !w.fx
            .path("manager/.fleetform/state/acme/staging/terraform.tfstate")
            .exists(),
        "nothing was applied"
    );

    // Back to the planned account: applied, and the audit names the role.
    w.fx.write("manager/customers.yml", &reg);
    let (plan, files) = w.plan_event(&d, "staging");
    ok(&plan);
    let digest = files.outputs()["plan_sha256"].clone();
    let (apply, files) = w.apply_latest_of(&d, "staging", &digest);
    ok(&apply);
    assert_eq!(files.outputs()["identity"], role(ACME_ACCOUNT, "apply"));
    let audit = std::fs::read_to_string(w.fx.path("manager/.fleetform/audit.jsonl")).unwrap();
    let applied: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|e| e["action"] == "apply")
        .unwrap();
    assert_eq!(applied["result"], "ok");
    assert_eq!(applied["identity"], role(ACME_ACCOUNT, "apply"));
}

/// Placeholders without a registry value, or malformed registry fields,
/// are the provider's errors at file:line:col, and they stop only the
/// customer they belong to.
#[test]
fn a_missing_or_malformed_identity_is_an_error_of_that_customer() {
    let fx = Fixture::new();
    fx.append("manager/fleetform.yml", IDENTITY);
    // No registry entry has an account: each customer's plan says so.
    let out = common::Run::from(fx.fleetform())
        .current_dir(fx.manager())
        .args(["plan", "--customer", "acme", "--env", "staging"])
        .output();
    common::assert_fails(&out);
    assert!(
        stderr(&out).contains("identity.account"),
        "{}",
        stderr(&out)
    );

    let reg = fx.read("manager/customers.yml");
    fx.write(
        "manager/customers.yml",
        &reg.replacen(
            "    added: 2026-01-15\n",
            "    added: 2026-01-15\n    identity:\n      account: \"12345\"\n",
            1,
        ),
    );
    let out = common::Run::from(fx.fleetform())
        .current_dir(fx.manager())
        .args(["customers", "list"])
        .output();
    common::assert_fails(&out);
    let err = stderr(&out);
    assert!(
        err.contains("customers.yml:") && err.contains("not an AWS account id"),
        "{err}"
    );

    let fx = Fixture::new();
    fx.append(
        "manager/fleetform.yml",
        &IDENTITY.replace("{customer}-plan", "{tenant}-plan"),
    );
    let out = common::Run::from(fx.fleetform())
        .current_dir(fx.manager())
        .args(["customers", "list"])
        .output();
    common::assert_fails(&out);
    let err = stderr(&out);
    assert!(
        err.contains("fleetform.yml:") && err.contains("unknown placeholder `{tenant}`"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Assuming the role through moto's STS, with IAM enforced.

/// An IAM query call to moto, signed with `key`.
fn iam(moto: &moto::Moto, key: &str, form: &[(&str, &str)]) -> String {
    aws_form(moto, "iam", "2010-05-08", key, None, form)
}

fn aws_form(
    moto: &moto::Moto,
    service: &str,
    version: &str,
    key: &str,
    token: Option<&str>,
    form: &[(&str, &str)],
) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-X", "POST", "--max-time", "10"])
        .args([
            "--aws-sigv4",
            &format!("aws:amz:us-east-1:{service}"),
            "--user",
            key,
        ])
        .args(["--data-urlencode", &format!("Version={version}")]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("x-amz-security-token: {t}")]);
    }
    for (k, v) in form {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd.arg(moto.url("/")).output().expect("curl is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn xml_field(xml: &str, tag: &str) -> String {
    xml.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{tag}>")).next())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        .to_string()
}

/// The runner's own credentials: a user who may only assume roles.
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

impl Keys {
    fn user(&self) -> String {
        format!("{}:{}", self.id, self.secret)
    }
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", self.id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ];
        if let Some(t) = &self.token {
            env.push(("AWS_SESSION_TOKEN", t.clone()));
        }
        env
    }
}

/// While moto still answers unauthenticated calls: the customer's roles
/// (S3 only), the state bucket, and a runner user allowed `sts:AssumeRole`
/// and nothing else. Then moto enforces IAM for every later call.
fn provision(moto: &moto::Moto, roles: &[&str]) -> Keys {
    let any = "test:test";
    let s3_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let assume_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    for r in roles {
        let made = iam(
            moto,
            any,
            &[
                ("Action", "CreateRole"),
                ("RoleName", r),
                ("AssumeRolePolicyDocument", trust),
            ],
        );
        assert!(made.contains("<CreateRoleResult>"), "{made}");
        let put = iam(
            moto,
            any,
            &[
                ("Action", "PutRolePolicy"),
                ("RoleName", r),
                ("PolicyName", "state"),
                ("PolicyDocument", s3_only),
            ],
        );
        assert!(put.contains("PutRolePolicyResponse"), "{put}");
    }
    assert!(
        moto::curl_signed_put(&moto.url(&format!("/{}", moto::BUCKET))),
        "create the bucket"
    );
    let user = iam(
        moto,
        any,
        &[("Action", "CreateUser"), ("UserName", "runner")],
    );
    assert!(user.contains("<CreateUserResult>"), "{user}");
    let put = iam(
        moto,
        any,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "runner"),
            ("PolicyName", "assume"),
            ("PolicyDocument", assume_only),
        ],
    );
    assert!(put.contains("PutUserPolicyResponse"), "{put}");
    let key = iam(
        moto,
        any,
        &[("Action", "CreateAccessKey"), ("UserName", "runner")],
    );
    Keys {
        id: xml_field(&key, "AccessKeyId"),
        secret: xml_field(&key, "SecretAccessKey"),
        token: None,
    }
}

/// What configure-aws-credentials does with `role-to-assume`.
fn assume(moto: &moto::Moto, runner: &Keys, role_arn: &str, session: &str) -> Keys {
    let xml = aws_form(
        moto,
        "sts",
        "2011-06-15",
        &runner.user(),
        None,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session),
        ],
    );
    assert!(
        xml.contains("<AssumedRoleUser>") && xml.contains(session),
        "AssumeRole {role_arn}: {xml}"
    );
    Keys {
        id: xml_field(&xml, "AccessKeyId"),
        secret: xml_field(&xml, "SecretAccessKey"),
        token: Some(xml_field(&xml, "SessionToken")),
    }
}

#[test]
fn the_s3_backend_runs_as_the_role_assumed_through_sts() {
    require_terraform();
    // Calls before enforcement: 2 per role, the bucket, 3 for the runner,
    // and moto_server's readiness probe.
    let roles = ["acme-plan", "acme-apply"];
    let moto = moto::Moto::start_enforcing_after(2 * roles.len() as u32 + 4 + 1);
    let runner = provision(&moto, &roles);
    // moto's own account is 123456789012.
    let fx = Fixture::new();
    s3_backend(&fx, &moto);
    with_identity(&fx, "123456789012", "123456789012");

    let show = common::Run::from(fx.fleetform())
        .current_dir(fx.manager())
        .args(["customers", "show", "acme", "--json"])
        .output();
    common::assert_ok(&show);
    let shown: Value = serde_json::from_slice(show.stdout.as_bytes()).unwrap();
    let staging = &shown["cloud_identities"]["staging"];
    let plan_role = staging["plan"]["role_arn"].as_str().unwrap().to_string();
    let apply_role = staging["apply"]["role_arn"].as_str().unwrap().to_string();
    assert_eq!(plan_role, "arn:aws:iam::123456789012:role/acme-plan");

    let run = |keys: &Keys, args: &[&str]| {
        common::Run::from(fx.fleetform())
            .current_dir(fx.manager())
            .args(args)
            .envs(keys.env())
            .output()
    };
    // The runner's own credentials may assume roles, nothing else.
    let denied = run(&runner, &["plan", "--customer", "acme", "--env", "staging"]);
    common::assert_fails_for(format_args!("moto enforces IAM"), &denied);

    let session = staging["plan"]["session_name"].as_str().unwrap();
    assert_eq!(session, "fleetform-acme-staging");
    let plan_keys = assume(&moto, &runner, &plan_role, session);
    let plan = run(
        &plan_keys,
        &["plan", "--customer", "acme", "--env", "staging"],
    );
    common::assert_ok_for(format_args!("plan as {plan_role}"), &plan);
    let apply_keys = assume(&moto, &runner, &apply_role, session);
    let apply = run(
        &apply_keys,
        &["apply", "--customer", "acme", "--env", "staging"],
    );
    common::assert_ok_for(format_args!("apply as {apply_role}"), &apply);

    // The state is at acme's key, which the plan role reads: planning
    // again changes nothing.
    let again = run(
        &plan_keys,
        &["plan", "--customer", "acme", "--env", "staging", "--json"],
    );
    common::assert_ok(&again);
    let text = stdout(&again);
    assert!(text.contains("\"has_changes\": false"), "{text}");
    assert!(text.contains("tenants/acme/staging.tfstate"), "{text}");
}

fn s3_backend(fx: &Fixture, moto: &moto::Moto) {
    let cfg = fx.read("manager/fleetform.yml");
    let cfg = cfg
        .replace(
            "  backend:\n    kind: local\n    state_dir: .fleetform/state\n",
            &format!(
                "  backend:\n    kind: s3\n    bucket: {}\n    region: us-east-1\n    endpoint: {}\n    use_path_style: true\n    use_lockfile: true\n",
                moto::BUCKET,
                moto.url("")
            ),
        )
        .replace(
            "state_key: \"{customer}/{environment}/terraform.tfstate\"",
            "state_key: \"tenants/{customer}/{environment}.tfstate\"",
        );
    assert!(cfg.contains("kind: s3"), "{cfg}");
    fx.write("manager/fleetform.yml", &cfg);
}

/// `fleetform matrix` gives each one-pair job its read-only role for the
/// drift template's configure-aws-credentials step; a customer whose
/// identity does not resolve gets none and an error naming why.
#[test]
fn matrix_jobs_carry_their_plan_role() {
    let fx = Fixture::new();
    with_identity(&fx, ACME_ACCOUNT, ACME_PROD_ACCOUNT);
    let reg = fx.read("manager/customers.yml");
    fx.write(
        "manager/customers.yml",
        &reg.replacen("    identity:\n      account: \"333333333333\"\n", "", 1),
    );
    let out = common::Run::from(fx.fleetform()).arg("matrix").output();
    common::assert_ok(&out);
    let m: Value = serde_json::from_slice(out.stdout.as_bytes()).unwrap();
    let job = |id: &str| {
        m["include"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .unwrap_or_else(|| panic!("no job {id}: {m}"))
            .clone()
    };
    assert_eq!(
        job("acme-staging")["identity"]["role_arn"],
        role(ACME_ACCOUNT, "plan")
    );
    assert_eq!(
        job("acme-production")["identity"]["role_arn"],
        role(ACME_PROD_ACCOUNT, "plan")
    );
    assert!(job("globex-staging").get("identity").is_none());
    assert!(
        stderr(&out).contains("globex/staging: no cloud identity"),
        "{}",
        stderr(&out)
    );
}
