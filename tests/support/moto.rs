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

    /// A moto server whose object writes each wait `ms` between moto's
    /// precondition check and the write (`MOTO_TEST_WRITE_DELAY_MS` of
    /// tests/support/moto_server.py): for the test that shows conditional
    /// writes stay atomic.
    pub fn start_with_write_delay(ms: u32) -> Moto {
        Self::start_with(&[("MOTO_TEST_WRITE_DELAY_MS", ms.to_string())])
    }

    fn start_with(env: &[(&str, String)]) -> Moto {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = root.join(".venv/bin/moto_server");
        assert!(
            bin.is_file(),
            "moto is not installed ({} is missing); these tests run Terraform's s3 backend \
             against moto's S3 server. Install it with `bash tests/install-moto.sh` and run again",
            bin.display()
        );
        // moto's own server, one request at a time (its conditional writes
        // are not atomic otherwise: tests/support/moto_server.py says why),
        // run by the python moto is installed in.
        let python = root.join(".venv/bin/python");
        let launcher = root.join("tests/support/moto_server.py");
        // The port is free when picked but not held: another process may
        // take it before moto binds it. Then moto exits (or another server
        // answers while ours is gone): start again on another port.
        for _ in 0..5 {
            if let Some(moto) = Self::try_start(&python, &launcher, env) {
                return moto;
            }
        }
        panic!("moto_server could not bind a free loopback port in 5 attempts");
    }

    /// moto on a port just found free: `None` when it exited before it
    /// answered (its port was taken meanwhile).
    fn try_start(python: &Path, launcher: &Path, env: &[(&str, String)]) -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(python)
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto {
            child,
            port,
            _log: log,
        };
        // A generous deadline: moto's start is slow on a loaded machine.
        let started = Instant::now();
        loop {
            if moto.child.try_wait().unwrap().is_some() {
                return None;
            }
            // Ready when our own process listens on the port and answers
            // (not some other server that took the port meanwhile).
            if listens(moto.child.id(), port) && curl(&moto.url("/"), "GET").is_some() {
                return Some(moto);
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "moto_server did not answer on port {port} within 120 s: {}",
                std::fs::read_to_string(moto._log.path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
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

    /// The current version of `key` in `bucket`.
    pub fn object_in(&self, bucket: &str, key: &str) -> Option<String> {
        curl(&self.url(&format!("/{bucket}/{key}")), "GET")
    }
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port`
/// (`/proc/net/tcp` for the socket, `/proc/PID/fd` for its owner).
fn listens(pid: u32, port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let listening = f.get(3) == Some(&"0A");
            let ours = f
                .get(1)
                .is_some_and(|a| a.ends_with(&format!(":{port:04X}")));
            if !(listening && ours) {
                return None;
            }
            Some(format!("socket:[{}]", f.get(9)?))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
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
        .args(["-s", "-f", "-X", method, "--max-time", "60"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .arg(url)
        .output()
        .expect("curl is installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Signed PUTs of each body to one `url` at once, each only if no object is
/// there yet (`If-None-Match: *`, as Terraform takes its S3 lock): the HTTP
/// status of each, in the order they ended.
pub fn curl_put_if_absent_at_once(url: &str, bodies: &[&str]) -> Vec<u16> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cmd = Command::new("curl");
    cmd.args(["--parallel", "--parallel-immediate", "--parallel-max", "64"]);
    for (i, body) in bodies.iter().enumerate() {
        let file = dir.path().join(format!("body-{i}"));
        std::fs::write(&file, body).expect("writing the body");
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\\n",
            "--max-time",
            "60",
        ])
        .args(["-H", "If-None-Match: *"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .arg("-T")
        .arg(&file)
        .arg(url);
    }
    let out = cmd.output().expect("curl is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("an HTTP status"))
        .collect()
}

/// A signed PUT of `body` (an object, written over whatever is there, as
/// a hand edit of the bucket would); whether it succeeded.
pub fn curl_put_body(url: &str, body: &str) -> bool {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), body).expect("writing the body");
    Command::new("curl")
        .args(["-s", "-f", "--max-time", "60"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test"])
        .arg("-T")
        .arg(file.path())
        .arg(url)
        .status()
        .expect("curl is installed")
        .success()
}
