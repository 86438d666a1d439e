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

use crate::api::booking_headers::{
    check_accept_version, check_no_language_fallback, last_modified, none_match,
};
use crate::auth::{authenticate, Caller};
use crate::domain::contact_set::{Contact, ContactSet};
use crate::domain::contact_set_advice::{advise, Advice};
use crate::domain::contact_set_allowed::allowed_values;
use crate::error::ApiError;
use crate::extract::{if_match, json_body, parse_document, DocumentError, Path};
use crate::request_context;
use crate::state::AppState;
use crate::store::{dry_run, ReplaceOutcome, Scope, Store, StoredContactSet};
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
            ReplaceOutcome::Replaced { revision } if dry_run::active() => {
                tracing::info!(property_id, revision, "contact set valid (dry run): nothing stored");
                return Ok(Replaced { revision, changed: true });
            }
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

/// Runs `attempt` on the Booking route's path id, which names a property by its `property_id` or by
/// its Booking.com hotel id (the `channel_property_id` of its `booking` mapping). The property id
/// wins: only when no property has that id is the hotel id looked up (one indexed query) and the
/// attempt made again, so a request by property id costs nothing more than before, and an id that
/// could mean two properties always means the one with that `property_id`.
pub async fn on_booking_property<S: Store, T, F, Fut>(
    state: &AppState<S>,
    caller: &Caller,
    path_id: &str,
    attempt: F,
) -> Result<T, ApiError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    match attempt(path_id.to_owned()).await {
        Err(ApiError::NotFound(what)) => {
            match state.store.booking_property_id(&caller.tenant_id, path_id).await? {
                Some(property_id) if property_id != path_id => attempt(property_id).await,
                _ => Err(ApiError::NotFound(what)),
            }
        }
        other => other,
    }
}

/// The caller of a Booking route: `Authorization: Bearer <key>`, or HTTP Basic with the key as
/// the password (any user name), so a client that sends Booking.com machine-account credentials
/// the Basic way needs only its password changed.
async fn booking_caller<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, crate::api::customers::presented_key(headers).as_deref()).await?;
    caller.require(scope)?;
    Ok(caller)
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
    /// On a dry run only (`true`): nothing was stored; `revision` and `changed` are what the PUT
    /// would have given.
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
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
    /// On a 320 for an enumerated field: the values it allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed: Option<Vec<Value>>,
}

