use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = fleetform::cli::Cli::parse();
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    std::process::ExitCode::from(fleetform::run(cli))
}
