//! Products (`products:` in fleetform.yml): separate stacks (network,
//! database, application) with their own root module, schema, value layers,
//! environments and state, and `needs:` between them.
//!
//! A manager without `products:` is one implicit product: its top-level
//! `schema`, `values`, `customer` and `terraform` keys. A manager with
//! products runs each through a *product view*: a [`Manager`] whose keys
//! are the product's, so everything below the configuration (values,
//! Terraform, gates, reports) works on one product at a time unchanged.
//! [`Unit`] is the unit of work everywhere: customer × product ×
//! environment.

use std::collections::BTreeMap;
use std::fmt;

use super::*;

/// What is wrong with a product named (or not) where one may be
/// ([`Manager::product_problem`]); each caller words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductProblem {
    /// fleetform.yml declares products and none is named.
    Missing,
    /// One is named and fleetform.yml declares no `products:`.
    NoProducts,
    /// One fleetform.yml does not declare.
    Unknown,
}

/// One entry of `products:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    /// Lowercase letters, digits and `-`.
    pub name: String,
    /// The product's root module.
    pub working_dir: RepoPath,
    /// JSON Schema for the customer's values of this product.
    pub schema: RepoPath,
    /// The product's manager value layers.
    #[serde(default)]
    pub values: ProductValues,
    /// The environments the product exists in (default: all), a subset of
    /// the manager's, kept in the manager's order.
    pub environments: Option<Vec<String>>,
    /// State key; `{customer}`, `{product}` and `{environment}` are
    /// replaced (default `{customer}/{product}/{environment}/terraform.tfstate`).
    pub state_key: Option<String>,
    /// Products whose outputs this one consumes: per product, this
    /// product's variable → the other product's output.
    #[serde(default)]
    pub needs: BTreeMap<String, BTreeMap<String, String>>,
    /// Where the customer's files for this product live (default
    /// `infra/<product>/variables.yml` and
    /// `infra/<product>/variables.{environment}.yml`).
    pub customer: Option<CustomerFiles>,
}

/// A product's manager value layers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductValues {
    /// For every customer and environment.
    pub base: Option<RepoPath>,
    /// Per environment, by name.
    #[serde(default)]
    pub environments: BTreeMap<String, RepoPath>,
}

/// The default state key of a product.
pub const PRODUCT_STATE_KEY: &str = "{customer}/{product}/{environment}/terraform.tfstate";

/// The file in a customer repo that lists the products it enables.
pub const PRODUCTS_FILE: &str = "infra/products.yml";

/// The unit of work: one customer's product in one environment. `product`
/// is `None` for the implicit product of a manager without `products:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unit {
    pub customer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub environment: String,
}

impl Unit {
    pub fn new(customer: &str, product: Option<&str>, environment: &str) -> Unit {
        Unit {
            customer: customer.to_string(),
            product: product.map(str::to_string),
            environment: environment.to_string(),
        }
    }

    /// The unit within its customer: `<environment>`, or
    /// `<product>/<environment>` (status slots, summaries, seals).
    pub fn place(&self) -> String {
        match &self.product {
            Some(p) => format!("{p}/{}", self.environment),
            None => self.environment.clone(),
        }
    }

    /// The folder of this unit under a results root:
    /// `<customer>/<environment>`, or `<customer>/<product>/<environment>`.
    pub fn rel_dir(&self) -> PathBuf {
        let mut p = PathBuf::from(&self.customer);
        if let Some(product) = &self.product {
            p.push(product);
        }
        p.push(&self.environment);
        p
    }
}

impl Unit {
    /// The one shard and unit syntax: `customer/environment` or
    /// `customer/product/environment` (as [`Unit`] displays), each part a
    /// slug.
    pub fn parse(text: &str) -> Result<Unit, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let ok = |s: &str| super::is_slug(s);
        match parts.as_slice() {
            [c, e] if ok(c) && ok(e) => Ok(Unit::new(c, None, e)),
            [c, p, e] if ok(c) && ok(p) && ok(e) => Ok(Unit::new(c, Some(p), e)),
            _ => Err(format!(
                "`{}` is not customer/environment or customer/product/environment",
                text.escape_debug()
            )),
        }
    }
}

impl fmt::Display for Unit {
    /// `acme/staging`, or `acme/network/staging`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.product {
            Some(p) => write!(f, "{}/{}/{}", self.customer, p, self.environment),
            None => write!(f, "{}/{}", self.customer, self.environment),
        }
    }
}

