//! Property contact sets, Booking.com-compatible: `PUT`/`GET /contacts-api/properties/{id}/contacts`.
//!
//! The set is replaced whole. The use case itself ([`replace`], [`read`]) is shared with the SU
//! dialect (`api::su`); this module adds Booking's credentials, `If-Match` and its
//! `{data, warnings, errors, meta}` envelope.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::domain::contact_set::{Contact, ContactSet};
use crate::error::ApiError;
use crate::extract::{if_match, json_body, parse_document, DocumentError, Path};
use crate::request_context;
use crate::state::AppState;
use crate::store::{ReplaceOutcome, Scope, Store, StoredContactSet};
use crate::validation::entity_tag::IfMatch;
use crate::validation::ids::canonical_decimal;
use crate::validation::{ErrorKind, FieldError, ParseOptions};

/// A body as one JSON document; text that is not one is a 400 (Booking code 450), NUL in a string a
/// validation failure (400, `320`).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    parse_document(bytes).map_err(|e| match e {
        DocumentError::Malformed(e) => ApiError::BadRequest {
            detail: format!("malformed JSON: {e}"),
            errors: vec![FieldError::new("", ErrorKind::Unprocessable, "malformed_json", e.to_string())],
        },
        DocumentError::Nul(errors) => ApiError::Validation(errors),
    })
}

/// Validates a JSON body into a contact set under one dialect's options, listing every violation.
pub fn validate(body: &Value, opts: &ParseOptions) -> Result<ContactSet, ApiError> {
    ContactSet::parse(body, opts).map_err(|errors| {
        crate::observability::count_validation_failures(&errors);
        ApiError::Validation(errors)
    })
}

/// A revision no set ever has: what the store is asked to match when `If-Match` names none of ours,
/// so it still answers 404 for a missing property before 412.
const NO_REVISION: i64 = -1;

/// How often a replace under an `If-Match` list follows the set to another revision of the list.
const MAX_LIST_ATTEMPTS: usize = 3;

/// What a replace did: stored `revision`, or (`changed: false`) found it equal to `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    pub revision: i64,
    pub changed: bool,
}

/// The replace use case: store `set` as the property's new revision, unless it equals the stored
/// one. `accepted`: the revisions `If-Match` allows (`None`: any).
pub async fn replace<S: Store>(
    dialect: &'static str,
    state: &AppState<S>,
    caller: &Caller,
    property_id: &str,
    set: &ContactSet,
    accepted: Option<&[i64]>,
) -> Result<Replaced, ApiError> {
    // The store compares one expected revision atomically. With a list, the first is tried; a
    // mismatch reports the current revision, and when that one is listed too it is tried in turn
    // (a 412 then only ever means the set is at a revision the client did not list).
    let mut expected = accepted.map(|a| a.first().copied().unwrap_or(NO_REVISION));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = state
            .store
            .replace_contact_set(&caller.tenant_id, property_id, set, expected, &caller.key_name)
            .await?;
        match outcome {
            ReplaceOutcome::Replaced { revision } => {
                metrics::counter!("contact_set_replaces_total", "dialect" => dialect).increment(1);
                tracing::info!(property_id, revision, contacts = set.contacts.len(), "contact set replaced");
                return Ok(Replaced { revision, changed: true });
            }
            ReplaceOutcome::Unchanged { revision } => {
                metrics::counter!("contact_set_unchanged_total", "dialect" => dialect).increment(1);
                tracing::info!(property_id, revision, "contact set unchanged: equal to the stored one");
                return Ok(Replaced { revision, changed: false });
            }
            ReplaceOutcome::PropertyNotFound => return Err(ApiError::NotFound("property")),
            ReplaceOutcome::RevisionMismatch { current }
                if attempt < MAX_LIST_ATTEMPTS && accepted.is_some_and(|a| a.contains(&current)) =>
            {
                expected = Some(current);
            }
            ReplaceOutcome::RevisionMismatch { current } => {
                return Err(ApiError::PreconditionFailed { current: etag(current) })
            }
        }
    }
}

/// The read use case: the property's current set (revision 0 and no contacts before the first PUT).
pub async fn read<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    property_id: &str,
) -> Result<StoredContactSet, ApiError> {
    state.store.get_contact_set(&caller.tenant_id, property_id).await?.ok_or(ApiError::NotFound("property"))
}

/// Strong ETag of a contact-set revision.
pub fn etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// The revisions an `If-Match` header allows: `None` when absent or `*`, else those of its strong
/// tags that are ours (`"<revision>"`, canonical decimal); 400 when the header is malformed. An
/// empty list matches no revision.
pub fn if_match_revisions(headers: &HeaderMap) -> Result<Option<Vec<i64>>, ApiError> {
    Ok(match if_match(headers)? {
        None | Some(IfMatch::Any) => None,
        Some(IfMatch::Tags(tags)) => Some(tags.iter().filter_map(|t| canonical_decimal(t)).collect()),
    })
}

#[derive(Serialize)]
struct SetData<'a> {
    contacts: &'a [Contact],
    revision: i64,
    /// On a PUT only: whether it stored a new revision (false: the set equalled the stored one).
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
}

/// Booking's error entry.
#[derive(Serialize)]
struct BookingError {
    code: &'static str,
    message: String,
    details: BookingErrorDetails,
}

#[derive(Serialize)]
struct BookingErrorDetails {
    /// JSON pointers of the offending members.
    fields: Vec<String>,
    /// Our stable snake_case code.
    reason: &'static str,
}

#[derive(Serialize)]
struct Envelope<T: Serialize> {
    data: Option<T>,
    warnings: Vec<BookingError>,
    errors: Vec<BookingError>,
    meta: Meta,
}

