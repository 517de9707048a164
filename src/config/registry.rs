//! The customer registry (`customers.yml`): who is onboarded, where their
//! repo is, which environments, and revocations; loaded and checked.

use super::*;

/// The registry is the provider's own file and grows with the fleet: tens
/// of thousands of customers must load.
pub const REGISTRY_LIMITS: Limits = Limits {
    max_bytes: 64 * 1024 * 1024,
    max_depth: 32,
    max_nodes: 5_000_000,
    max_keys: 5_000,
    max_string: 64 * 1024,
    max_expanded_bytes: 256 * 1024 * 1024,
    max_index_bytes: 512 * 1024 * 1024,
};

/// `customers.yml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default)]
    pub customers: Vec<Customer>,
}

/// One registered customer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// Stable identifier: lowercase `[a-z0-9-]`, at most 63 characters.
    pub slug: String,
    /// The customer's GitHub repository, `owner/name`.
    pub repo: Option<String>,
    /// GitHub's numeric id of `repo`. It survives a rename and a repo
    /// deleted and created again under the same name gets another one: the
    /// relay finds customers by it (the OIDC token's `repository_id`).
    /// `customers add` resolves it; `doctor` flags a mismatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<u64>,
    /// Local checkout of the customer repo (local mode), relative to the
    /// registry file.
    pub path: Option<PathBuf>,
    pub contact: String,
    /// Environments enabled for this customer (a subset of the manager's).
    pub environments: Vec<String>,
    #[serde(default)]
    pub status: Status,
    /// Date the customer was added, `YYYY-MM-DD`.
    pub added: String,
    /// Set when revoked.
    pub revoked: Option<Revocation>,
    /// Date (`YYYY-MM-DD`) `customers offboard` destroyed everything the
    /// customer had, each state archived before its destroy; set on
    /// revoked entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offboarded: Option<String>,
    /// Generation of the customer's dispatch key (default 1); bumped by
    /// `customers rotate-key`, which voids the previous key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_generation: Option<u32>,
    /// The products this customer may enable (default: every product);
    /// the customer's `infra/products.yml` picks among them. Only for a
    /// manager with `products:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<String>>,
    /// The customer's age recipient per environment (`customers add`
    /// makes them when fleetform.yml has `secrets:`): the only key its
    /// secrets files may be encrypted to (README, "Customer secrets").
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Labels that rollout waves select by (`tier: internal`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Fields for the cloud identity patterns of fleetform.yml, or whole
    /// roles (see [`super::identity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<CustomerIdentity>,
    /// The token the customer created for the manager (`MANAGER_REPO_PAT`
    /// in its repo): its name and expiry only, never its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenInfo>,
    /// Products held at a manager version (see [`super::pins`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<super::pins::Pin>,
}

/// What is recorded of a customer's token: enough to warn before it
/// expires and to say which one to delete.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenInfo {
    /// The token's name on GitHub (at most [`TOKEN_NAME_MAX`] characters).
    pub name: String,
    /// Its expiry date, `YYYY-MM-DD`.
    pub expires: String,
}

/// GitHub's limit on a fine-grained token's name.
pub const TOKEN_NAME_MAX: usize = 40;
/// A token expiring within this many days is flagged.
pub const TOKEN_WARN_DAYS: i64 = 30;

/// Where a token stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "days")]
pub enum TokenState {
    /// More than [`TOKEN_WARN_DAYS`] days left.
    Valid(i64),
    /// Expires within [`TOKEN_WARN_DAYS`] days (0: today).
    Expiring(i64),
    /// Expired this many days ago.
    Expired(i64),
}

impl TokenInfo {
    /// The token's state on `today` (none for an expiry that is not a
    /// real date, which the registry's check refuses).
    pub fn state(&self, today: jiff::civil::Date) -> Option<TokenState> {
        let expires: jiff::civil::Date = self.expires.parse().ok()?;
        let days = i64::from(today.until((jiff::Unit::Day, expires)).ok()?.get_days());
        Some(match days {
            d if d < 0 => TokenState::Expired(-d),
            d if d <= TOKEN_WARN_DAYS => TokenState::Expiring(d),
            d => TokenState::Valid(d),
        })
    }
}

