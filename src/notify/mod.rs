//! Notifications (`notify:` in fleetform.yml): an apply that failed, drift
//! found, a rollout halted, an apply waiting for approvals and tokens
//! about to expire are posted to the targets that asked for the event, as
//! a Slack-compatible `{"text": …}` or a generic JSON object.
//!
//! A notice carries only what fleetform composes itself from names it has
//! checked (slugs, environments, products, counts, digest prefixes) and
//! the run URL: never a value, a secret, Terraform output or a URL from a
//! customer. The webhook URL is a secret read from the variable the target
//! names; only that variable's name is ever shown. Delivery never fails
//! the command: a missing variable or a failed post is a warning.
//!
//! Notices are queued and posted in the background, each target (webhook
//! URL) by a worker of its own with one budget of attempts for the whole
//! command; [`Notifications::finish`], called once when the command is done, waits for
//! them up to one deadline and reports what was not delivered.
//!
//! Here: the notice and who gets it (`mod.rs`), the command's queue and
//! its deadline (`queue`), the HTTP post with its timeout and the
//! target's budget (`deliver`).
//!
//! May import: `config` (the targets), `ci` (the run URL), `audit` (the
//! time), `output` (warnings), `net` (the HTTP client) and `util`.

mod deliver;
mod queue;

use std::sync::Mutex;

use serde::Serialize;

use crate::config::{Manager, NotifyEvent, NotifyKind, NotifyTarget};
use crate::output::Output;

pub use deliver::{Attempts, DeliveryError};
pub use queue::{Job, Notifier, DEADLINE_SECS};

/// The notifications of one command: its queue, made where the command
/// starts and passed down, and the warnings its settings gave, shown when
/// it first sends. Two side by side share nothing.
pub struct Notifications {
    notifier: Notifier,
    unsaid: Mutex<Vec<String>>,
}

impl Notifications {
    /// A queue with `notifier`'s settings; `warnings` are shown at the
    /// first [`Notifications::send`].
    pub fn new(notifier: Notifier, warnings: Vec<String>) -> Notifications {
        Notifications {
            notifier,
            unsaid: Mutex::new(warnings),
        }
    }

    /// The environment's settings ([`Notifier::from_env`]), posting over
    /// `net`.
    pub fn from_env(net: crate::net::Settings) -> Notifications {
        let (notifier, warnings) = Notifier::from_env(net);
        Notifications::new(notifier, warnings)
    }

    /// Queues `notice` for every target of `manager` that asked for its
    /// event; problems are warnings (here or at [`Notifications::finish`]),
    /// never errors.
    pub fn send(&self, manager: &Manager, notice: &Notice, out: &Output) {
        let warnings = std::mem::take(&mut *self.unsaid.lock().unwrap_or_else(|p| p.into_inner()));
        for w in warnings {
            out.note(&w);
        }
        send_to(&self.notifier, &manager.config.notify, notice, out);
    }

    /// Waits for the command's notifications still in flight, up to their
    /// deadline, and warns about each one not delivered. Called once, when
    /// the command is done (its result is already decided).
    pub fn finish(&self, out: &Output) {
        self.notifier.finish(out);
    }
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").finish_non_exhaustive()
    }
}

/// What happened, in fleetform's own words.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub event: &'static str,
    pub customer: Option<String>,
    pub environment: Option<String>,
    pub product: Option<String>,
    /// A line fleetform composes: names, counts, digest prefixes.
    pub summary: String,
    pub run_url: Option<String>,
    pub time: String,
    #[serde(skip)]
    kind: Option<NotifyEvent>,
}

impl Notice {
    /// A notice of `event` now, from this run.
    pub fn new(event: NotifyEvent, summary: impl Into<String>) -> Notice {
        Notice {
            event: event.as_str(),
            customer: None,
            environment: None,
            product: None,
            summary: summary.into(),
            run_url: crate::ci::RunContext::from_env().run_url(),
            time: crate::audit::rfc3339_now(),
            kind: Some(event),
        }
    }

    pub fn unit(mut self, customer: &str, environment: &str, product: Option<&str>) -> Notice {
        self.customer = Some(customer.to_string());
        self.environment = Some(environment.to_string());
        self.product = product.map(str::to_string);
        self
    }

    /// The Slack text: one line, the run URL on its own.
    pub fn text(&self) -> String {
        let mut t = format!("fleetform {}", self.event.replace('_', " "));
        if let (Some(c), Some(e)) = (&self.customer, &self.environment) {
            match &self.product {
                Some(p) => t.push_str(&format!(" — {c}/{p}/{e}")),
                None => t.push_str(&format!(" — {c}/{e}")),
            }
        }
        t.push_str(&format!(": {}", self.summary));
        if let Some(u) = &self.run_url {
            t.push_str(&format!("\nRun: {u}"));
        }
        t
    }

    /// The body a target of `kind` receives.
    pub fn body(&self, kind: NotifyKind) -> Vec<u8> {
        let v = match kind {
            NotifyKind::Slack => serde_json::json!({ "text": self.text() }),
            NotifyKind::Webhook => serde_json::to_value(self).unwrap_or_default(),
        };
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// [`Notifications::send`] to `targets`, through `notifier`.
pub fn send_to(notifier: &Notifier, targets: &[NotifyTarget], notice: &Notice, out: &Output) {
    for t in targets
        .iter()
        .filter(|t| notice.kind.is_some_and(|k| t.events.contains(&k)))
    {
        let url = match std::env::var(&t.url_env) {
            Ok(u) if !u.trim().is_empty() => u,
            _ => {
                out.note(&format!(
                    "warning: notify target `{}`: {} is not set; {} not sent",
                    t.name, t.url_env, notice.event
                ));
                continue;
            }
        };
        out.mask(&url);
        notifier.send(
            url.trim(),
            Job {
                target: t.name.clone(),
                url_env: t.url_env.clone(),
                event: notice.event,
                body: notice.body(t.kind),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let mut n = Notice::new(
            NotifyEvent::ApplyFailed,
            "apply failed (plan sha256:abcdef012345)",
        )
        .unit("acme", "production", Some("app"));
        n.run_url = Some("https://github.com/o/m/actions/runs/1".into());
        let slack: serde_json::Value = serde_json::from_slice(&n.body(NotifyKind::Slack)).unwrap();
        assert_eq!(
            slack["text"],
            "fleetform apply failed — acme/app/production: apply failed (plan sha256:abcdef012345)\nRun: https://github.com/o/m/actions/runs/1"
        );
        let hook: serde_json::Value = serde_json::from_slice(&n.body(NotifyKind::Webhook)).unwrap();
        let keys: Vec<&str> = hook
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "event",
                "customer",
                "environment",
                "product",
                "summary",
                "run_url",
                "time"
            ]
        );
        assert_eq!(hook["event"], "apply_failed");
    }
}
