//! The one error type of the native routes, rendered as RFC 9457 problem+json.
//!
//! Compatibility routes (Booking, SU, customers) render the same errors in their own envelopes; see
//! their modules.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use problem_details::ProblemDetails;
use serde::Serialize;

use crate::counters::count_validation_failures;
use crate::request_context;
use crate::store::{Scope, StoreError, CHANNEL_LISTING_TAKEN, EXTERNAL_ID_TAKEN, WEBHOOK_LIMIT_REACHED};
use crate::validation::FieldError;

/// Seconds a client should wait before retrying when the store is down.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Seconds a client should wait before repeating a request whose first copy is still running.
pub const IDEMPOTENCY_RETRY_AFTER_SECS: u64 = 1;

/// Everything a native handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON or query.
    #[error("{detail}")]
    BadRequest { detail: String, errors: Vec<FieldError> },
    /// 401: no credential or an invalid one.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// 403: a valid key without the scope the route needs.
    #[error("this API key lacks the `{}` scope", .0.as_str())]
    Forbidden(Scope),
    /// 404: unknown, or owned by another tenant (the two are never told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 for a path no route matches.
    #[error("no route for this path")]
    NoRoute,
    /// 410: a CRM contact merged into another one.
    #[error("this contact was merged into contact {merged_into}")]
    Gone { merged_into: i64 },
    /// 410: a change-feed cursor older than the oldest kept event.
    #[error(
        "events after this cursor were pruned (the feed keeps {retention_days} days): resync from the \
         current state, then follow the feed from a cursor taken before the resync"
    )]
    CursorExpired { retention_days: u32 },
    /// 405 with `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the write conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// 409: the first request with this `Idempotency-Key` is still being served.
    #[error("a request with this Idempotency-Key is still in progress; repeat it later")]
    IdempotencyKeyInUse,
    /// 422: this `Idempotency-Key` was used for another request (method, path, query or body).
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// 412: `If-Match` names an outdated version.
    #[error("If-Match does not match the current version {current}")]
    PreconditionFailed { current: String },
    /// 413: body over the configured limit.
    #[error("request body is larger than the limit")]
    PayloadTooLarge,
    /// 415: body not sent as JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 415: body sent with a content coding (gzip ...); bodies are read as sent, uncompressed.
    #[error("request bodies are read uncompressed: send this one without Content-Encoding")]
    UnsupportedContentEncoding,
    /// 422: well-formed but invalid; every violation is listed.
    #[error("{} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// 429: this key sent more requests than its rate allows.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the request ran past the configured timeout and was abandoned (and rolled back).
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    /// 503: the store is unreachable; retry later.
    #[error("the store is unavailable")]
    Unavailable,
    /// 503: a commit was sent but the store did not confirm it in time; the write may be stored.
    #[error("the store did not confirm the write in time: it may or may not be stored; read it back before retrying")]
    OutcomeUnknown,
    /// 500: logged with the request id, never echoed.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Gone { .. } | ApiError::CursorExpired { .. } => StatusCode::GONE,
            ApiError::Conflict(_) | ApiError::IdempotencyKeyInUse => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType | ApiError::UnsupportedContentEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout(_) | ApiError::Unavailable | ApiError::OutcomeUnknown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable slug, the last segment of the problem `type`.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::NoRoute => "no-route",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Gone { .. } => "gone",
            ApiError::CursorExpired { .. } => "cursor-expired",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyKeyInUse => "idempotency-key-in-use",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::PreconditionFailed { .. } => "precondition-failed",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::UnsupportedMediaType | ApiError::UnsupportedContentEncoding => "unsupported-media-type",
            ApiError::Validation(_) => "validation-failed",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Timeout(_) => "timeout",
            ApiError::Unavailable => "store-unavailable",
            ApiError::OutcomeUnknown => "outcome-unknown",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Seconds to put in `Retry-After`, for the errors a retry can cure.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Unavailable | ApiError::OutcomeUnknown | ApiError::Timeout(_) => Some(RETRY_AFTER_SECS),
            ApiError::IdempotencyKeyInUse => Some(IDEMPOTENCY_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// Adds `Retry-After` (when [`Self::retry_after`] says so), `WWW-Authenticate` (on 401) and
    /// `Accept-Encoding` (on a refused content coding), the headers every dialect's rendering of this
    /// error carries.
    pub fn add_headers(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // RFC 9110 15.5.16: a 415 caused by a content coding names the codings accepted.
        if matches!(self, ApiError::UnsupportedContentEncoding) {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
    }

    /// The field errors carried, if any.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ApiError::BadRequest { errors, .. } | ApiError::Validation(errors) => errors,
            _ => &[],
        }
    }

    /// A 400 for one bad query parameter or body member.
    pub fn bad_request(pointer: &str, code: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        ApiError::BadRequest {
            detail: detail.clone(),
            errors: vec![FieldError::new(pointer, crate::validation::ErrorKind::Invalid, code, detail)],
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "store unavailable");
                ApiError::Unavailable
            }
            StoreError::OutcomeUnknown(msg) => {
                tracing::warn!(error = %msg, "write outcome unknown");
                ApiError::OutcomeUnknown
            }
            StoreError::Conflict(CHANNEL_LISTING_TAKEN) => {
                ApiError::Conflict("that channel listing is already mapped to another property".into())
            }
            StoreError::Conflict(EXTERNAL_ID_TAKEN) => {
                ApiError::Conflict("another contact of the tenant has this externalId".into())
            }
            StoreError::Conflict(WEBHOOK_LIMIT_REACHED) => ApiError::Conflict(format!(
                "a tenant has at most {} webhook subscriptions: delete one first",
                crate::store::webhooks::MAX_WEBHOOKS
            )),
            StoreError::Conflict(name) => ApiError::Conflict(format!("conflicts with stored data ({name})")),
            StoreError::Other(msg) => ApiError::Internal(msg),
        }
    }
}

#[derive(Serialize)]
struct ProblemExtensions<'a> {
    request_id: String,
    /// Set on 410 for a merged CRM contact.
    #[serde(rename = "mergedInto", skip_serializing_if = "Option::is_none")]
    merged_into: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ctx = request_context::current();
        match &self {
            ApiError::Internal(msg) => {
                // The line's `request_id` comes from the request context (see `log_format`).
                tracing::error!(error = %msg, "internal error")
            }
            ApiError::Validation(errors) => count_validation_failures(errors),
            _ => {}
        }
        let status = self.status();
        let detail = self.to_string();
        let mut problem = ProblemDetails::from_status_code(status)
            .with_type(format!("/problems/{}", self.slug()).parse::<http::Uri>().unwrap_or_default())
            .with_detail(detail)
            .with_extensions(ProblemExtensions {
                request_id: ctx.request_id,
                errors: self.field_errors(),
                merged_into: match self {
                    ApiError::Gone { merged_into } => Some(merged_into),
                    _ => None,
                },
            });
        if let Ok(instance) = ctx.path.parse::<http::Uri>() {
            problem = problem.with_instance(instance);
        }
        let mut response = problem.into_response();
        self.add_headers(response.headers_mut());
        response
    }
}

/// Result of a native handler.
pub type ApiResult<T> = Result<T, ApiError>;
