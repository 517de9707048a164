//! The provider's GitHub Apps, split by what each side needs (README, "The
//! Apps"): what each App's settings may grant, its webhook events, whether
//! it is public, and the variables its credentials are read from. One
//! list for `fleetform init` (the Apps' manifests), `doctor` (anything
//! granted beyond it is flagged) and the code that mints installation
//! tokens (`github::app`).
//!
//! - The customer App: public (other accounts must be able to install it;
//!   on GitHub Enterprise an internal App does too), installed by each
//!   customer on its repo. Reads the repo; writes only commit statuses,
//!   pull request comments and deployments. Never Contents write: its key
//!   cannot push to any customer's repo.
//! - The manager App: private, installed on the manager repo only.
//!   `repository_dispatch` needs Contents write there.
//! - The sync App (opt-in): for `fleetform sync`, which pushes a branch
//!   and opens a pull request on each customer's repo. Public, as the
//!   customer App (each customer installs it on its repo, and one
//!   installation token covers one account): `sync` reads its key
//!   (`FLEETFORM_SYNC_APP_ID`, `FLEETFORM_SYNC_APP_PRIVATE_KEY`) and mints
//!   a token per customer repository, for it alone. It writes contents and
//!   workflows there: a customer installs it only while it takes template
//!   updates (sync runs with a token, as before, without it).

/// Permissions: `(name, read|write)`.
pub type Permissions = &'static [(&'static str, &'static str)];

/// The customer App's permissions. `pull_requests: write` is what GitHub
/// asks for a pull request's conversation comments (`POST
/// /repos/{owner}/{repo}/issues/{issue_number}/comments` on a pull
/// request, and a reaction to one). `issues: read` is for the
/// `issue_comment` event the relay hears comment commands by: GitHub
/// refuses a manifest that subscribes to an event without its permission
/// ("Default events are not supported by permissions"; the event's
/// availability line on "Webhook events and payloads" names Issues).
pub const CUSTOMER_APP: Permissions = &[
    ("contents", "read"),
    ("issues", "read"),
    ("metadata", "read"),
    ("pull_requests", "write"),
    ("statuses", "write"),
    ("deployments", "write"),
];

/// The manager App's: `repository_dispatch` needs Contents write, which
/// also reads the registry and schema.
pub const MANAGER_APP: Permissions = &[("contents", "write"), ("metadata", "read")];

/// The sync App's: a branch with the template's files (Workflows write
/// for files under `.github/workflows/`) and a pull request.
pub const SYNC_APP: Permissions = &[
    ("contents", "write"),
    ("metadata", "read"),
    ("pull_requests", "write"),
    ("workflows", "write"),
];

/// The single App of older releases, refused now.
pub const RETIRED_APP_VARS: [&str; 2] = ["FLEETFORM_APP_ID", "FLEETFORM_APP_PRIVATE_KEY"];

/// What one App is: the contents of its manifest.
#[derive(Debug)]
pub struct AppSpec {
    /// `customer`, `manager` or `sync` (its manifest is
    /// `apps/<name>-app.json`).
    pub name: &'static str,
    /// `customer App`, ...
    pub label: &'static str,
    /// Everything its settings may grant, and at most what.
    pub permissions: Permissions,
    /// Whether other accounts must be able to install it.
    pub public: bool,
    /// The webhook events it subscribes to.
    pub events: &'static [&'static str],
}

/// The customer App. Its events are the relay's (`POST /webhook`).
pub const CUSTOMER: AppSpec = AppSpec {
    name: "customer",
    label: "customer App",
    permissions: CUSTOMER_APP,
    public: true,
    events: &["push", "pull_request", "issue_comment"],
};

/// The manager App.
pub const MANAGER: AppSpec = AppSpec {
    name: "manager",
    label: "manager App",
    permissions: MANAGER_APP,
    public: false,
    events: &[],
};

/// The opt-in sync App.
pub const SYNC: AppSpec = AppSpec {
    name: "sync",
    label: "sync App",
    permissions: SYNC_APP,
    public: true,
    events: &[],
};

/// Every App, in the order init writes their manifests.
pub const ALL: [&AppSpec; 3] = [&CUSTOMER, &MANAGER, &SYNC];

impl AppSpec {
    /// How far `granted` (`read`, `write`, `admin`) goes beyond what the
    /// App may hold of `permission`: what it may hold (`none`, `read`),
    /// or `None` when within.
    pub fn beyond(&self, permission: &str, granted: &str) -> Option<&'static str> {
        let allowed = self
            .permissions
            .iter()
            .find(|(k, _)| *k == permission)
            .map_or("none", |(_, v)| *v);
        (rank(granted) > rank(allowed)).then_some(allowed)
    }
}

impl AppSpec {
    /// The permissions of its list `granted` falls short of, as
    /// `name: access`.
    pub fn lacking(&self, granted: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        self.permissions
            .iter()
            .filter(|(k, v)| rank(granted(k).as_deref().unwrap_or("none")) < rank(v))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect()
    }
}

fn rank(access: &str) -> u8 {
    match access {
        "none" => 0,
        "read" => 1,
        "write" => 2,
        _ => 3,
    }
}

/// One of the Apps fleetform holds the key of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppRole {
    /// Installed on the manager repo only: dispatches to it.
    Manager,
    /// Installed by customers on their repos: reads them, reports there.
    Customer,
    /// Installed by customers who take template updates: `sync`'s pull
    /// requests.
    Sync,
}

impl AppRole {
    pub fn spec(self) -> &'static AppSpec {
        match self {
            AppRole::Manager => &MANAGER,
            AppRole::Customer => &CUSTOMER,
            AppRole::Sync => &SYNC,
        }
    }

    /// `manager App` or `customer App`.
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// The variable holding the App's id (or client id).
    pub fn id_var(self) -> &'static str {
        match self {
            AppRole::Manager => "FLEETFORM_MANAGER_APP_ID",
            AppRole::Customer => "FLEETFORM_CUSTOMER_APP_ID",
            AppRole::Sync => "FLEETFORM_SYNC_APP_ID",
        }
    }

    /// The variable holding the App's private key.
    pub fn key_var(self) -> &'static str {
        match self {
            AppRole::Manager => "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
            AppRole::Customer => "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            AppRole::Sync => "FLEETFORM_SYNC_APP_PRIVATE_KEY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_customer_app_never_writes_contents() {
        assert!(CUSTOMER_APP.contains(&("contents", "read")));
        assert_eq!(CUSTOMER.beyond("contents", "write"), Some("read"));
        assert_eq!(CUSTOMER.beyond("issues", "write"), Some("read"));
        assert_eq!(CUSTOMER.beyond("administration", "read"), Some("none"));
        assert_eq!(CUSTOMER.beyond("statuses", "write"), None);
        assert_eq!(MANAGER.beyond("contents", "write"), None);
        assert_eq!(MANAGER.beyond("administration", "admin"), Some("none"));
    }
}