/// Why a token name is refused, if it is: empty, too long, control
/// characters, or what looks like the token itself.
pub fn token_name_problem(name: &str) -> Option<String> {
    let n = name.trim();
    // Checked first: a pasted token is also too long for a name.
    let secretish = [
        "ghp_",
        "github_pat_",
        "gho_",
        "ghs_",
        "ghu_",
        "ghr_",
        "ffdk1.",
    ];
    if secretish.iter().any(|p| n.starts_with(p)) {
        return Some(
            "this looks like the token itself; record only its name (never its value), and have the customer replace the token: it was exposed".into(),
        );
    }
    if n.is_empty() || name.chars().count() > TOKEN_NAME_MAX || name.chars().any(char::is_control) {
        return Some(format!(
            "the token's name is 1-{TOKEN_NAME_MAX} characters on one line, as GitHub shows it"
        ));
    }
    None
}

/// The first rule one customer entry breaks on its own, whatever else the
/// registry holds: `(field, message)`, the field a JSON pointer below the
/// entry (`""` for the entry itself). `name` says how the message names a
/// field: the registry's check names the key, `customers add` its flag.
/// Both apply these rules, and only these, so they cannot disagree.
pub fn entry_problem(
    c: &Customer,
    name: &dyn Fn(&'static str) -> String,
) -> Option<(&'static str, String)> {
    if !is_slug(&c.slug) {
        let m = format!(
            "{} must be 1–63 lowercase letters, digits or inner `-`",
            name("slug")
        );
        return Some(("slug", m));
    }
    match (&c.repo, &c.path) {
        (None, None) => {
            let m = format!(
                "customer `{}` needs {} (owner/name) or, for local mode, {}",
                c.slug,
                name("repo"),
                name("path")
            );
            return Some(("", m));
        }
        (Some(repo), _) if !is_repo(repo) => {
            let m = format!("{}: `{repo}` is not a GitHub `owner/name`", name("repo"));
            return Some(("repo", m));
        }
        _ => {}
    }
    if !is_email(&c.contact) {
        let m = format!(
            "{}: `{}` is not an e-mail address",
            name("contact"),
            c.contact
        );
        return Some(("contact", m));
    }
    if !is_date(&c.added) {
        return Some((
            "added",
            format!("{} must be a date, YYYY-MM-DD", name("added")),
        ));
    }
    let t = c.token.as_ref()?;
    if let Some(problem) = token_name_problem(&t.name) {
        return Some(("token/name", format!("{}: {problem}", name("token/name"))));
    }
    if !is_real_date(&t.expires) {
        let m = format!(
            "{} must be the token's expiry date, YYYY-MM-DD",
            name("token/expires")
        );
        return Some(("token/expires", m));
    }
    None
}

/// How the registry's messages name a field: its key.
fn key_name(field: &'static str) -> String {
    format!("`{}`", field.rsplit('/').next().unwrap_or(field))
}

/// True when `s` is a real `YYYY-MM-DD` date.
pub fn is_real_date(s: &str) -> bool {
    is_date(s) && s.parse::<jiff::civil::Date>().is_ok()
}

/// Days the last day `until` of a hold (a pin, an accepted drift) is
/// past on `today` (`None`: it still holds, or `until` is not a date,
/// which the registry's and fleetform.yml's checks refuse).
pub fn days_past(until: &str, today: jiff::civil::Date) -> Option<i64> {
    let until: jiff::civil::Date = until.parse().ok()?;
    let days = i64::from(until.until((jiff::Unit::Day, today)).ok()?.get_days());
    (days > 0).then_some(days)
}

/// A hold's reason (a pin's, an accepted drift's): said, on one line.
pub fn is_reason(reason: &str) -> bool {
    !reason.trim().is_empty() && is_one_line(reason)
}

/// Text with no line break nor other control character in it.
pub fn is_one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Active,
    Revoked,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub date: String,
    pub reason: String,
}

