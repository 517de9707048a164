//! The setup action's installer (`action/install.sh`) run with bash in a
//! runner-like environment against a local HTTP server holding a release in
//! cargo-dist's layout, built here from the real fleetform binary.
//!
//! Each test copies the installer into a fresh action folder with its own
//! `Cargo.toml` and `checksums/`, the way the runner unpacks an action.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

const LINUX_X64: &str = "x86_64-unknown-linux-musl";

// --- a tiny release server ---------------------------------------------------

/// Serves fixed files over HTTP/1.1 on 127.0.0.1 and records the paths asked.
struct Server {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(files: BTreeMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopping) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    serve(s, &files, &reqs);
                }
            }
        });
        Server {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr); // wake the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, files: &BTreeMap<String, Vec<u8>>, reqs: &Mutex<Vec<String>>) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or("").split(' ');
    let (method, path) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("").to_string(),
    );
    reqs.lock().unwrap().push(path.clone());
    let (status, body) = match files.get(&path) {
        Some(b) if method == "GET" => ("200 OK", b.as_slice()),
        _ => ("404 Not Found", b"not found\n".as_slice()),
    };
    let _ = write!(s, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", body.len());
    let _ = s.write_all(body);
}

// --- release archives --------------------------------------------------------

fn scratch() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("setup_action");
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub(crate) fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    crate::common::assert_ok_for(format_args!("{cmd:?}"), &out);
}

/// The fleetform binary (stripped, to keep the archives small).
pub(crate) fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("bin")
            .tempdir_in(scratch())
            .unwrap()
            .keep();
        let dest = dir.join("fleetform");
        // Not spawned here: packed into the release archive the action installs.
        std::fs::copy(assert_cmd::cargo::cargo_bin("fleetform"), &dest).unwrap();
        // Best effort: a debug binary is ~170 MB with its symbols.
        let _ = Command::new("strip").arg(&dest).status();
        dest
    })
}

/// `fleetform-<target>.tar.xz` holding `fleetform-<target>/fleetform`, as
/// cargo-dist builds it; `exe` is the file packed as the binary.
fn tar_xz(target: &str, exe: &Path, layout_dir: bool) -> Vec<u8> {
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let top = format!("fleetform-{target}");
    let inner = if layout_dir {
        dir.path().join(&top)
    } else {
        dir.path().to_path_buf()
    };
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::copy(exe, inner.join("fleetform")).unwrap();
    let archive = dir.path().join("out.tar.xz");
    let member = if layout_dir {
        top
    } else {
        "fleetform".to_string()
    };
    run_ok(
        Command::new("tar")
            .env("XZ_OPT", "-0 -T0")
            .arg("-cJf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path())
            .arg(member),
    );
    std::fs::read(archive).unwrap()
}

/// `fleetform-<target>.zip` holding `fleetform.exe` at its root, as
/// cargo-dist builds it for Windows.
fn zip(exe: &Path) -> Vec<u8> {
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    std::fs::copy(exe, dir.path().join("fleetform.exe")).unwrap();
    run_ok(Command::new("zip").current_dir(dir.path()).args([
        "-q",
        "-1",
        "out.zip",
        "fleetform.exe",
    ]));
    std::fs::read(dir.path().join("out.zip")).unwrap()
}

/// A script in `dir` that reports `fleetform <version>` as the binary
/// does, to be packed in place of it (`tar_xz` names it `fleetform`).
fn stand_in(dir: &Path, version: &str) -> PathBuf {
    let path = dir.join(format!("fleetform-{version}"));
    std::fs::write(
        &path,
        format!("#!/bin/sh\n# a stand-in of the release's binary\necho 'fleetform {version}'\n"),
    )
    .unwrap();
    path
}

fn linux_release() -> &'static [u8] {
    static A: OnceLock<Vec<u8>> = OnceLock::new();
    A.get_or_init(|| tar_xz(LINUX_X64, binary(), true))
}

/// The Linux release with a stand-in of the right version in place of the
/// binary, for the tests whose point is the download, the checksum or the
/// inputs, not the binary: each install of the real one unpacks 52 MB
/// (xz took 0.8 s of CPU per install).
fn stand_in_release() -> &'static [u8] {
    static A: OnceLock<Vec<u8>> = OnceLock::new();
    A.get_or_init(|| {
        let dir = tempfile::tempdir_in(scratch()).unwrap();
        tar_xz(LINUX_X64, &stand_in(dir.path(), VERSION), true)
    })
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// --- a runner ----------------------------------------------------------------

/// An unpacked action (its own copy of the installer, Cargo.toml and
/// checksums) and the runner's folders and files.
pub(crate) struct Runner {
    _tmp: tempfile::TempDir,
    pub(crate) action: PathBuf,
    pub(crate) tool_cache: PathBuf,
    pub(crate) temp: PathBuf,
    github_path: PathBuf,
    github_output: PathBuf,
    env: BTreeMap<String, String>,
}

