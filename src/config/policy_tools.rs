//! The policy tools' settings (`tools:` in a gate setting of
//! `policies:`): what a tool is, and the checks its settings pass when
//! fleetform.yml is read. Running one is `crate::engine::tools`, what its
//! run came to `crate::policy::tools`.
//!
//! ```yaml
//! policies:
//!   default:
//!     tools:
//!       - name: checkov             # the gate's name in the checklist
//!         kind: checkov             # checkov | conftest
//!         run: checkov              # optional: a command on PATH or a path
//!                                   # relative to fleetform.yml
//!         args: ["--check", "CKV_AWS_20"]  # paths relative to fleetform.yml
//!         timeout: 5m               # s, m or h; at most 1h
//!         required: true            # false: shown, never blocks
//!       - name: opa
//!         kind: conftest
//!         policy: policy/           # conftest's `-p`, relative to fleetform.yml
//!       - name: cost
//!         kind: infracost           # `infracost breakdown --format json`
//!         max_monthly_increase: 10% # or an amount: "150" (the plan's currency)
//! ```

use serde::{Deserialize, Serialize};

/// The default time a tool may take.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// The longest time a tool may be given.
const MAX_TIMEOUT_SECS: u64 = 3600;

/// The names of the gates that are not tools (a tool may not take one).
const BUILT_IN_GATES: &[&str] = &[
    "max_destroy",
    "max_replace",
    "forbidden_resource_types",
    "require_tags",
    "required_labels",
    "required_approvals",
    "apply_windows",
    "refuse_stale_secrets",
];

/// Which tool, and so how it is called and how its output reads.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    Checkov,
    Conftest,
    /// A cost estimate of the plan (`data::cost`), not a finding list.
    Infracost,
}

impl ToolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolKind::Checkov => "checkov",
            ToolKind::Conftest => "conftest",
            ToolKind::Infracost => "infracost",
        }
    }

    /// How to install it, for a tool that is not found.
    pub fn install_hint(self) -> &'static str {
        match self {
            ToolKind::Checkov => "install it with `pip install checkov` (https://www.checkov.io), or set `run:` to its path",
            ToolKind::Conftest => "install it from https://www.conftest.dev/install/, or set `run:` to its path",
            ToolKind::Infracost => "install it from https://www.infracost.io/docs/#quick-start (and set INFRACOST_API_KEY), or set `run:` to its path",
        }
    }
}

/// One tool gate.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub kind: ToolKind,
    /// The program: a command on PATH, or a path relative to fleetform.yml
    /// (anything with a `/`). The kind's name when unset.
    #[serde(default)]
    pub run: Option<String>,
    /// Extra arguments, after fleetform's own.
    #[serde(default)]
    pub args: Vec<String>,
    /// `<n>s`, `<n>m` or `<n>h`; five minutes when unset.
    #[serde(default)]
    pub timeout: Option<String>,
    /// A finding blocks (true, the default) or is only shown.
    #[serde(default = "yes")]
    pub required: bool,
    /// conftest's policy folder (`-p`), relative to fleetform.yml.
    #[serde(default)]
    pub policy: Option<String>,
    /// Infracost's gate: the most the plan may add per month, an amount
    /// in the plan's currency (`150`, `99.50`) or a share of what was
    /// there before (`10%`). Unset: the estimate is shown, never blocks.
    #[serde(default)]
    pub max_monthly_increase: Option<String>,
}

/// [`Tool::max_monthly_increase`], read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxIncrease {
    /// In cents.
    Amount(i128),
    /// In hundredths of a percent.
    Percent(i128),
}

impl MaxIncrease {
    /// `150`, `99.50` or `10%` / `2.5%`.
    pub fn parse(text: &str) -> Option<MaxIncrease> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let ok = !whole.is_empty()
            && whole.len() <= 15
            && frac.len() <= 2
            && whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit());
        if !ok {
            return None;
        }
        let n = whole.parse::<i128>().ok()? * 100 + format!("{frac:0<2}").parse::<i128>().ok()?;
        Some(match percent {
            true => MaxIncrease::Percent(n),
            false => MaxIncrease::Amount(n),
        })
    }
}

