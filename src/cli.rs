//! The command line: `serve`, `migrate`, `keys ...` and `privacy ...`, each on the store named by `DATABASE_URL`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::auth::generate_key;
use crate::config::{ServeSettings, StoreSettings};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Durability, PgPoolSizes, PgStore, Scope, SqliteSettings, SqliteStore};
use crate::validation::ids::{valid_id, ID_RULE};

/// Contact details of hotels and other properties, over HTTP.
#[derive(Debug, Parser)]
#[command(name = "property-contacts", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreSettings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates the store first).
    Serve(ServeSettings),
    /// Apply the store's migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Answer a person's data request: export or erase what a tenant holds about them. Prints the
    /// same JSON document as the API and is audited the same way (key `cli`).
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Print everything the tenant holds about the person (`GET /api/v1/privacy/subjects`).
    Export(SubjectArgs),
    /// Erase the person (`POST /api/v1/privacy/erasures`).
    Erase {
        #[command(flatten)]
        subject: SubjectArgs,
        /// Only list what would be erased.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Whom a privacy command is about: a tenant and exactly one identifier.
#[derive(Debug, clap::Args)]
pub struct SubjectArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub email: Option<String>,
    /// E.164, e.g. +4930123456.
    #[arg(long)]
    pub phone: Option<String>,
    /// A CRM contact id.
    #[arg(long)]
    pub contact_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, alone, on stdout. It is shown only this once.
    Create {
        /// Tenant the key belongs to (created if new).
        #[arg(long)]
        tenant: String,
        /// A label for the key (shown by `keys list`, recorded as the author of changes).
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated scopes: read, write, admin.
        #[arg(long, default_value = "read,write")]
        scopes: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id (the `ID` column of `keys list`).
    Revoke { id: String },
}

/// Opens the store named by the URL and runs the command on it.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = &cli.store;
    let url = settings.database_url.as_str();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sizes = PgPoolSizes {
            max_connections: settings.database_max_connections,
            pipeline_connections: settings.database_pipeline_connections,
            acquire_timeout: settings.acquire_timeout(),
            query_timeout: settings.query_timeout(),
        };
        let store = PgStore::connect(url, sizes)?;
        run_on(store, cli).await
    } else if url.starts_with("sqlite:") {
        let durability =
            if settings.sqlite_synchronous == "full" { Durability::Full } else { Durability::Normal };
        let sqlite = SqliteSettings {
            max_connections: settings.database_max_connections,
            acquire_timeout: settings.acquire_timeout(),
            query_timeout: settings.query_timeout(),
            durability,
        };
        let store = SqliteStore::connect(url, sqlite).await?;
        run_on(store, cli).await
    } else {
        bail!("DATABASE_URL must start with sqlite: or postgres:// (got {})", settings.redacted_url())
    }
}

async fn run_on<S: Store>(store: S, cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or_else(|| {
        Command::Serve(ServeSettings::try_parse_from_env().expect("serve defaults are valid"))
    });
    match command {
        Command::Serve(settings) => serve(store, &cli.store, settings).await,
        Command::Migrate => {
            store.migrate().await?;
            eprintln!("migrations applied to {}", cli.store.redacted_url());
            Ok(())
        }
        Command::Keys { command } => {
            store.migrate().await?;
            keys(&store, command).await
        }
        Command::Privacy { command } => {
            store.migrate().await?;
            privacy(&store, command).await
        }
    }
}

impl ServeSettings {
    /// `serve`'s settings from the environment alone, for a bare `property-contacts`.
    fn try_parse_from_env() -> Result<ServeSettings, clap::Error> {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            serve: ServeSettings,
        }
        Wrapper::try_parse_from(["property-contacts"]).map(|w| w.serve)
    }
}

/// How often each process prunes the change feed.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

