//! The `property-contacts` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// A request allocates and frees many small buffers (rows, JSON, headers) across worker threads;
/// mimalloc's per-thread free lists serve that pattern with less work than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3 keeps freed memory a second (its arenas ten) before giving it back to the OS, so
/// after a burst of large answers (history pages at the maxima) RSS stays near the burst's peak
/// and the next burst stacks on top. 10 ms, mimalloc v2's default, gives it back between bursts.
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn tune_allocator() {
    // `mi_option_purge_delay` in mimalloc.h; the enum keeps its values stable (retired options keep
    // their slot), and the sys crate names only some of them.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options at each purge decision.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    }
}

/// The embedded SQLite allocates through the C library's `malloc`, not mimalloc, on the worker
/// thread of each of its connections, and glibc gives every such thread an arena of its own (up
/// to eight per core) that keeps what was freed in it. Two arenas: in the abuse run's history reads
/// (SQLite, a contact at its maxima) RSS peaked at 89 MB, against 100.7 MB with glibc's default.
/// `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_c_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: sets one glibc malloc parameter (under its own lock); arenas created from now
        // on obey it, and SQLite's threads start later, with the store.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tune_allocator();
    limit_c_arenas();
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