impl Manager {
    /// Whether fleetform.yml declares `products:`.
    pub fn has_products(&self) -> bool {
        !self.config.products.is_empty()
    }

    /// The products to run, dependencies first: one view per product (see
    /// the module docs), or the manager itself when it has no products.
    pub fn products(&self) -> Vec<Manager> {
        if !self.has_products() {
            return vec![self.clone()];
        }
        self.product_order()
            .into_iter()
            .map(|i| self.view(&self.config.products[i]))
            .collect()
    }

    /// The view a command runs on: the manager itself without products;
    /// with products, the one `--product` names (required then).
    pub fn select_product(&self, product: Option<&str>) -> Result<Manager, String> {
        match self.product_problem(product) {
            Some(ProductProblem::NoProducts) => {
                Err("--product: fleetform.yml declares no `products:`".into())
            }
            Some(ProductProblem::Missing) => Err(format!(
                "say which product: --product ({})",
                self.product_names().join(", ")
            )),
            Some(ProductProblem::Unknown) => Err(format!(
                "unknown product `{}`; fleetform.yml declares: {}",
                product.unwrap_or_default(),
                self.product_names().join(", ")
            )),
            None => Ok(product
                .and_then(|p| self.product(p))
                .unwrap_or_else(|| self.clone())),
        }
    }

    /// What is wrong with naming `product` (a pin's, `--product`): one is
    /// named exactly when fleetform.yml declares `products:`, and it is
    /// one of them. `None`: nothing.
    pub fn product_problem(&self, product: Option<&str>) -> Option<ProductProblem> {
        match (product, self.has_products()) {
            (None, true) => Some(ProductProblem::Missing),
            (Some(_), false) => Some(ProductProblem::NoProducts),
            (Some(p), true) if !self.product_names().contains(&p) => Some(ProductProblem::Unknown),
            _ => None,
        }
    }

    /// One product's view, by name.
    pub fn product(&self, name: &str) -> Option<Manager> {
        self.config
            .products
            .iter()
            .find(|p| p.name == name)
            .map(|p| self.view(p))
    }

    /// The product names, in declaration order.
    pub fn product_names(&self) -> Vec<&str> {
        self.config
            .products
            .iter()
            .map(|p| p.name.as_str())
            .collect()
    }

    /// What this product view needs: product → (variable → output).
    pub fn needs(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.product
            .as_deref()
            .and_then(|name| self.config.products.iter().find(|p| p.name == name))
            .map(|p| p.needs.clone())
            .unwrap_or_default()
    }

    /// The manager as one product sees it.
    fn view(&self, p: &ProductConfig) -> Manager {
        let mut config = self.config.clone();
        config.schema = Some(p.schema.clone());
        config.values = ManagerValues {
            base: p.values.base.clone(),
        };
        config.environments = self
            .config
            .environments
            .iter()
            .filter(|e| {
                p.environments
                    .as_ref()
                    .is_none_or(|list| list.contains(&e.name))
            })
            .map(|e| Environment {
                values: p.values.environments.get(&e.name).cloned(),
                ..e.clone()
            })
            .collect();
        config.terraform.working_dir = Some(p.working_dir.clone());
        config.terraform.state_key = p
            .state_key
            .as_deref()
            .unwrap_or(PRODUCT_STATE_KEY)
            .replace("{product}", &p.name);
        config.customer = p.customer.clone().unwrap_or_else(|| CustomerFiles {
            variables: format!("infra/{}/variables.yml", p.name),
            overrides: format!("infra/{}/variables.{{environment}}.yml", p.name),
            secrets: format!("infra/{}/secrets.{{environment}}.yml", p.name),
        });
        Manager {
            root: self.root.clone(),
            config,
            doc: self.doc.clone(),
            product: Some(p.name.clone()),
            pin: None,
        }
    }

    /// Product indexes, every product after the ones it needs (declaration
    /// order otherwise). Assumes [`Manager::check_products`] passed.
    fn product_order(&self) -> Vec<usize> {
        let products = &self.config.products;
        let mut done: Vec<usize> = Vec::new();
        while done.len() < products.len() {
            let before = done.len();
            for (i, p) in products.iter().enumerate() {
                let ready = !done.contains(&i)
                    && p.needs.keys().all(|n| {
                        products
                            .iter()
                            .position(|q| &q.name == n)
                            .is_none_or(|j| done.contains(&j))
                    });
                if ready {
                    done.push(i);
                }
            }
            if done.len() == before {
                break; // a cycle: refused by the check
            }
        }
        done
    }

