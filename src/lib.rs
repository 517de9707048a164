//! fleetform: run Terraform for a fleet of customers from one manager repo.
//!
//! `main.rs` parses flags and calls [`run`]; each subcommand lives in
//! [`commands`]. Library code returns data and errors; only [`output`]
//! prints. The folders name the layers, declared once, highest first, as
//! `LAYERS` in `tests/layout.rs` (the README's "Layout" shows it): the
//! commands over deploy, rollout and fleet, over the engine, over the
//! adapters and reports, over policy, terraform and values, over the
//! plain data (`data`) and `config`, with `util` at the bottom.

pub mod audit;
pub mod ci;

pub mod commands;
pub mod config;
pub mod context;
pub mod data;
pub mod dispatch;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod fleet;
pub mod flows;
pub mod github;
pub mod net;
pub mod notify;
pub mod output;
pub mod policy;
pub mod records;
pub mod relay;
pub mod report;
pub mod rollout;
pub mod terraform;
pub mod util;
pub mod values;
pub mod version;

use commands::{Cli, Command};
use error::Error;
use output::Output;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    let out = Output::from_env(cli.global.quiet, cli.global.verbose);
    // `-C DIR` works like git's: run as if started in DIR.
    if cli.global.manager_dir != std::path::Path::new(".") {
        if let Err(e) = std::env::set_current_dir(&cli.global.manager_dir) {
            out.error(&format!(
                "cannot enter the manager repo {}: {e}",
                cli.global.manager_dir.display()
            ));
            return error::EXIT_USAGE;
        }
    }
    // Without -C, from a folder inside a manager repo: run from its root,
    // as git finds its repository from a subfolder.
    if cli.global.manager_dir == std::path::Path::new(".") && reads_manager(&cli.command) {
        if let Some(root) = config::find_manager_above(std::path::Path::new(".")) {
            if let Err(e) = std::env::set_current_dir(&root) {
                out.error(&format!(
                    "cannot enter the manager repo {}: {e}",
                    root.display()
                ));
                return error::EXIT_USAGE;
            }
            out.note(&format!(
                "using the manager repo at {} (fleetform.yml is there): run as with `-C {}`, relative paths included",
                root.display(),
                root.display()
            ));
        }
    }
    // No command changes directory from here on.
    util::path::settle_working_dir();
    let dir = std::path::Path::new(".");
    // In a manager repo, audit events are also kept in its records store,
    // with the records' own credential where the job holds a customer's
    // cloud role.
    // `impact` previews and changes nothing: its plans on a pull request
    // hold a read-only role and write no record.
    let previews = matches!(cli.command, Command::Impact(_));
    let manager = match previews {
        true => None,
        false => config::Manager::load(dir).ok(),
    };
    let net = net::Settings::from_env();
    let store = manager.map(|m| records_store(&cli.command, &m, &net));
    let cx = context::Context::from_env(out, net, store);
    let result = match &cli.command {
        Command::Validate(a) => commands::validate::run(a, dir, &cx.out),
        Command::Render(a) => commands::render::run(a, dir, &cx.out),
        Command::Plan(a) => commands::plan::run(a, dir, &cx),
        Command::Apply(a) => commands::apply::run(a, dir, &cx),
        Command::Authorise => commands::authorise::run(dir, &cx),
        Command::BatchEntries => commands::batch_entries::run(dir, &cx.out),
        Command::Conclude(a) => commands::conclude::run(a, dir, &cx),
        Command::Handoff(a) => commands::handoff::run(a, dir, &cx),
        Command::Trigger(a) => commands::trigger::run(a, &cx),
        Command::Request(a) => commands::request::run(a, &cx),
        Command::Form(a) => commands::form::run(a, dir, &cx.out),
        Command::Docs(a) => commands::docs::run(a, dir, &cx.out),
        Command::Customers(a) => commands::customers::run(a, dir, &cx),
        Command::Matrix(a) => commands::matrix::run(a, dir, &cx.out),
        Command::Drift(a) => commands::drift::run(a, dir, &cx),
        Command::Repair(a) => commands::repair::run(a, dir, &cx),
        Command::State(a) => commands::state::run(a, dir, &cx),
        Command::Adopt(a) => commands::adopt::run(a, dir, &cx),
        Command::Impact(a) => commands::impact::run(a, dir, &cx),
        Command::Rollout(a) => commands::rollout::run(a, dir, &cx),
        Command::Audit(a) => commands::audit_report::run(a, dir, &cx),
        Command::Records(a) => commands::records::run(a, dir, &cx),
        Command::Sync(a) => commands::sync::run(a, dir, &cx),
        Command::Doctor(a) => commands::doctor::run(a, dir, &cx),
        Command::Report(a) => match &a.command {
            Some(commands::ReportCommand::Cost(c)) => commands::report_cost::run(c, dir, &cx),
            Some(commands::ReportCommand::Sla(s)) => commands::report_sla::run(s, dir, &cx),
            None => commands::report::run(a, dir, &cx),
        },
        Command::Init(a) => commands::init::run(a, &cx.out),
        Command::Relay(a) => commands::relay::run(a, dir, &cx),
        Command::Poll(a) => commands::poll::run(a, dir, &cx),
        Command::Completions(a) => commands::completions::run(a, dir, &cx.out),
    };
    // Notifications the command queued: waited for up to their deadline,
    // never a change to its result.
    cx.notify.finish(&cx.out);
    requests_sent(&cx.out);
    match result {
        Ok(()) => error::EXIT_OK,
        Err(e) => {
            report(&cx.out, &e);
            if wants_json() && !cx.out.json_written() {
                let help = e.help();
                cx.out
                    .json_error(e.kind(), e.exit_code(), &error_text(&e), help.as_deref());
            }
            e.exit_code()
        }
    }
}

