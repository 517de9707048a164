//! Durable records (`records:` in fleetform.yml): every audit event and the
//! deployment record of every apply, one object each, written create-only
//! to a folder or to an S3 bucket (moto's server on loopback, with Object
//! Lock and a default retention), and read back by `audit report
//! --records`. A second run that makes the same keys overwrites nothing.

use crate::common;
use crate::moto;

use std::process::Command;

use common::{require_terraform, stderr, stdout, Fixture};
use moto::{curl, Moto};
use serde_json::Value;

const LOCKED: &str = "fleetform-records";

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &std::path::Path, d: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The default store: a folder in the manager repo. Every audit event is
/// a file; the apply leaves a deployment record with the customer's files
/// as planned; `audit report --records` reads them.
#[test]
fn a_local_store_keeps_every_event_and_the_deployment() {
    require_terraform();
    let fx = Fixture::new();
    let run = |args: &[&str]| common::Run::from(fx.fleetform()).args(args).output();
    let out = run(&["plan", "--customer", "acme", "--env", "staging"]);
    common::assert_ok(&out);
    let out = run(&["apply", "--customer", "acme", "--env", "staging"]);
    common::assert_ok(&out);

    let root = fx.manager().join(".fleetform/records");
    let files = files_under(&root);
    let audit: Vec<&String> = files.iter().filter(|f| f.starts_with("audit/")).collect();
    assert_eq!(audit.len(), 2, "one plan, one apply: {files:?}");
    let deployments: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("deployments/acme/_/staging/"))
        .collect();
    assert_eq!(deployments.len(), 1, "{files:?}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(deployments[0])).unwrap()).unwrap();
    assert_eq!(record["customer"], "acme");
    assert_eq!(record["environment"], "staging");
    let summary: Value =
        serde_json::from_str(&fx.read("manager/.fleetform/out/acme/staging/summary.json")).unwrap();
    assert_eq!(record["plan_sha256"], summary["plan_sha256"]);
    let files = record["files"].as_array().unwrap();
    let vars = files
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("acme/infra/variables.yml")
        })
        .unwrap_or_else(|| panic!("{record:#}"));
    let on_disk = fx.read("customers/acme/infra/variables.yml");
    assert_eq!(vars["content"], on_disk.as_str());
    assert_eq!(
        vars["sha256"],
        common::sha256_hex(&fx.path("customers/acme/infra/variables.yml"))
    );

    let out = run(&["audit", "report", "--records", "--json"]);
    common::assert_ok(&out);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report.to_string().contains("acme"), "{report:#}");
}

/// Creates a bucket with Object Lock and a 365-day default retention.
fn locked_bucket(moto: &Moto) {
    let put = |url: &str, headers: &[&str], body: Option<&str>| {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-f", "-X", "PUT", "--max-time", "10"])
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        if let Some(b) = body {
            cmd.args(["--data-binary", b]);
        }
        let out = cmd.arg(url).output().expect("curl is installed");
        common::assert_ok_for(format_args!("PUT {url}"), &out);
    };
    put(
        &moto.url(&format!("/{LOCKED}")),
        &["x-amz-bucket-object-lock-enabled: true"],
        None,
    );
    put(
        &moto.url(&format!("/{LOCKED}?object-lock")),
        &["Content-Type: application/xml"],
        Some(
            "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>365</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
        ),
    );
    let conf = curl(&moto.url(&format!("/{LOCKED}?object-lock")), "GET").unwrap();
    assert!(conf.contains("<Days>365</Days>"), "{conf}");
}

