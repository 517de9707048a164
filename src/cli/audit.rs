//! The flags of `fleetform audit`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Summarise the audit log: applies per customer, refusals, approvals, failures.
    Report {
        /// Only records since this date (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long)]
        since: Option<String>,
        /// The log file (default: FLEETFORM_AUDIT_LOG or .fleetform/audit.jsonl).
        #[arg(long, conflicts_with = "records")]
        log: Option<PathBuf>,
        /// Read the records store `fleetform.yml` names (`records:`, a
        /// folder or an S3 bucket) instead of the log file.
        #[arg(long)]
        records: bool,
        /// Only records until this date (YYYY-MM-DD, inclusive: the whole
        /// day) or UTC time (YYYY-MM-DDTHH:MM:SSZ).
        #[arg(long)]
        until: Option<String>,
        /// Markdown, JSON or one self-contained HTML file (evidence to
        /// attach: period, source, count and digest of the events).
        #[arg(long, value_enum, conflicts_with = "json")]
        format: Option<ReportFormat>,
        /// The same as `--format json`.
        #[arg(long)]
        json: bool,
    },
}

/// `audit report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Json,
    Html,
}
