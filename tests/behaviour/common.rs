//! Test harness: the application driven in-process on a fresh store of either backend.
//!
//! SQLite runs always, in a temporary file. Postgres runs when `TEST_DATABASE_URL` is set: each test
//! gets a private schema in that database, dropped afterwards. Under `CI=true` a missing URL fails
//! the Postgres half instead of skipping it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgStore, Scope, SqliteSettings, SqliteStore};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt;

/// Runs each named `async fn(TestApp)` once per backend; `name => tuning()` runs it on apps built
/// with those settings instead of the defaults.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident $(=> $tuning:expr)?),* $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn tuning() -> $crate::common::Tuning {
                    $crate::common::Tuning::default() $(; $tuning)?
                }

                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::common::TestApp::sqlite_tuned(tuning()).await).await
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(app) = $crate::common::TestApp::postgres_tuned(tuning()).await {
                        super::$name(app).await
                    }
                }
            }
        )*
    };
}

pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

pub struct TestApp {
    pub router: Router,
    pub backend: Backend,
    /// Admin key (read, write, admin) of tenant `t1`.
    pub admin: String,
    _sqlite_dir: Option<tempfile::TempDir>,
    pg_schema: Option<PgSchema>,
}

/// Settings a test may change from the defaults.
#[derive(Clone, Default)]
pub struct Tuning {
    pub limits: Limits,
    /// `(per_second, burst)`.
    pub rate_limit: Option<(u32, u32)>,
    pub webhooks: property_contacts::config::WebhookSettings,
    /// Origins answered with CORS headers (none by default).
    pub cors: property_contacts::cors::CorsOrigins,
}

impl TestApp {
    pub async fn sqlite_tuned(tuning: Tuning) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("test.db").display());
        let store = SqliteStore::connect(&url, SqliteSettings { max_connections: 4, ..Default::default() })
            .await
            .unwrap();
        let mut app = Self::with_store(store.clone(), Backend::Sqlite(store), tuning).await;
        app._sqlite_dir = Some(dir);
        app
    }

    pub async fn postgres_tuned(tuning: Tuning) -> Option<TestApp> {
        let schema = PgSchema::create(8).await?;
        let store = PgStore::from_pool(schema.pool.clone());
        let mut app = Self::with_store(store.clone(), Backend::Postgres(store), tuning).await;
        app.pg_schema = Some(schema);
        Some(app)
    }

    async fn with_store<S: Store>(store: S, backend: Backend, tuning: Tuning) -> TestApp {
        store.migrate().await.unwrap();
        let mut state =
            AppState::new(store, tuning.limits).with_webhooks(&tuning.webhooks).with_cors(tuning.cors);
        if let Some((per_second, burst)) = tuning.rate_limit {
            state = state.with_rate_limit(per_second, burst);
        }
        let router = property_contacts::app(state);
        let mut app = TestApp { router, backend, admin: String::new(), _sqlite_dir: None, pg_schema: None };
        app.admin = app.key("t1", &[Scope::Read, Scope::Write, Scope::Admin]).await;
        app
    }

    /// Creates a key for `tenant` with `scopes`, returning the secret.
    pub async fn key(&self, tenant: &str, scopes: &[Scope]) -> String {
        let key = generate_key(tenant, "test-key", scopes.to_vec());
        match &self.backend {
            Backend::Sqlite(s) => s.create_key(key.record).await.unwrap(),
            Backend::Postgres(s) => s.create_key(key.record).await.unwrap(),
        };
        key.secret
    }

    pub async fn revoke(&self, secret: &str) {
        let hash = property_contacts::auth::hash_key(secret);
        let id = match &self.backend {
            Backend::Sqlite(s) => s.find_key(&hash).await.unwrap().unwrap().id,
            Backend::Postgres(s) => s.find_key(&hash).await.unwrap().unwrap().id,
        };
        let revoked = match &self.backend {
            Backend::Sqlite(s) => s.revoke_key(&id).await.unwrap(),
            Backend::Postgres(s) => s.revoke_key(&id).await.unwrap(),
        };
        assert!(revoked);
    }

    /// Prunes the change feed's events and webhook attempts older than `before`, as the pruning
    /// task does; the number of events deleted.
    pub async fn prune_changes(&self, before: chrono::DateTime<chrono::Utc>) -> u64 {
        use property_contacts::retention::prune_changes;
        match &self.backend {
            Backend::Sqlite(s) => prune_changes(s, before).await.unwrap(),
            Backend::Postgres(s) => prune_changes(s, before).await.unwrap(),
        }
    }

    /// Starts a webhook delivery loop on this app's store, as `serve` does.
    pub fn start_webhook_worker(
        &self,
        config: property_contacts::webhooks::WorkerConfig,
    ) -> property_contacts::webhooks::WorkerHandle {
        match &self.backend {
            Backend::Sqlite(s) => property_contacts::webhooks::spawn(s.clone(), config),
            Backend::Postgres(s) => property_contacts::webhooks::spawn(s.clone(), config),
        }
    }

    /// The Postgres test schema's pool, for tests that act on the database beside the service.
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        self.pg_schema.as_ref().map(|s| &s.pool)
    }

    /// The SQLite test store's file, for tests that read the database beside the service.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self._sqlite_dir.as_ref().map(|d| d.path().join("test.db"))
    }

    /// Runs `sql` (one statement) on the store's database beside the service.
    pub async fn exec_sql(&self, sql: &str) {
        match &self.backend {
            Backend::Sqlite(_) => {
                let url = format!("sqlite:{}", self.sqlite_path().unwrap().display());
                let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres(_) => {
                sqlx::query(sql).execute(self.pg_pool().unwrap()).await.unwrap();
            }
        }
    }

    /// Runs the store's start-up work again (migrations, then the search-term backfill), as a
    /// restart does.
    pub async fn restart_store(&self) {
        match &self.backend {
            Backend::Sqlite(s) => s.migrate().await.unwrap(),
            Backend::Postgres(s) => s.migrate().await.unwrap(),
        }
    }

    /// Starts a request; finish it with [`Call::send`].
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call { app: self, builder: Request::builder().method(method).uri(path), body: Body::empty() }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path).auth(&self.admin)
    }

    pub fn put(&self, path: &str, body: Value) -> Call<'_> {
        self.call(Method::PUT, path).auth(&self.admin).json(&body)
    }

    pub fn delete(&self, path: &str) -> Call<'_> {
        self.call(Method::DELETE, path).auth(&self.admin)
    }
}

