//! Shared test harness: the fleetform binary with a scrubbed environment,
//! and a private copy of `examples/` per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod copies;
pub use copies::remove_at_exit;
mod run;
mod step_script;
pub mod workflow;
pub use run::{
    apply_locally, assert_code, assert_code_for, assert_fails, assert_fails_for, assert_ok,
    assert_ok_for, run, run_bin, shell, Ran, Run,
};
pub use step_script::{run_step_script, run_step_script_in};

/// Fails (never skips) when terraform is missing.
pub fn require_terraform() {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("terraform").is_file());
    assert!(
        found,
        "terraform is not on PATH; these tests run real terraform. Install terraform >= 1.5 \
         (https://developer.hashicorp.com/terraform/install) and run again"
    );
}

/// A private copy of the examples.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            dir.path(),
        );
        std::fs::write(dir.path().join("terraformrc"), "").unwrap();
        Fixture { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn manager(&self) -> PathBuf {
        self.dir.path().join("manager")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Runs git in the fixture's root (a repository once `init` ran),
    /// with an identity and no signing.
    pub fn git(&self, args: &[&str]) {
        let out = std::process::Command::new("git")
            .current_dir(self.root())
            .args(["-c", "user.email=ci@example.test", "-c", "user.name=ci"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git is installed");
        assert_ok_for(format_args!("git {args:?}"), &out);
    }

    /// Appends text to a file.
    pub fn append(&self, rel: &str, text: &str) {
        let mut s = self.read(rel);
        s.push_str(text);
        self.write(rel, &s);
    }

    /// The records store in `bucket` at `endpoint` (S3, us-east-1,
    /// path-style) with `more` lines (`  key: value\n`), in place of the
    /// examples' local one.
    pub fn records_in_s3(&self, bucket: &str, endpoint: &str, more: &str) {
        let cfg = self.read("manager/fleetform.yml");
        let local = "records:\n  kind: local\n  dir: .fleetform/records\n";
        assert!(cfg.contains(local), "{cfg}");
        self.write(
            "manager/fleetform.yml",
            &cfg.replace(
                local,
                &format!(
                    "records:\n  kind: s3\n  bucket: {bucket}\n  region: us-east-1\n  endpoint: {endpoint}\n  use_path_style: true\n{more}"
                ),
            ),
        );
    }

    /// Registers the deliberately invalid customer from `examples/invalid`.
    pub fn register_invalid_customer(&self) {
        self.append(
            "manager/customers.yml",
            "\n  - slug: broken-co\n    path: ../invalid/broken-co\n    contact: ops@broken.example\n    environments: [staging]\n    added: 2026-05-05\n",
        );
    }

    /// `fleetform` run from the manager dir with a scrubbed environment and
    /// the manager's dispatch secret ([`DISPATCH_SECRET`]).
    pub fn fleetform(&self) -> Command {
        Command::from_std(self.fleetform_std())
    }

    /// [`Fixture::fleetform`] as a `std::process::Command`, for tests that
    /// spawn the binary and wait on it later.
    pub fn fleetform_std(&self) -> std::process::Command {
        let mut cmd = fleetform_std();
        cmd.current_dir(self.manager());
        cmd.env("TF_CLI_CONFIG_FILE", self.path("terraformrc"))
            .env("FLEETFORM_DISPATCH_SECRET", DISPATCH_SECRET)
            .env("FLEETFORM_ARTIFACT_KEY", ARTIFACT_KEY);
        cmd
    }
}

/// The binary with nothing from the outer environment but PATH and HOME:
/// no `GITHUB_*`, `RUNNER_*`, `ACTIONS_*` or `TF_*` leak in.
pub fn fleetform_bin() -> Command {
    Command::from_std(fleetform_std())
}

/// [`fleetform_bin`] as a `std::process::Command` (to spawn it): the one
/// place the scrubbed environment is made.
pub fn fleetform_std() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("fleetform"));
    scrub(&mut cmd, &["PATH", "HOME", "TMPDIR"]);
    cmd
}

/// Clears `cmd`'s environment but for `keep` (as the tests got them) and
/// sets the automation settings: no prompts, checkpoints or colour.
///
/// And `GOGC=off`, which fleetform passes on to Terraform as it passes any
/// variable it does not withhold: the tests run Terraform thousands of
/// times, each a second or less on a small configuration, and Go's
/// collector spent about a quarter of their CPU time (an init, plan and
/// show: 282 ms of CPU with the default, 216 ms without; peak memory the
/// same, 56-67 MB). What Terraform plans and prints does not change.
///
/// And `GOMAXPROCS=1`, passed on alike: the tests run several Terraform
/// processes at once on few cores, and with one Go processor each none of
/// them spins on an idle processor looking for work while the others
/// wait for a core. The integration tests (eight threads on two cores,
/// alternated) took 206 and 185 s with it, 217 and 192 s without.
/// Terraform's goroutines still run concurrently; its output does not
/// depend on it.
///
/// And `TF_DISABLE_PLUGIN_TLS=1`, passed on alike: Terraform then talks to
/// its providers over plain gRPC on the loopback instead of mutual TLS.
/// With TLS, every start of a provider (three per plan) made a P-521 key
/// and certificate in Terraform and a P-384 one in the test cloud's debug
/// provider, then a handshake: ten plans and shows of the example took
/// 3.3 s of CPU with it, 2.4 s without. Nothing fleetform does depends on
/// the channel, and production runs keep Terraform's default.
pub fn scrub(cmd: &mut std::process::Command, keep: &[&str]) {
    cmd.env_clear();
    for keep in keep {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .env("NO_COLOR", "1")
        .env("GOGC", "off")
        .env("GOMAXPROCS", "1")
        .env("TF_DISABLE_PLUGIN_TLS", "1");
}

/// `customers add` of a new customer, hooli, with a repo and staging.
pub const ADD_HOOLI: [&str; 11] = [
    "customers",
    "add",
    "hooli",
    "--repo",
    "hooli/platform",
    "--contact",
    "ops@hooli.example",
    "--env",
    "staging",
    "--date",
    "2026-11-21",
];

/// The manager's dispatch secret (`FLEETFORM_DISPATCH_SECRET`) in every
/// test; the static signatures in `tests/fixtures/hostile/payloads/` are
/// made with it.
pub const DISPATCH_SECRET: &str = "fleetform-test-dispatch-secret-0123456789abcdef";

/// The manager's artifact secret (`FLEETFORM_ARTIFACT_KEY`) in every
/// manager step: plan bundles are sealed with it.
pub const ARTIFACT_KEY: &str = "fleetform-test-artifact-key-0123456789abcdef";

/// The slug of an example customer's repo (`examples/manager/customers.yml`).
pub fn example_slug(repo: &str) -> Option<&'static str> {
    match repo {
        "acme-corp/acme-infra" => Some("acme"),
        "globex/globex-app" => Some("globex"),
        "initech/tps-reports" => Some("initech"),
        _ => None,
    }
}

/// Customer `slug`'s dispatch key at `generation`, as
/// `fleetform customers dispatch-key` prints it.
pub fn dispatch_key(slug: &str, generation: u32) -> String {
    fleetform::dispatch::auth::ManagerSecret::new(DISPATCH_SECRET)
        .expect("a valid test secret")
        .customer_key(slug, generation)
        .expose()
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs a dispatch in place, like the customer's trigger: `d` is a sent
/// dispatch (`event_type`) or a runner event (`action`), each with a
/// `client_payload`; `key` is a dispatch key's text, `time` Unix seconds.
/// Any `sig` already there is replaced.
pub fn sign_dispatch_with(d: &mut serde_json::Value, key: &str, time: u64) {
    use fleetform::dispatch::{auth::DispatchKey, Payload};
    let event_type = d
        .get("event_type")
        .or_else(|| d.get("action"))
        .and_then(|v| v.as_str())
        .expect("a dispatch with event_type or action")
        .to_string();
    let payload = d
        .get_mut("client_payload")
        .and_then(|p| p.as_object_mut())
        .expect("a client_payload object");
    payload.remove("sig");
    let parsed = Payload::parse(&serde_json::Value::Object(payload.clone()))
        .expect("only well-formed payloads can be signed");
    let key = DispatchKey::parse(key).expect("a dispatch key");
    payload.insert("sig".into(), key.sign(&event_type, &parsed, time).into());
}

/// Signs a dispatch now with the key (generation 1) of the example
/// customer its `customer_repo` belongs to.
pub fn sign_dispatch(d: &mut serde_json::Value) {
    let repo = d["client_payload"]["customer_repo"]
        .as_str()
        .expect("a customer_repo")
        .to_string();
    let slug = example_slug(&repo).unwrap_or_else(|| panic!("{repo} is no example customer"));
    sign_dispatch_with(d, &dispatch_key(slug, 1), unix_now());
}

/// A signed copy of `d` (see [`sign_dispatch`]).
pub fn signed(d: &serde_json::Value) -> serde_json::Value {
    let mut d = d.clone();
    sign_dispatch(&mut d);
    d
}

/// Copies the tree at `from` to `to`, but for `.fleetform` and
/// `.terraform` folders.
pub fn copy_tree(from: &Path, to: &Path) {
    copy_tree_with(from, to, |p| {
        p.file_name()
            .is_some_and(|n| n == ".fleetform" || n == ".terraform")
    });
}

/// Copies the tree at `from` to `to`, leaving out every path inside `from`
/// that `skip` names (and what is under it). A link is copied as a link;
/// one into `from` points to the same place in `to`.
pub fn copy_tree_with(from: &Path, to: &Path, skip: impl Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    let walk = walkdir::WalkDir::new(from)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !skip(e.path()));
    for entry in walk {
        let entry = entry.unwrap_or_else(|e| panic!("walking {}: {e}", from.display()));
        let (src, kind) = (entry.path(), entry.file_type());
        let dest = to.join(src.strip_prefix(from).expect("inside the walked tree"));
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
        } else if kind.is_symlink() {
            let target = std::fs::read_link(src).unwrap();
            let target = match target.strip_prefix(from) {
                Ok(inside) => to.join(inside),
                Err(_) => target,
            };
            std::os::unix::fs::symlink(target, &dest).unwrap();
        } else {
            std::fs::copy(src, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
        }
    }
}

/// A `terraform` in the fixture that appends `record` (a shell command's
/// output, one `echo` per call) to a log, then runs the real one. Returns
/// the script (for `FLEETFORM_TERRAFORM`) and the log.
pub fn recording_terraform(fx: &Fixture, record: &str) -> (PathBuf, PathBuf) {
    require_terraform();
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("terraform"))
        .find(|p| p.is_file())
        .expect("terraform on PATH");
    let log = fx.path("terraform-calls.log");
    let script = fx.path("bin/terraform");
    fx.write(
        "bin/terraform",
        &format!(
            "#!/bin/sh\n{{ {record}; }} >> '{log}'\nexec '{real}' \"$@\"\n",
            log = log.display(),
            real = real.display()
        ),
    );
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    (script, log)
}

