//! The customer's trigger workflow as fleetform hands it out: the template
//! from `workflows/customer-trigger.yml`, with the action pinned to exactly
//! what the comment above it and the instructions say.

/// The line of the template that uses the trigger action, and the comment
/// lines above it that tell a reader of the template what to pin.
const USES: &str = "uses: fleetform/fleetform/actions/trigger@v1";
const PIN_HINT: &str = "# Pin this to the commit SHA of a fleetform release in your copy, e.g.";
const PIN_EXAMPLE: &str = "#   fleetform/fleetform/actions/trigger@<40-hex sha> # v1.2.3";

/// What a pinned ref is, in words: a commit or a release ref.
pub fn describe_pin(action_ref: &str, version: &str) -> String {
    if action_ref.len() == 40 && action_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("commit `{action_ref}` (fleetform {version})")
    } else {
        format!("the ref `{action_ref}` (fleetform {version})")
    }
}

/// The template with the trigger action pinned to `action_ref`, and the
/// comment above it saying so (and how to pin a commit SHA instead when
/// the ref is a tag).
pub fn customer_workflow(template: &str, action_ref: &str, version: &str) -> String {
    let is_sha = action_ref.len() == 40 && action_ref.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = Vec::new();
    for line in template.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        if t == PIN_HINT || t == PIN_EXAMPLE {
            continue;
        }
        if let Some(lead) = t.strip_suffix(USES) {
            let said = if is_sha {
                format!("{indent}# Pinned to commit {action_ref} (fleetform {version}).")
            } else {
                format!(
                    "{indent}# Pinned to the release ref {action_ref} (fleetform {version}). To pin its commit SHA\n\
                     {indent}# instead: git ls-remote https://github.com/fleetform/fleetform {action_ref}"
                )
            };
            out.push(said);
            out.push(format!(
                "{indent}{lead}uses: fleetform/fleetform/actions/trigger@{action_ref} # v{version}"
            ));
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
        let doc = crate::yaml::load_bytes(
            w.as_bytes(),
            std::path::Path::new("w.yml"),
            &crate::yaml::Limits::default(),
        )
        .unwrap();
        assert!(doc.value.get("jobs").is_some());
    }
}
