//! `identity:` in fleetform.yml and in the registry: which cloud identity
//! a customer × environment is planned and applied with.
//!
//! ```yaml
//! # fleetform.yml
//! identity:
//!   aws:
//!     plan_role: "arn:aws:iam::{account}:role/fleetform-plan"
//!     apply_role: "arn:aws:iam::{account}:role/fleetform-apply"
//!     external_id: "fleetform-{customer}"                  # optional
//!     session_name: "fleetform-{customer}-{environment}"   # the default
//!     region: eu-west-1                                    # required (here or per customer)
//!
//! # customers.yml, per customer
//!     identity:
//!       account: "111111111111"        # fills {account}
//!       environments:
//!         production:
//!           account: "222222222222"    # this environment's own account
//! ```
//!
//! Only the manager's files name an identity: the registry entry (its
//! `environments:` first) fills or replaces the pattern's fields, and no
//! customer file, value or dispatch field is read. The shape (`aws:`) leaves
//! room for other clouds' workload identity.

use std::collections::BTreeMap;

use super::*;

pub use super::cloud::{CloudIdentity, StageIdentities};

/// `identity:` in fleetform.yml.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    pub aws: Option<AwsIdentity>,
}

/// An AWS role pattern: placeholders `{customer}`, `{environment}`,
/// `{account}` and `{region}` are filled per customer × environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsIdentity {
    pub plan_role: Option<String>,
    pub apply_role: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    pub region: Option<String>,
}

/// `identity:` of a registry entry: the fields the pattern reads, or
/// whole roles, for every environment and per environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CustomerIdentity {
    #[serde(flatten)]
    pub fields: IdentityFields,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, IdentityFields>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityFields {
    /// The AWS account id (12 digits) that fills `{account}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Which job the identity is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityStage {
    Plan,
    Apply,
}

const PLACEHOLDERS: [&str; 4] = ["customer", "environment", "account", "region"];
const DEFAULT_SESSION: &str = "fleetform-{customer}-{environment}";

