//! Stand-ins for the third-party actions the templates use, each doing
//! what its README documents and refusing what it refuses, against the
//! fake GitHub; and fleetform's own actions unpacked as the runner
//! unpacks a remote action, with the built binary in the tool cache.
//!
//! - `actions/checkout` (README of actions/checkout v4+): `repository`
//!   (default the workflow's), `ref` (default the run's commit for the
//!   workflow's repository, the default branch otherwise), `token`
//!   (default `github.token`), `path`; the repository is read through the
//!   API with that token, so a token that may not read it fails the step;
//!   `persist-credentials` (default true) leaves the token in `.git/config`.
//! - `hashicorp/setup-terraform` (README): `terraform_version` (default
//!   `latest`, the newest release) put first on `PATH`; this runner holds
//!   only the versions given to it (`Runner::new`: this machine's), so any
//!   other, `latest` included, fails the step as a version that cannot be
//!   installed would.
//! - `aws-actions/configure-aws-credentials` (README, "OIDC"): a
//!   `role-to-assume` with the job's OIDC token, which needs `id-token:
//!   write`; credentials as outputs with `output-credentials`, and in the
//!   job's environment unless `output-env-credentials: false`.
//! - `actions/upload-artifact` v4+ (README): `name`, `path` (globs, the
//!   folders after the first wildcard kept), `if-no-files-found`,
//!   `retention-days` (a number; how long it is kept is not modelled),
//!   and a name already uploaded in the
//!   run is refused (409) unless `overwrite: true`.
//! - `actions/download-artifact` v4+ (README): `name` of this run's
//!   artifact into `path` (default the workspace); without `name`, the
//!   artifacts `pattern` matches (every one without it), each into a
//!   folder of its name unless `merge-multiple: true`; `run-id` with
//!   `github-token` reads another run's.
//! - `actions/cache/restore` and `actions/cache/save`: `stand_in_cache`.
//! - `actions/create-github-app-token` v3 (its README and `lib/main.js`):
//!   `client-id` (or the deprecated `app-id`) and `private-key` sign a JWT;
//!   with `repositories` (names, comma- or newline-separated; `owner`
//!   defaults to the workflow's owner) the installation is looked up on
//!   the first (`GET /repos/{owner}/{repo}/installation`) and a token is
//!   asked for those repositories with the `permission-<name>` inputs
//!   (`POST /app/installations/{id}/access_tokens`); the output `token` is
//!   masked. Whatever GitHub refuses (no installation, a permission the
//!   App was not granted) fails the step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::steps::JobCx;

/// An uploaded artifact: where its files are kept.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub dir: PathBuf,
    pub files: Vec<String>,
}

const TARGET: &str = "x86_64-unknown-linux-musl";

/// The runner's tool cache, made once per test process: the built
/// fleetform in `fleetform/<version>/x64/` beside its release archive, as
/// `action/install.sh` leaves a verified install.
pub fn tool_cache() -> PathBuf {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let version = env!("CARGO_PKG_VERSION");
            let at = dir.path().join("fleetform").join(version).join("x64");
            std::fs::create_dir_all(&at).unwrap();
            let bin = assert_cmd::cargo::cargo_bin("fleetform");
            std::fs::copy(&bin, at.join("fleetform")).unwrap();
            let stage = dir.path().join("stage").join(format!("fleetform-{TARGET}"));
            std::fs::create_dir_all(&stage).unwrap();
            std::fs::copy(&bin, stage.join("fleetform")).unwrap();
            let archive = at.join(format!("fleetform-{TARGET}.tar.xz"));
            let ok = Command::new("tar")
                .env("XZ_OPT", "-0 -T2")
                .arg("-cJf")
                .arg(&archive)
                .arg("-C")
                .arg(dir.path().join("stage"))
                .arg(format!("fleetform-{TARGET}"))
                .status()
                .unwrap()
                .success();
            assert!(ok, "tar -cJf (xz-utils) made the release archive");
            std::fs::remove_dir_all(dir.path().join("stage")).unwrap();
            std::fs::write(
                dir.path()
                    .join("fleetform")
                    .join(version)
                    .join("x64.complete"),
                "",
            )
            .unwrap();
            dir
        })
        .path()
        .to_path_buf()
}