async fn serve<S: Store>(
    store: S,
    store_settings: &StoreSettings,
    settings: ServeSettings,
) -> anyhow::Result<()> {
    store.migrate().await.context("migrating the store")?;
    if store.count_keys().await? == 0 {
        let key = generate_key("default", "bootstrap-admin", Scope::ALL.to_vec());
        write_bootstrap_key(&settings.bootstrap_key_file, &key.secret)?;
        store.create_key(key.record).await?;
        tracing::info!(
            path = %settings.bootstrap_key_file.display(),
            "no API keys existed: one admin key was created for tenant `default` and written to this \
             file (mode 0600); read it, then delete the file"
        );
        // A person at a terminal sees it at once; a log collector (stderr not a terminal) never does.
        if std::io::stderr().is_terminal() {
            eprintln!("\nThe one-time admin key (tenant `default`):\n\n    {}\n", key.secret);
        }
    }
    crate::validation::warm_up();
    let cors = crate::cors::CorsOrigins::parse(&settings.cors_allowed_origins).map_err(anyhow::Error::msg)?;
    let state = AppState::new(store.clone(), settings.limits.clone())
        .with_cors(cors)
        .with_key_cache(Duration::from_millis(settings.key_cache_ttl_ms))
        .with_rate_limit(settings.rate_limit_per_second, settings.rate_limit_burst)
        .with_webhooks(&settings.webhooks);
    if let Some(limiter) = &state.rate_limiter {
        limiter.spawn_janitor(Duration::from_secs(60));
    }
    crate::retention::spawn_pruning(store.clone(), settings.limits.changes_retention_days, PRUNE_EVERY);
    crate::idempotency::spawn_pruner(store.clone(), crate::idempotency::PRUNE_EVERY);
    crate::retention::spawn_retention(store.clone(), settings.retention.clone(), PRUNE_EVERY);
    let deliveries = crate::webhooks::spawn(store.clone(), (&settings.webhooks).into());
    let app = crate::app(state.clone());
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        store = %store_settings.redacted_url(),
        "property-contacts listening"
    );
    let draining = state.clone();
    let ready_delay = Duration::from_millis(settings.shutdown_ready_delay_ms);
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; draining");
        draining.start_draining();
        // Keep serving (with /readyz at 503) until load balancers have noticed.
        tokio::time::sleep(ready_delay).await;
    };
    let drain = Duration::from_secs(settings.drain_timeout_secs);
    crate::serve(listener, app, shutdown, drain, settings.connection_limits()).await?;
    // After the last request: deliveries in flight finish and give their leases back.
    deliveries.stop().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Writes the bootstrap key to `path`, readable by the service's user alone. Before the key is
/// stored, so a key that cannot be handed over is never created.
fn write_bootstrap_key(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing the bootstrap key to {}", path.display()))?;
    // An existing file keeps its mode on open: narrow it too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{secret}")?;
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn keys<S: Store>(store: &S, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { tenant, name, scopes } => {
            if !valid_id(&tenant) {
                bail!("tenant must be {ID_RULE}");
            }
            let scopes = parse_scopes(&scopes)?;
            let key = generate_key(&tenant, &name, scopes);
            let stored = store.create_key(key.record).await?;
            eprintln!("created key {} for tenant {}", stored.id, stored.tenant_id);
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ID\tTENANT\tNAME\tSCOPES\tCREATED\tREVOKED")?;
            for k in store.list_keys().await? {
                let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.tenant_id,
                    k.name,
                    scopes.join(","),
                    k.created_at.to_rfc3339(),
                    k.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
                )?;
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_key(&id).await? {
                bail!("no live key with id {id}");
            }
            eprintln!("revoked key {id}");
        }
    }
    Ok(())
}

/// The operator's key, as the audit log names it.
const CLI_KEY: &str = "cli";

async fn privacy<S: Store>(store: &S, command: PrivacyCommand) -> anyhow::Result<()> {
    let (args, erase) = match command {
        PrivacyCommand::Export(args) => (args, None),
        PrivacyCommand::Erase { subject, dry_run } => (subject, Some(dry_run)),
    };
    let subject = crate::domain::privacy::Subject::parse(
        args.email.as_deref(),
        args.phone.as_deref(),
        args.contact_id.as_deref(),
        |m| format!("--{}", m.replace('_', "-")),
    )
    .map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(lines.join("; "))
    })?;
    // The audit entry names the CLI as the key and carries a request id of its own.
    let ctx = crate::request_context::RequestContext {
        request_id: format!("cli-{}", uuid::Uuid::new_v4()),
        path: String::new(),
        key: Default::default(),
    };
    let document = crate::request_context::run_in(ctx, async {
        crate::request_context::set_key(CLI_KEY, CLI_KEY);
        anyhow::Ok(match erase {
            None => {
                serde_json::to_string_pretty(&store.export_subject(&args.tenant, &subject, CLI_KEY).await?)?
            }
            Some(dry_run) => serde_json::to_string_pretty(
                &store.erase_subject(&args.tenant, &subject, dry_run, CLI_KEY).await?,
            )?,
        })
    })
    .await?;
    println!("{document}");
    Ok(())
}

/// `read,write` -> scopes; rejects unknown names and an empty list.
pub fn parse_scopes(list: &str) -> anyhow::Result<Vec<Scope>> {
    let mut scopes = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let scope =
            Scope::parse(part).with_context(|| format!("unknown scope `{part}` (use read, write, admin)"))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        bail!("at least one scope is needed");
    }
    scopes.sort();
    Ok(scopes)
}
