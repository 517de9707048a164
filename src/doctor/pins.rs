//! Pins (the registry's `pins:`): one *should* row per pin of an active
//! customer, a warning once the pin's `until` has passed (the customer
//! stays on an old manager version and rollouts keep skipping it).

use crate::config::Activity;
use crate::config::Customer;

use super::{Check, Level};

/// The rows for `customers`' pins on `today`.
pub fn pin_checks(customers: &[Customer], today: jiff::civil::Date) -> Vec<Check> {
    let mut checks = Vec::new();
    for c in customers.iter().filter(|c| c.takes_part(Activity::Doctor)) {
        for p in &c.pins {
            let what = format!("pin of customer {}", c.slug);
            checks.push(match p.expired_days(today) {
                None => Check::pass(Level::Should, what, p.describe()),
                Some(_) => Check::not_met(
                    Level::Should,
                    what,
                    p.describe_on(today),
                    format!(
                        "move `{}` onto the current manager (remove the pin from the registry) or extend its `until` with a reason",
                        c.slug
                    ),
                ),
            });
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pins::Pin;

    #[test]
    fn an_expired_pin_of_an_active_customer_warns() {
        let mut c: Customer = serde_json::from_value(serde_json::json!({
            "slug": "acme", "path": "x", "contact": "a@b.test",
            "environments": ["staging"], "added": "2026-01-01",
        }))
        .unwrap();
        c.pins.push(Pin {
            product: None,
            git_ref: "v1".into(),
            until: "2026-03-01".into(),
            reason: "freeze".into(),
        });
        let on = |c: &Customer, d: &str| pin_checks(std::slice::from_ref(c), d.parse().unwrap());
        assert_eq!(on(&c, "2026-03-01")[0].result, super::super::Verdict::Pass);
        let late = on(&c, "2026-03-03");
        assert_eq!(late[0].result, super::super::Verdict::Warn);
        assert!(
            late[0].found.contains("EXPIRED 2 days ago"),
            "{}",
            late[0].found
        );
        c.status = crate::config::Status::Revoked;
        assert!(on(&c, "2026-03-03").is_empty());
    }
}
