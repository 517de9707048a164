//! Per-customer pins: a customer held at a manager version (a commit or a
//! tag) for a product, or for the whole manager without `products:`,
//! until an expiry date, while the rest of the fleet moves on.
//!
//! ```yaml
//! customers:
//!   - slug: acme
//!     pins:
//!       - product: network      # absent without `products:`
//!         ref: v1.4.0           # a tag, branch or commit of the manager repo
//!         until: 2027-01-31     # doctor and the dashboard flag it after
//!         reason: waits for the customer's change freeze
//! ```
//!
//! A pinned customer's plans and applies of that product use the manager's
//! Terraform code and defaults at `ref` ([`pinned_view`]: `git archive` of
//! the ref into a scratch folder, the same export a rollback or an impact
//! preview reads), with the live manager's state backend and records store.
//! The registry itself is always the live one. Rollouts skip the pinned
//! pairs.

use super::*;

/// One hold of a customer at a manager version.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The product held (only with `products:`; without it the whole
    /// manager is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The manager revision: a tag, branch or commit (checked like any
    /// revision fleetform hands to git).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The last day the hold is meant to last, `YYYY-MM-DD`.
    pub until: String,
    /// Why (shown with the hold).
    pub reason: String,
}

impl Pin {
    /// Days past `until` on `today` (`None`: not expired, or not a date,
    /// which the registry's check refuses).
    pub fn expired_days(&self, today: jiff::civil::Date) -> Option<i64> {
        days_past(&self.until, today)
    }

    /// The hold in one line: `held at v1.4.0 until 2027-01-31 (reason)`,
    /// with `product` first when there is one.
    pub fn describe(&self) -> String {
        let what = match &self.product {
            Some(p) => format!("`{p}` held at `{}`", self.git_ref),
            None => format!("held at `{}`", self.git_ref),
        };
        format!(
            "{what} until {}: {}",
            self.until,
            crate::util::text::shown(&self.reason)
        )
    }

    /// [`Self::describe`], and how long ago it expired when it did.
    pub fn describe_on(&self, today: jiff::civil::Date) -> String {
        match self.expired_days(today) {
            Some(d) => format!(
                "{} (EXPIRED {d} day{} ago: move the customer on, or extend `until`)",
                self.describe(),
                if d == 1 { "" } else { "s" }
            ),
            None => self.describe(),
        }
    }
}

impl Customer {
    /// The customer's pin of `product` (`None`: the manager without
    /// products), if any.
    pub fn pin_for(&self, product: Option<&str>) -> Option<&Pin> {
        self.pins.iter().find(|p| p.product.as_deref() == product)
    }
}

impl Registry {
    /// A pin names a known product (exactly when the manager has
    /// products), a revision git reads as one, a real date and a reason;
    /// one pin per product.
    pub(super) fn check_pins(
        &self,
        i: usize,
        c: &Customer,
        manager: &Manager,
    ) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for (j, p) in c.pins.iter().enumerate() {
            let at = |field: &str| format!("/customers/{i}/pins/{j}/{field}");
            let declared = || manager.product_names().join(", ");
            match manager.product_problem(p.product.as_deref()) {
                Some(ProductProblem::Missing) => {
                    return Err(self.invalid(
                        &format!("/customers/{i}/pins/{j}"),
                        format!(
                            "name the pinned product (`product:`); fleetform.yml declares: {}",
                            declared()
                        ),
                    ))
                }
                Some(ProductProblem::NoProducts) => {
                    return Err(self.invalid(
                        &at("product"),
                        "fleetform.yml declares no `products:`; a pin holds the whole manager, remove `product`",
                    ))
                }
                Some(ProductProblem::Unknown) => {
                    return Err(self.invalid(
                        &at("product"),
                        format!(
                            "unknown product `{}`; fleetform.yml declares: {}",
                            p.product.as_deref().unwrap_or_default(),
                            declared()
                        ),
                    ))
                }
                None => {}
            }
            if !seen.insert(p.product.clone()) {
                return Err(self.invalid(
                    &format!("/customers/{i}/pins/{j}"),
                    "this product is pinned twice; keep one pin per product",
                ));
            }
            if let Err(why) = crate::util::git::check_revision("`ref`", &p.git_ref) {
                return Err(self.invalid(&at("ref"), why));
            }
            if !is_real_date(&p.until) {
                return Err(self.invalid(
                    &at("until"),
                    "`until` must be the last day of the hold, YYYY-MM-DD",
                ));
            }
            if !is_reason(&p.reason) {
                return Err(self.invalid(&at("reason"), "give a reason, on one line"));
            }
        }
        Ok(())
    }
}

/// `view` (the live manager, or one of its products) as it is at the
/// customer's pin, when the customer has one for it: the manager repo's
/// tree at the pin's ref exported into `scratch`, loaded, keeping `live`'s
/// state backend and records store. `Ok(None)`: not pinned.
pub fn pinned_view(
    live: &Manager,
    view: &Manager,
    customer: &Customer,
    scratch: &Path,
) -> Result<Option<Manager>, String> {
    let Some(pin) = customer.pin_for(view.product.as_deref()) else {
        return Ok(None);
    };
    let failed = |e: &dyn std::fmt::Display| {
        format!(
            "customer `{}` is pinned ({}) but the manager at `{}` cannot be read: {e}; fetch that ref into the manager's checkout (the deploy workflow's checkout has `fetch-depth: 0`) or change the pin in {}",
            customer.slug,
            pin.describe(),
            pin.git_ref,
            super::display_path(&live.path(&live.config.registry)).display()
        )
    };
    crate::util::git::check_revision("`ref`", &pin.git_ref).map_err(|e| failed(&e))?;
    std::fs::create_dir_all(scratch).map_err(|e| failed(&e))?;
    let root =
        crate::util::git::export(&live.root, &pin.git_ref, scratch).map_err(|e| failed(&e))?;
    let at_ref = Manager::load(&root)
        .map_err(|e| failed(&e))?
        .with_state_of(live);
    let mut pinned = match &view.product {
        Some(name) => at_ref.product(name).ok_or_else(|| {
            failed(&format!(
                "fleetform.yml at that ref has no product `{name}`"
            ))
        })?,
        None => at_ref,
    };
    pinned.pin = Some(pin.clone());
    Ok(Some(pinned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_expires_the_day_after_until() {
        let p = Pin {
            product: None,
            git_ref: "v1".into(),
            until: "2027-01-31".into(),
            reason: "freeze".into(),
        };
        let on = |d: &str| p.expired_days(d.parse().unwrap());
        assert_eq!(on("2027-01-30"), None);
        assert_eq!(on("2027-01-31"), None);
        assert_eq!(on("2027-02-01"), Some(1));
        assert_eq!(on("2027-03-01"), Some(29));
        assert_eq!(p.describe(), "held at `v1` until 2027-01-31: freeze");
    }
}
