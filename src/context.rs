//! What one command runs with, made once where it starts and passed down:
//! its output, the audit log (with the records store its events also go
//! to), its notifications and the network settings. Nothing here is
//! process-wide: two contexts side by side share none of it.
//!
//! A context is passed as `cx`; it prints through its `out` field (the one
//! [`Output`]), and hands `&cx.out` on to what takes only the output.

use crate::audit::{Entry, Log};
use crate::config::Manager;
use crate::notify::{Notice, Notifications};
use crate::output::Output;

/// One command's output, audit log, notifications and network settings.
#[derive(Debug)]
pub struct Context {
    pub out: Output,
    pub audit: Log,
    pub notify: Notifications,
    pub net: crate::net::Settings,
}

impl Context {
    /// `out` with the environment's audit log (kept in `store` too) and
    /// notification settings, connecting with `net`.
    pub fn from_env(
        out: Output,
        net: crate::net::Settings,
        store: Option<crate::records::Store>,
    ) -> Context {
        Context {
            out,
            audit: Log::from_env(store),
            notify: Notifications::from_env(net.clone()),
            net,
        }
    }

    /// Appends `entry` to the audit log (and the records store); a failure
    /// is reported, not fatal.
    pub fn record(&self, entry: Entry) {
        self.audit.record(&self.out, entry);
    }

    /// Keeps `entry` (the intent of a command about to change something)
    /// or says why not: nothing is changed unrecorded.
    pub fn keep(&self, entry: Entry) -> Result<(), crate::audit::KeepError> {
        self.audit.keep(entry)
    }

    /// Queues `notice` for the targets of `manager` that asked for it.
    pub fn notify(&self, manager: &Manager, notice: &Notice) {
        self.notify.send(manager, notice, &self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(dir: &std::path::Path, name: &str, proxy: &'static str) -> Context {
        let net = crate::net::Settings::from_lookup(move |k| {
            (k == "HTTPS_PROXY").then(|| proxy.to_string())
        });
        let store = crate::records::Store::in_folder(dir.join(format!("{name}-records")));
        Context {
            out: Output::from_env(true, 0),
            audit: Log::new(dir.join(format!("{name}.jsonl")), Some(store)),
            notify: Notifications::from_env(net.clone()),
            net,
        }
    }

    /// Two commands side by side: each writes its own audit log and
    /// records store, and connects with its own settings.
    #[test]
    fn two_contexts_side_by_side_share_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = context(dir.path(), "a", "http://proxy-a.internal:3128");
        let b = context(dir.path(), "b", "not a proxy");
        a.record(Entry::now("plan", "ok").detail("from a"));
        b.record(Entry::now("apply", "ok").detail("from b"));
        b.record(Entry::now("apply", "failed").detail("from b"));
        let log =
            |name: &str| crate::audit::read(&dir.path().join(format!("{name}.jsonl"))).unwrap();
        let details = |entries: Vec<Entry>| -> Vec<String> {
            entries.into_iter().filter_map(|e| e.detail).collect()
        };
        assert_eq!(details(log("a")), ["from a"]);
        assert_eq!(details(log("b")), ["from b", "from b"]);
        let kept = |c: &Context| c.audit.store().unwrap().list("audit/").unwrap().len();
        assert_eq!((kept(&a), kept(&b)), (1, 2));
        assert!(a.net.get().is_ok());
        assert!(b.net.get().is_err());
    }
}
