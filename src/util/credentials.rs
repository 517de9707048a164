//! The environment variables fleetform reads a credential from, in one
//! list: children never get them unless Terraform needs them (`process`),
//! no `*_env` key in fleetform.yml may name one (`config`: a webhook URL
//! read from one would send it away, `terraform.pass_env` would hand it to
//! Terraform and every provider), and an error about one names the
//! variable and what was expected, never the value (`tests/hostile/output.rs`
//! sets each to a token and looks for it in the output).

/// A variable fleetform reads a credential from.
#[derive(Debug, Clone, Copy)]
pub struct Credential {
    pub name: &'static str,
    /// Terraform's providers read it too (the cloud's own credentials), so
    /// children keep it.
    pub for_children: bool,
}

const fn own(name: &'static str) -> Credential {
    Credential {
        name,
        for_children: false,
    }
}

const fn cloud(name: &'static str) -> Credential {
    Credential {
        name,
        for_children: true,
    }
}

/// Every variable fleetform reads a credential from.
pub const CREDENTIALS: &[Credential] = &[
    // GitHub tokens: fleetform's, the manager's, the job's, the gh CLI's.
    own("FLEETFORM_TOKEN"),
    own("FLEETFORM_MANAGER_TOKEN"),
    own("FLEETFORM_ISSUES_TOKEN"),
    own("FLEETFORM_STATUS_TOKEN"),
    // The token that reads the provider's teams (approvals, operators),
    // and the one that writes deployments on customer repos.
    own("FLEETFORM_TEAMS_TOKEN"),
    own("FLEETFORM_DEPLOYMENTS_TOKEN"),
    own("GITHUB_TOKEN"),
    own("GH_TOKEN"),
    own("GH_ENTERPRISE_TOKEN"),
    own("GITHUB_ENTERPRISE_TOKEN"),
    own("MANAGER_REPO_PAT"),
    own("SOURCE_REPOS_PAT"),
    // The GitHub Apps (an id is no secret, but a token pasted there is):
    // the customer App, the manager App, and the single App of older
    // releases (refused, still kept from children).
    own("FLEETFORM_CUSTOMER_APP_ID"),
    own("FLEETFORM_CUSTOMER_APP_PRIVATE_KEY"),
    own("FLEETFORM_MANAGER_APP_ID"),
    own("FLEETFORM_MANAGER_APP_PRIVATE_KEY"),
    own("FLEETFORM_SYNC_APP_ID"),
    own("FLEETFORM_SYNC_APP_PRIVATE_KEY"),
    own("FLEETFORM_APP_ID"),
    own("FLEETFORM_APP_PRIVATE_KEY"),
    // fleetform's own keys.
    own("FLEETFORM_DISPATCH_SECRET"),
    own("FLEETFORM_DISPATCH_SECRET_PREVIOUS"),
    own("FLEETFORM_DISPATCH_KEY"),
    own("FLEETFORM_ARTIFACT_KEY"),
    // Customer secrets' identities (age): a job's key, the provider's key;
    // `FLEETFORM_SECRETS_KEY_<SLUG>` is matched by [`credential`] too.
    own("FLEETFORM_SECRETS_KEY"),
    own("FLEETFORM_PROVIDER_SECRETS_KEY"),
    own("FLEETFORM_FLEET_SECRETS_KEY"),
    own("FLEETFORM_HANDOFF_KEY"),
    // The relay App's webhook secret (`fleetform relay serve`).
    own("FLEETFORM_WEBHOOK_SECRET"),
    own("FLEETFORM_WEBHOOK_SECRET_PREVIOUS"),
    // The records' own credential on S3 (`records::s3::OWN_CREDENTIAL`).
    own("FLEETFORM_RECORDS_AWS_ACCESS_KEY_ID"),
    own("FLEETFORM_RECORDS_AWS_SECRET_ACCESS_KEY"),
    own("FLEETFORM_RECORDS_AWS_SESSION_TOKEN"),
    // The records store on S3 (Terraform's AWS provider reads them too).
    cloud("AWS_ACCESS_KEY_ID"),
    cloud("AWS_SECRET_ACCESS_KEY"),
    cloud("AWS_SESSION_TOKEN"),
];

/// The manager's previous dispatch secret during a rotation
/// (`dispatch::rotation`; `doctor` warns while it is set).
pub const DISPATCH_SECRET_PREVIOUS: &str = "FLEETFORM_DISPATCH_SECRET_PREVIOUS";
/// The relay's previous webhook secret during a rotation (`relay::webhook`).
pub const WEBHOOK_SECRET_PREVIOUS: &str = "FLEETFORM_WEBHOOK_SECRET_PREVIOUS";

/// Prefixes of the runner's own secrets (`ACTIONS_RUNTIME_TOKEN`,
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, …) and of action inputs, which may
/// hold tokens.
const RUNNER_PREFIXES: &[&str] = &["ACTIONS_", "INPUT_", "RUNNER_"];

/// The credential `name` is (case-insensitive), if it is one.
pub fn credential(name: &str) -> Option<&'static Credential> {
    let found = CREDENTIALS
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name));
    // A customer's own key: `FLEETFORM_SECRETS_KEY_<SLUG>`.
    let per_customer = name
        .to_ascii_uppercase()
        .starts_with("FLEETFORM_SECRETS_KEY_");
    found.or_else(|| {
        per_customer
            .then(|| {
                CREDENTIALS
                    .iter()
                    .find(|c| c.name == "FLEETFORM_SECRETS_KEY")
            })
            .flatten()
    })
}

/// True for a variable the runner keeps a secret in (or may: an action's
/// inputs).
pub fn is_runner_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    RUNNER_PREFIXES.iter().any(|p| upper.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_knows_every_credential_once() {
        for name in [
            "FLEETFORM_TOKEN",
            "github_token",
            "FLEETFORM_DISPATCH_SECRET",
            "FLEETFORM_DISPATCH_SECRET_PREVIOUS",
            "FLEETFORM_WEBHOOK_SECRET_PREVIOUS",
            "FLEETFORM_DISPATCH_KEY",
            "FLEETFORM_ARTIFACT_KEY",
            "FLEETFORM_APP_PRIVATE_KEY",
            "FLEETFORM_CUSTOMER_APP_PRIVATE_KEY",
            "FLEETFORM_MANAGER_APP_PRIVATE_KEY",
            "fleetform_manager_app_id",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(credential(name).is_some(), "{name}");
        }
        assert!(credential("FLEETFORM_SLACK_WEBHOOK").is_none());
        assert!(is_runner_secret("ACTIONS_RUNTIME_TOKEN"));
        assert!(!is_runner_secret("FLEETFORM_TOKEN"));
        let mut names: Vec<&str> = CREDENTIALS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CREDENTIALS.len());
    }
}
