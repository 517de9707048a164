//! Enterprise networks (issue 39), on loopback: a forward proxy started by
//! the test in front of the fake GitHub and an S3 endpoint, with and
//! without credentials (`CONNECT` for https, absolute-form requests for
//! plain http), `NO_PROXY` bypassing it, and a private CA made with
//! `openssl` serving the fake GitHub (and an S3 endpoint) over TLS:
//! trusted through `SSL_CERT_FILE`, `FLEETFORM_GITHUB_CA_FILE` or
//! `records: ca_file:`, refused without, saying which host, what failed
//! and which setting fixes it. No proxy credential appears in any output.

use crate::common;
use crate::common::{stderr, stdout, Fixture};
use crate::doctor::manager::{configured, doctor, row, Run};
use crate::fake_s3::{ok, FakeS3, Reply};
use crate::moto::Moto;
use crate::notify::Receiver;
use crate::relay::serve::RelayWorld;
use crate::support::fake_github::FakeGitHub;
use crate::support::netlab::{Auth, ForwardProxy, PrivateCa, TlsFront};
use crate::support::oidc::REQUEST_TOKEN;
use crate::world::{ACME, MANAGER};

const USER: &str = "proxy-user";
const PASSWORD: &str = "pr0xy-Passw0rd-never-shown";
const NETWORK: &str = "network to GitHub";

/// Neither the proxy's password nor its user name is printed.
fn assert_no_credentials(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(PASSWORD), "the proxy password was printed");
        assert!(!text.contains(USER), "the proxy user was printed");
    }
}

/// The fake GitHub over https at `https://localhost:<port>`, behind a TLS
/// front with a certificate of a private CA.
fn github_over_tls() -> (FakeGitHub, PrivateCa, TlsFront) {
    let gh = configured();
    let ca = PrivateCa::new("DNS:localhost");
    let front = TlsFront::start(&ca, gh.addr());
    gh.serve_as(&format!("https://localhost:{}", front.port()));
    (gh, ca, front)
}

#[test]
fn github_through_a_proxy_with_credentials_in_plain_http() {
    let gh = configured();
    let proxy = ForwardProxy::start(Some((USER, PASSWORD)));
    let fx = Fixture::new();
    let r = doctor(
        &gh,
        &fx,
        &[("HTTP_PROXY", proxy.url_with(USER, PASSWORD))],
        &["-vv"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_no_credentials(&r);
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "nothing went through the proxy");
    let repo = format!("{}/repos/provider/manager", gh.api_url());
    assert!(
        seen.iter()
            .any(|s| s.method == "GET" && s.target == repo && s.auth == Auth::Right),
        "{seen:?}"
    );
    assert!(seen.iter().all(|s| s.auth == Auth::Right), "{seen:?}");
    let (level, result, found) = row(&r.stdout, NETWORK);
    assert_eq!((level, result), ("must", "pass"), "{}", r.stdout);
    assert!(
        found.contains(&format!(
            "through the proxy {} (HTTP_PROXY, with credentials)",
            proxy.url()
        )),
        "{found}"
    );
    gh.assert_clean();
}

#[test]
fn no_proxy_bypasses_the_proxy_for_hosts_ips_and_cidrs() {
    let gh = configured();
    let proxy = ForwardProxy::start(None);
    let fx = Fixture::new();
    // `*` too, with the API at an IP address (as curl: every host).
    for list in [
        "127.0.0.1",
        "127.0.0.0/8",
        "example.com, .corp, 127.0.0.1",
        "*",
        "example.com,*",
    ] {
        let r = doctor(
            &gh,
            &fx,
            &[("http_proxy", proxy.url()), ("NO_PROXY", list.to_string())],
            &[],
        );
        assert_eq!(r.code, 0, "{list}: {}\n{}", r.stdout, r.stderr);
        let (_, result, found) = row(&r.stdout, NETWORK);
        assert_eq!(result, "pass", "{}", r.stdout);
        assert!(
            found.contains("directly (NO_PROXY names the host)"),
            "{found}"
        );
    }
    assert_eq!(proxy.seen(), vec![], "NO_PROXY was not honoured");
    // Without NO_PROXY the same run goes through it (the bypass is real).
    let r = doctor(&gh, &fx, &[("http_proxy", proxy.url())], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!proxy.seen().is_empty());
    gh.assert_clean();
}

#[test]
fn github_over_tls_through_a_connect_tunnel_trusting_a_private_ca() {
    let (gh, ca, front) = github_over_tls();
    let proxy = ForwardProxy::start(Some((USER, PASSWORD)));
    let fx = Fixture::new();
    let ca_file = ca.ca_file().display().to_string();
    for trust in ["SSL_CERT_FILE", "FLEETFORM_GITHUB_CA_FILE"] {
        let r = doctor(
            &gh,
            &fx,
            &[
                ("HTTPS_PROXY", proxy.url_with(USER, PASSWORD)),
                (trust, ca_file.clone()),
            ],
            // Trace logging shows no credential either.
            &["-vv"],
        );
        assert_eq!(r.code, 0, "{trust}: {}\n{}", r.stdout, r.stderr);
        assert_no_credentials(&r);
        let (_, result, found) = row(&r.stdout, NETWORK);
        assert_eq!(result, "pass", "{}", r.stdout);
        assert!(
            found.contains(&format!(
                "through the proxy {} (HTTPS_PROXY, with credentials)",
                proxy.url()
            )),
            "{found}"
        );
        assert!(found.contains(&ca_file), "{found}");
    }
    let seen = proxy.seen();
    let target = format!("localhost:{}", front.port());
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            (s.method.as_str(), s.target.as_str(), s.auth),
            ("CONNECT", target.as_str(), Auth::Right),
            "{seen:?}"
        );
    }
    assert!(front.handshakes() >= 2, "{}", front.handshakes());
    gh.assert_clean();
}