impl Customer {
    /// The generation of the customer's dispatch key.
    pub fn key_generation(&self) -> u32 {
        self.key_generation.unwrap_or(1)
    }
}

/// The loaded registry.
#[derive(Debug, Clone)]
pub struct Registry {
    pub file: PathBuf,
    pub customers: Vec<Customer>,
    pub doc: Document,
    /// Where it was read from when not from `file` (the manager's default
    /// branch), for messages.
    pub origin: Option<String>,
}

impl Registry {
    /// Loads the registry named by the manager config and checks every entry
    /// against it.
    pub fn load(manager: &Manager) -> Result<Registry, ConfigError> {
        let path = manager.path(&manager.config.registry);
        let shown = display_path(&path);
        let bytes = crate::util::fs::read_input(&path).map_err(|source| ConfigError::Missing {
            file: shown.clone(),
            source,
        })?;
        Registry::parse(manager, &path, &bytes)
    }

    /// Parses and checks registry text (used to vet an edit before it is
    /// written).
    pub fn parse(manager: &Manager, path: &Path, bytes: &[u8]) -> Result<Registry, ConfigError> {
        let doc = yaml::load_bytes(bytes, &display_path(path), &REGISTRY_LIMITS)?;
        let file: RegistryFile = from_doc(&doc)?;
        let registry = Registry {
            file: path.to_path_buf(),
            customers: file.customers,
            doc,
            origin: None,
        };
        registry.check(manager)?;
        Ok(registry)
    }