fn keys(moto: &Moto) -> Vec<String> {
    let xml = curl(&moto.url(&format!("/{LOCKED}?list-type=2")), "GET").expect("list");
    let mut keys: Vec<String> = xml
        .split("<Key>")
        .skip(1)
        .map(|s| s.split("</Key>").next().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

/// An S3 store with Object Lock: records land under the prefix, one object
/// per event, `audit report --records` reads them back, and a second run
/// that makes the same keys is refused object by object, leaving every
/// record as the first run wrote it.
#[test]
fn an_s3_store_keeps_records_that_a_second_run_cannot_overwrite() {
    require_terraform();
    let moto = Moto::start();
    locked_bucket(&moto);
    let fx = Fixture::new();
    fx.records_in_s3(LOCKED, &moto.url(""), "  prefix: fleet/records\n");
    let run = |args: &[&str]| crate::records::s3::run(&fx, args);
    let out = run(&["plan", "--customer", "acme", "--env", "staging"]);
    common::assert_ok(&out);
    let out = run(&["apply", "--customer", "acme", "--env", "staging"]);
    common::assert_ok(&out);
    let first = keys(&moto);
    assert_eq!(
        first,
        [
            "fleet/records/audit/2026/11/22/20261122T120000.000Z-000000000000.json",
            "fleet/records/deployments/acme/_/staging/20261122T120000.000Z-000000000000.json",
            "fleet/records/audit/2026/11/22/20261122T120000.000Z-000000000001.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "{first:?}"
    );
    let original: Vec<String> = first
        .iter()
        .map(|k| curl(&moto.url(&format!("/{LOCKED}/{k}")), "GET").unwrap())
        .collect();
    assert!(original[2].contains("\"plan_sha256\""), "{}", original[2]);

    // Read back through the store.
    let out = run(&["audit", "report", "--records", "--json"]);
    common::assert_ok(&out);
    assert!(stdout(&out).contains("acme"), "{}", stdout(&out));

    // The same keys again: the plan's audit record is refused, not
    // overwritten, and said so.
    let out = run(&["plan", "--customer", "acme", "--env", "staging"]);
    assert!(
        stderr(&out).contains("exists already; records are never overwritten"),
        "{}",
        stderr(&out)
    );
    assert_eq!(keys(&moto), first);
    let now: Vec<String> = first
        .iter()
        .map(|k| curl(&moto.url(&format!("/{LOCKED}/{k}")), "GET").unwrap())
        .collect();
    assert_eq!(now, original, "every record as the first run wrote it");
}

/// A job that holds a customer's cloud role (`identity:` in fleetform.yml,
/// here drift) never writes a record with it: with only `AWS_*` set the
/// audit record is refused, naming the records' own credential, and
/// nothing lands in the bucket; with `FLEETFORM_RECORDS_AWS_*` set it is
/// written with those. moto does not check keys, so the requests go
/// through a proxy that notes each one's signing key id (SigV4's
/// credential scope, `<key id>/<date>/…`).
#[test]
fn a_customer_role_never_writes_the_records() {
    use crate::fake_s3::{FakeS3, Reply};
    use std::sync::{Arc, Mutex};
    require_terraform();
    let moto = Moto::start();
    assert!(moto::curl_signed_put(
        &moto.url(&format!("/{}", moto::BUCKET))
    ));
    // (method, path, key id) of every request to the records' endpoint.
    let signed: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let noted = signed.clone();
    let proxy = FakeS3::start(Some(moto.port()), move |req, _| {
        // In the authorization header, or a presigned URL's query
        // (`X-Amz-Credential=<key id>%2F…`).
        let key = req
            .header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .or_else(|| req.query.split("X-Amz-Credential=").nth(1))
            .and_then(|c| c.split(['/', '%', '&']).next())
            .unwrap_or("")
            .to_string();
        noted
            .lock()
            .unwrap()
            .push((req.method.clone(), req.path.clone(), key));
        Reply::Forward
    });
    let fx = Fixture::new();
    fx.records_in_s3(moto::BUCKET, &proxy.url(), "  prefix: fleet/records\n");
    let cfg = fx.read("manager/fleetform.yml");
    assert!(cfg.contains("kind: s3"), "{cfg}");
    fx.write(
        "manager/fleetform.yml",
        &format!("{cfg}\nidentity:\n  aws:\n    plan_role: \"arn:aws:iam::{{account}}:role/{{customer}}-plan\"\n    apply_role: \"arn:aws:iam::{{account}}:role/{{customer}}-apply\"\n    region: us-east-1\n"),
    );
    let reg = fx.read("manager/customers.yml").replacen(
        "    added: 2026-01-15\n",
        "    added: 2026-01-15\n    identity:\n      account: \"111111111111\"\n",
        1,
    );
    fx.write("manager/customers.yml", &reg);
    let drift = |own: bool| {
        let own = own.then_some([
            ("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID", "records-key"),
            ("FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY", "records-secret"),
        ]);
        common::Run::from(fx.fleetform())
            .env("AWS_ACCESS_KEY_ID", "customer-role-key")
            .env("AWS_SECRET_ACCESS_KEY", "customer-role-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["drift", "--customer", "acme", "--env", "staging"])
            .envs(own.into_iter().flatten())
            .output()
    };
    let audit = || {
        moto.keys()
            .into_iter()
            .filter(|k| k.starts_with("fleet/records/audit/"))
            .count()
    };
    let out = drift(false);
    let err = stderr(&out);
    assert!(err.contains("holds a customer's cloud role"), "{err}");
    assert!(err.contains("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID"), "{err}");
    assert!(!err.contains("customer-role-secret"), "{err}");
    assert_eq!(audit(), 0, "nothing written with the customer's role");
    let keys_used = |method: &str| -> Vec<String> {
        let seen = signed.lock().unwrap();
        seen.iter()
            .filter(|(m, p, _)| m == method && p.contains("/fleet/records/"))
            .map(|(_, _, k)| k.clone())
            .collect()
    };
    assert_eq!(keys_used("PUT"), Vec::<String>::new());
    let customer =
        |s: &[(String, String, String)]| s.iter().any(|(_, _, k)| k == "customer-role-key");
    assert!(
        !customer(&signed.lock().unwrap()),
        "the customer's key signed a request"
    );

    let out = drift(true);
    let err = stderr(&out);
    assert!(!err.contains("cannot keep the audit record"), "{err}");
    assert_eq!(audit(), 1, "{err}");
    // The record was written, and signed, with the records' own key.
    assert_eq!(
        keys_used("PUT"),
        ["records-key"],
        "{:?}",
        signed.lock().unwrap()
    );
    assert!(
        !customer(&signed.lock().unwrap()),
        "the customer's key signed a request"
    );
}
