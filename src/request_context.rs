//! The request id and path of the request being served, reachable from any code on its task.
//!
//! Error rendering needs both (`request_id` and `instance` in problem bodies, `ruid` in the Booking
//! envelope) but `IntoResponse` has no access to the request; a task-local set by one middleware is
//! simpler than threading them through every handler.

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Identity of the request in flight.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub path: String,
    /// The key that authenticated the request, once it has: the audit log names it.
    pub key: Arc<OnceLock<KeyRef>>,
}

/// Which API key made a request, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub id: String,
    pub name: String,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The header that carries the id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Middleware: runs the rest of the stack with the request's context set. Must sit inside the
/// layer that assigns missing request ids.
pub async fn scope(req: Request, next: Next) -> Response {
    let ctx = RequestContext {
        request_id: req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        path: req.uri().path().to_owned(),
        key: Arc::default(),
    };
    run_in(ctx, next.run(req)).await
}

/// Runs `fut` with `ctx` as the current request context.
pub async fn run_in<F: std::future::Future>(ctx: RequestContext, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// `f` applied to the current request's context; `None` outside a request.
pub fn with_current<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    CURRENT.try_with(f).ok()
}

/// The current request's context (empty outside a request).
pub fn current() -> RequestContext {
    CURRENT.try_with(Clone::clone).unwrap_or_default()
}

/// The current request id (empty outside a request).
pub fn request_id() -> String {
    CURRENT.try_with(|c| c.request_id.clone()).unwrap_or_default()
}

/// Notes the key that authenticated the current request (the first one wins; no-op outside a
/// request).
pub fn set_key(id: &str, name: &str) {
    let _ = CURRENT.try_with(|c| c.key.set(KeyRef { id: id.to_owned(), name: name.to_owned() }));
}

/// The key that authenticated the current request, if any.
pub fn key() -> Option<KeyRef> {
    CURRENT.try_with(|c| c.key.get().cloned()).ok().flatten()
}