    /// Names, environments, value files, state keys and needs of every
    /// product; a cycle of needs is refused with its path.
    pub(super) fn check_products(&self) -> Result<(), ConfigError> {
        let products = &self.config.products;
        let mut seen = BTreeSet::new();
        for (i, p) in products.iter().enumerate() {
            let at = |k: &str| format!("/products/{i}{k}");
            if !is_slug(&p.name) {
                return Err(self.invalid(
                    &at("/name"),
                    format!(
                        "product name `{}` must be lowercase letters, digits and `-`",
                        p.name
                    ),
                ));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(self.invalid(
                    &at("/name"),
                    format!("product `{}` is declared twice", p.name),
                ));
            }
            self.check_product_environments(i, p)?;
            let key = p.state_key.as_deref().unwrap_or(PRODUCT_STATE_KEY);
            check_key_template(key, true).map_err(|m| self.invalid(&at("/state_key"), m))?;
            if let Some(files) = &p.customer {
                self.check_files(files, &at("/customer"))?;
            }
        }
        self.check_state_keys_differ()?;
        self.check_needs()?;
        if let Some(cycle) = self.needs_cycle() {
            let i = products
                .iter()
                .position(|p| p.name == cycle[0])
                .unwrap_or(0);
            return Err(self.invalid(
                &format!("/products/{i}/needs"),
                format!(
                    "products need each other in a circle: {}; a product can only consume the outputs of products applied before it",
                    cycle.join(" → ")
                ),
            ));
        }
        Ok(())
    }

    fn check_product_environments(&self, i: usize, p: &ProductConfig) -> Result<(), ConfigError> {
        for (j, e) in p.environments.iter().flatten().enumerate() {
            if self.environment(e).is_none() {
                return Err(self.invalid(
                    &format!("/products/{i}/environments/{j}"),
                    format!(
                        "unknown environment `{e}`; declared: {}",
                        self.environment_names().join(", ")
                    ),
                ));
            }
        }
        for e in p.values.environments.keys() {
            if self.environment(e).is_none() {
                let pointer = format!(
                    "/products/{i}/values/environments/{}",
                    yaml::escape_token(e)
                );
                return Err(ConfigError::Invalid {
                    location: Location {
                        file: self.doc.file.clone(),
                        pos: self.doc.key_pos(&pointer),
                    },
                    message: format!("values for unknown environment `{e}`"),
                });
            }
        }
        Ok(())
    }

