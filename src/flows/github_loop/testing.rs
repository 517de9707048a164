//! Fixtures for the deploy steps' unit tests: a manager with `staging` and
//! `production` (in that order) and its registry.

use std::path::{Path, PathBuf};

use crate::config::{from_doc, Manager, Registry};
use crate::dispatch::Payload;
use fleetform_yaml::Limits;

use super::event::Dispatched;

const MANAGER: &str = "version: 1\nschema: s.json\nregistry: customers.yml\n\
    environments:\n  - name: staging\n  - name: production\n\
    terraform:\n  working_dir: tf\n  backend:\n    kind: local\n    state_dir: st\n";

const REGISTRY: &str = "customers:\n\
    - slug: acme\n  repo: Acme/infra\n  contact: ops@acme.test\n  added: 2024-01-01\n  environments: [production, staging]\n\
    - slug: globex\n  repo: globex/infra\n  contact: ops@globex.test\n  added: 2024-01-01\n  environments: [staging]\n\
    - slug: initech\n  repo: initech/infra\n  contact: ops@initech.test\n  added: 2024-01-01\n  environments: [staging]\n  status: revoked\n  revoked: {date: 2024-06-01, reason: left}\n";

pub(super) fn manager() -> Manager {
    let doc = fleetform_yaml::load_str(MANAGER, Path::new("fleetform.yml"), &Limits::default())
        .expect("fixture parses");
    Manager {
        root: PathBuf::from("manager"),
        config: from_doc(&doc).expect("fixture is a manager config"),
        doc,
        product: None,
        pin: None,
    }
}

pub(super) fn registry(manager: &Manager) -> Registry {
    Registry::parse(manager, Path::new("customers.yml"), REGISTRY.as_bytes())
        .expect("fixture is a registry")
}

/// A payload from `repo` listing `files`.
pub(super) fn payload(repo: &str, files: &[&str]) -> Payload {
    Payload {
        v: 1,
        customer_repo: repo.into(),
        sha: "a".repeat(40),
        git_ref: "refs/heads/main".into(),
        pr: Some(7),
        event: "push".into(),
        trigger_run_url: None,
        dispatch_id: "d-1".into(),
        files: files.iter().map(|f| f.to_string()).collect(),
        sig: None,
        repo_id: None,
        comment: None,
    }
}

pub(super) fn dispatched(event_type: &str, payload: Payload) -> Dispatched {
    Dispatched {
        event_type: event_type.into(),
        payload,
        sender: None,
        asked_at: None,
        batch_of: 1,
    }
}

pub(super) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
