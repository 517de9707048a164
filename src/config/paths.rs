//! The paths fleetform.yml names, and their containment.
//!
//! Two checks, both when fleetform.yml loads, both before anything is read
//! through one of these paths:
//!
//! - **The text.** Every manager-side path key is a [`RepoPath`], whose
//!   deserialisation refuses `..`, roots and prefixes.
//! - **The file system.** [`Manager::check_paths_resolve`] resolves every
//!   path fleetform.yml names ([`Manager::repo_paths`]: schemas, value
//!   files, root modules, the registry, state and records folders, the
//!   sync template, policy folders and tool programs in the repo) as the
//!   operating system would open it, following every symlink on the way,
//!   and refuses one that leads outside the canonical manager root or
//!   through a broken link, at its key's `fleetform.yml:line:col`, naming
//!   the path and where it leads. A link inside the repo that points inside
//!   it is fine.

use super::*;
use crate::util::path::{resolve_under, Resolved};

/// A path in `fleetform.yml`, relative to the manager repo and inside it
/// (no `..`, not absolute). Every manager-side path key has this type, so
/// reading the key checks it: no key can be added without the check (a
/// test refuses a plain `PathBuf` field in `mod.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RepoPath(pub(super) PathBuf);

impl RepoPath {
    /// The message of a refused path; [`from_doc`] places it at the key.
    pub(super) const REFUSED: &'static str = "must be a relative path inside the manager repo";

    /// A default: one of the literals in this module's parent, all inside.
    pub(super) fn default_for(literal: &'static str) -> Self {
        RepoPath(PathBuf::from(literal))
    }
}

impl<'de> Deserialize<'de> for RepoPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = PathBuf::deserialize(d)?;
        if is_relative_inside(&p) {
            Ok(RepoPath(p))
        } else {
            Err(serde::de::Error::custom(format!(
                "{} (no `..`, not absolute), not `{}`; keep the file in the manager repo and name it relative to fleetform.yml",
                RepoPath::REFUSED,
                p.display()
            )))
        }
    }
}