impl Runner {
    pub(crate) fn new() -> Runner {
        Self::with_action_dir("action")
    }

    /// `rel` is where the action is unpacked inside the scratch folder.
    fn with_action_dir(rel: &str) -> Runner {
        let tmp = tempfile::tempdir().unwrap();
        let action = tmp.path().join(rel);
        std::fs::create_dir_all(action.join("action")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(
            repo.join("action/install.sh"),
            action.join("action/install.sh"),
        )
        .unwrap();
        std::fs::copy(repo.join("Cargo.toml"), action.join("Cargo.toml")).unwrap();
        let r = Runner {
            tool_cache: tmp.path().join("toolcache"),
            temp: tmp.path().join("runner-temp"),
            github_path: tmp.path().join("github_path"),
            github_output: tmp.path().join("github_output"),
            action,
            _tmp: tmp,
            env: BTreeMap::new(),
        };
        for d in [&r.tool_cache, &r.temp] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [&r.github_path, &r.github_output] {
            std::fs::write(f, "").unwrap();
        }
        r
    }

    pub(crate) fn set(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.env.insert(k.into(), v.into());
        self
    }

    fn checksums(&self, version: &str, lines: &[(String, &str)]) {
        let dir = self.action.join("checksums");
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = lines.iter().map(|(h, f)| format!("{h} *{f}\n")).collect();
        std::fs::write(dir.join(format!("v{version}.txt")), text).unwrap();
    }

    /// Runs the installer like the setup action's step:
    /// `bash "$GITHUB_ACTION_PATH/action/install.sh"`.
    pub(crate) fn install(&self) -> Output {
        self.install_from(&self.action)
    }

    fn install_from(&self, action_path: &Path) -> Output {
        // The run: lines of action.yml and of actions/<name>/action.yml.
        let script = if action_path == self.action {
            r#"bash "$GITHUB_ACTION_PATH/action/install.sh""#
        } else {
            r#"bash "$GITHUB_ACTION_PATH/../../action/install.sh""#
        };
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script]);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TOOL_CACHE", &self.tool_cache)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_PATH", &self.github_path)
            .env("GITHUB_OUTPUT", &self.github_output)
            .env("GITHUB_ACTION_PATH", action_path)
            .env("GITHUB_ACTIONS", "true");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(&self.github_output)
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    }

    pub(crate) fn path_entries(&self) -> Vec<String> {
        std::fs::read_to_string(&self.github_path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Nothing left in RUNNER_TEMP by the installer.
    fn temp_is_clean(&self) -> bool {
        std::fs::read_dir(&self.temp).unwrap().next().is_none()
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn release_server(asset: &str, bytes: &[u8], prefix: &str) -> Server {
    Server::start(BTreeMap::from([(
        format!("{prefix}/{asset}"),
        bytes.to_vec(),
    )]))
}

fn linux_asset() -> String {
    format!("fleetform-{LINUX_X64}.tar.xz")
}

// --- tests -------------------------------------------------------------------

#[test]
fn installs_a_verified_release_into_the_tool_cache() {
    let asset = linux_asset();
    let server = release_server(&asset, linux_release(), "/dl");
    let mut r = Runner::new();
    r.checksums(
        VERSION,
        &[
            (sha256(linux_release()), &asset),
            ("0".repeat(64), "fleetform-x86_64-pc-windows-msvc.zip"),
        ],
    );
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));

    let out = r.install();
    crate::common::assert_ok(&out);
    let dir = r.tool_cache.join(format!("fleetform/{VERSION}/x64"));
    let exe = dir.join("fleetform");
    assert!(exe.is_file());
    assert!(
        r.tool_cache
            .join(format!("fleetform/{VERSION}/x64.complete"))
            .is_file(),
        "tool cache marker"
    );
    assert_eq!(
        r.path_entries(),
        vec![dir.display().to_string()],
        "added to PATH"
    );
    let outputs = r.outputs();
    assert_eq!(
        outputs.get("path").map(String::as_str),
        Some(exe.to_str().unwrap())
    );
    assert_eq!(outputs.get("version").map(String::as_str), Some(VERSION));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sha256 verified"),
        "{}",
        text(&out)
    );
    assert_eq!(server.requests(), vec![format!("/dl/{asset}")]);
    assert!(r.temp_is_clean(), "the download folder is removed");

    // The installed binary runs, from PATH as the next step would.
    let path = format!("{}:{}", r.path_entries()[0], std::env::var("PATH").unwrap());
    let v = Command::new("fleetform")
        .arg("--version")
        .env("PATH", path)
        .output()
        .unwrap();
    crate::common::assert_ok(&v);
    let shown = String::from_utf8_lossy(&v.stdout);
    assert!(
        shown.starts_with(&format!("fleetform {VERSION}\n")),
        "{shown}"
    );
    assert!(
        shown.contains("target: ") && shown.contains("commit: "),
        "{shown}"
    );

    // A second job on this runner finds it in the tool cache: no download.
    std::fs::write(&r.github_path, "").unwrap();
    std::fs::write(&r.github_output, "").unwrap();
    let out = r.install();
    crate::common::assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("found in the tool cache"),
        "{}",
        text(&out)
    );
    assert_eq!(server.requests().len(), 1, "served from the tool cache");
    assert_eq!(
        r.outputs().get("path").map(String::as_str),
        Some(exe.to_str().unwrap())
    );
}

