//! The workflows as fleetform hands them out: the templates from
//! `workflows/`, with fleetform's actions pinned to exactly what the
//! comment above each says.

/// The action every template names by its major tag, and that tag.
const ACTION: &str = "uses: fleetform/fleetform";
const MAJOR: &str = "@v1";
/// The comment lines above each such line that tell a reader of the
/// template what to pin.
const PIN_HINT: &str = "# Pin this to the commit SHA of a fleetform release in your copy, e.g.";
const PIN_EXAMPLE: &str = "@<40-hex sha> # v1.2.3";

fn is_sha(action_ref: &str) -> bool {
    action_ref.len() == 40 && action_ref.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a pinned ref is, in words: a commit or a release ref.
pub fn describe_pin(action_ref: &str, version: &str) -> String {
    if is_sha(action_ref) {
        format!("commit `{action_ref}` (fleetform {version})")
    } else {
        format!("the ref `{action_ref}` (fleetform {version})")
    }
}

/// The customer's trigger workflow with the provider's relay written in
/// (`relay-url` and `relay-audience` as YAML double-quoted strings in
/// place of the repository variables), for the onboarding pull request:
/// the customer merges it and sets nothing.
pub fn with_relay(workflow: &str, relay_url: &str, audience: &str) -> String {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    workflow
        .replace(
            "relay-url: ${{ vars.FLEETFORM_RELAY_URL }}",
            &format!("relay-url: {} # the provider's relay", quoted(relay_url)),
        )
        .replace(
            "relay-audience: ${{ vars.FLEETFORM_RELAY_AUDIENCE }}",
            &format!(
                "relay-audience: {} # the audience it requires",
                quoted(audience)
            ),
        )
}

/// The customer's trigger workflow template pinned to `action_ref`.
pub fn customer_workflow(template: &str, action_ref: &str, version: &str) -> String {
    pin_actions(template, action_ref, version)
}

/// A workflow template with every fleetform action (`fleetform/fleetform`
/// and `fleetform/fleetform/actions/*` at `@v1`) pinned to `action_ref`,
/// and the comment above each saying so (and how to pin a commit SHA
/// instead when the ref is a tag).
pub fn pin_actions(template: &str, action_ref: &str, version: &str) -> String {
    let mut out = Vec::new();
    for line in template.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t == PIN_HINT || (t.starts_with("#   fleetform/fleetform") && t.ends_with(PIN_EXAMPLE)) {
            continue;
        }
        let pinned = t.contains(ACTION).then(|| t.strip_suffix(MAJOR)).flatten();
        if let Some(head) = pinned {
            let said = if is_sha(action_ref) {
                format!("{indent}# Pinned to commit {action_ref} (fleetform {version}).")
            } else {
                format!(
                    "{indent}# Pinned to the release ref {action_ref} (fleetform {version}). To pin its commit SHA\n\
                     {indent}# instead: git ls-remote https://github.com/fleetform/fleetform {action_ref}"
                )
            };
            out.push(said);
            out.push(format!("{indent}{head}@{action_ref} # v{version}"));
            continue;
        }
        out.push(line.to_string());
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_what_the_comment_says() {
        let w = customer_workflow(super::super::CUSTOMER_WORKFLOW, "v0.1.0-action", "0.1.0");
        assert!(!w.contains(PIN_HINT) && !w.contains("@<40-hex sha>"), "{w}");
        assert!(
            w.contains("# Pinned to the release ref v0.1.0-action (fleetform 0.1.0)."),
            "{w}"
        );
        assert!(
            w.contains("uses: fleetform/fleetform/actions/trigger@v0.1.0-action # v0.1.0"),
            "{w}"
        );
        assert!(!w.contains("trigger@v1\n"), "{w}");
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let w = customer_workflow(super::super::CUSTOMER_WORKFLOW, sha, "0.1.0");
        assert!(
            w.contains(&format!("# Pinned to commit {sha} (fleetform 0.1.0).")),
            "{w}"
        );
        assert!(w.contains(&format!("trigger@{sha} # v0.1.0")), "{w}");
        // Still a workflow.
        let doc = fleetform_yaml::load_bytes(
            w.as_bytes(),
            std::path::Path::new("w.yml"),
            &fleetform_yaml::Limits::default(),
        )
        .unwrap();
        assert!(doc.value.get("jobs").is_some());
    }
}
