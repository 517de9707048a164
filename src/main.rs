use clap::Parser;
use tracing_subscriber::filter::{LevelFilter, Targets};

// mimalloc: fleet runs allocate and free many small values on every
// thread; glibc's allocator spent a quarter of `impact` (bench case 8).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let cli = match fleetform::commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return fleetform::output::clap_error(&e, github),
    };
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    // `FLEETFORM_LOG`: comma-separated `target=level` directives or a bare
    // level (tracing-subscriber's `Targets`, which needs no regex engine:
    // EnvFilter's span and field matchers cost the binary 146 KB).
    let filter = std::env::var("FLEETFORM_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_target("fleetform", level));
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || fleetform::output::SafeStderr { github })
                .with_ansi(false)
                .with_target(false)
                .without_time(),
        )
        .with(filter)
        .init();
    std::process::ExitCode::from(fleetform::run(cli))
}
