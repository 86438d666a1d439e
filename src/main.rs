//! The `property-contacts` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// A request allocates and frees many small buffers (rows, JSON, headers) across worker threads;
/// mimalloc's per-thread free lists serve that pattern with less work than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = property_contacts::cli::Cli::parse();
    // Log lines are batched to a writer thread, so a slow stderr never stalls request handling and a
    // request pays no system call for its access line; the guard flushes what is left when main returns.
    let (writer, _flush_on_exit) = property_contacts::log_writer::batch_writer(std::io::stderr());
    // JSON lines on stderr, so stdout stays clean for `keys create`.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    property_contacts::log_format::subscriber(writer, filter).init();
    match property_contacts::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