impl std::ops::Deref for RepoPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for RepoPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Manager {
    /// Every path fleetform.yml names in the manager repo, with the JSON
    /// pointer of its key (defaults included: their key is absent, and the
    /// error points at the mapping that would hold it).
    pub fn repo_paths<'a>(&'a self) -> Vec<(String, &'a Path)> {
        let c = &self.config;
        let mut out: Vec<(String, &Path)> = Vec::new();
        fn push<'a>(out: &mut Vec<(String, &'a Path)>, pointer: String, p: &'a RepoPath) {
            out.push((pointer, &p.0));
        }
        let mut add = |pointer: String, p: &'a RepoPath| push(&mut out, pointer, p);
        if let Some(p) = &c.schema {
            add("/schema".into(), p);
        }
        add("/registry".into(), &c.registry);
        if let Some(p) = &c.values.base {
            add("/values/base".into(), p);
        }
        for (i, e) in c.environments.iter().enumerate() {
            if let Some(p) = &e.values {
                add(format!("/environments/{i}/values"), p);
            }
        }
        if let Some(p) = &c.terraform.working_dir {
            add("/terraform/working_dir".into(), p);
        }
        if let Backend::Local { state_dir } = &c.terraform.backend {
            add("/terraform/backend/state_dir".into(), state_dir);
        }
        add("/sync/template_dir".into(), &c.sync.template_dir);
        if let Some(s) = &c.secrets {
            // Where `customers add` writes identities: never through a
            // link out of the repo.
            add("/secrets/keys_dir".into(), &s.keys_dir);
        }
        match &c.records {
            Records::Local { dir, .. } => add("/records/dir".into(), dir),
            Records::S3 {
                ca_file: Some(ca), ..
            } => add("/records/ca_file".into(), ca),
            Records::S3 { .. } => {}
        }
        for (i, p) in c.products.iter().enumerate() {
            add(format!("/products/{i}/working_dir"), &p.working_dir);
            add(format!("/products/{i}/schema"), &p.schema);
            if let Some(b) = &p.values.base {
                add(format!("/products/{i}/values/base"), b);
            }
            for (env, v) in &p.values.environments {
                let at = format!(
                    "/products/{i}/values/environments/{}",
                    yaml::escape_token(env)
                );
                add(at, v);
            }
        }
        out.extend(self.tool_paths());
        out
    }

    /// The policy tools' paths in the repo: conftest's policy folder, and
    /// a `run:` program named by a relative path (an absolute one is a
    /// program installed on the runner; a bare name is looked up on PATH).
    fn tool_paths(&self) -> Vec<(String, &Path)> {
        let policies = &self.config.policies;
        let mut gates: Vec<(String, &super::policies::Gates)> =
            vec![("/policies/default".into(), &policies.default)];
        for (env, g) in &policies.environments {
            gates.push((
                format!("/policies/environments/{}", yaml::escape_token(env)),
                g,
            ));
        }
        let mut out = Vec::new();
        for (at, g) in gates {
            for (i, t) in g.tools.iter().flatten().enumerate() {
                if let Some(p) = &t.policy {
                    out.push((format!("{at}/tools/{i}/policy"), Path::new(p.as_str())));
                }
                let run = Path::new(t.program());
                if t.run.is_some() && run.components().count() > 1 && run.is_relative() {
                    out.push((format!("{at}/tools/{i}/run"), run));
                }
            }
        }
        out
    }

    /// Every path of [`Manager::repo_paths`] resolved on the file system:
    /// one that leads outside the manager repo (through a symlink, `..` or
    /// an absolute path), or through a broken link, is refused at its key.
    pub(super) fn check_paths_resolve(&self) -> Result<(), ConfigError> {
        for (pointer, rel) in self.repo_paths() {
            let shown = match self.doc.exact_pos(&pointer) {
                Some(_) => format!("`{}`", rel.display()),
                None => format!("`{}` (the default)", rel.display()),
            };
            let problem = match resolve_under(&self.root, rel) {
                Ok(Resolved::Inside(_)) => continue,
                Ok(Resolved::Outside { to, root }) => format!(
                    "{shown} leads to {}, outside the manager repo ({}); every path fleetform.yml names, and every link on its way, must stay inside the manager repo: copy what it names into the repo",
                    to.display(),
                    root.display()
                ),
                Ok(Resolved::Broken { at, reason }) => format!(
                    "{shown} cannot be resolved: {} is a link that leads nowhere ({reason}); fix or remove the link",
                    at.display()
                ),
                Err(e) => format!(
                    "{shown} cannot be resolved: the manager repo {}: {e}",
                    self.root.display()
                ),
            };
            return Err(ConfigError::Invalid {
                location: Location {
                    file: self.doc.file.clone(),
                    pos: self.doc.key_pos(&pointer),
                },
                message: format!("{pointer}: {problem}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(root: &Path, text: &str) -> Manager {
        let doc = yaml::load_str(text, Path::new("fleetform.yml"), &Limits::default()).unwrap();
        Manager {
            root: root.to_path_buf(),
            config: from_doc(&doc).unwrap(),
            doc,
            product: None,
            pin: None,
        }
    }

    const ALL_KEYS: &str = "version: 1\nschema: s.json\nregistry: c.yml\nvalues: {base: v/b.yml}\n\
        environments:\n  - name: staging\n    values: v/s.yml\n\
        terraform:\n  working_dir: tf\n  backend:\n    kind: local\n    state_dir: st\n\
        sync:\n  template_dir: t\nrecords:\n  kind: local\n  dir: r\n\
        policies:\n  default:\n    tools:\n      - {name: a, kind: conftest, run: bin/conftest, policy: pol}\n\
        \x20 environments:\n    staging:\n      tools:\n        - {name: b, kind: checkov, run: /usr/bin/checkov}\n";

    const PRODUCTS: &str = "version: 1\nenvironments:\n  - name: staging\n\
        terraform:\n  backend: {kind: local}\n\
        products:\n  - name: app\n    working_dir: app/tf\n    schema: app/s.json\n\
        \x20   values:\n      base: app/b.yml\n      environments: {staging: app/s.yml}\n";

    const S3_CA: &str = "version: 1\nenvironments:\n  - name: staging\n\
        terraform:\n  backend: {kind: local}\n\
        records: {kind: s3, bucket: b, region: eu-west-1, ca_file: ca.pem}\n";

    /// Every `RepoPath` field declared in the configuration is listed by
    /// `repo_paths`: a new path key left out of it would skip the check
    /// on the file system.
    #[test]
    fn every_path_key_is_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let listed: Vec<String> = [ALL_KEYS, PRODUCTS, S3_CA]
            .iter()
            .flat_map(|t| {
                let m = manager(dir.path(), t);
                m.repo_paths()
                    .into_iter()
                    .map(|(p, _)| p)
                    .collect::<Vec<_>>()
            })
            .collect();
        let sources = [
            include_str!("mod.rs"),
            include_str!("products.rs"),
            include_str!("records.rs"),
        ];
        let fields: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.split("#[cfg(test)]").next().unwrap_or_default().lines())
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.starts_with("fn ") && l.ends_with(','))
            .filter(|l| l.contains("RepoPath"))
            .filter_map(|l| l.trim_start_matches("pub ").split(':').next())
            .collect();
        assert!(fields.len() >= 12, "{fields:?}");
        for f in fields {
            assert!(
                listed
                    .iter()
                    .any(|p| p.ends_with(&format!("/{f}")) || p.contains(&format!("/{f}/"))),
                "`{f}` is a RepoPath key that repo_paths does not list: {listed:?}"
            );
        }
        for want in [
            "/policies/default/tools/0/policy",
            "/policies/default/tools/0/run",
            "/products/0/values/environments/staging",
        ] {
            assert!(listed.iter().any(|p| p == want), "{want}: {listed:?}");
        }
        assert!(
            !listed
                .iter()
                .any(|p| p.contains("environments/staging/tools")),
            "an absolute program is the runner's: {listed:?}"
        );
    }

    /// A link inside the repo that points inside it is fine; one that
    /// leads out, or nowhere, is refused at its key with where it leads.
    #[cfg(unix)]
    #[test]
    fn links_out_of_the_repo_are_refused_at_their_key() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("real-tf")).unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        symlink("real-tf", root.join("tf")).unwrap();
        let m = manager(&root, ALL_KEYS);
        m.check_paths_resolve().unwrap();

        symlink(dir.path().join("outside"), root.join("v")).unwrap();
        let e = manager(&root, ALL_KEYS)
            .check_paths_resolve()
            .unwrap_err()
            .to_string();
        let outside = std::fs::canonicalize(dir.path().join("outside")).unwrap();
        assert!(
            e.starts_with("fleetform.yml:4:10: /values/base: `v/b.yml` leads to ")
                && e.contains(&format!(
                    "{}, outside the manager repo",
                    outside.join("b.yml").display()
                )),
            "{e}"
        );
        std::fs::remove_file(root.join("v")).unwrap();
        symlink("gone", root.join("st")).unwrap();
        let e = manager(&root, ALL_KEYS)
            .check_paths_resolve()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "fleetform.yml:12:5: /terraform/backend/state_dir: `st` cannot be resolved: "
            ) && e.contains("is a link that leads nowhere"),
            "{e}"
        );
    }
}
