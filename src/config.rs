//! Typed settings, from command-line flags or the environment.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// Default store: an SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:property-contacts.db";

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// `sqlite:<file>` (embedded, the default) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Connections of the main pool (sqlx), which every query but the contact set's two hot paths
    /// uses; SQLite: its readers (writes go through one writer connection of their own).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 8, global = true)]
    pub database_max_connections: u32,
    /// Postgres only: connections of the contact set's hot paths (tokio-postgres), held on top of
    /// the main pool: one carries every contact-set GET, their queries pipelined; each of the others
    /// carries one contact-set replace at a time.
    #[arg(long, env = "DATABASE_PIPELINE_CONNECTIONS", default_value_t = 9, global = true)]
    pub database_pipeline_connections: u32,
    /// How long a request waits for a pooled connection before answering 503, in milliseconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 3000, global = true)]
    pub database_acquire_timeout_ms: u64,
    /// How long the service waits for the database to answer a statement once sent, in
    /// milliseconds; past it the request answers 503 (a frozen or unreachable server).
    #[arg(long, env = "DATABASE_QUERY_TIMEOUT_MS", default_value_t = 5000, global = true)]
    pub database_query_timeout_ms: u64,
    /// SQLite only: `normal` (a commit survives a crash of the service, not a power loss) or
    /// `full` (it survives a power loss too, at an fsync per commit).
    #[arg(long, env = "SQLITE_SYNCHRONOUS", default_value = "normal", value_parser = ["normal", "full"], global = true)]
    pub sqlite_synchronous: String,
}

impl StoreSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms)
    }

    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.database_query_timeout_ms)
    }

    /// The URL with any password replaced, safe to log.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub limits: Limits,
    /// How long a key lookup is remembered, found or not, in milliseconds (0: look every request up).
    /// A revoked key keeps working for at most this long.
    #[arg(long, env = "KEY_CACHE_TTL_MS", default_value_t = 5000)]
    pub key_cache_ttl_ms: u64,
    /// Requests per second each API key may send (0: no limit). Over it: 429 with `Retry-After`.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 0)]
    pub rate_limit_per_second: u32,
    /// Requests a key may send in a burst above its rate (default: the rate).
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 0)]
    pub rate_limit_burst: u32,
    /// Milliseconds between SIGTERM and closing the listener, during which `/readyz` answers 503 so
    /// load balancers stop sending traffic.
    #[arg(long, env = "SHUTDOWN_READY_DELAY_MS", default_value_t = 0)]
    pub shutdown_ready_delay_ms: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or ctrl-c.
    #[arg(long, env = "DRAIN_TIMEOUT_SECS", default_value_t = 20)]
    pub drain_timeout_secs: u64,
    /// Where the first start writes the one-time admin key (mode 0600), when the store has no key.
    /// The key never enters the log stream; it is also shown on stderr when that is a terminal.
    #[arg(long, env = "BOOTSTRAP_KEY_FILE", default_value = "property-contacts-admin.key")]
    pub bootstrap_key_file: std::path::PathBuf,
    /// Seconds a client has to send a request's headers, counted from the request's first byte; a new
    /// connection must send its first byte within the same time.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub http_header_read_timeout_secs: u64,
    /// Seconds a connection with no request in flight and no traffic is kept open.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub http_idle_timeout_secs: u64,
    /// Most client connections served at once (0: derived from the open-files limit, leaving 64
    /// descriptors for the database and files). At the cap the connection idle longest is closed
    /// to admit a new one.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 0)]
    pub http_max_connections: usize,
    /// Origins a browser front end may call from (CORS): comma-separated (`https://pms.example.com`),
    /// or `*` for any; empty (the default): no CORS headers at all.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "")]
    pub cors_allowed_origins: String,
    #[command(flatten)]
    pub webhooks: WebhookSettings,
    #[command(flatten)]
    pub retention: RetentionSettings,
}

impl ServeSettings {
    pub fn connection_limits(&self) -> crate::server::ConnectionLimits {
        crate::server::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.http_header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.http_idle_timeout_secs.max(1)),
            max_connections: (self.http_max_connections > 0).then_some(self.http_max_connections),
        }
    }
}

/// Request limits enforced by the router.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 256 * 1024)]
    pub body_limit_bytes: usize,
    /// Seconds a request may run before it is abandoned (and its transaction rolled back) with 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Days the change feed keeps its events; a cursor older than the oldest kept one answers 410.
    #[arg(long, env = "CHANGES_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub changes_retention_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { body_limit_bytes: 256 * 1024, request_timeout_secs: 30, changes_retention_days: 30 }
    }
}

/// Retention of history and of the audit log (see `crate::retention`); both off by default.
#[derive(Debug, Clone, Default, Args)]
pub struct RetentionSettings {
    /// Days CRM revisions, contact-set revisions and merged tombstones are kept; older ones are
    /// pruned (each contact's and each property's current revision always stays). Unset: kept forever.
    #[arg(long, env = "HISTORY_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub history_retention_days: Option<u32>,
    /// Days audit entries are kept. Unset: kept forever.
    #[arg(long, env = "AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub audit_retention_days: Option<u32>,
}

/// Webhook delivery (see `crate::webhooks`).
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// First retry delay of a failed delivery, in milliseconds; each further retry waits twice as
    /// long (capped at an hour, with jitter).
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    pub webhook_retry_base_ms: u64,
    /// Hours an event is retried for, counted from its first failure; then it is marked abandoned
    /// and delivery moves on to the next event.
    #[arg(long, env = "WEBHOOK_RETRY_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub webhook_retry_hours: u32,
    /// Allow targets on loopback, private and link-local addresses (refused by default: a
    /// subscriber could otherwise make the service call internal hosts).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false)]
    pub webhook_allow_private_targets: bool,
    /// How long one delivery may take, connect to last byte, in milliseconds.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub webhook_timeout_ms: u64,
    /// How often an idle process looks for due deliveries, in milliseconds.
    #[arg(long, env = "WEBHOOK_POLL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub webhook_poll_ms: u64,
    /// Subscriptions one process delivers to at once (0: no delivery in this process).
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 4)]
    pub webhook_concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            webhook_retry_base_ms: 1000,
            webhook_retry_hours: 24,
            webhook_allow_private_targets: false,
            webhook_timeout_ms: 10_000,
            webhook_poll_ms: 250,
            webhook_concurrency: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}