    /// Two products never share a state key.
    fn check_state_keys_differ(&self) -> Result<(), ConfigError> {
        let mut keys: BTreeMap<String, &str> = BTreeMap::new();
        for (i, p) in self.config.products.iter().enumerate() {
            let key = p
                .state_key
                .as_deref()
                .unwrap_or(PRODUCT_STATE_KEY)
                .replace("{product}", &p.name);
            if let Some(other) = keys.insert(key, &p.name) {
                return Err(self.invalid(
                    &format!("/products/{i}/state_key"),
                    format!(
                        "products `{other}` and `{}` would share state; put `{{product}}` in the key",
                        p.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every need names another declared product, in every environment
    /// of the dependent, and maps variable names to output names.
    fn check_needs(&self) -> Result<(), ConfigError> {
        let products = &self.config.products;
        for (i, p) in products.iter().enumerate() {
            for (dep, vars) in &p.needs {
                let pointer = format!("/products/{i}/needs/{}", yaml::escape_token(dep));
                let key_at = |message: String| ConfigError::Invalid {
                    location: Location {
                        file: self.doc.file.clone(),
                        pos: self.doc.key_pos(&pointer),
                    },
                    message,
                };
                let Some(d) = products.iter().find(|q| &q.name == dep) else {
                    return Err(key_at(format!(
                        "`{}` needs unknown product `{dep}`; declared: {}",
                        p.name,
                        self.product_names().join(", ")
                    )));
                };
                if d.name == p.name {
                    return Err(key_at(format!("`{}` cannot need itself", p.name)));
                }
                let envs = |q: &ProductConfig| -> Vec<String> {
                    q.environments.clone().unwrap_or_else(|| {
                        self.environment_names()
                            .iter()
                            .map(|s| s.to_string())
                            .collect()
                    })
                };
                if let Some(missing) = envs(p).into_iter().find(|e| !envs(d).contains(e)) {
                    return Err(key_at(format!(
                        "`{}` exists in `{missing}` but `{dep}`, which it needs, does not",
                        p.name
                    )));
                }
                for (var, output) in vars {
                    if !is_identifier(var) || !is_identifier(output) {
                        return Err(self.invalid(
                            &format!("{pointer}/{}", yaml::escape_token(var)),
                            format!("`{var}: {output}` must map a variable name to an output name (letters, digits, `_`, `-`)"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A circle of needs, as product names from and back to its first.
    fn needs_cycle(&self) -> Option<Vec<String>> {
        let products = &self.config.products;
        fn visit(
            products: &[ProductConfig],
            name: &str,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|n| n == name) {
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_string());
                return Some(cycle);
            }
            if done.contains(name) {
                return None;
            }
            path.push(name.to_string());
            let p = products.iter().find(|p| p.name == name)?;
            for dep in p.needs.keys() {
                if let Some(c) = visit(products, dep, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(name.to_string());
            None
        }
        let mut done = BTreeSet::new();
        products
            .iter()
            .find_map(|p| visit(products, &p.name, &mut Vec::new(), &mut done))
    }
}

/// A Terraform variable or output name.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(products: &str) -> Result<Manager, String> {
        let text = format!(
            "version: 1\nenvironments:\n  - name: staging\n  - name: production\nterraform:\n  backend: {{kind: local}}\nproducts:\n{products}"
        );
        let doc = yaml::load_str(&text, Path::new("fleetform.yml"), &Limits::default())
            .map_err(|e| e.to_string())?;
        let config: ManagerConfig = from_doc(&doc).map_err(|e| e.to_string())?;
        let m = Manager {
            root: PathBuf::from("."),
            config,
            doc,
            product: None,
            pin: None,
        };
        m.check().map_err(|e| e.to_string())?;
        Ok(m)
    }

    const TWO: &str = "  - name: app\n    working_dir: app\n    schema: app.json\n    needs:\n      network: {network_id: id}\n  - name: network\n    working_dir: net\n    schema: net.json\n";

    #[test]
    fn products_run_after_what_they_need_each_in_its_own_view() {
        let m = manager(TWO).unwrap();
        let views = m.products();
        let names: Vec<_> = views.iter().map(|v| v.product.clone().unwrap()).collect();
        assert_eq!(names, ["network", "app"]);
        let app = &views[1];
        assert_eq!(
            app.state_key("acme", "staging"),
            "acme/app/staging/terraform.tfstate"
        );
        assert_eq!(app.config.customer.variables, "infra/app/variables.yml");
        assert_eq!(
            app.config.customer.overrides,
            "infra/app/variables.{environment}.yml"
        );
        assert_eq!(app.schema_path(), Path::new("app.json"));
        assert_eq!(app.working_dir(), Path::new("app"));
        assert_eq!(app.needs()["network"]["network_id"], "id");
        assert!(views[0].needs().is_empty());
    }

    #[test]
    fn a_circle_of_needs_is_refused_with_its_path() {
        let e = manager(&format!("{TWO}    needs:\n      app: {{app_url: url}}\n")).unwrap_err();
        assert!(
            e.contains("products need each other in a circle: app → network → app"),
            "{e}"
        );
        assert!(e.starts_with("fleetform.yml:"), "{e}");
    }

    #[test]
    fn needs_and_environments_are_checked_where_they_are_written() {
        let e = manager(&TWO.replace("network: {network_id: id}", "netwrk: {network_id: id}"))
            .unwrap_err();
        assert!(
            e.contains("fleetform.yml:12:7") && e.contains("unknown product `netwrk`"),
            "{e}"
        );
        let e = manager(&format!("{TWO}    environments: [staging]\n")).unwrap_err();
        assert!(
            e.contains("`app` exists in `production` but `network`"),
            "{e}"
        );
        let e = manager(&TWO.replace(
            "working_dir: net\n",
            "working_dir: net\n    environments: [qa]\n",
        ))
        .unwrap_err();
        assert!(e.contains("unknown environment `qa`"), "{e}");
        let e = manager(&format!("{TWO}    state_key: \"{{customer}}/{{environment}}\"\n  - name: db\n    working_dir: db\n    schema: db.json\n    state_key: \"{{customer}}/{{environment}}\"\n")).unwrap_err();
        assert!(e.contains("would share state"), "{e}");
        let e = manager(&TWO.replace("name: network", "name: app")).unwrap_err();
        assert!(e.contains("declared twice"), "{e}");
    }
}
