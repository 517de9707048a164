//! The customer side of the GitHub loop behind the provider's relay
//! (`fleetform trigger --relay-url`): the values are checked here against
//! the schema the relay serves, then the relay dispatches them.

use std::path::Path;

use crate::ci::RunContext;
use crate::context::Context;

use crate::error::{Error, Result};
use crate::report::customer::{trigger_line, Trigger};
use crate::values::customer;
use crate::values::schema::Schema;

/// What `fleetform trigger --relay-url` was told, checked.
pub struct RelaySettings {
    /// The relay's https:// address.
    pub relay: String,
    /// The audience of the run's OIDC token.
    pub audience: String,
    pub variables: String,
    pub overrides: String,
    pub json: bool,
}

/// The trigger behind the provider's relay: the run's OIDC token is the
/// only credential. The schema comes from the relay; the values are
/// checked here first, then the relay dispatches to the manager, which
/// reports on the commit. Needs `id-token: write` and `contents: read` only,
/// for a comment command too (the relay reads the comment).
pub fn trigger_via_relay(args: &RelaySettings, cx: &Context) -> Result<()> {
    let relay = args.relay.as_str();
    use crate::relay::client;
    let ctx = RunContext::from_env();
    let subject = match super::trigger::subject(&ctx)? {
        Ok(s) => s,
        Err(note) => {
            cx.out.note(&note);
            return Ok(());
        }
    };
    // A comment command: the run's OIDC token names the default branch's
    // commit; the relay reads the comment and the pull request's head from
    // GitHub itself, and the checkout is that head (refs/pull/<n>/head).
    // Per product: each product has its own schema in the manager, which
    // checks the values and says so on the pull request (the relay serves
    // no one schema for them).
    let per_product = super::trigger::checkout_product_files(&args.variables);
    let local = match &per_product {
        Some(_) => None,
        None => Some(super::trigger::checkout_source(
            &args.variables,
            &args.overrides,
        )?),
    };
    let rt = crate::github::runtime().map_err(|e| Error::failed(e.to_string()))?;
    let refused = |e: client::ClientError| Error::failed(e.to_string());
    let answer = rt.block_on(async {
        // A new token for each request the relay is asked (they live
        // about five minutes; a caller of a busy relay may wait nine).
        let mask = |t: &str| cx.out.mask(t);
        let runner = client::Runner {
            net: &cx.net,
            audience: &args.audience,
            mask: &mask,
        };
        let files = match local {
            None => {
                cx.out
                    .note("products: the manager checks each product's values");
                per_product.clone().unwrap_or_default()
            }
            Some((source, files)) => {
                let (path, schema, formats) =
                    client::schema(relay, &runner).await.map_err(refused)?;
                let schema = Schema::from_bytes_with(
                    &schema,
                    Path::new(&format!("manager:{path}")),
                    formats,
                )
                .map_err(|e| Error::failed(format!("the schema the relay served: {e}")))?;
                if let Err(problems) = customer::check(&source, &schema) {
                    return Ok(Err(problems));
                }
                files
            }
        };
        // A push's pull request is the relay's to read from the commit.
        let pr = subject.pr.filter(|_| subject.event != "push");
        client::dispatch(relay, &runner, pr, &files, subject.comment)
            .await
            .map(Ok)
            .map_err(refused)
    })?;
    match answer {
        Err(problems) => {
            cx.out.diagnostics(&problems);
            Err(Error::failed(trigger_line(&Trigger::Invalid {
                problems: problems.len(),
            })))
        }
        Ok(v) => {
            if args.json {
                return cx
                    .out
                    .json(&v)
                    .map_err(|e| Error::failed(format!("the relay's answer as JSON: {e}")));
            }
            if v.get("duplicate").is_some() {
                cx.out.note("the relay had dispatched this event already (the App's webhook, an earlier run or another relay instance); nothing was sent again");
            }
            let d = &v["dispatched"];
            cx.out.result(&trigger_line(&Trigger::SentThroughRelay {
                event_type: d["event_type"].as_str().unwrap_or("?"),
                customer: d["customer"].as_str().unwrap_or("?"),
                sha: d["sha"].as_str().unwrap_or_default(),
            }));
            Ok(())
        }
    }
}
