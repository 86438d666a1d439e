//! property-contacts: the contact details of hotels and other properties, behind a Booking.com- and
//! SU-compatible contact-set API, a CRM contacts API and a small native API.
//!
//! The request path reads top to bottom: [`api`] (routes and thin handlers) -> [`domain`] and
//! [`validation`] (pure parsing and rules) -> [`store`] (one method per use case, one transaction)
//! -> SQL.

pub mod api;
pub mod auth;
pub mod caller;
pub mod cli;
pub mod compression;
pub mod config;
pub mod cors;
pub mod counters;
pub mod domain;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod in_flight;
pub mod key_cache;
pub mod log_format;
pub mod log_writer;
pub mod observability;
pub mod rate_limit;
pub mod request_context;
pub mod retention;
pub mod server;
pub mod state;
pub mod store;
pub mod unread_body;
pub mod validation;
pub mod webhooks;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Store;

/// The whole HTTP application for a store.
///
/// Layers, outermost first: request id (kept or made) -> request context -> `Connection: close`
/// when the body went unread -> metrics, span and access log (per route, so the matched route is
/// known) -> `Idempotency-Key` on POST routes -> request timeout -> body limit -> handler. Around
/// them all: compression, and CORS for listed origins (see [`cors`]).
pub fn app<S: Store>(state: AppState<S>) -> Router {
    let request_id = HeaderName::from_static(request_context::REQUEST_ID_HEADER);
    let timeout = Duration::from_secs(state.limits.request_timeout_secs);
    let body_limit = state.limits.body_limit_bytes;
    let (router, inventory) = api::routes::<S>().into_parts();
    let idempotent = idempotency::Guard::for_post_routes(state.clone(), &inventory);
    let cors = state.cors.clone();
    observability::prometheus();
    let router = router
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.limits.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(timeout, abandon_after))
        .layer(axum::middleware::from_fn_with_state(idempotent, idempotency::guard::<S>))
        .layer(axum::middleware::from_fn(observability::observe))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn(request_context::scope))
                .layer(axum::middleware::from_fn_with_state(body_limit, unread_body::close_if_unread)),
        )
        .layer(compression::layer());
    cors::wrap(router, &cors)
}

/// Middleware: a request still running after `timeout` is dropped (rolling back any open
/// transaction) and answered 503, in its route family's envelope. A request that has already sent a
/// commit is not dropped: its answer is the write's real outcome, which the store bounds by its
/// query timeout (see [`in_flight`]).
async fn abandon_after(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let family = api::Family::of(req.uri().path());
    let tracking = req.headers().get("request-tracking-id").cloned();
    let commit = in_flight::CommitFlag::default();
    let mut running = std::pin::pin!(commit.scope(next.run(req)));
    match tokio::time::timeout(timeout, running.as_mut()).await {
        Ok(response) => response,
        Err(_) if commit.is_set() => running.await,
        Err(_) => family.render(ApiError::Timeout(timeout.as_secs()), tracking.as_ref()),
    }
}

pub use server::{serve, ConnectionLimits};
