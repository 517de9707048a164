//! Who takes part in what: the one table of which registry status takes
//! part in which of fleetform's activities. Every "is this customer
//! planned, applied, dispatched, drifted, shown …" asks
//! [`Customer::takes_part`]; a new status is named in the rows of
//! [`TABLE`] of the activities it takes part in, its tests below, and the
//! words customers read when they are left out (`report::customer`),
//! nothing else.

use super::registry::{Customer, Status};

/// One thing fleetform does with a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Activity {
    /// Planned, rendered and validated: fleet plans, `validate`, `impact`,
    /// the plan matrix, its products, its secrets decrypted for a plan.
    Plan,
    /// Applied: a dispatched apply, still allowed on the manager's default
    /// branch (a destroy is [`Activity::Offboard`]).
    Apply,
    /// Its events dispatched to the manager: the relay, the webhook,
    /// `poll`, `authorise`; a repository owner the manager's token reads.
    Dispatch,
    /// Checked for drift, with its drift issues kept.
    Drift,
    /// In a rollout's waves, and pinned or unpinned for one.
    Rollout,
    /// Existing objects adopted into its state.
    Adopt,
    /// The customer template propagated to its repository (`sync`).
    Sync,
    /// Shown as a customer of the fleet: the dashboard, completions, token
    /// and secret-age notices and the registry's views.
    Shown,
    /// Issued what onboarding gives: instructions, dispatch keys, secrets
    /// identities.
    Onboard,
    /// Read by `doctor` (its repository, pins, secrets, collaborators).
    Doctor,
    /// Revoked (a customer already revoked is not revoked again).
    Revoke,
    /// Offboarded: everything it has destroyed, once it is revoked.
    Offboard,
}

impl Activity {
    /// Every activity, for the table's tests.
    pub const ALL: [Activity; 12] = [
        Activity::Plan,
        Activity::Apply,
        Activity::Dispatch,
        Activity::Drift,
        Activity::Rollout,
        Activity::Adopt,
        Activity::Sync,
        Activity::Shown,
        Activity::Onboard,
        Activity::Doctor,
        Activity::Revoke,
        Activity::Offboard,
    ];
}

/// Each activity and the statuses that take part in it.
pub const TABLE: &[(Activity, &[Status])] = &[
    (Activity::Plan, &[Status::Active]),
    (Activity::Apply, &[Status::Active]),
    (Activity::Dispatch, &[Status::Active]),
    (Activity::Drift, &[Status::Active]),
    (Activity::Rollout, &[Status::Active]),
    (Activity::Adopt, &[Status::Active]),
    (Activity::Sync, &[Status::Active]),
    (Activity::Shown, &[Status::Active]),
    (Activity::Onboard, &[Status::Active]),
    (Activity::Doctor, &[Status::Active]),
    (Activity::Revoke, &[Status::Active]),
    (Activity::Offboard, &[Status::Revoked]),
];

impl Status {
    /// Whether a customer of this status takes part in `activity`.
    pub fn takes_part(self, activity: Activity) -> bool {
        TABLE
            .iter()
            .find(|(a, _)| *a == activity)
            .is_some_and(|(_, statuses)| statuses.contains(&self))
    }
}

impl Customer {
    /// Whether this customer takes part in `activity` (see [`TABLE`]).
    pub fn takes_part(&self, activity: Activity) -> bool {
        self.status.takes_part(activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every activity has exactly one row (one without would have no
    /// customer take part in it by accident).
    #[test]
    fn every_activity_has_one_row() {
        for a in Activity::ALL {
            let rows = TABLE.iter().filter(|(r, _)| *r == a).count();
            assert_eq!(rows, 1, "{a:?}");
        }
        assert_eq!(TABLE.len(), Activity::ALL.len());
    }

    #[test]
    fn an_active_customer_takes_part_in_all_but_offboarding() {
        for a in Activity::ALL {
            assert_eq!(
                Status::Active.takes_part(a),
                a != Activity::Offboard,
                "{a:?}"
            );
        }
    }

    #[test]
    fn a_revoked_customer_is_only_offboarded() {
        for a in Activity::ALL {
            assert_eq!(
                Status::Revoked.takes_part(a),
                a == Activity::Offboard,
                "{a:?}"
            );
        }
    }
}