/// Issue #50: a self-signed server certificate, even when trusted, is
/// refused in words saying what failed and what fixes it, never as a
/// debug dump of the TLS library's error.
#[test]
fn a_self_signed_server_is_refused_in_words() {
    let gh = configured();
    let ca = PrivateCa::self_signed("DNS:localhost");
    let front = TlsFront::start(&ca, gh.addr());
    gh.serve_as(&format!("https://localhost:{}", front.port()));
    let fx = Fixture::new();
    let r = doctor(
        &gh,
        &fx,
        &[("SSL_CERT_FILE", ca.ca_file().display().to_string())],
        &[],
    );
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("failed: self-signed: the server presents a CA certificate as its own"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("issued by a CA (not the CA itself)"),
        "{}",
        r.stderr
    );
    for dump in ["Other(", "OtherError", "CaUsedAsEndEntity"] {
        assert!(!r.stderr.contains(dump), "{dump}: {}", r.stderr);
    }
    assert!(gh.requests().is_empty());
}

#[test]
fn a_private_ca_not_trusted_is_refused_saying_host_problem_and_fix() {
    let (gh, ca, front) = github_over_tls();
    let fx = Fixture::new();
    let r = doctor(&gh, &fx, &[], &[]);
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let said = format!(
        "TLS with localhost:{} failed: unknown issuer: the server's certificate is not signed by a CA fleetform trusts; trust its CA:",
        front.port()
    );
    assert!(r.stderr.contains(&said), "{}", r.stderr);
    for fix in ["SSL_CERT_FILE", "SSL_CERT_DIR", "FLEETFORM_GITHUB_CA_FILE"] {
        assert!(r.stderr.contains(fix), "{fix}: {}", r.stderr);
    }
    // No handshake completed, and nothing reached GitHub.
    assert_eq!(front.handshakes(), 0);
    assert!(gh.requests().is_empty());
    let (_, result, found) = row(&r.stdout, NETWORK);
    assert_eq!(result, "could not check", "{}", r.stdout);
    assert!(found.contains("GitHub did not answer"), "{found}");

    // Trusted, but asked under a name the certificate does not hold.
    let ip_root = format!("https://127.0.0.1:{}", front.port());
    let r = doctor(
        &gh,
        &fx,
        &[
            ("SSL_CERT_FILE", ca.ca_file().display().to_string()),
            ("GITHUB_API_URL", ip_root),
        ],
        &[],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "TLS with 127.0.0.1:{} failed: name mismatch",
            front.port()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn a_proxy_that_wants_credentials_says_so_and_no_credential_is_shown() {
    let (gh, ca, front) = github_over_tls();
    let proxy = ForwardProxy::start(Some((USER, "the-right-one")));
    let fx = Fixture::new();
    for url in [proxy.url(), proxy.url_with(USER, PASSWORD)] {
        let r = doctor(
            &gh,
            &fx,
            &[
                ("HTTPS_PROXY", url),
                ("SSL_CERT_FILE", ca.ca_file().display().to_string()),
            ],
            &[],
        );
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert_no_credentials(&r);
        assert!(
            r.stderr.contains(&format!(
                "cannot reach localhost:{} through the proxy {}: the proxy answered 407 Proxy Authentication Required; put its credentials in the proxy URL",
                front.port(),
                proxy.url()
            )),
            "{}",
            r.stderr
        );
    }
    let auths: Vec<Auth> = proxy.seen().iter().map(|s| s.auth).collect();
    assert_eq!(auths, vec![Auth::None, Auth::Wrong]);
}

/// Issue #50: a FIFO (or any file that is not a regular file) named by a
/// CA setting is refused with exit 2 naming the setting, never waited on.
#[test]
fn a_ca_setting_naming_a_fifo_is_refused_without_waiting() {
    let gh = FakeGitHub::start();
    let fx = Fixture::new();
    let fifo = fx.path("ca.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo (coreutils) makes the FIFO");
    let fifo = fifo.display().to_string();
    for setting in ["SSL_CERT_FILE", "FLEETFORM_GITHUB_CA_FILE"] {
        let started = std::time::Instant::now();
        let r = doctor(&gh, &fx, &[(setting, fifo.clone())], &[]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{setting}: it waited"
        );
        assert_eq!(r.code, 2, "{setting}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(setting), "{setting}: {}", r.stderr);
        assert!(
            r.stderr.contains("not a regular file"),
            "{setting}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_proxy_setting_fleetform_cannot_use_is_a_usage_error_without_its_value() {
    let gh = FakeGitHub::start();
    let fx = Fixture::new();
    let r = doctor(
        &gh,
        &fx,
        &[(
            "HTTPS_PROXY",
            format!("socks5://{USER}:{PASSWORD}@proxy:1080"),
        )],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_no_credentials(&r);
    assert!(
        r.stderr
            .contains("HTTPS_PROXY uses `socks5://`; fleetform reaches a proxy over http:// only"),
        "{}",
        r.stderr
    );
}

/// The records store in a bucket at `endpoint`, with `extra` lines added to
/// `records:`.
fn records_at(endpoint: &str, bucket: &str, extra: &str) -> Fixture {
    let fx = Fixture::new();
    fx.records_in_s3(
        bucket,
        endpoint,
        &format!("  prefix: fleet/records\n{extra}"),
    );
    fx
}

/// `customers revoke`, which keeps one audit record.
fn revoke(fx: &Fixture, env: &[(&str, String)]) -> common::Ran {
    common::Run::from(fx.fleetform())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("FLEETFORM_RECORDS_STAMP", "20261122T120000.000Z")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(crate::records::s3::REVOKE_GLOBEX)
        .output()
}

fn bucket() -> FakeS3 {
    FakeS3::start(None, |req, _| {
        if req.is_object("PUT") {
            ok(Vec::new())
        } else {
            Reply::Error(404, "NoSuchKey")
        }
    })
}

#[test]
fn records_in_moto_go_through_the_proxy_with_credentials() {
    let moto = Moto::start();
    assert!(crate::moto::curl_signed_put(&moto.url("/fleet-records")));
    let endpoint = moto.url("");
    let endpoint = endpoint.trim_end_matches('/');
    let proxy = ForwardProxy::start(Some((USER, PASSWORD)));
    let fx = records_at(endpoint, "fleet-records", "");
    let out = revoke(&fx, &[("HTTP_PROXY", proxy.url_with(USER, PASSWORD))]);
    common::assert_code(&out, 0);
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(PASSWORD) && !text.contains(USER), "{text}");
    }
    let put = proxy
        .seen()
        .into_iter()
        .find(|s| s.method == "PUT")
        .expect("the record's PUT went through the proxy");
    assert!(
        put.target.starts_with(&format!(
            "{endpoint}/fleet-records/fleet/records/audit/2026/11/22/"
        )),
        "{put:?}"
    );
    assert_eq!(put.auth, Auth::Right);
    let keys = moto.keys_in("fleet-records");
    assert_eq!(keys.len(), 1, "{keys:?}");
}

/// `customers list --notify` posts a `token_expiring` notice through the
/// proxy.
#[test]
fn notifications_go_through_the_proxy_with_credentials() {
    let fx = Fixture::new();
    let reg = fx.read("manager/customers.yml").replacen(
        "  - slug: acme\n",
        "  - slug: acme\n    token: {name: acme-manager-pat, expires: 2026-12-01}\n",
        1,
    );
    fx.write("manager/customers.yml", &reg);
    fx.append(
        "manager/fleetform.yml",
        "\nnotify:\n  - name: pager\n    kind: webhook\n    url_env: FLEETFORM_PAGER_WEBHOOK\n    events: [token_expiring]\n",
    );
    let pager = Receiver::start(vec![], 200);
    let proxy = ForwardProxy::start(Some((USER, PASSWORD)));
    let out = common::Run::from(fx.fleetform())
        .env("FLEETFORM_PAGER_WEBHOOK", &pager.url)
        .env("HTTP_PROXY", proxy.url_with(USER, PASSWORD))
        .env("FLEETFORM_NOW", "1795305600")
        .args(["customers", "list", "--notify"])
        .code(0);
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(PASSWORD) && !text.contains(USER), "{text}");
    }
    assert_eq!(pager.bodies().len(), 1);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (
            seen[0].method.as_str(),
            seen[0].target.as_str(),
            seen[0].auth
        ),
        ("POST", pager.url.as_str(), Auth::Right)
    );
}

/// The customer's side of the relay (`trigger --relay-url`): the runner's
/// OIDC token, `GET /schema` and `POST /dispatch` go through the proxy.
#[test]
fn the_relay_trigger_goes_through_the_proxy() {
    let mut rw = RelayWorld::new();
    let relay = rw.start(4);
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
    let proxy = ForwardProxy::start(Some((USER, PASSWORD)));
    let (cmd, _files) = rw.w.trigger_pr_command(ACME, pr, "feature", &sha);
    let out = common::Run::from(cmd)
        .env_remove("FLEETFORM_TOKEN")
        .env_remove("FLEETFORM_DISPATCH_KEY")
        .env_remove("FLEETFORM_MANAGER_REPO")
        .env("FLEETFORM_RELAY_URL", &relay.url)
        .env("FLEETFORM_RELAY_AUDIENCE", RelayWorld::audience())
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", rw.issuer.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .env("HTTP_PROXY", proxy.url_with(USER, PASSWORD))
        .output();
    common::assert_code(&out, 0);
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(PASSWORD) && !text.contains(USER), "{text}");
    }
    let seen = proxy.seen();
    let relay_url = relay.url.trim_end_matches('/');
    let wanted = [
        ("GET", rw.issuer.request_url()),
        ("GET", format!("{relay_url}/schema")),
        ("POST", format!("{relay_url}/dispatch")),
    ];
    for (method, url) in &wanted {
        assert!(
            seen.iter().any(|s| s.method == *method
                && s.target.starts_with(url.as_str())
                && s.auth == Auth::Right),
            "{method} {url}: {seen:?}"
        );
    }
    assert!(!rw.w.gh.dispatches(MANAGER).is_empty());
}

