//! The files of a customer's repository fleetform reads, in one list that
//! every path shares: the trigger's relay call, the relay's webhook and
//! `poll` (which changes to dispatch), the dispatch's check of the files
//! it lists, and the apply's check that nothing it planned from changed
//! on the default branch since. A file missing from one of them was a
//! change nobody planned (a secrets rotation) or an apply of stale input.

use super::{CustomerFiles, Manager, PRODUCTS_FILE};

impl CustomerFiles {
    /// Where the customer's reference of its settings goes (`fleetform
    /// form`, `sync.form`): `README.md` beside its variables file.
    pub fn reference_page(&self) -> String {
        std::path::Path::new(&self.variables)
            .with_file_name("README.md")
            .display()
            .to_string()
    }
}

/// One file of a customer's repository, and the environment it is for
/// (none: every environment's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFile {
    pub path: String,
    pub environment: Option<String>,
    pub kind: CustomerFileKind,
}

/// What a customer file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerFileKind {
    Variables,
    Overrides,
    /// Encrypted secrets (only with `secrets:` in fleetform.yml).
    Secrets,
    /// `infra/products.yml` (only with `products:`).
    Products,
}

impl Manager {
    /// Every customer file of this manager: each product view's
    /// variables, each environment's overrides and, with `secrets:`, its
    /// secrets file; with `products:` the products file.
    pub fn customer_files(&self) -> Vec<CustomerFile> {
        let mut out = Vec::new();
        if self.has_products() {
            out.push(CustomerFile {
                path: PRODUCTS_FILE.to_string(),
                environment: None,
                kind: CustomerFileKind::Products,
            });
        }
        for view in self.products() {
            out.extend(view.view_files());
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|f| seen.insert(f.path.clone()));
        out
    }

    /// This view's own files (the manager itself without products).
    fn view_files(&self) -> Vec<CustomerFile> {
        let c = &self.config.customer;
        let mut out = vec![CustomerFile {
            path: c.variables.clone(),
            environment: None,
            kind: CustomerFileKind::Variables,
        }];
        for e in &self.config.environments {
            out.push(CustomerFile {
                path: c.overrides.replace("{environment}", &e.name),
                environment: Some(e.name.clone()),
                kind: CustomerFileKind::Overrides,
            });
            if self.config.secrets.is_some() {
                out.push(CustomerFile {
                    path: c.secrets.replace("{environment}", &e.name),
                    environment: Some(e.name.clone()),
                    kind: CustomerFileKind::Secrets,
                });
            }
        }
        out
    }

    /// The paths of [`Manager::customer_files`].
    pub fn customer_file_paths(&self) -> Vec<String> {
        self.customer_files().into_iter().map(|f| f.path).collect()
    }

    /// The files a plan of `env` (this view) is made from: the variables,
    /// the environment's overrides and secrets, and with products the
    /// products file. What the apply checks did not change.
    pub fn files_planned_from(&self, env: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .view_files()
            .into_iter()
            .filter(|f| f.environment.as_deref().is_none_or(|e| e == env))
            .map(|f| f.path)
            .collect();
        if self.product.is_some() {
            out.push(PRODUCTS_FILE.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manager of `extra` over a minimal fleetform.yml, with the folder
    /// that holds it.
    fn manager(extra: &str) -> (Manager, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("version: 1\nschema: s.json\nenvironments: [{{name: staging}}, {{name: production}}]\nterraform: {{working_dir: t}}\n{extra}");
        std::fs::write(dir.path().join("fleetform.yml"), text).unwrap();
        (crate::config::Manager::load(dir.path()).unwrap(), dir)
    }

    #[test]
    fn secrets_files_are_customer_files_with_secrets() {
        let plain = manager("").0.customer_file_paths();
        assert_eq!(
            plain,
            [
                "infra/variables.yml",
                "infra/variables.staging.yml",
                "infra/variables.production.yml"
            ]
        );
        let (with, _dir) = manager("secrets: {}\n");
        assert!(with
            .customer_file_paths()
            .contains(&"infra/secrets.production.yml".to_string()));
        assert_eq!(
            with.files_planned_from("staging"),
            [
                "infra/variables.yml",
                "infra/variables.staging.yml",
                "infra/secrets.staging.yml"
            ]
        );
    }
}