fn yes() -> bool {
    true
}

impl Tool {
    /// The program to start.
    pub fn program(&self) -> &str {
        self.run.as_deref().unwrap_or(self.kind.as_str())
    }

    /// The timeout in seconds (checked by [`check`]).
    pub fn timeout_secs(&self) -> u64 {
        self.timeout
            .as_deref()
            .and_then(parse_timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
    }
}

/// `<n>s`, `<n>m`, `<n>h` → seconds (none for anything else or zero).
pub fn parse_timeout(text: &str) -> Option<u64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        _ => return None,
    };
    n.checked_mul(scale).filter(|s| *s > 0)
}

/// Checks one environment's tools: unique non-empty names, a timeout that
/// reads and is at most an hour, a policy folder only for conftest. Errors
/// are (the YAML pointer below the gate setting, the message).
pub fn check(tools: &[Tool]) -> Result<(), (String, String)> {
    for (i, t) in tools.iter().enumerate() {
        let at = |field: &str| format!("/tools/{i}/{field}");
        if t.name.trim().is_empty() || t.name.len() > 64 || t.name.chars().any(char::is_control) {
            return Err((
                at("name"),
                "a tool needs a short name (1 to 64 characters)".into(),
            ));
        }
        if BUILT_IN_GATES.contains(&t.name.as_str()) {
            return Err((
                at("name"),
                format!(
                    "`{}` is a built-in gate's name; name the tool after what it checks",
                    t.name
                ),
            ));
        }
        if tools[..i].iter().any(|o| o.name == t.name) {
            return Err((at("name"), format!("a second tool named `{}`", t.name)));
        }
        if t.run.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err((
                at("run"),
                "empty; leave `run` out to run the kind's command".into(),
            ));
        }
        if let Some(text) = &t.timeout {
            match parse_timeout(text) {
                Some(s) if s <= MAX_TIMEOUT_SECS => {}
                Some(_) => return Err((at("timeout"), format!("`{text}` is over an hour"))),
                None => {
                    return Err((
                        at("timeout"),
                        format!("`{text}` is not a duration like 90s, 5m or 1h"),
                    ))
                }
            }
        }
        if let Some(max) = &t.max_monthly_increase {
            if t.kind != ToolKind::Infracost {
                return Err((
                    at("max_monthly_increase"),
                    "`max_monthly_increase` is infracost's gate".into(),
                ));
            }
            if MaxIncrease::parse(max).is_none() {
                return Err((
                    at("max_monthly_increase"),
                    format!("`{max}` is neither an amount like 150 or 99.50 nor a share like 10%"),
                ));
            }
        }
        if t.policy.is_some() && t.kind != ToolKind::Conftest {
            return Err((
                at("policy"),
                "`policy` is conftest's policy folder; checkov takes `args`".into(),
            ));
        }
    }
    Ok(())
}

/// A tool of `kind` under its own name with no settings, for tests here
/// and in the policy layer.
#[cfg(test)]
pub(crate) fn tool(kind: ToolKind, required: bool) -> Tool {
    Tool {
        name: kind.as_str().into(),
        kind,
        run: None,
        args: Vec::new(),
        timeout: None,
        required,
        policy: None,
        max_monthly_increase: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(parse_timeout("5m"), Some(300));
        assert_eq!(parse_timeout("0s"), None);
        assert_eq!(parse_timeout("5"), None);
        assert_eq!(parse_timeout("é"), None);
        let mut t = tool(ToolKind::Checkov, true);
        t.timeout = Some("2h".into());
        assert_eq!(
            check(std::slice::from_ref(&t)).unwrap_err().0,
            "/tools/0/timeout"
        );
        t.timeout = None;
        assert_eq!(
            check(&[t.clone(), t.clone()]).unwrap_err().0,
            "/tools/1/name"
        );
        t.policy = Some("policy".into());
        assert_eq!(
            check(std::slice::from_ref(&t)).unwrap_err().0,
            "/tools/0/policy"
        );
        t.policy = None;
        t.name = "max_destroy".into();
        assert!(check(&[t]).unwrap_err().1.contains("built-in gate"));
    }
}
