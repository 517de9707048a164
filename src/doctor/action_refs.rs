//! The refs the manager's workflows pin fleetform's actions to (#83 point
//! 4): every `uses: fleetform/fleetform@REF` and `uses:
//! OWNER/NAME/actions/ACTION@REF` (a fork's too) of `.github/workflows/`,
//! and whether GitHub resolves each (a tag, a branch or a commit). A ref
//! that does not resolve fails every job that uses it at "Set up job",
//! which no local test shows: a `v<version>-action` `init` wrote before
//! that release exists, a typo, a fork without the tag.

use std::collections::BTreeMap;

use super::facts::Fetched;
use super::{Check, Level};

/// fleetform's composite actions (`actions/<name>`).
pub const ACTIONS: [&str; 8] = [
    "apply",
    "authorise",
    "conclude",
    "drift",
    "handoff",
    "plan",
    "trigger",
    "validate",
];

/// One ref the workflows pin, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedRef {
    /// `owner/name` of the repository the actions come from.
    pub repo: String,
    pub reference: String,
    /// The workflow files that use it.
    pub files: Vec<String>,
}

/// The fleetform action a `uses:` value names: (`owner/name`, ref).
fn fleetform_use(value: &str) -> Option<(String, String)> {
    let (path, reference) = value.split_once('@')?;
    let mut parts = path.splitn(3, '/');
    let (owner, name, rest) = (parts.next()?, parts.next()?, parts.next());
    let ours = match rest {
        None => owner == "fleetform" && name == "fleetform",
        Some(rest) => rest
            .strip_prefix("actions/")
            .is_some_and(|a| ACTIONS.contains(&a.trim_end_matches('/'))),
    };
    (ours && !owner.is_empty() && !name.is_empty() && !reference.is_empty())
        .then(|| (format!("{owner}/{name}"), reference.to_string()))
}

/// The refs `workflows` ((path, text)) pin fleetform's actions to, each
/// once, in the order first seen.
pub fn pinned_refs(workflows: &[(String, String)]) -> Vec<PinnedRef> {
    let mut out: Vec<PinnedRef> = Vec::new();
    for (path, text) in workflows {
        for line in text.lines() {
            let t = line.trim_start().trim_start_matches("- ").trim_start();
            let Some(value) = t.strip_prefix("uses:") else {
                continue;
            };
            let value = value.split(" #").next().unwrap_or("").trim();
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            let Some((repo, reference)) = fleetform_use(value) else {
                continue;
            };
            match out
                .iter_mut()
                .find(|p| p.repo == repo && p.reference == reference)
            {
                Some(p) if !p.files.contains(path) => p.files.push(path.clone()),
                Some(_) => {}
                None => out.push(PinnedRef {
                    repo,
                    reference,
                    files: vec![path.clone()],
                }),
            }
        }
    }
    out
}

/// The row: every pinned ref resolves. `resolved`: by (repo, ref),
/// whether GitHub resolved it. No row when no workflow pins one.
pub fn action_refs_check(
    pinned: &[PinnedRef],
    resolved: &BTreeMap<(String, String), Fetched<bool>>,
) -> Option<Check> {
    if pinned.is_empty() {
        return None;
    }
    let what = "action refs";
    let fix = "pin a fleetform release that exists (the book's \"Getting a release to pin\": this repository's `v<version>-action`, its commit SHA, or your fork's), e.g. `fleetform init --action-ref <ref>` for new copies";
    let mut missing = Vec::new();
    let mut unread = Vec::new();
    for p in pinned {
        let name = format!("{}@{}", p.repo, p.reference);
        match resolved.get(&(p.repo.clone(), p.reference.clone())) {
            Some(Ok(true)) => {}
            Some(Ok(false)) => missing.push(format!("{name} ({})", p.files.join(", "))),
            Some(Err(e)) => unread.push(format!("{name}: {e}")),
            None => unread.push(format!("{name}: not read")),
        }
    }
    if !missing.is_empty() {
        return Some(Check::not_met(
            Level::Must,
            what,
            format!(
                "no such tag, branch or commit on GitHub, so every job using it fails at \"Set up job\": {}",
                missing.join("; ")
            ),
            fix,
        ));
    }
    if !unread.is_empty() {
        return Some(Check::unknown(Level::Must, what, &unread.join("; "), fix));
    }
    let names: Vec<String> = pinned
        .iter()
        .map(|p| format!("{}@{}", p.repo, p.reference))
        .collect();
    Some(Check::pass(Level::Must, what, names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    #[test]
    fn fleetform_uses_are_found_with_their_refs_and_files_others_are_not() {
        let a = (
            ".github/workflows/a.yml".to_string(),
            "jobs:\n  x:\n    steps:\n      - uses: fleetform/fleetform/actions/plan@v0.1.0-action # v0.1.0\n      - uses: actions/checkout@v4\n      - uses: \"fleetform/fleetform@v0.1.0-action\"\n      - uses: acme/fleetform-fork/actions/apply@0123456789abcdef0123456789abcdef01234567\n      - uses: other/thing/actions/planner@v1\n".to_string(),
        );
        let b = (
            ".github/workflows/b.yml".to_string(),
            "    - uses: fleetform/fleetform/actions/trigger@v0.1.0-action\n".to_string(),
        );
        let refs = pinned_refs(&[a, b]);
        let shown: Vec<(String, String, usize)> = refs
            .iter()
            .map(|p| (p.repo.clone(), p.reference.clone(), p.files.len()))
            .collect();
        assert_eq!(
            shown,
            [
                ("fleetform/fleetform".into(), "v0.1.0-action".into(), 2),
                (
                    "acme/fleetform-fork".into(),
                    "0123456789abcdef0123456789abcdef01234567".into(),
                    1
                ),
            ]
        );
    }

    #[test]
    fn a_ref_that_does_not_resolve_fails_naming_its_files() {
        let pinned = pinned_refs(&[(
            "w.yml".to_string(),
            "- uses: fleetform/fleetform/actions/plan@v9\n".to_string(),
        )]);
        let key = ("fleetform/fleetform".to_string(), "v9".to_string());
        let ok = BTreeMap::from([(key.clone(), Ok(true))]);
        assert_eq!(
            action_refs_check(&pinned, &ok).unwrap().result,
            Verdict::Pass
        );
        let gone = BTreeMap::from([(key.clone(), Ok(false))]);
        let row = action_refs_check(&pinned, &gone).unwrap();
        assert_eq!(row.result, Verdict::Fail);
        assert!(
            row.found.ends_with("fleetform/fleetform@v9 (w.yml)"),
            "{}",
            row.found
        );
        let unread = BTreeMap::from([(key, Err("503".to_string()))]);
        assert_eq!(
            action_refs_check(&pinned, &unread).unwrap().result,
            Verdict::Unknown
        );
        assert!(action_refs_check(&[], &BTreeMap::new()).is_none());
    }
}
