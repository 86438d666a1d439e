//! The `property-contacts` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = property_contacts::cli::Cli::parse();
    // Log lines are handed to a writer thread, so a slow stderr never stalls request handling; the
    // guard flushes what is queued when main returns.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(std::io::stderr());
    // JSON lines on stderr, so stdout stays clean for `keys create`.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        // Every span, so each line carries the request span's request_id and route.
        .with_span_list(true)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(writer)
        .init();
    match property_contacts::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