/// A tool cache entry that does not match the committed checksum is not
/// trusted: a damaged binary, a replaced one with a matching `.sha256`
/// beside it, a replaced archive; each is downloaded again. (The release
/// holds a stand-in: the point is what the action trusts, and each
/// install of the real binary unpacks 52 MB.)
#[test]
fn a_cache_entry_that_does_not_match_the_checksum_is_downloaded_again() {
    let asset = linux_asset();
    let server = release_server(&asset, stand_in_release(), "/dl");
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(stand_in_release()), &asset)]);
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));
    crate::common::assert_ok(&r.install());
    let dir = r.tool_cache.join(format!("fleetform/{VERSION}/x64"));
    let exe = dir.join("fleetform");
    let installed = sha256(&std::fs::read(&exe).unwrap());

    // A damaged cache entry is not trusted: it is downloaded again.
    std::fs::write(&exe, b"#!/bin/sh\necho tampered\n").unwrap();
    let out = r.install();
    crate::common::assert_ok(&out);
    assert_eq!(server.requests().len(), 2, "re-downloaded");
    assert_eq!(sha256(&std::fs::read(&exe).unwrap()), installed);

    // A shared cache cannot vouch for itself: a replaced binary with a
    // matching `.sha256` written beside it is not trusted (only the
    // committed checksum is), and neither is a replaced archive.
    let evil = b"#!/bin/sh\necho 'fleetform 0.1.0'\n";
    std::fs::write(&exe, evil).unwrap();
    std::fs::write(dir.join(".sha256"), sha256(evil)).unwrap();
    let out = r.install();
    crate::common::assert_ok(&out);
    assert_eq!(server.requests().len(), 3, "re-downloaded: {}", text(&out));
    assert_eq!(sha256(&std::fs::read(&exe).unwrap()), installed);
    std::fs::write(dir.join(&asset), b"not the released archive").unwrap();
    let out = r.install();
    crate::common::assert_ok(&out);
    assert_eq!(server.requests().len(), 4, "re-downloaded: {}", text(&out));
}

#[test]
fn a_wrong_checksum_installs_nothing() {
    let asset = linux_asset();
    let server = release_server(&asset, stand_in_release(), "/dl");
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(b"some other archive"), &asset)]);
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));

    let out = r.install();
    crate::common::assert_fails(&out);
    let shown = text(&out);
    assert!(
        shown.contains("::error title=fleetform setup::checksum mismatch for"),
        "{shown}"
    );
    assert!(shown.contains("Nothing was installed"), "{shown}");
    assert_eq!(server.requests().len(), 1);
    assert!(r.path_entries().is_empty(), "nothing on PATH");
    assert!(r.outputs().is_empty(), "no outputs");
    assert!(
        !r.tool_cache.join("fleetform").exists(),
        "nothing in the tool cache"
    );
    assert!(r.temp_is_clean(), "the download is removed");
}

#[test]
fn an_unknown_runner_fails_clearly() {
    for (os, arch) in [("Linux", "S390X"), ("Windows", "ARM64"), ("FreeBSD", "X64")] {
        let mut r = Runner::new();
        r.checksums(VERSION, &[(sha256(stand_in_release()), &linux_asset())]);
        r.set("RUNNER_OS", os)
            .set("RUNNER_ARCH", arch)
            .set("FLEETFORM_SETUP_DOWNLOAD_URL", "https://example.invalid/dl");
        let out = r.install();
        crate::common::assert_fails(&out);
        let shown = text(&out);
        assert!(
            shown.contains(&format!(
                "unsupported runner: RUNNER_OS={os} RUNNER_ARCH={arch}"
            )) && shown.contains("Linux (X64, ARM64)"),
            "{shown}"
        );
        assert!(r.path_entries().is_empty() && r.outputs().is_empty());
    }
}