/// A private schema in the `TEST_DATABASE_URL` database with a pool whose `search_path` points at
/// it; dropped with everything in it when this value is.
pub struct PgSchema {
    pub pool: sqlx::PgPool,
    url: String,
    name: String,
}

impl PgSchema {
    /// `None` (the test skips its Postgres half) when `TEST_DATABASE_URL` is unset, except under
    /// `CI=true`, where that is a failure.
    pub async fn create(max_connections: u32) -> Option<PgSchema> {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but TEST_DATABASE_URL is not set: the Postgres half cannot run");
            }
            eprintln!("TEST_DATABASE_URL not set: skipping the Postgres run of this test");
            return None;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&admin).await.unwrap();
        admin.close().await;
        let options: PgConnectOptions = url.parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.options([("search_path", name.as_str())]))
            .await
            .unwrap();
        Some(PgSchema { pool, url, name })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop runs outside async context; a short-lived runtime on its own thread does the clean-up.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&url).await {
                    // A failed test may leave a session holding locks in the schema: give up on the
                    // clean-up rather than hang behind it.
                    let _ = sqlx::query("SET lock_timeout = '5s'").execute(&pool).await;
                    let _ =
                        sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

pub struct Call<'a> {
    app: &'a TestApp,
    builder: axum::http::request::Builder,
    body: Body,
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn auth(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    /// Sends `body` with the given content type (a streaming body may be slow on purpose).
    pub fn body(mut self, content_type: &str, body: Body) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, content_type);
        self.body = body;
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw("application/json", body.to_string())
    }

    pub fn raw(self, content_type: &str, body: impl Into<Body>) -> Self {
        self.body(content_type, body.into())
    }

    pub async fn send(self) -> TestResponse {
        let req = self.builder.body(self.body).unwrap();
        let resp = self.app.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse { status, headers, body }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {:#}", self.body);
        self
    }

    /// `(pointer, code)` of every field error in a problem body.
    pub fn problem_errors(&self) -> Vec<(String, String)> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (e["pointer"].as_str().unwrap().to_owned(), e["code"].as_str().unwrap().to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 body with the given status and a request id matching the header.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) -> &Self {
        self.assert_status(status);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        assert_eq!(self.body["status"], status);
        let rid = self.header("x-request-id").expect("x-request-id header");
        assert_eq!(self.body["request_id"], rid);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        self
    }
}