#[derive(Serialize)]
struct Meta {
    ruid: String,
}

fn success(set: &StoredContactSet, changed: Option<bool>) -> Response {
    let body = Envelope {
        data: Some(SetData { contacts: &set.set.contacts, revision: set.revision, changed }),
        warnings: vec![],
        errors: vec![],
        meta: Meta { ruid: request_context::request_id() },
    };
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(set.revision)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Renders an error in Booking's envelope with Booking's codes. Validation failures are HTTP 400
/// here, as Booking answers them.
fn failure(e: ApiError) -> Response {
    if let ApiError::Internal(msg) = &e {
        tracing::error!(error = %msg, "internal error");
    }
    let entry = |code: &'static str, reason: &'static str, message: String| BookingError {
        code,
        message,
        details: BookingErrorDetails { fields: vec![], reason },
    };
    let (status, errors) = match &e {
        ApiError::Validation(errors) => (
            StatusCode::BAD_REQUEST,
            errors
                .iter()
                .map(|f| BookingError {
                    code: f.kind.booking_code(),
                    message: f.detail.clone(),
                    details: BookingErrorDetails { fields: vec![f.pointer.clone()], reason: f.code },
                })
                .collect(),
        ),
        ApiError::BadRequest { errors, .. } if !errors.is_empty() => (
            StatusCode::BAD_REQUEST,
            errors
                .iter()
                .map(|f| BookingError {
                    code: "450",
                    message: f.detail.clone(),
                    details: BookingErrorDetails { fields: vec![f.pointer.clone()], reason: f.code },
                })
                .collect(),
        ),
        ApiError::Unauthorized | ApiError::Forbidden(_) => {
            (e.status(), vec![entry("497", "authorization", e.to_string())])
        }
        ApiError::NotFound(_) => {
            (e.status(), vec![entry("635", "property_not_found", "property not found".into())])
        }
        ApiError::PreconditionFailed { .. } => {
            (e.status(), vec![entry("447", "simultaneous_update", format!("unable to update: {e}"))])
        }
        ApiError::Unavailable | ApiError::OutcomeUnknown | ApiError::Timeout(_) | ApiError::Internal(_) => {
            (e.status(), vec![entry("448", "system_error", e.to_string())])
        }
        ApiError::RateLimited { .. } => (e.status(), vec![entry("450", "rate_limited", e.to_string())]),
        _ => (e.status(), vec![entry("450", "unable_to_process", e.to_string())]),
    };
    let body: Envelope<()> =
        Envelope { data: None, warnings: vec![], errors, meta: Meta { ruid: request_context::request_id() } };
    let mut resp = (status, axum::Json(body)).into_response();
    e.add_headers(resp.headers_mut());
    if let ApiError::PreconditionFailed { current } = &e {
        if let Ok(v) = HeaderValue::from_str(current) {
            resp.headers_mut().insert(header::ETAG, v);
        }
    }
    resp
}

/// Renders an error raised outside the handler (the request timeout) in Booking's envelope.
pub fn render_error(e: ApiError) -> Response {
    failure(e)
}

fn render(result: Result<(StoredContactSet, Option<bool>), ApiError>) -> Response {
    match result {
        Ok((set, changed)) => success(&set, changed),
        Err(e) => failure(e),
    }
}

/// `PUT /contacts-api/properties/{property_id}/contacts`: replace the whole set (write scope).
#[tracing::instrument(skip_all, fields(property_id = tracing::field::Empty))]
pub async fn replace_contact_set<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, ApiError>,
    caller: Result<Caller, ApiError>,
    req: Request,
) -> Response {
    render(
        async {
            let Path(property_id) = path?;
            tracing::Span::current().record("property_id", property_id.as_str());
            let caller = caller?;
            caller.require(Scope::Write)?;
            let accepted = if_match_revisions(req.headers())?;
            let bytes = json_body(req, &state).await?;
            let set = validate(&parse_json(&bytes)?, &ParseOptions::BOOKING)?;
            let Replaced { revision, changed } =
                replace("booking", &state, &caller, &property_id, &set, accepted.as_deref()).await?;
            Ok((StoredContactSet { revision, set }, Some(changed)))
        }
        .await,
    )
}

/// `GET /contacts-api/properties/{property_id}/contacts` (read scope). No span, unlike the writes:
/// the hottest route logs nothing of its own, and a span per request cost 3 % of its CPU.
pub async fn get_contact_set<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, ApiError>,
    caller: Result<Caller, ApiError>,
) -> Response {
    render(
        async {
            let Path(property_id) = path?;
            let caller = caller?;
            caller.require(Scope::Read)?;
            Ok((read(&state, &caller, &property_id).await?, None))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revisions(values: &[&str]) -> Result<Option<Vec<i64>>, ApiError> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_MATCH, v.parse().unwrap());
        }
        if_match_revisions(&h)
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(revisions(&[]).unwrap(), None);
        assert_eq!(revisions(&["*"]).unwrap(), None);
        assert_eq!(revisions(&["\"7\""]).unwrap(), Some(vec![7]));
        assert_eq!(revisions(&["\"7\", \"9\"", "\"11\""]).unwrap(), Some(vec![7, 9, 11]));
        // Strong comparison: a weak tag never matches, and neither does a tag not of ours.
        assert_eq!(revisions(&["W/\"8\""]).unwrap(), Some(vec![]));
        assert_eq!(revisions(&["\"abc\"", "\"08\"", "\"+8\""]).unwrap(), Some(vec![]));
        for bad in ["8", "\"8", "*, \"8\"", ""] {
            let e = revisions(&[bad]).unwrap_err();
            assert_eq!(e.field_errors()[0].code, "if_match_invalid", "{bad:?}");
        }
    }
}