/// fleetform's action `subpath` at `git_ref`, unpacked as
/// `_actions/fleetform/fleetform/<ref>/`: this checkout's `actions/`,
/// `action/`, `action.yml` (the setup action) and `Cargo.toml`, with the tool cache's archive's checksum
/// committed in `checksums/` as a release's is.
pub fn fleetform_action(git_ref: &str, subpath: Option<&str>) -> PathBuf {
    static UNPACKED: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    let root = ROOT.get_or_init(|| tempfile::tempdir().unwrap()).path();
    let mut done = UNPACKED.get_or_init(Default::default).lock().unwrap();
    let dir = done
        .entry(git_ref.to_string())
        .or_insert_with(|| {
            let dir = root.join("_actions/fleetform/fleetform").join(git_ref);
            let src = Path::new(env!("CARGO_MANIFEST_DIR"));
            for sub in ["actions", "action"] {
                copy_tree(&src.join(sub), &dir.join(sub));
            }
            for file in ["Cargo.toml", "action.yml"] {
                std::fs::copy(src.join(file), dir.join(file)).unwrap();
            }
            let version = env!("CARGO_PKG_VERSION");
            let archive = tool_cache()
                .join("fleetform")
                .join(version)
                .join("x64")
                .join(format!("fleetform-{TARGET}.tar.xz"));
            let sum = sha256_hex(&std::fs::read(archive).unwrap());
            std::fs::create_dir_all(dir.join("checksums")).unwrap();
            std::fs::write(
                dir.join(format!("checksums/v{version}.txt")),
                format!("{sum}  fleetform-{TARGET}.tar.xz\n"),
            )
            .unwrap();
            dir
        })
        .clone();
    match subpath {
        Some(s) => dir.join(s),
        None => dir,
    }
}

pub(super) fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the stand-in of `name` (`owner/repo[/path]`); its outputs, or why
/// it failed.
pub(super) fn run(
    cx: &mut JobCx,
    name: &str,
    with: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let input = |k: &str| with.get(k).cloned().unwrap_or_default();
    match name {
        "actions/checkout" => checkout(cx, &input),
        "hashicorp/setup-terraform" => setup_terraform(cx, &input),
        "aws-actions/configure-aws-credentials" => aws_credentials(cx, &input, env),
        "actions/upload-artifact" => upload(cx, &input),
        "actions/download-artifact" => download(cx, &input),
        "actions/create-github-app-token" => app_token(cx, with),
        "actions/cache/restore" => super::stand_in_cache::restore(cx, &input),
        "actions/cache/save" => super::stand_in_cache::save(cx, &input),
        other => Err(format!(
            "no stand-in for {other}: add one to tests/support/actions_runner/stand_ins.rs"
        )),
    }
}

