//! Which answers are kept for a repeat, what of them is kept, and how a kept one is sent again.

use axum::body::{Body, Bytes};
use axum::http::{header, response, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::store::idempotency::KeptAnswer;

/// The response header that marks a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The headers a repeat needs again, as the routes set them: what the body is, where a created
/// resource is, its validators, paging links, and the customer routes' tracking id. Left out on
/// purpose: `x-request-id` (each request has its own), `Retry-After` and `WWW-Authenticate` (only
/// on answers that are not kept), and connection-level headers.
const KEPT_HEADERS: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
    header::LINK,
    HeaderName::from_static("request-tracking-id"),
];

/// Whether an answer is kept for repeats. Not kept: answers that say the request was not served
/// for a reason a repeat may not meet again, so the repeat must be free to do the work: a server
/// error or unavailable store (5xx), a key without access (401, 403), a rate refusal (429), a
/// request timeout (408). Every other answer, success or refusal of the request itself (400, 404,
/// 409, 412, 422, ...), is what a repeat of the same request gets.
pub fn is_kept(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
        ))
}

/// What is kept of an answer whose body was read into `body`.
pub fn keep(parts: &response::Parts, body: &Bytes) -> KeptAnswer {
    let headers = KEPT_HEADERS
        .iter()
        .flat_map(|name| {
            parts.headers.get_all(name).iter().filter_map(move |value| {
                // Every header we set is visible ASCII; one that is not could not be replayed as sent.
                value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned()))
            })
        })
        .collect();
    KeptAnswer { status: parts.status.as_u16(), headers, body: body.to_vec() }
}

/// A kept answer, sent again: its status, headers and body, marked `Idempotent-Replayed: true`.
pub fn replay(kept: KeptAnswer) -> Response {
    let mut response = Response::new(Body::from(kept.body));
    *response.status_mut() = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_a_repeat_may_cure_are_not_kept() {
        for kept in [200, 201, 204, 400, 404, 409, 412, 413, 415, 422] {
            assert!(is_kept(StatusCode::from_u16(kept).unwrap()), "{kept}");
        }
        for not_kept in [401, 403, 408, 429, 500, 502, 503, 504] {
            assert!(!is_kept(StatusCode::from_u16(not_kept).unwrap()), "{not_kept}");
        }
    }

    #[test]
    fn kept_headers_survive_a_replay_and_others_do_not() {
        let (mut parts, ()) = Response::new(()).into_parts();
        parts.status = StatusCode::CREATED;
        for (name, value) in [
            ("content-type", "application/json"),
            ("location", "/api/v3/contacts/7"),
            ("etag", "\"1\""),
            ("x-request-id", "abc"),
            ("retry-after", "2"),
            ("link", "<a>; rel=\"next\""),
            ("link", "<b>; rel=\"prev\""),
        ] {
            parts.headers.append(name, HeaderValue::from_static(value));
        }
        let kept = keep(&parts, &Bytes::from_static(b"{\"id\":7}"));
        let names: Vec<&str> = kept.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-type", "location", "etag", "link", "link"]);
        let replayed = replay(kept);
        assert_eq!(replayed.status(), StatusCode::CREATED);
        assert_eq!(replayed.headers()["location"], "/api/v3/contacts/7");
        assert_eq!(replayed.headers().get_all("link").iter().count(), 2);
        assert_eq!(replayed.headers()[REPLAYED_HEADER], "true");
        assert!(replayed.headers().get("x-request-id").is_none());
    }
}
