//! A resolved cloud identity as plain data: what plan summaries, outputs
//! and audit lines carry. A leaf, so the layers that record identities
//! need nothing else of `config`.
//!
//! May import: serde only.

use serde::{Deserialize, Serialize};

/// Both identities of a customer × environment, as the deploy workflow's
/// authorise job hands them to the plan and apply jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageIdentities {
    pub plan: CloudIdentity,
    pub apply: CloudIdentity,
}

/// A resolved cloud identity: what the job assumes. Not a secret: it
/// appears in outputs, comments and the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudIdentity {
    /// `aws`
    pub cloud: String,
    pub role_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub session_name: String,
    pub region: String,
}
