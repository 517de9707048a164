//! A customer's files read from its repo's default branch on GitHub, for
//! the fleet jobs that plan without a checkout of the customer repos
//! (drift, repair plans): the variables file, each environment's override
//! and secrets files that exist, and `infra/products.yml`. A customer with
//! a local `path:` in the registry (or without a repo) is read from its
//! checkout instead ([`crate::fleet::local_sources`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Customer, Manager};
use crate::data::Diagnostic;
use crate::github::CustomerRepos;
use crate::values::customer::{override_path, CustomerSource};
use fleetform_yaml::{Location, Pos};

/// The default branches of the customer repos, each through its
/// repository's client ([`CustomerRepos`]).
pub struct DefaultBranch<'a> {
    pub rt: &'a tokio::runtime::Runtime,
    pub repos: &'a CustomerRepos,
}

impl DefaultBranch<'_> {
    /// The customer's repo when its files are read from GitHub (it has a
    /// repo and no local path).
    pub fn repo_of(c: &Customer) -> Option<&str> {
        match (&c.repo, &c.path) {
            (Some(repo), None) => Some(repo),
            _ => None,
        }
    }

    /// A customer's files of `manager`'s product: the variables file and
    /// the override files of `envs` that exist (and, with `secrets:`, the
    /// secrets files, still encrypted: one request each).
    pub fn files(
        &self,
        manager: &Manager,
        repo: &str,
        envs: &[String],
    ) -> Result<CustomerSource, Vec<Diagnostic>> {
        let fail = |m: String| {
            vec![Diagnostic {
                location: Location {
                    file: PathBuf::from(format!("{repo}:{}", manager.config.customer.variables)),
                    pos: Pos { line: 1, col: 1 },
                },
                pointer: None,
                message: m,
            }]
        };
        self.rt.block_on(async {
            let gh = self
                .repos
                .client(repo)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let vars = gh
                .get_file(repo, &manager.config.customer.variables, None)
                .await
                .map_err(|e| fail(e.to_string()))?
                .ok_or_else(|| {
                    fail("the variables file does not exist on the default branch".into())
                })?;
            let mut overrides = BTreeMap::new();
            let mut secrets = BTreeMap::new();
            let with_secrets = manager.config.secrets.is_some();
            for e in envs {
                let mut wanted = vec![(override_path(manager, e), &mut overrides)];
                if with_secrets {
                    wanted.push((
                        crate::values::customer::secrets_path(manager, e),
                        &mut secrets,
                    ));
                }
                for (p, into) in wanted {
                    if let Some(b) = gh
                        .get_file(repo, &p, None)
                        .await
                        .map_err(|e| fail(e.to_string()))?
                    {
                        into.insert(e.clone(), (PathBuf::from(&p), b));
                    }
                }
            }
            Ok(CustomerSource {
                variables: (PathBuf::from(&manager.config.customer.variables), vars),
                overrides,
                secrets,
            })
        })
    }

    /// A customer's `infra/products.yml` on its default branch, if there.
    pub fn products_file(&self, repo: &str) -> Result<Option<(PathBuf, Vec<u8>)>, Diagnostic> {
        let path = crate::config::PRODUCTS_FILE;
        self.rt
            .block_on(async {
                let gh = self.repos.client(repo).await?;
                gh.get_file(repo, path, None).await
            })
            .map(|b| b.map(|b| (PathBuf::from(format!("{repo}:{path}")), b)))
            .map_err(|e| Diagnostic {
                location: Location {
                    file: PathBuf::from(format!("{repo}:{path}")),
                    pos: Pos { line: 1, col: 1 },
                },
                pointer: None,
                message: e.to_string(),
            })
    }
}
