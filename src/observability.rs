//! Metrics and access logs: one JSON log line and one set of samples per request.
//!
//! Metric names (Prometheus):
//! - `http_requests_total{method,route,status}` and `http_request_duration_seconds{...}` (histogram),
//!   `route` being the matched route template (`unmatched` for 404s), so cardinality stays bounded;
//! - `db_pool_connections{pool="main"|"read",state="idle"|"in_use"}` and `db_pool_max_connections{pool}`,
//!   read at scrape time (`read` exists on Postgres only);
//! - `contact_set_replaces_total{dialect}`, `validation_failures_total{code}`, `crm_merges_total{outcome}`;
//! - `idempotency_replays_total`: answers sent again for a repeated `Idempotency-Key`;
//! - `webhook_deliveries_total{outcome}` (delivered, retrying, abandoned, failed) and
//!   `webhook_delivery_lag_seconds` (histogram: event occurred to delivered);
//! - `sqlite_group_commit_members` (histogram, SQLite only): writes that shared one commit.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

// Kept at this path for the handlers; defined in the leaf `counters` so `error` can call it.
pub use crate::counters::count_validation_failures;
use crate::state::AppState;
use crate::store::Store;

/// Webhook delivery lag buckets, in seconds from the event to its delivery: a poll interval to the
/// retry window.
const LAG_BUCKETS: &[f64] =
    &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 6.0 * 3600.0, 24.0 * 3600.0];

/// Writes per SQLite group commit: one to the group limit.
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Latency buckets, in seconds: sub-millisecond to the request timeout.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide Prometheus recorder. Installed once: tests build many apps in one process.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("webhook_delivery_lag_seconds".into()), LAG_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("sqlite_group_commit_members".into()), GROUP_BUCKETS)
            })
            .expect("static buckets are valid");
        match builder.install_recorder() {
            Ok(handle) => {
                // Counters that may stay at zero for the process's life are registered up front, so
                // a dashboard or alert finds the series before the first event.
                metrics::counter!("log_lines_dropped_total").increment(0);
                metrics::counter!("idempotency_replays_total").increment(0);
                handle
            }
            // Another recorder is already global (an embedding program's): keep ours local.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The target of the one access line per request (`RUST_LOG=access=off` silences it).
pub const ACCESS_TARGET: &str = "access";

/// Middleware: records the request's metrics and writes its access-log line (the line's
/// `request_id` comes from the request context, see `log_format`). Never logs bodies, headers or
/// query strings (they carry contact data).
pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // One copy of the route template, shared by both metrics and the access line.
    let route: Arc<str> = match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().into(),
        None => Arc::from("unmatched"),
    };
    let response = next.run(req).await;
    let status = response.status();
    let latency = start.elapsed();
    let labels = [
        ("method", SharedString::const_str(method)),
        ("route", SharedString::from_shared(route.clone())),
        ("status", SharedString::const_str(status_label(status))),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    // Top-level fields rather than span fields, so `jq .route` works on the access log.
    tracing::info!(
        target: ACCESS_TARGET,
        method,
        route = &*route,
        status = status.as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// The method as a static label; unusual methods share one label so cardinality stays bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The status code as a static label (the label set of every request, without an allocation).
fn status_label(status: StatusCode) -> &'static str {
    static CODES: OnceLock<Vec<String>> = OnceLock::new();
    let codes = CODES.get_or_init(|| (100..1000).map(|c: u16| c.to_string()).collect());
    // A StatusCode is always within 100..=999.
    &codes[usize::from(status.as_u16() - 100)]
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics_endpoint<S: Store>(State(state): State<AppState<S>>) -> impl IntoResponse {
    for pool in state.store.pool_status() {
        metrics::gauge!("db_pool_connections", "pool" => pool.name, "state" => "idle")
            .set(f64::from(pool.idle));
        metrics::gauge!("db_pool_connections", "pool" => pool.name, "state" => "in_use")
            .set(f64::from(pool.size.saturating_sub(pool.idle)));
        metrics::gauge!("db_pool_max_connections", "pool" => pool.name).set(f64::from(pool.max));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}
