//! The workflow templates in `workflows/` as github.com runs them: jobs,
//! applies, batches, credentials, OIDC, re-runs and triggers.

pub(crate) mod apply;
pub(crate) mod batch;
pub(crate) mod batch_run;
pub(crate) mod cache_run;
pub(crate) mod credentials;
pub(crate) mod customer_checkout;
pub(crate) mod deploy_run;
pub(crate) mod jobs;
pub(crate) mod oidc;
pub(crate) mod reruns;
pub(crate) mod trigger;