#[test]
fn records_over_tls_trust_their_own_ca_file() {
    let s3 = bucket();
    let ca = PrivateCa::new("DNS:localhost");
    let port: u16 = s3.url().rsplit(':').next().unwrap().parse().unwrap();
    let front = TlsFront::start(&ca, ([127, 0, 0, 1], port).into());
    let endpoint = format!("https://localhost:{}", front.port());
    // Not trusted: refused, naming the setting that fixes it.
    let fx = records_at(&endpoint, "b", "");
    let out = revoke(&fx, &[]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot keep the audit record in s3://b/fleet/records: writing audit/2026/11/22/20261122T120000.000Z-000000000000.json: TLS with localhost:{} failed: unknown issuer",
            front.port()
        )) && err.contains("`records: ca_file:` in fleetform.yml\n"),
        "{err}"
    );
    // A refused certificate is not tried again.
    assert!(!err.contains("attempts in"), "{err}");
    assert!(s3.seen().is_empty());
    // Trusted through `records: ca_file:` (a path in the manager repo).
    let fx = records_at(&endpoint, "b", "  ca_file: certs/records-ca.pem\n");
    fx.write(
        "manager/certs/records-ca.pem",
        &std::fs::read_to_string(ca.ca_file()).unwrap(),
    );
    let out = revoke(&fx, &[]);
    common::assert_code(&out, 0);
    assert!(s3.seen().iter().any(|s| s.method == "PUT"));
}
