//! What every tokio-postgres connection of the store shares: its settings (taken from the sqlx
//! pool's, so both stacks reach the same database as the same user) and how its errors map onto
//! [`StoreError`].

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use crate::store::contact_sets::rows::Columns;
use crate::store::error::{known_constraint_name, session_ending_code, StoreError};

/// A connection idle for longer than this is pinged before use: the server may have restarted.
pub(super) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The tokio-postgres settings matching the sqlx pool's `options` (host, port or socket, user,
/// database, application name and `options`, which carry a test's `search_path`); `password` comes
/// separately, as sqlx does not hand it back. `timeout` bounds a connect.
pub(super) fn client_config(
    options: &PgConnectOptions,
    password: Option<&str>,
    timeout: Duration,
) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    match options.get_socket() {
        Some(dir) => config.host_path(dir),
        None => config.host(options.get_host()),
    };
    config
        .port(options.get_port())
        .user(options.get_username())
        .dbname(options.get_database().unwrap_or(options.get_username()))
        .connect_timeout(timeout);
    if let Some(name) = options.get_application_name() {
        config.application_name(name);
    }
    if let Some(opts) = options.get_options() {
        config.options(opts);
    }
    if let Some(password) = password {
        config.password(password);
    }
    config
}

/// The URL's password, percent-decoded, else `PGPASSWORD` (as sqlx reads them).
pub(super) fn url_password(url: &str) -> Option<String> {
    let from_url = url::Url::parse(url).ok().and_then(|u| {
        u.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
    });
    from_url.or_else(|| std::env::var("PGPASSWORD").ok())
}

/// The store's view of a tokio-postgres error: the session ending (SQLSTATE classes 57 and 08, a
/// closed connection, I/O) is Unavailable (503); a known constraint is a Conflict; anything else (an
/// error in a statement, a parameter that does not encode) is a bug or a broken database (500).
pub(super) fn client_error(e: &tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if session_ending_code(db.code().code()) => StoreError::Unavailable(db.to_string()),
        Some(db) => match db.constraint().and_then(known_constraint_name) {
            Some(name) => StoreError::Conflict(name),
            None => StoreError::Other(db.to_string()),
        },
        None if e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()) => {
            StoreError::Unavailable(format!("database connection: {e}"))
        }
        None => StoreError::Other(e.to_string()),
    }
}

impl Columns for tokio_postgres::Row {
    type Error = tokio_postgres::Error;

    fn int8(&self, i: usize) -> Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn int4(&self, i: usize) -> Result<Option<i32>, Self::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(i)
    }
    fn timestamp(&self, i: usize) -> Result<chrono::DateTime<chrono::Utc>, Self::Error> {
        self.try_get(i)
    }
}