/// The placeholders of `pattern`, or the first one that is unknown or
/// unclosed.
fn placeholders(pattern: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in `{pattern}`"))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder `{{{name}}}` in `{pattern}`; use {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            ));
        }
        out.push(name);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("`}}` without `{{` in `{pattern}`"));
    }
    Ok(out)
}

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path and name>`.
pub fn is_role_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"].contains(&partition)
        && is_account(account)
        && !role.is_empty()
        && role.len() <= 512
        && role
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "+=,.@_-/".contains(ch))
}

/// An AWS account id: 12 digits.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An AWS region name such as `eu-west-1`.
pub fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
}

/// STS limits: a session name is 2-64 of `[\w+=,.@-]`, an external id
/// 2-1224 of `[\w+=,.@:/-]`.
fn is_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@-".contains(ch))
}
fn is_external_id(s: &str) -> bool {
    (2..=1224).contains(&s.len())
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@:/-".contains(ch))
}

impl Manager {
    /// Placeholders in the identity patterns are known and closed, and a
    /// pattern without placeholders is already a valid value.
    pub(super) fn check_identity(&self) -> Result<(), ConfigError> {
        let Some(aws) = self.config.identity.as_ref().and_then(|i| i.aws.as_ref()) else {
            if self.config.identity.is_some() {
                return Err(self.invalid("/identity", "name a cloud: `aws:`"));
            }
            return Ok(());
        };
        if aws.plan_role.is_none() && aws.apply_role.is_none() {
            return Err(self.invalid(
                "/identity/aws",
                "set `plan_role` and `apply_role` (patterns, or fill them per customer in the registry)",
            ));
        }
        let fields = [
            ("plan_role", &aws.plan_role),
            ("apply_role", &aws.apply_role),
            ("external_id", &aws.external_id),
            ("session_name", &aws.session_name),
            ("region", &aws.region),
        ];
        if let Some(r) = aws.region.as_deref().filter(|r| !is_region(r)) {
            return Err(self.invalid(
                "/identity/aws/region",
                format!("`{r}` is not a region name like `eu-west-1`"),
            ));
        }
        for (key, value) in fields {
            if let Some(v) = value {
                placeholders(v).map_err(|m| self.invalid(&format!("/identity/aws/{key}"), m))?;
            }
        }
        Ok(())
    }

    /// Whether fleetform.yml names a cloud identity.
    pub fn has_identity(&self) -> bool {
        self.config
            .identity
            .as_ref()
            .is_some_and(|i| i.aws.is_some())
    }

    /// The identity `customer` is planned or applied with in `env`, or
    /// `None` when fleetform.yml names none. An error says which field of
    /// which file is missing or malformed.
    pub fn cloud_identity(
        &self,
        customer: &Customer,
        env: &str,
        stage: IdentityStage,
    ) -> Result<Option<CloudIdentity>, String> {
        let Some(aws) = self.config.identity.as_ref().and_then(|i| i.aws.as_ref()) else {
            return Ok(None);
        };
        let base = customer.identity.as_ref();
        let own = base.and_then(|i| i.environments.get(env));
        let pick = |f: fn(&IdentityFields) -> Option<&String>| {
            own.and_then(f).or_else(|| base.and_then(|b| f(&b.fields)))
        };
        let account = pick(|f| f.account.as_ref());
        let region = pick(|f| f.region.as_ref()).or(aws.region.as_ref());
        let fill = |key: &str, pattern: &str| -> Result<String, String> {
            fill_pattern(pattern, &customer.slug, env, account, region)
                .map_err(|m| format!("identity.aws.{key}: {m}"))
        };
        let (role_key, role_own, role_pattern) = match stage {
            IdentityStage::Plan => ("plan_role", pick(|f| f.plan_role.as_ref()), &aws.plan_role),
            IdentityStage::Apply => (
                "apply_role",
                pick(|f| f.apply_role.as_ref()),
                &aws.apply_role,
            ),
        };
        let role_arn = match (role_own, role_pattern) {
            (Some(r), _) => r.clone(),
            (None, Some(p)) => fill(role_key, p)?,
            (None, None) => {
                return Err(format!(
                    "no `{role_key}` for customer `{}` in `{env}`: set `identity.aws.{role_key}` in fleetform.yml or `identity.{role_key}` in its registry entry",
                    customer.slug
                ))
            }
        };
        if !is_role_arn(&role_arn) {
            return Err(format!("`{role_arn}` ({role_key} of customer `{}` in `{env}`) is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)", customer.slug));
        }
        let external_id = match pick(|f| f.external_id.as_ref()) {
            Some(e) => Some(e.clone()),
            None => aws
                .external_id
                .as_deref()
                .map(|p| fill("external_id", p))
                .transpose()?,
        };
        if let Some(e) = external_id.as_deref().filter(|e| !is_external_id(e)) {
            return Err(format!(
                "external id `{e}` of customer `{}`: 2-1224 letters, digits or `_+=,.@:/-`",
                customer.slug
            ));
        }
        let session_name = fill(
            "session_name",
            aws.session_name.as_deref().unwrap_or(DEFAULT_SESSION),
        )?;
        if !is_session_name(&session_name) {
            return Err(format!(
                "session name `{session_name}` of customer `{}`: 2-64 letters, digits or `_+=,.@-`",
                customer.slug
            ));
        }
        let region = region.cloned().ok_or_else(|| format!("no region for customer `{}` in `{env}`: set `identity.aws.region` in fleetform.yml or `identity.region` in its registry entry", customer.slug))?;
        if !is_region(&region) {
            return Err(format!(
                "`{region}` (region of customer `{}`) is not a region name like `eu-west-1`",
                customer.slug
            ));
        }
        Ok(Some(CloudIdentity {
            cloud: "aws".into(),
            role_arn,
            external_id,
            session_name,
            region,
        }))
    }
}

impl Manager {
    /// Both identities of `customer` in `env`, or `None` without
    /// `identity:`.
    pub fn identities_of(
        &self,
        customer: &Customer,
        env: &str,
    ) -> Result<Option<StageIdentities>, String> {
        let plan = self.cloud_identity(customer, env, IdentityStage::Plan)?;
        let apply = self.cloud_identity(customer, env, IdentityStage::Apply)?;
        Ok(plan
            .zip(apply)
            .map(|(plan, apply)| StageIdentities { plan, apply }))
    }

    /// The plan and apply identities of `customer` in each of `envs`;
    /// empty when fleetform.yml names no identity.
    pub fn stage_identities(
        &self,
        customer: &Customer,
        envs: &[String],
    ) -> Result<BTreeMap<String, StageIdentities>, String> {
        let mut out = BTreeMap::new();
        for env in envs {
            if let Some(ids) = self.identities_of(customer, env)? {
                out.insert(env.clone(), ids);
            }
        }
        Ok(out)
    }
}

/// `pattern` with its placeholders filled; a placeholder without a value
/// is an error naming the registry field that fills it.
fn fill_pattern(
    pattern: &str,
    customer: &str,
    env: &str,
    account: Option<&String>,
    region: Option<&String>,
) -> Result<String, String> {
    let mut out = pattern.to_string();
    for name in placeholders(pattern)? {
        let value = match name {
            "customer" => customer,
            "environment" => env,
            "account" => account.map(String::as_str).ok_or_else(|| {
                format!("`{{account}}` needs `identity.account` in the registry entry of `{customer}` (or under its `identity.environments.{env}`)")
            })?,
            _ => region.map(String::as_str).ok_or_else(|| {
                format!("`{{region}}` needs `identity.region` in fleetform.yml or the registry entry of `{customer}`")
            })?,
        };
        out = out.replace(&format!("{{{name}}}"), value);
    }
    Ok(out)
}

impl Registry {
    /// Account ids, regions, roles and environment names of a registry
    /// entry's `identity:` are well-formed.
    pub(super) fn check_cloud_identity(
        &self,
        i: usize,
        c: &Customer,
        envs: &[&str],
    ) -> Result<(), ConfigError> {
        let Some(id) = &c.identity else {
            return Ok(());
        };
        let base = format!("/customers/{i}/identity");
        self.check_identity_fields(&base, &id.fields)?;
        for (env, fields) in &id.environments {
            let at = format!("{base}/environments/{}", fleetform_yaml::escape_token(env));
            if !envs.contains(&env.as_str()) {
                return Err(self.invalid(
                    &at,
                    format!("`{env}` is not an environment in fleetform.yml"),
                ));
            }
            self.check_identity_fields(&at, fields)?;
        }
        Ok(())
    }

    fn check_identity_fields(&self, at: &str, f: &IdentityFields) -> Result<(), ConfigError> {
        if let Some(a) = f.account.as_deref().filter(|a| !is_account(a)) {
            return Err(self.invalid(
                &format!("{at}/account"),
                format!("`{a}` is not an AWS account id (12 digits, quoted)"),
            ));
        }
        if let Some(r) = f.region.as_deref().filter(|r| !is_region(r)) {
            return Err(self.invalid(
                &format!("{at}/region"),
                format!("`{r}` is not a region name like `eu-west-1`"),
            ));
        }
        for (key, role) in [("plan_role", &f.plan_role), ("apply_role", &f.apply_role)] {
            if let Some(r) = role.as_deref().filter(|r| !is_role_arn(r)) {
                return Err(self.invalid(&format!("{at}/{key}"), format!("`{r}` is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)")));
            }
        }
        if let Some(e) = f.external_id.as_deref().filter(|e| !is_external_id(e)) {
            return Err(self.invalid(
                &format!("{at}/external_id"),
                format!("`{e}`: 2-1224 letters, digits or `_+=,.@:/-`"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_known_and_closed() {
        assert_eq!(
            placeholders("a{customer}b{account}").unwrap(),
            ["customer", "account"]
        );
        assert!(placeholders("{nope}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(placeholders("{customer").is_err());
        assert!(placeholders("customer}").is_err());
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/fleetform-plan"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/x"));
        assert!(!is_role_arn("arn:aws:iam::12345678901:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/x y"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }

    #[test]
    fn fill_names_the_missing_field() {
        let e =
            fill_pattern("arn:aws:iam::{account}:role/x", "acme", "prod", None, None).unwrap_err();
        assert!(e.contains("identity.account"), "{e}");
        let a = "111111111111".to_string();
        assert_eq!(
            fill_pattern(
                "arn:aws:iam::{account}:role/{customer}-{environment}",
                "acme",
                "prod",
                Some(&a),
                None
            )
            .unwrap(),
            "arn:aws:iam::111111111111:role/acme-prod"
        );
    }
}
