//! `manager-deploy.yml` for the environments a new manager has: the
//! template in `workflows/` has one key/plan/apply set per environment of
//! the default set (staging, production). For another set `init` writes
//! one `key-<env>` and one `plan-<env>` per environment, the first environment's apply as the
//! template's staging apply, and each later apply as its production apply,
//! waiting for every environment before it (applied, or with nothing to
//! apply); `conclude` needs them all.

/// The default environments, the template's.
const TEMPLATE_ENVS: [&str; 2] = ["staging", "production"];

/// The template's text from the line `  {from}:` up to (not including) the
/// line `  {to}:`, or to the end.
fn block<'a>(text: &'a str, from: &str, to: Option<&str>) -> Option<&'a str> {
    let start = text.find(&format!("\n  {from}:\n"))? + 1;
    let end = match to {
        Some(to) => start + text[start..].find(&format!("\n  {to}:\n"))? + 1,
        None => text.len(),
    };
    Some(&text[start..end])
}

/// The clause of the production apply's `if:` that waits for staging.
const WAIT_FOR_STAGING: &str = "      && (needs.apply-staging.result == 'success'
          || (needs.apply-staging.result == 'skipped'
              && (!contains(fromJSON(needs.authorise.outputs.environments), 'staging')
                  || (needs.plan-staging.result == 'success'
                      && needs.plan-staging.outputs.has_changes == 'false'))))
";

/// The production apply's `needs:` list.
const NEEDS_OF_PRODUCTION: &str = "    needs:
      - authorise
      - plan-staging
      - apply-staging
      - key-production
      - plan-production
";

/// `conclude`'s `needs:` list.
const NEEDS_OF_CONCLUDE: &str = "    needs:
      - authorise
      - key-staging
      - plan-staging
      - apply-staging
      - key-production
      - plan-production
      - apply-production
";

/// The header line that names the template's environments.
const HEADER_ENVS: &str = "# One environment's jobs here match the environments in fleetform.yml
# (staging, production); add a plan/apply pair per environment you have.
";

fn needs(jobs: impl Iterator<Item = String>) -> String {
    let mut s = String::from("    needs:\n      - authorise\n");
    for j in jobs {
        s.push_str(&format!("      - {j}\n"));
    }
    s
}

/// `template` (the shipped `manager-deploy.yml`) for `envs`, in promotion
/// order; the template itself for staging, production. `None` when the
/// template lacks a part this expects (the unit tests keep them together).
pub fn deploy_workflow(template: &str, envs: &[String]) -> Option<String> {
    if envs.iter().map(String::as_str).eq(TEMPLATE_ENVS) || envs.is_empty() {
        return Some(template.to_string());
    }
    let head = &template[..template.find("\n  key-staging:\n")? + 1];
    let key = block(template, "key-staging", Some("key-production"))?;
    let plan = block(template, "plan-staging", Some("plan-production"))?;
    let first_apply = block(template, "apply-staging", Some("apply-production"))?;
    let later_apply = block(template, "apply-production", Some("conclude"))?;
    let conclude = block(template, "conclude", None)?;
    let whole = later_apply.contains(WAIT_FOR_STAGING)
        && later_apply.contains(NEEDS_OF_PRODUCTION)
        && conclude.contains(NEEDS_OF_CONCLUDE)
        && head.contains(HEADER_ENVS);
    if !whole {
        return None;
    }

    let mut out = head.replace(
        HEADER_ENVS,
        &format!(
            "# One environment's jobs here match the environments in fleetform.yml\n\
             # ({}), as `fleetform init` wrote them; add a plan/apply pair per\n\
             # environment you add.\n",
            envs.join(", ")
        ),
    );
    for e in envs {
        out.push_str(&key.replace("staging", e));
    }
    for e in envs {
        out.push_str(&plan.replace("staging", e));
    }
    out.push_str(&first_apply.replace("staging", &envs[0]));
    for (i, e) in envs.iter().enumerate().skip(1) {
        let before = &envs[..i];
        let wait: String = before
            .iter()
            .map(|p| WAIT_FOR_STAGING.replace("staging", p))
            .collect();
        let jobs = before
            .iter()
            .flat_map(|p| [format!("plan-{p}"), format!("apply-{p}")])
            .chain([format!("key-{e}"), format!("plan-{e}")]);
        let text = later_apply
            .replace(NEEDS_OF_PRODUCTION, &needs(jobs))
            .replace(WAIT_FOR_STAGING, "\u{0}WAIT\u{0}")
            .replace(
                "    # Production waits for staging: it runs when staging applied, or when\n    # staging had nothing",
                &format!("    # {e} waits for every environment before it: it runs when each applied,\n    # or had nothing"),
            )
            .replace("A staging plan that failed, changes that staging's\n    # gates blocked, or a staging apply", "An earlier plan that failed, changes that its\n    # gates blocked, or an earlier apply")
            .replace("after a skipped staging apply", "after a skipped earlier apply")
            .replace("production", e)
            .replace("\u{0}WAIT\u{0}", &wait);
        out.push_str(&text);
    }
    let all = envs.iter().flat_map(|e| {
        [
            format!("key-{e}"),
            format!("plan-{e}"),
            format!("apply-{e}"),
        ]
    });
    out.push_str(&conclude.replace(NEEDS_OF_CONCLUDE, &needs(all)));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../workflows/manager-deploy.yml");

    fn envs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_default_environments_get_the_template() {
        assert_eq!(
            deploy_workflow(TEMPLATE, &envs(&["staging", "production"])).unwrap(),
            TEMPLATE
        );
    }

    /// Every environment has its jobs, each later apply waits for every
    /// earlier environment, and nothing of staging or production is left.
    #[test]
    fn other_environments_get_their_own_jobs() {
        let text = deploy_workflow(TEMPLATE, &envs(&["dev", "qa", "prod"])).unwrap();
        let jobs = text.split("\njobs:\n").nth(1).unwrap();
        assert!(
            !jobs.contains("staging") && !jobs.contains("production"),
            "{jobs}"
        );
        for e in ["dev", "qa", "prod"] {
            for j in ["plan", "apply"] {
                assert_eq!(
                    jobs.matches(&format!("\n  {j}-{e}:\n")).count(),
                    1,
                    "{j}-{e}"
                );
                assert!(jobs.contains(&format!("environment: {e}-{j}\n")), "{j}-{e}");
            }
        }
        let prod = block(&text, "apply-prod", Some("conclude")).unwrap();
        for p in ["dev", "qa"] {
            assert!(prod.contains(&format!("      - apply-{p}\n")), "{prod}");
            assert!(
                prod.contains(&format!("(needs.apply-{p}.result == 'success'")),
                "{prod}"
            );
        }
        let qa = block(&text, "apply-qa", Some("apply-prod")).unwrap();
        assert!(
            !qa.contains("apply-prod") && qa.contains("needs.apply-dev.result"),
            "{qa}"
        );
        let conclude = block(&text, "conclude", None).unwrap();
        for e in ["dev", "qa", "prod"] {
            for j in ["key", "plan", "apply"] {
                assert!(
                    conclude.contains(&format!("      - {j}-{e}\n")),
                    "{conclude}"
                );
            }
        }
        let doc = fleetform_yaml::load_bytes(
            text.as_bytes(),
            std::path::Path::new("manager-deploy.yml"),
            &fleetform_yaml::Limits::default(),
        )
        .expect("one valid YAML document");
        // authorise, conclude, and a key, plan and apply job per environment.
        assert_eq!(doc.value["jobs"].as_object().unwrap().len(), 11, "{text}");
    }
}