#[test]
fn windows_runners_get_the_flat_zip() {
    let asset = "fleetform-x86_64-pc-windows-msvc.zip";
    let stand_ins = tempfile::tempdir().unwrap();
    let bytes = zip(&stand_in(stand_ins.path(), VERSION));
    let server = release_server(asset, &bytes, "/dl");
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(&bytes), asset)]);
    r.set("RUNNER_OS", "Windows")
        .set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));
    let out = r.install();
    crate::common::assert_ok(&out);
    let exe = r
        .tool_cache
        .join(format!("fleetform/{VERSION}/x64/fleetform.exe"));
    assert!(exe.is_file());
    assert_eq!(
        r.outputs().get("path").map(String::as_str),
        Some(exe.to_str().unwrap())
    );
}

#[test]
fn the_release_url_comes_from_where_the_action_was_fetched() {
    // The runner unpacks `uses: acme/fleetform/actions/plan@v1` under
    // _actions/acme/fleetform/v1/ and runs the plan action from actions/plan.
    let asset = linux_asset();
    let server = release_server(
        &asset,
        stand_in_release(),
        &format!("/acme/fleetform/releases/download/v{VERSION}"),
    );
    let mut r = Runner::with_action_dir("work/_actions/acme/fleetform/v1");
    r.checksums(VERSION, &[(sha256(stand_in_release()), &asset)]);
    r.set("GITHUB_SERVER_URL", server.url(""));
    let plan_action = r.action.join("actions/plan");
    std::fs::create_dir_all(&plan_action).unwrap();
    let out = r.install_from(&plan_action);
    crate::common::assert_ok(&out);
    assert_eq!(
        server.requests(),
        vec![format!(
            "/acme/fleetform/releases/download/v{VERSION}/{asset}"
        )]
    );
}

#[test]
fn the_archive_must_have_cargo_dists_layout_and_version() {
    // The binary at the archive's top instead of fleetform-<target>/fleetform.
    // It reports the right version, so only the layout can refuse it (and
    // a stand-in spares packing the 52 MB debug binary once more: 4.6 s of
    // xz).
    let asset = linux_asset();
    let stand_ins = tempfile::tempdir().unwrap();
    let flat = tar_xz(LINUX_X64, &stand_in(stand_ins.path(), VERSION), false);
    let server = release_server(&asset, &flat, "/dl");
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(&flat), &asset)]);
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));
    let out = r.install();
    crate::common::assert_fails(&out);
    assert!(
        text(&out).contains(&format!("does not contain fleetform-{LINUX_X64}/fleetform")),
        "{}",
        text(&out)
    );
    assert!(!r.tool_cache.join("fleetform").exists() && r.path_entries().is_empty());

    // A binary of another version.
    let other = tar_xz(LINUX_X64, &stand_in(stand_ins.path(), "0.0.1"), true);
    let server = release_server(&asset, &other, "/dl");
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(&other), &asset)]);
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"));
    let out = r.install();
    crate::common::assert_fails(&out);
    assert!(
        text(&out).contains(&format!(
            "reports 'fleetform 0.0.1', expected 'fleetform {VERSION}'"
        )),
        "{}",
        text(&out)
    );
    assert!(!r.tool_cache.join("fleetform").exists() && r.path_entries().is_empty());
}

#[test]
fn bad_inputs_are_refused_before_any_download() {
    let asset = linux_asset();
    let server = release_server(&asset, stand_in_release(), "/dl");
    let cases: &[(&str, &str, &str)] = &[
        (
            "FLEETFORM_SETUP_VERSION",
            "../../etc/passwd",
            "is not a version number",
        ),
        (
            "FLEETFORM_SETUP_VERSION",
            "9.9.9",
            "no checksum for fleetform-x86_64-unknown-linux-musl.tar.xz in checksums/v9.9.9.txt",
        ),
        (
            "FLEETFORM_SETUP_DOWNLOAD_URL",
            "http://example.com/dl",
            "download-url must be an https:// URL",
        ),
        (
            "FLEETFORM_SETUP_DOWNLOAD_URL",
            "file:///etc",
            "download-url must be an https:// URL",
        ),
    ];
    for (var, value, message) in cases {
        let mut r = Runner::new();
        r.checksums(VERSION, &[(sha256(stand_in_release()), &asset)]);
        r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"))
            .set(var, *value);
        let out = r.install();
        crate::common::assert_fails_for(format_args!("{var}={value}"), &out);
        assert!(
            text(&out).contains(message),
            "{var}={value}: {}",
            text(&out)
        );
        assert!(r.path_entries().is_empty() && r.outputs().is_empty());
    }
    assert!(
        server.requests().is_empty(),
        "no request for refused inputs: {:?}",
        server.requests()
    );

    // A leading `v` is fine.
    let mut r = Runner::new();
    r.checksums(VERSION, &[(sha256(stand_in_release()), &asset)]);
    r.set("FLEETFORM_SETUP_DOWNLOAD_URL", server.url("/dl"))
        .set("FLEETFORM_SETUP_VERSION", format!("v{VERSION}"));
    let out = r.install();
    crate::common::assert_ok(&out);
}