fn checkout(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let github = cx.contexts["github"].clone();
    let own = github["repository"].as_str().unwrap().to_string();
    let repo = Some(input("repository"))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| own.clone());
    let reference = match input("ref") {
        r if !r.is_empty() => r,
        _ if repo.eq_ignore_ascii_case(&own) => github["sha"].as_str().unwrap().to_string(),
        _ => "main".into(),
    };
    let token = Some(input("token"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| github["token"].as_str().unwrap_or_default().to_string());
    // The action fetches with its token: one that may not read the
    // repository's contents fails here as `git fetch` fails there.
    let url = format!("{}/repos/{repo}/commits/{reference}", cx.gh.api_url());
    let status = http_status(&url, &token);
    if status != 200 {
        return Err(format!(
            "actions/checkout: reading {repo}@{reference} with the step's token answered {status}"
        ));
    }
    let dest = match input("path") {
        p if p.is_empty() => cx.workspace.clone(),
        p => cx.workspace.join(p),
    };
    std::fs::create_dir_all(&dest).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&dest)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &dest)
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {ok:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&[
        "remote",
        "add",
        "origin",
        &format!("https://github.com/{repo}"),
    ]);
    // README: `fetch-depth` 1 by default, 0 for every branch and tag with
    // their whole history.
    let depth = match input("fetch-depth") {
        d if d.is_empty() => Some(1),
        d => match d.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return Err(format!(
                    "actions/checkout: fetch-depth `{d}` is not a number"
                ))
            }
        },
    };
    let git_dir = dest.join(".git");
    let (head, objects, mut shallow) = cx
        .gh
        .git_history(&repo, &reference, depth)
        .ok_or_else(|| format!("actions/checkout: {repo} has no {reference}"))?;
    objects.iter().for_each(|o| o.write_loose(&git_dir));
    if depth.is_none() {
        for (name, sha) in cx.gh.git_refs(&repo) {
            let (_, objects, more) = cx.gh.git_history(&repo, &sha, None).unwrap();
            objects.iter().for_each(|o| o.write_loose(&git_dir));
            shallow.extend(more);
            let local = match name.strip_prefix("refs/heads/") {
                Some(branch) => format!("refs/remotes/origin/{branch}"),
                None => name.clone(),
            };
            git(&["update-ref", &local, &sha]);
        }
    }
    if !shallow.is_empty() {
        std::fs::write(git_dir.join("shallow"), shallow.join("\n") + "\n").unwrap();
    }
    // The event's branch checked out as a local branch, as the action
    // does for `github.ref`; any other ref detached.
    let branch = github["ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .filter(|_| input("ref").is_empty() && repo.eq_ignore_ascii_case(&own));
    match branch {
        Some(b) => {
            git(&["update-ref", &format!("refs/heads/{b}"), &head]);
            git(&["symbolic-ref", "HEAD", &format!("refs/heads/{b}")]);
        }
        None => git(&["update-ref", "--no-deref", "HEAD", &head]),
    }
    git(&["reset", "-q", "--hard"]);
    if input("persist-credentials") != "false" {
        git(&[
            "config",
            "--local",
            "http.https://github.com/.extraheader",
            &format!("AUTHORIZATION: basic x-access-token:{token}"),
        ]);
    }
    Ok(BTreeMap::from([
        ("ref".to_string(), reference),
        ("commit".to_string(), head),
    ]))
}

