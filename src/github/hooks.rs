//! The App's webhook deliveries ("REST API endpoints for GitHub App
//! webhooks"), with the App's JWT: the list, newest first, read back to a
//! time and at most a number of items; and a redelivery of one.
//!
//! Every attempt GitHub made is an item of its own: a redelivery has a
//! new `id` and keeps the `guid` (the `X-GitHub-Delivery` the receiver
//! saw). A `status_code` of 0 is an attempt that got no answer (the
//! receiver could not be reached or took longer than GitHub waits).

use serde_json::Value;

use super::client::{GitHub, Method};
use super::error::GitHubError;
use super::paths::seg;

/// One delivery attempt, as `GET /app/hook/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    pub id: u64,
    pub guid: String,
    /// Epoch seconds.
    pub delivered_at: u64,
    pub redelivery: bool,
    /// What the receiver answered; 0: no answer.
    pub status_code: u16,
    pub event: String,
}

/// What a read of the deliveries found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookDeliveries {
    /// Newest first, none older than the time asked for.
    pub items: Vec<HookDelivery>,
    /// The most items asked for were read: older deliveries in the window
    /// may not have been.
    pub truncated: bool,
    /// Items left out because a field was missing or unusable.
    pub unreadable: usize,
}

/// A page of the list: GitHub's largest.
const PER_PAGE: usize = 100;

/// A guid as GitHub writes it (a UUID); anything else is not used.
fn usable_guid(g: &str) -> bool {
    !g.is_empty() && g.len() <= 100 && g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn item(v: &Value) -> Option<HookDelivery> {
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let guid = text("guid").filter(|g| usable_guid(g))?;
    let event = text("event").filter(|e| {
        !e.is_empty() && e.len() <= 100 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })?;
    let at: jiff::Timestamp = text("delivered_at")?.parse().ok()?;
    Some(HookDelivery {
        id: v.get("id").and_then(Value::as_u64)?,
        guid: guid.to_string(),
        delivered_at: u64::try_from(at.as_second()).ok()?,
        redelivery: v.get("redelivery").and_then(Value::as_bool)?,
        status_code: u16::try_from(v.get("status_code").and_then(Value::as_u64)?).ok()?,
        event: event.to_string(),
    })
}

impl GitHub {
    /// `GET /app/hook/deliveries`, newest first, back to `since` (epoch
    /// seconds), at most `max_items` items (pages of 100). This client
    /// must hold the App's JWT. No `status` filter is sent: GitHub's
    /// `failure` leaves out attempts that got no answer, and a guid's
    /// successful attempts are needed too.
    pub async fn app_hook_deliveries(
        &self,
        since: u64,
        max_items: usize,
    ) -> Result<HookDeliveries, GitHubError> {
        let mut out = HookDeliveries::default();
        let mut seen = 0usize;
        let first = format!("/app/hook/deliveries?per_page={PER_PAGE}");
        self.paginate_until(first, None, |v| {
            seen += 1;
            match item(&v) {
                Some(d) if d.delivered_at < since => return true,
                Some(d) => out.items.push(d),
                None => out.unreadable += 1,
            }
            // No page past the one holding the last item allowed.
            out.truncated = seen >= max_items;
            out.truncated
        })
        .await?;
        Ok(out)
    }

    /// `POST /app/hook/deliveries/{delivery_id}/attempts`: GitHub sends
    /// the delivery again (answering 202 before it does). Sent once, never
    /// repeated after a 5xx or a lost answer, so one call is at most one
    /// redelivery. This client must hold the App's JWT.
    pub async fn redeliver_app_hook_delivery(&self, id: u64) -> Result<(), GitHubError> {
        let path = format!("/app/hook/deliveries/{}/attempts", seg(&id.to_string()));
        self.send(Method::Create, &path, None).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_read_only_when_every_field_is_usable() {
        let good = json!({
            "id": 7, "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
            "delivered_at": "2026-05-12T20:33:44Z", "redelivery": false,
            "duration": 0.03, "status": "failed to connect", "status_code": 0,
            "event": "pull_request", "action": "opened",
            "installation_id": 1, "repository_id": 2,
        });
        let d = item(&good).unwrap();
        assert_eq!((d.id, d.status_code, d.redelivery), (7, 0, false));
        assert_eq!(d.delivered_at, 1_778_618_024);
        for (k, bad) in [
            ("guid", json!("a b")),
            ("guid", json!("")),
            ("event", json!("Push\n")),
            ("delivered_at", json!("yesterday")),
            ("status_code", json!(70_000)),
            ("id", json!(-1)),
            ("redelivery", Value::Null),
        ] {
            let mut v = good.clone();
            v[k] = bad;
            assert!(item(&v).is_none(), "{k}: {v}");
        }
    }
}