    /// The same registry, said to be read from `origin`.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Registry {
        self.origin = Some(origin.into());
        self
    }

    /// Where it was read from, for messages: its file, or its origin.
    pub fn source(&self) -> String {
        self.origin.clone().unwrap_or_else(|| {
            display_path(&self.file)
                .file_name()
                .map(|n| format!("`{}`", n.to_string_lossy()))
                .unwrap_or_else(|| "the registry".into())
        })
    }

    pub(super) fn invalid(&self, pointer: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: self.doc.locate(pointer),
            message: message.into(),
        }
    }

    fn check(&self, manager: &Manager) -> Result<(), ConfigError> {
        let envs = manager.environment_names();
        let mut slugs = HashSet::with_capacity(self.customers.len());
        let mut repos = HashSet::with_capacity(self.customers.len());
        let mut ids = HashSet::with_capacity(self.customers.len());
        for (i, c) in self.customers.iter().enumerate() {
            if let Some((field, message)) = entry_problem(c, &key_name) {
                let at = match field {
                    "" => format!("/customers/{i}"),
                    f => format!("/customers/{i}/{f}"),
                };
                return Err(self.invalid(&at, message));
            }
            self.check_identity(i, c, &mut slugs, &mut repos)?;
            self.check_repo_id(i, c, &mut ids)?;
            self.check_fields(i, c, &envs)?;
            self.check_status(i, c)?;
            self.check_products(i, c, manager)?;
            self.check_labels(i, c)?;
            self.check_cloud_identity(i, c, &envs)?;
            self.check_pins(i, c, manager)?;
        }
        Ok(())
    }

    /// Label names and values are short words: letters, digits, `-`, `_`,
    /// `.`.
    fn check_labels(&self, i: usize, c: &Customer) -> Result<(), ConfigError> {
        let word = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        };
        for (k, v) in &c.labels {
            if !word(k) || !word(v) {
                return Err(self.invalid(
                    &format!("/customers/{i}/labels/{}", fleetform_yaml::escape_token(k)),
                    "a label is `name: value`, each 1-63 letters, digits, `-`, `_` or `.`",
                ));
            }
        }
        Ok(())
    }

    /// The products a customer may enable exist in fleetform.yml.
    fn check_products(&self, i: usize, c: &Customer, manager: &Manager) -> Result<(), ConfigError> {
        let Some(list) = &c.products else {
            return Ok(());
        };
        if !manager.has_products() {
            return Err(self.invalid(
                &format!("/customers/{i}/products"),
                "fleetform.yml declares no `products:`; remove this list",
            ));
        }
        let known = manager.product_names();
        for (j, p) in list.iter().enumerate() {
            if !known.contains(&p.as_str()) {
                return Err(self.invalid(
                    &format!("/customers/{i}/products/{j}"),
                    format!(
                        "unknown product `{p}`; fleetform.yml declares: {}",
                        known.join(", ")
                    ),
                ));
            }
            let needs = manager.product(p).map(|v| v.needs()).unwrap_or_default();
            if let Some(dep) = needs.keys().find(|d| !list.contains(d)) {
                return Err(self.invalid(
                    &format!("/customers/{i}/products/{j}"),
                    format!(
                        "product `{p}` needs `{dep}` (it consumes its outputs); allow `{dep}` too"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A slug and a repo neither shared with another customer.
    fn check_identity<'c>(
        &self,
        i: usize,
        c: &'c Customer,
        slugs: &mut HashSet<&'c str>,
        repos: &mut HashSet<String>,
    ) -> Result<(), ConfigError> {
        let at = |field: &str| format!("/customers/{i}/{field}");
        if !slugs.insert(c.slug.as_str()) {
            return Err(self.invalid(
                &at("slug"),
                format!("customer `{}` is registered twice", c.slug),
            ));
        }
        if let Some(repo) = &c.repo {
            if !repos.insert(repo.to_ascii_lowercase()) {
                return Err(self.invalid(
                    &at("repo"),
                    format!("repo `{repo}` belongs to two customers"),
                ));
            }
        }
        Ok(())
    }

    /// A repo id needs a repo, is a positive number and is nobody else's.
    fn check_repo_id(
        &self,
        i: usize,
        c: &Customer,
        ids: &mut HashSet<u64>,
    ) -> Result<(), ConfigError> {
        let Some(id) = c.repo_id else {
            return Ok(());
        };
        let at = format!("/customers/{i}/repo_id");
        if c.repo.is_none() {
            return Err(self.invalid(
                &at,
                "`repo_id` belongs with `repo` (the id GitHub gives that repository)",
            ));
        }
        if id == 0 {
            return Err(self.invalid(
                &at,
                "`repo_id` is GitHub's repository id, a positive number",
            ));
        }
        if !ids.insert(id) {
            return Err(self.invalid(&at, format!("repository id {id} belongs to two customers")));
        }
        Ok(())
    }

    /// Environments and key generation.
    fn check_fields(&self, i: usize, c: &Customer, envs: &[&str]) -> Result<(), ConfigError> {
        let at = |field: &str| format!("/customers/{i}/{field}");
        if c.environments.is_empty() {
            return Err(self.invalid(&at("environments"), "enable at least one environment"));
        }
        for (j, e) in c.environments.iter().enumerate() {
            if !envs.contains(&e.as_str()) {
                return Err(self.invalid(
                    &format!("/customers/{i}/environments/{j}"),
                    format!(
                        "unknown environment `{e}`; fleetform.yml declares: {}",
                        envs.join(", ")
                    ),
                ));
            }
        }
        let max_gen = MAX_KEY_GENERATION;
        if c.key_generation.is_some_and(|g| g == 0 || g > max_gen) {
            return Err(self.invalid(
                &at("key_generation"),
                format!("`key_generation` must be 1-{max_gen}; change it only with `fleetform customers rotate-key`"),
            ));
        }
        Ok(())
    }

    /// `revoked` exactly when the status says so, with a date and a reason.
    fn check_status(&self, i: usize, c: &Customer) -> Result<(), ConfigError> {
        let at = |field: &str| format!("/customers/{i}/{field}");
        match (c.status, &c.revoked) {
            (Status::Revoked, None) => {
                return Err(self.invalid(
                    &at("status"),
                    "a revoked customer needs `revoked: {date: YYYY-MM-DD, reason: ...}`",
                ))
            }
            (Status::Active, Some(_)) => {
                return Err(
                    self.invalid(&at("revoked"), "`revoked` is set but `status` is `active`")
                )
            }
            (Status::Revoked, Some(r)) => {
                if !is_date(&r.date) {
                    return Err(self.invalid(&at("revoked/date"), "date must be YYYY-MM-DD"));
                }
                if r.reason.trim().is_empty() {
                    return Err(self.invalid(&at("revoked/reason"), "give a reason"));
                }
            }
            (Status::Active, None) => {}
        }
        Ok(())
    }

    pub fn get(&self, slug: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.slug == slug)
    }

    /// The customer `slug`, or what to say when it names none: the
    /// registry file and the slugs it does list (the same words for every
    /// command that takes a slug).
    pub fn require(&self, slug: &str) -> Result<&Customer, String> {
        self.get(slug).ok_or_else(|| self.unknown(slug))
    }

    /// The position of customer `slug` in the registry (see [`Self::require`]).
    pub fn index_of(&self, slug: &str) -> Result<usize, String> {
        self.customers
            .iter()
            .position(|c| c.slug == slug)
            .ok_or_else(|| self.unknown(slug))
    }

    fn unknown(&self, slug: &str) -> String {
        const SHOWN: usize = 20;
        let file = super::display_path(&self.file);
        let known: Vec<&str> = self.customers.iter().map(|c| c.slug.as_str()).collect();
        let shown = crate::util::text::shown(slug);
        match known.len() {
            0 => format!(
                "customer `{shown}` is not registered: {} lists no customers yet; add one with `fleetform customers add`",
                file.display()
            ),
            n => format!(
                "customer `{shown}` is not registered; {} lists: {}{}",
                file.display(),
                known[..n.min(SHOWN)].join(", "),
                if n > SHOWN {
                    format!(" and {} more (`fleetform customers list`)", n - SHOWN)
                } else {
                    String::new()
                }
            ),
        }
    }

    /// Where a customer's entry is in the registry file.
    pub fn locate(&self, c: &Customer) -> fleetform_yaml::Location {
        match self.customers.iter().position(|x| x.slug == c.slug) {
            Some(i) => self.doc.locate(&format!("/customers/{i}")),
            None => self.doc.locate("/customers"),
        }
    }

    pub fn by_repo(&self, repo: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| {
            c.repo
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(repo))
        })
    }

    /// The customer whose repo has GitHub's id `id`.
    pub fn by_repo_id(&self, id: u64) -> Option<&Customer> {
        self.customers.iter().find(|c| c.repo_id == Some(id))
    }

    /// Local checkout of a customer, resolved against the registry's folder.
    pub fn customer_dir(&self, c: &Customer) -> Option<PathBuf> {
        let base = self.file.parent().unwrap_or(Path::new("."));
        c.path.as_ref().map(|p| base.join(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_states_around_the_warning_window() {
        let t = TokenInfo {
            name: "fleetform-dispatch".into(),
            expires: "2027-03-01".into(),
        };
        let on = |d: &str| t.state(d.parse().unwrap());
        assert_eq!(on("2027-01-29"), Some(TokenState::Valid(31)));
        assert_eq!(on("2027-01-30"), Some(TokenState::Expiring(30)));
        assert_eq!(on("2027-03-01"), Some(TokenState::Expiring(0)));
        assert_eq!(on("2027-03-02"), Some(TokenState::Expired(1)));
        let bad = TokenInfo {
            expires: "2027-02-30".into(),
            ..t.clone()
        };
        assert_eq!(bad.state("2027-01-01".parse().unwrap()), None);
        assert!(!is_real_date("2027-02-30") && is_real_date("2028-02-29"));
        assert!(token_name_problem("fleetform-dispatch").is_none());
        assert!(token_name_problem(" ").is_some());
        assert!(token_name_problem(&"x".repeat(41)).is_some());
        assert!(token_name_problem("a\nb").is_some());
        assert!(token_name_problem("github_pat_11AAA")
            .unwrap()
            .contains("token itself"));
    }
}