fn app_token(
    cx: &mut JobCx,
    with: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let input = |k: &str| with.get(k).cloned().unwrap_or_default();
    let id = Some(input("client-id"))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| input("app-id"));
    if id.is_empty() {
        return Err("The 'client-id' (or deprecated 'app-id') input must be set to a non-empty string. If using a secret or variable, ensure it is available in this workflow context.".into());
    }
    let key = fleetform::github::AppKey::parse(
        fleetform::github::AppRole::Customer,
        &id,
        &input("private-key"),
    )
    .map_err(|e| format!("create-github-app-token: {e}"))?;
    let jwt = key.jwt(fleetform::util::now_unix()).unwrap();
    let github = cx.contexts["github"].clone();
    let own = github["repository"].as_str().unwrap().to_string();
    let owner = Some(input("owner"))
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| own.split('/').next().unwrap().to_string());
    let mut repos: Vec<String> = input("repositories")
        .split([',', '\n'])
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if repos.is_empty() && input("owner").is_empty() {
        repos.push(own.split('/').nth(1).unwrap().to_string());
    }
    let Some(first) = repos.first() else {
        return Err("create-github-app-token: a token for every repository of an owner is not used by the templates".into());
    };
    let api = cx.gh.api_url();
    let (status, installation) = http_json(
        "GET",
        &format!("{api}/repos/{owner}/{first}/installation"),
        jwt.expose(),
        None,
    );
    if status != 200 {
        return Err(format!(
            "Failed to create token for \"{}\": the installation of {owner}/{first} answered {status}",
            repos.join(",")
        ));
    }
    let permissions: serde_json::Map<String, serde_json::Value> = with
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("permission-")?;
            (!v.is_empty()).then(|| (name.replace('-', "_"), serde_json::Value::from(v.as_str())))
        })
        .collect();
    let mut body = serde_json::json!({ "repositories": repos });
    if !permissions.is_empty() {
        body["permissions"] = serde_json::Value::Object(permissions);
    }
    let (status, token) = http_json(
        "POST",
        &format!(
            "{api}/app/installations/{}/access_tokens",
            installation["id"]
        ),
        jwt.expose(),
        Some(&body),
    );
    if status != 201 {
        return Err(format!(
            "create-github-app-token: GitHub answered {status}: {}",
            token["message"]
        ));
    }
    let token = token["token"].as_str().unwrap().to_string();
    cx.mask(&token);
    Ok(BTreeMap::from([
        ("token".to_string(), token),
        (
            "installation-id".to_string(),
            installation["id"].to_string(),
        ),
        (
            "app-slug".to_string(),
            installation["app_slug"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
    ]))
}

/// A request's status and JSON answer (`null` when it is not JSON).
fn http_json(
    method: &str,
    url: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-X", method, "-w", "\n%{http_code}"])
        .args(["-H", "Accept: application/vnd.github+json"])
        .args(["-H", "X-GitHub-Api-Version: 2022-11-28"])
        .args(["-H", "User-Agent: actions/create-github-app-token"])
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if let Some(b) = body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data",
            &b.to_string(),
        ]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("curl is on PATH (bash .ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (json, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

/// The status code of a GET of `url` with `token`.
fn http_status(url: &str, token: &str) -> u16 {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["-H", "Accept: application/vnd.github+json"])
        .args(["-H", "X-GitHub-Api-Version: 2022-11-28"])
        .args(["-H", "User-Agent: actions/checkout"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .expect("curl is on PATH (bash .ci/run installs it)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

fn setup_terraform(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let asked = match input("terraform_version") {
        v if v.is_empty() => "latest".to_string(),
        v => v,
    };
    let wanted = if asked == "latest" {
        super::LATEST_TERRAFORM.to_string()
    } else {
        asked.trim_start_matches('v').to_string()
    };
    let Some(exe) = cx.runner.terraform.get(&wanted).cloned() else {
        return Err(format!(
            "hashicorp/setup-terraform: Terraform {wanted} (asked: {asked}) cannot be installed on this runner, which has {:?}; a plan saved with one version applies only with that version (FACTS), so every job installs the one fleetform.yml names",
            cx.runner.terraform.keys().collect::<Vec<_>>()
        ));
    };
    let dir = cx.dir.join("tools/terraform").join(&wanted);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("terraform");
    if !link.exists() {
        std::os::unix::fs::symlink(&exe, &link).unwrap();
    }
    cx.add_path(&dir);
    Ok(BTreeMap::new())
}

fn aws_credentials(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
    _env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let role = input("role-to-assume");
    if role.is_empty() {
        return Err("Credentials could not be loaded, please check your action inputs: Could not load credentials from any providers".into());
    }
    if !cx.has_oidc() {
        return Err("It looks like you might be trying to authenticate with OIDC. Did you mean to set the `id-token` permission? If you are not trying to authenticate with OIDC and the action is working successfully, you can ignore this message.".into());
    }
    let region = input("aws-region");
    if region.is_empty() {
        return Err("Region is not valid: ''".into());
    }
    let id = sha256_hex(format!("{role}/{}", cx.run_id).as_bytes());
    let (key, secret, session) = (
        format!("ASIA{}", id[..16].to_uppercase()),
        id[16..56].to_string(),
        format!("session-{}", &id[..24]),
    );
    let mut out = BTreeMap::new();
    if input("output-credentials") == "true" {
        out.insert("aws-access-key-id".into(), key.clone());
        out.insert("aws-secret-access-key".into(), secret.clone());
        out.insert("aws-session-token".into(), session.clone());
    }
    if input("output-env-credentials") != "false" {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
            ("AWS_SESSION_TOKEN", session.as_str()),
            ("AWS_REGION", region.as_str()),
            ("AWS_DEFAULT_REGION", region.as_str()),
        ] {
            cx.export(k, v);
        }
    }
    Ok(out)
}

fn upload(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let name = match input("name") {
        n if n.is_empty() => "artifact".to_string(),
        n => n,
    };
    let key = (cx.run_id, name.clone());
    if cx.runner.artifacts.contains_key(&key) && input("overwrite") != "true" {
        return Err(format!("Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run ({name})"));
    }
    // The action refuses a retention that is not a number of days; how
    // long GitHub then keeps the artifact is not modelled.
    let retention = input("retention-days");
    if !retention.is_empty() && retention.parse::<u32>().is_err() {
        return Err(format!("retention-days {retention:?} is not a number"));
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for pattern in input("path")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        files.extend(matching(&cx.workspace, pattern));
    }
    if files.is_empty() {
        match input("if-no-files-found").as_str() {
            "error" => {
                return Err(format!(
                "No files were found with the provided path: {}. No artifacts will be uploaded.",
                input("path")
            ))
            }
            _ => return Ok(BTreeMap::new()),
        }
    }
    let dir = cx
        .runner
        .dir()
        .join("artifacts")
        .join(cx.run_id.to_string())
        .join(format!("{name}-{}", cx.attempt));
    let _ = std::fs::remove_dir_all(&dir);
    let mut kept = Vec::new();
    for (src, rel) in files {
        let dest = dir.join(&rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dest).unwrap();
        kept.push(rel);
    }
    cx.runner
        .artifacts
        .insert(key, Artifact { dir, files: kept });
    Ok(BTreeMap::from([(
        "artifact-id".to_string(),
        "1".to_string(),
    )]))
}

fn download(
    cx: &mut JobCx,
    input: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, String> {
    let dest = match input("path") {
        p if p.is_empty() => cx.workspace.clone(),
        p => cx.workspace.join(p),
    };
    // `run-id` (with `github-token`) reads another run's artifacts.
    let run_id = match input("run-id") {
        r if r.is_empty() => cx.run_id,
        r => {
            if input("github-token").is_empty() {
                return Err("run-id needs github-token".into());
            }
            r.parse()
                .map_err(|_| format!("run-id `{r}` is not a number"))?
        }
    };
    let name = input("name");
    let chosen: Vec<(String, Artifact)> = if name.is_empty() {
        // README: `pattern` is ignored when `name` is given; with neither,
        // every artifact of the run.
        let pattern = match input("pattern") {
            p if p.is_empty() => "*".to_string(),
            p => p,
        };
        let glob = globset::Glob::new(&pattern)
            .map_err(|e| format!("pattern `{pattern}`: {e}"))?
            .compile_matcher();
        cx.runner
            .artifacts
            .iter()
            .filter(|((run, n), _)| *run == run_id && glob.is_match(n))
            .map(|((_, n), a)| (n.clone(), a.clone()))
            .collect()
    } else {
        let Some(a) = cx.runner.artifacts.get(&(run_id, name.clone())).cloned() else {
            return Err(format!(
                "Unable to download artifact(s): Artifact not found for name: {name}"
            ));
        };
        vec![(name.clone(), a)]
    };
    // README: several artifacts (a pattern, or none named) go each to a
    // folder of its name unless `merge-multiple: true`; one named artifact
    // goes to `path` itself.
    let apart = name.is_empty() && input("merge-multiple") != "true";
    for (n, a) in &chosen {
        let root = if apart { dest.join(n) } else { dest.clone() };
        for rel in &a.files {
            let to = root.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(a.dir.join(rel), to).unwrap();
        }
    }
    Ok(BTreeMap::from([(
        "download-path".to_string(),
        dest.display().to_string(),
    )]))
}

/// The files `pattern` names under `workspace`, each with its path
/// relative to the pattern's root (the folders before its first wildcard,
/// or a named folder itself).
fn matching(workspace: &Path, pattern: &str) -> Vec<(PathBuf, String)> {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let fixed = parts.iter().take_while(|p| !p.contains('*')).count();
    let root = workspace.join(parts[..fixed].join("/"));
    if fixed == parts.len() {
        if root.is_file() {
            let name = root.file_name().unwrap().to_string_lossy().into_owned();
            return vec![(root, name)];
        }
        return files_under(&root);
    }
    // @actions/glob's patterns: `*` within one folder, `**` any folders.
    let glob = globset::GlobBuilder::new(&parts[fixed..].join("/"))
        .literal_separator(true)
        .build()
        .unwrap_or_else(|e| panic!("upload-artifact path {pattern:?}: {e}"))
        .compile_matcher();
    files_under(&root)
        .into_iter()
        .filter(|(_, rel)| glob.is_match(rel))
        .collect()
}

fn files_under(root: &Path) -> Vec<(PathBuf, String)> {
    if !root.is_dir() {
        return Vec::new();
    }
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (e.path().to_path_buf(), rel)
        })
        .collect()
}
