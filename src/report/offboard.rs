//! What an approver reads before an offboarding destroys a customer's
//! estate: what will be destroyed and the digest, with the totals, first;
//! who asks and why; that every state is archived before; how to let it
//! through; then each pair's addresses. Its own view, not a pull request
//! comment: no merge, no gates.

/// A sealed offboarding, as the approver is shown it.
pub struct OffboardPreview<'a> {
    pub customer: &'a str,
    pub digest: &'a str,
    pub reason: &'a str,
    pub requested_by: &'a str,
    /// In destroy order.
    pub units: Vec<OffboardUnit<'a>>,
    /// Pairs never applied: no state, nothing to destroy.
    pub without_state: &'a [String],
    /// The GitHub environment the destroy runs in.
    pub environment: &'a str,
    /// This run's id (a confirming run names it); none on a workstation.
    pub run_id: Option<&'a str>,
}

/// One pair of an offboarding.
pub struct OffboardUnit<'a> {
    /// `customer/environment` or `customer/product/environment`.
    pub unit: &'a str,
    /// The addresses its plan destroys.
    pub destroys: &'a [String],
    /// The addresses in its state now.
    pub in_state: usize,
}

/// The preview, Markdown.
pub fn preview(p: &OffboardPreview<'_>) -> Result<String, minijinja::Error> {
    use crate::util::text::count;
    let total: usize = p.units.iter().map(|u| u.destroys.len()).sum();
    let units: Vec<_> = p
        .units
        .iter()
        .map(|u| {
            minijinja::context! {
                unit => u.unit,
                destroys => u.destroys.to_vec(),
                destroys_text => count(u.destroys.len(), "resource", "resources"),
                in_state => u.in_state,
            }
        })
        .collect();
    let env = super::markdown::environment();
    env.get_template("offboard_preview.md")?
        .render(minijinja::context! {
            customer => p.customer,
            digest => p.digest,
            reason => p.reason,
            requested_by => p.requested_by,
            total => total,
            total_text => count(total, "resource", "resources"),
            pairs_text => count(p.units.len(), "pair", "pairs"),
            in_state => p.units.iter().map(|u| u.in_state).sum::<usize>(),
            units => units,
            without_state => p.without_state.to_vec(),
            environment => p.environment,
            run_id => p.run_id,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(units: Vec<OffboardUnit<'a>>, run_id: Option<&'a str>) -> OffboardPreview<'a> {
        OffboardPreview {
            customer: "acme",
            digest: "ab12",
            reason: "contract <b>ended</b> @team",
            requested_by: "alice",
            units,
            without_state: &[],
            environment: "fleetform-offboard",
            run_id,
        }
    }

    #[test]
    fn nothing_to_destroy_is_said_and_a_workstation_is_told_its_flag() {
        let md = preview(&view(Vec::new(), None)).unwrap();
        assert!(md.contains("**Nothing to destroy**"), "{md}");
        assert!(!md.contains("| Pair"), "no empty table: {md}");
        assert!(
            md.contains("`fleetform customers offboard acme --approve ab12 --unreviewed`"),
            "{md}"
        );
        // The reason is prose, never HTML or a mention.
        assert!(!md.contains("<b>") && !md.contains(" @team"), "{md}");
    }

    #[test]
    fn a_pair_never_applied_is_named_apart_and_counts_for_nothing() {
        let destroys = vec!["aws_s3_bucket.logs".to_string()];
        let never = vec!["acme/production".to_string()];
        let mut v = view(
            vec![OffboardUnit {
                unit: "acme/staging",
                destroys: &destroys,
                in_state: 1,
            }],
            None,
        );
        v.without_state = &never;
        let md = preview(&v).unwrap();
        assert!(
            md.contains("**This will destroy 1 resource in 1 pair**"),
            "{md}"
        );
        assert!(
            md.contains("| **Total** | **1** | 1 |\n\n- `acme/production` has no state: nothing to destroy (never applied)\n"),
            "{md}"
        );
        v.units.clear();
        let md = preview(&v).unwrap();
        assert!(
            md.contains("has no resources left.") && !md.contains("0 pairs"),
            "{md}"
        );
    }

    #[test]
    fn on_actions_the_run_to_confirm_is_named() {
        let destroys = vec!["aws_s3_bucket.logs".to_string()];
        let units = vec![OffboardUnit {
            unit: "acme/staging",
            destroys: &destroys,
            in_state: 2,
        }];
        let md = preview(&view(units, Some("77"))).unwrap();
        assert!(
            md.contains("**This will destroy 1 resource in 1 pair**"),
            "{md}"
        );
        assert!(md.contains("`confirms` `77`"), "{md}");
        assert!(!md.contains("--unreviewed"), "{md}");
        assert!(
            md.contains("#### `acme/staging` will destroy 1 resource"),
            "{md}"
        );
    }
}