/// The records store audit events are also kept in: with the records' own
/// credential where the job holds a customer's cloud role.
fn records_store(c: &Command, manager: &config::Manager, net: &net::Settings) -> records::Store {
    let customer_role = match c {
        Command::Plan(a) => a.dispatch,
        Command::Apply(a) => a.dispatch,
        Command::Drift(_) => true,
        // A repair's jobs hold the pair's cloud roles, as drift's.
        Command::Repair(_) => true,
        Command::State(a) => a.github,
        // The offboarding's jobs hold the customer's cloud roles.
        Command::Customers(a) => {
            matches!(
                a.command,
                commands::customers::CustomersCommand::Offboard(_)
            )
        }
        _ => false,
    };
    match customer_role {
        true => records::Store::for_customer_role(manager, net),
        false => records::Store::for_manager(manager, net),
    }
}

/// `-v`: every request this run sent to GitHub, whichever client sent it.
fn requests_sent(out: &Output) {
    let sent = github::sent_by_this_process();
    if sent > 0 {
        out.verbose(&format!(
            "{} sent to GitHub by this run",
            util::text::count(sent, "API request", "API requests")
        ));
    }
}

/// Whether the command line (or `FLEETFORM_JSON`) asks for JSON.
fn wants_json() -> bool {
    std::env::args_os().skip(1).any(|a| a == "--json")
        || std::env::var("FLEETFORM_JSON").is_ok_and(|v| v == "true" || v == "1")
}

/// The error's words for a JSON error object (the diagnostics of a values
/// error, one per line).
fn error_text(e: &Error) -> String {
    match e {
        Error::Values(ds) => ds
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        // `Other` shows its chain of causes in its own words.
        other => other.to_string(),
    }
}

/// Whether a command reads the manager repo (so it may be found above
/// the current folder). `init`, `trigger`, `completions` and `validate
/// FILE...` work where they are started.
fn reads_manager(c: &Command) -> bool {
    match c {
        Command::Init(_) | Command::Trigger(_) | Command::Request(_) => false,
        Command::Completions(a) => a.list.is_some(),
        Command::Validate(a) => a.files.is_empty(),
        _ => true,
    }
}

/// The error, once, in the one output layer: what, where and what to do.
fn report(out: &Output, e: &Error) {
    let help = e.help();
    let what = match e {
        Error::Drift(m) => return out.note(m),
        Error::Values(ds) => {
            out.diagnostics(ds);
            format!(
                "{} found",
                util::text::count(ds.len(), "problem", "problems")
            )
        }
        // The place is shown once, before the words (a `Say`'s words
        // never hold it).
        Error::Config(config::ConfigError::Yaml(y)) => y.message.clone(),
        Error::Config(config::ConfigError::Invalid { message, .. }) => message.clone(),
        other => other.to_string(),
    };
    out.failure(&what, e.at(), help.as_deref());
}
