use clap::Parser;

// mimalloc: fleet runs allocate and free many small values on every
// thread; glibc's allocator spent a quarter of `impact` (bench case 8).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let cli = match fleetform::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return fleetform::output::clap_error(&e, github),
    };
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETFORM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("fleetform={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || fleetform::output::SafeStderr { github })
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .init();
    std::process::ExitCode::from(fleetform::run(cli))
}
