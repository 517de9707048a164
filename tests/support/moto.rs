//! moto's S3 server on a free loopback port, for the tests that need S3
//! (Terraform's s3 backend, fleetform's records), and a signed `curl`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "fleetform-state";

/// A moto S3 server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    port: u16,
    _log: tempfile::NamedTempFile,
}

impl Moto {
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// A moto server that answers the first `calls` requests without
    /// checking who sent them (its readiness probe is one), then enforces
    /// IAM: only signed requests of known principals, within their
    /// policies (moto's `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start_enforcing_after(calls: u32) -> Moto {
        Self::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", calls.to_string())])
    }

    fn start_with(env: &[(&str, String)]) -> Moto {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
        assert!(
            bin.is_file(),
            "moto is not installed ({} is missing); these tests run Terraform's s3 backend \
             against moto's S3 server. Install it with `bash tests/install-moto.sh` and run again",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            _log: log,
        };
        let started = Instant::now();
        while curl(&moto.url("/"), "GET").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not answer on port {port} within 30 s: {}",
                std::fs::read_to_string(moto._log.path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        moto
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Keys in the bucket (ListObjectsV2).
    pub fn keys(&self) -> Vec<String> {
        self.keys_in(BUCKET)
    }

    /// Keys in `bucket` (ListObjectsV2, the first 1,000).
    pub fn keys_in(&self, bucket: &str) -> Vec<String> {
        let xml = curl(&self.url(&format!("/{bucket}?list-type=2")), "GET").expect("list");
        xml.split("<Key>")
            .skip(1)
            .map(|s| s.split("</Key>").next().unwrap().to_string())
            .collect()
    }

    pub fn object(&self, key: &str) -> Option<String> {
        curl(&self.url(&format!("/{BUCKET}/{key}")), "GET")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed PUT with no body (a bucket); whether it succeeded.
pub fn curl_signed_put(url: &str) -> bool {
    curl(url, "PUT").is_some()
}

/// The body of a 2xx answer, or None. Requests are signed (SigV4 with
/// moto's accept-anything credentials), as S3 refuses anonymous reads.
pub fn curl(url: &str, method: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "-f", "-X", method, "--max-time", "10"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .arg(url)
        .output()
        .expect("curl is installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