/// `name=value` and `name<<DELIM ... DELIM` lines of `$GITHUB_OUTPUT`.
pub fn parse_outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut map = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            map.insert(k.to_string(), v.join("\n"));
        } else if let Some((k, v)) = l.split_once('=') {
            map.insert(k.to_string(), v.to_string());
        }
    }
    map
}

/// A finished command's streams: an `Output` or a [`Ran`].
pub trait Streams {
    fn out_bytes(&self) -> &[u8];
    fn err_bytes(&self) -> &[u8];
    fn exit_code(&self) -> Option<i32>;
}

impl Streams for std::process::Output {
    fn out_bytes(&self) -> &[u8] {
        &self.stdout
    }
    fn err_bytes(&self) -> &[u8] {
        &self.stderr
    }
    fn exit_code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl<T: Streams> Streams for &T {
    fn out_bytes(&self) -> &[u8] {
        (*self).out_bytes()
    }
    fn err_bytes(&self) -> &[u8] {
        (*self).err_bytes()
    }
    fn exit_code(&self) -> Option<i32> {
        (*self).exit_code()
    }
}

impl Streams for Ran {
    fn out_bytes(&self) -> &[u8] {
        self.stdout.as_bytes()
    }
    fn err_bytes(&self) -> &[u8] {
        self.stderr.as_bytes()
    }
    fn exit_code(&self) -> Option<i32> {
        self.code
    }
}

pub fn stdout(out: &impl Streams) -> String {
    String::from_utf8_lossy(out.out_bytes()).into_owned()
}

pub fn stderr(out: &impl Streams) -> String {
    String::from_utf8_lossy(out.err_bytes()).into_owned()
}

pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Characters the runner's culture-aware matching (.NET on ICU) skips:
/// controls and Unicode's invisible format characters.
fn runner_ignores(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// Lines of `text` the Actions runner would read as workflow commands, as
/// it reads them (actions/runner `ActionCommand`): `::` at the start after
/// leading whitespace, or the legacy `##[` anywhere in the line, both
/// matched without the characters its matching ignores. Lines are split
/// wherever the runner might split them.
pub fn command_lines(text: &str) -> Vec<String> {
    text.split([
        '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}',
    ])
    .map(|l| {
        l.chars()
            .filter(|&c| !runner_ignores(c))
            .collect::<String>()
    })
    .filter(|l| l.trim_start().starts_with("::") || l.contains("##["))
    .map(|l| l.trim_start().to_string())
    .collect()
}

/// `None` when the only workflow commands in `text` are the ones fleetform
/// writes itself (`::error`, `::group::`, `::endgroup::`, `::add-mask::`,
/// and `::stop-commands::` with an unguessable token, resumed); otherwise
/// what is wrong.
pub fn foreign_commands(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    for line in command_lines(text) {
        if line.contains("##[") {
            return Some(format!("the runner would obey a legacy command: {line:?}"));
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            let good = token.len() == 42
                && token.starts_with("fleetform-")
                && token[10..].bytes().all(|b| b.is_ascii_hexdigit());
            if !good {
                return Some(format!("stop-commands with a guessable token: {line:?}"));
            }
            open = Some(token.to_string());
            continue;
        }
        if open.as_ref().is_some_and(|t| line == format!("::{t}::")) {
            open = None;
            continue;
        }
        let own = [
            "::error::",
            "::error file=",
            "::group::",
            "::endgroup::",
            "::add-mask::",
        ];
        if !own.iter().any(|p| line.starts_with(p)) {
            return Some(format!(
                "the runner would obey a command fleetform did not write: {line:?}"
            ));
        }
    }
    open.map(|t| format!("commands stopped with {t} and never resumed"))
}

/// `markdown` rendered by `cmark-gfm` (Debian package `cmark-gfm`) with
/// the given options (`-e table`, `--unsafe`, ...), as GitHub renders it.
/// Fails with an install hint when the tool is missing.
pub fn cmark_gfm(markdown: &str, args: &[&str]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("cmark-gfm")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cmark-gfm renders the Markdown ({e}); install it: apt-get install cmark-gfm")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(markdown.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok_for(format_args!("cmark-gfm"), &out);
    String::from_utf8(out.stdout).unwrap()
}

/// GitHub's extensions of cmark-gfm: tables, autolinks, strikethrough,
/// the tag filter.
const GITHUB_EXTENSIONS: [&str; 8] = [
    "-e",
    "table",
    "-e",
    "autolink",
    "-e",
    "strikethrough",
    "-e",
    "tagfilter",
];

/// `markdown` as GitHub renders it: [`cmark_gfm`] with
/// [`GITHUB_EXTENSIONS`].
pub fn github_html(markdown: &str) -> String {
    cmark_gfm(markdown, &GITHUB_EXTENSIONS)
}

/// `markdown` as GitHub renders it with its raw HTML kept (GitHub's
/// sanitizer keeps `<details>` and `<summary>`; the tag filter drops what
/// it drops): [`github_html`] with `--unsafe`.
pub fn github_html_unsafe(markdown: &str) -> String {
    let mut args = GITHUB_EXTENSIONS.to_vec();
    args.push("--unsafe");
    cmark_gfm(markdown, &args)
}

/// The digest a preview printed (`Digest `…``): 64 hex characters.
pub fn digest_of(text: &str) -> String {
    let digest = text
        .split("Digest `")
        .nth(1)
        .and_then(|r| r.split('`').next())
        .unwrap_or_else(|| panic!("no digest in: {text}"))
        .to_string();
    assert_eq!(digest.len(), 64, "{text}");
    digest
}
