//! CRM contacts in the Resharmonics v3 shape (`/api/v3/contacts`, API.md section 6): camelCase
//! bodies, Spring-style pages, problem+json errors, `ETag: "<version>"` and conditional reads.
//!
//! Handlers are thin: extract, parse into a [`crate::domain::crm`] draft, one [`CrmStore`] call,
//! render. The helpers here turn headers into preconditions and store refusals into errors.
//!
//! [`CrmStore`]: crate::store::CrmStore

use std::time::SystemTime;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::domain::crm::{contact_etag, Conditional, Contact};
use crate::error::ApiError;
pub use crate::extract::if_match;
use crate::store::crm::Refusal;

pub mod batch;
pub mod contacts;
pub mod duplicates;
pub mod notes;
pub mod pages;
pub mod patch;
pub mod subresources;

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => ApiError::NotFound("contact"),
            Refusal::ItemNotFound(what) => ApiError::NotFound(what),
            Refusal::Gone { merged_into } => ApiError::Gone { merged_into },
            Refusal::VersionMismatch { current } => {
                ApiError::PreconditionFailed { current: contact_etag(current) }
            }
            Refusal::Invalid(errors) => ApiError::Validation(errors),
        }
    }
}

/// `If-None-Match` and `If-Modified-Since` of a read. An unparseable date is ignored (RFC 9110
/// 13.1.3).
pub fn conditional(headers: &HeaderMap) -> Conditional {
    Conditional {
        if_none_match: headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned),
        if_modified_since: headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(DateTime::<Utc>::from),
    }
}

/// Sets `ETag` and, when known, `Last-Modified` (HTTP-date, whole seconds).
pub fn set_validators(headers: &mut HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(t) = last_modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::from(t))) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }
}

/// `status` with `body` and the validators of `contact`.
pub fn with_contact_validators(status: StatusCode, contact: &Contact, body: impl IntoResponse) -> Response {
    let mut resp = (status, body).into_response();
    set_validators(resp.headers_mut(), &contact_etag(contact.version), Some(contact.updated_at));
    resp
}

/// 304 with the validators and no body.
pub fn not_modified(etag: &str, last_modified: Option<DateTime<Utc>>) -> Response {
    let mut resp = StatusCode::NOT_MODIFIED.into_response();
    set_validators(resp.headers_mut(), etag, last_modified);
    resp
}

/// Adds `Location: path` to a response.
pub fn with_location(mut resp: Response, path: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(path) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The canonical path of a contact.
pub fn contact_path(id: i64) -> String {
    format!("/api/v3/contacts/{id}")
}
