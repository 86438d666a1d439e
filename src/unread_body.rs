//! An answer given before the request body was read to its end (401, 403, 404, 413, 415 ...) says
//! `Connection: close`. Otherwise the unread rest of the body would be taken for the next request on
//! the connection, or the server would have to close it without saying so, and a keep-alive
//! client's next request would fail.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: see the module comment. A body whose declared length is over `limit` is answered 413
/// at once, in its route family's envelope, without waiting for bytes that will never be read.
pub async fn close_if_unread(State(limit): State<usize>, req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    if req.body().size_hint().lower() > limit as u64 {
        let family = crate::api::Family::of(req.uri().path());
        let tracking = req.headers().get("request-tracking-id").cloned();
        let mut response = family.render(crate::error::ApiError::PayloadTooLarge, tracking.as_ref());
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let read = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| Body::new(Watched { inner: body, read: read.clone() }));
    let mut response = next.run(req).await;
    if !read.load(Ordering::Relaxed) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A body that records when it has been read to its end.
struct Watched {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(poll, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Relaxed);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