impl From<Advice> for BookingError {
    fn from(a: Advice) -> Self {
        BookingError {
            code: a.code,
            message: a.message,
            details: BookingErrorDetails { fields: vec![a.field], reason: a.reason, allowed: None },
        }
    }
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

/// What a successful PUT or GET answers with, besides the set.
#[derive(Default)]
struct Answered {
    /// PUT only: whether a revision was (or on a dry run, would be) stored.
    changed: Option<bool>,
    dry_run: bool,
    warnings: Vec<Advice>,
}

fn success(set: &StoredContactSet, answered: Answered) -> Response {
    let Answered { changed, dry_run, warnings } = answered;
    let body = Envelope {
        data: Some(SetData {
            contacts: &set.set.contacts,
            revision: set.revision,
            changed,
            dry_run: dry_run.then_some(true),
        }),
        warnings: warnings.into_iter().map(BookingError::from).collect(),
        errors: vec![],
        meta: Meta { ruid: request_context::request_id() },
    };
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    // A dry run's revision was never stored: no validator a client could send back. A PUT does not
    // read the property's clock back, so only a GET says Last-Modified.
    if !dry_run {
        set_validators(resp.headers_mut(), set, changed.is_none());
    }
    resp
}

fn set_validators(headers: &mut HeaderMap, set: &StoredContactSet, with_last_modified: bool) {
    if let Ok(v) = HeaderValue::from_str(&etag(set.revision)) {
        headers.insert(header::ETAG, v);
    }
    if let Some(v) = last_modified(set.updated_at).filter(|_| with_last_modified) {
        headers.insert(header::LAST_MODIFIED, v);
    }
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
        details: BookingErrorDetails { fields: vec![], reason, allowed: None },
    };
    let (status, errors) = match &e {
        ApiError::Validation(errors) => (
            StatusCode::BAD_REQUEST,
            errors
                .iter()
                .map(|f| BookingError {
                    code: f.kind.booking_code(),
                    message: f.detail.clone(),
                    details: BookingErrorDetails {
                        fields: vec![f.pointer.clone()],
                        reason: f.code,
                        allowed: allowed_values(f.code, &f.pointer),
                    },
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
                    details: BookingErrorDetails {
                        fields: vec![f.pointer.clone()],
                        reason: f.code,
                        allowed: None,
                    },
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

fn render(result: Result<(StoredContactSet, Answered), ApiError>) -> Response {
    match result {
        Ok((set, answered)) => success(&set, answered),
        Err(e) => failure(e),
    }
}

/// `PUT /contacts-api/properties/{id}/contacts`: replace the whole set (write scope). `{id}` is
/// the `property_id` or the Booking.com hotel id (see [`on_booking_property`]); `?dry_run=true`
/// runs every check and answers what the PUT would, storing nothing.
#[tracing::instrument(skip_all, fields(property_id = tracing::field::Empty))]
pub async fn replace_contact_set<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, ApiError>,
    req: Request,
) -> Response {
    render(
        async {
            let Path(path_id) = path?;
            tracing::Span::current().record("property_id", path_id.as_str());
            let caller = booking_caller(&state, req.headers(), Scope::Write).await?;
            check_accept_version(req.headers())?;
            let dry = crate::api::dry_run::requested(req.uri())?;
            let accepted = if_match_revisions(req.headers())?;
            let bytes = json_body(req, &state).await?;
            let body = parse_json(&bytes)?;
            let set = validate(&body, &ParseOptions::BOOKING)?;
            let warnings = advise(&body, &set);
            let replaced = dry_run::run_if(
                dry,
                on_booking_property(&state, &caller, &path_id, |property_id| {
                    let (state, caller, set, accepted) = (&state, &caller, &set, accepted.as_deref());
                    async move { replace("booking", state, caller, &property_id, set, accepted).await }
                }),
            )
            .await?;
            let Replaced { revision, changed } = replaced;
            // Not sent: a PUT's answer carries no Last-Modified (see `success`).
            let stored = StoredContactSet { revision, set, updated_at: chrono::DateTime::UNIX_EPOCH };
            Ok((stored, Answered { changed: Some(changed), dry_run: dry, warnings }))
        }
        .await,
    )
}

/// `GET /contacts-api/properties/{id}/contacts` (read scope), `{id}` as on the PUT. Honours
/// `If-None-Match` (304, no body). No span, unlike the writes: the hottest route logs nothing of
/// its own, and a span per request cost 3 % of its CPU.
pub async fn get_contact_set<S: Store>(
    State(state): State<AppState<S>>,
    path: Result<Path<String>, ApiError>,
    // The request itself, not the `HeaderMap` extractor, which would clone every header.
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let headers = &parts.headers;
    let result = async {
        let Path(path_id) = path?;
        let caller = booking_caller(&state, headers, Scope::Read).await?;
        check_accept_version(headers)?;
        check_no_language_fallback(&parts.uri)?;
        on_booking_property(&state, &caller, &path_id, |property_id| {
            let (state, caller) = (&state, &caller);
            async move { read(state, caller, &property_id).await }
        })
        .await
    }
    .await;
    match result {
        Ok(set)
            if headers.contains_key(header::IF_NONE_MATCH)
                && none_match(headers, &set.revision.to_string()) =>
        {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            set_validators(resp.headers_mut(), &set, true);
            resp
        }
        Ok(set) => success(&set, Answered::default()),
        Err(e) => failure(e),
    }
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
