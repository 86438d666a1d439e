//! The SU API dialect of the contact set: `POST /SUAPI/jservice/bdc/property/contact/{set,retrieve}`.
//!
//! Same stored set and validator as the Booking route; differs at the edges: the property is named
//! by `hotel_id` and must be mapped to `channel_hotel_id` on the `booking` channel, the key comes in
//! a bare `Authorization` header next to a required `app-id`, phone limits are SU's, and answers use
//! SU's `{Status, Data, Message, Errors, Ruid}` envelope.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::api::contact_sets::{read, replace, validate};
use crate::auth::{authenticate, Caller};
use crate::domain::contact_set::Contact;
use crate::error::ApiError;
use crate::extract::{json_body, parse_document, DocumentError};
use crate::request_context;
use crate::state::AppState;
use crate::store::{dry_run, Scope, Store};
use crate::validation::ids::valid_su_hotel_code;
use crate::validation::{ErrorKind, FieldError, ParseOptions};

/// The channel whose listing `channel_hotel_id` must match.
pub const BOOKING_CHANNEL: &str = "booking";

/// SU's answer, success or failure.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SuEnvelope<T: Serialize> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<SuError>>,
    ruid: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SuError {
    code: String,
    short_text: String,
}

#[derive(Serialize)]
struct RetrieveData<'a> {
    contacts: &'a [Contact],
}

/// Failures specific to this dialect, on top of the shared [`ApiError`]s.
enum SuFailure {
    Api(ApiError),
    /// One SU error with its own code (`400`, `573`, `853`, ...), answered with HTTP 400.
    Coded(&'static str, String),
}

impl From<ApiError> for SuFailure {
    fn from(e: ApiError) -> Self {
        SuFailure::Api(e)
    }
}

fn ok<T: Serialize>(data: T, message: &'static str) -> Response {
    let body = SuEnvelope {
        status: "Success",
        data: Some(data),
        message: Some(message),
        errors: None,
        ruid: request_context::request_id(),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn fail_with(status: StatusCode, errors: Vec<SuError>, message: Option<&'static str>) -> Response {
    let body: SuEnvelope<()> = SuEnvelope {
        status: "Fail",
        data: None,
        message,
        errors: Some(errors),
        ruid: request_context::request_id(),
    };
    (status, axum::Json(body)).into_response()
}

/// A failure for a shared error: its status, and the headers every rendering of it carries.
fn fail(e: &ApiError, errors: Vec<SuError>, message: Option<&'static str>) -> Response {
    // Validation failures are HTTP 400 on this route, as on the Booking one.
    let status = if matches!(e, ApiError::Validation(_)) { StatusCode::BAD_REQUEST } else { e.status() };
    let mut resp = fail_with(status, errors, message);
    e.add_headers(resp.headers_mut());
    resp
}

/// SU's short text for one field error.
fn short_text(f: &FieldError) -> String {
    match f.kind {
        ErrorKind::InvalidProfileType | ErrorKind::Unprocessable => {
            "contact_profiles: type is invalid or not found".to_owned()
        }
        ErrorKind::InvalidEmail => {
            format!("Email [{}]: Value is not an email (a valid email (example@ex.com))", f.pointer)
        }
        _ => format!("{}: {}", f.pointer, f.detail),
    }
}

/// Renders an error raised outside the handler (the request timeout) in SU's envelope.
pub fn render_error(e: ApiError) -> Response {
    render_failure(SuFailure::Api(e))
}

fn render_failure(failure: SuFailure) -> Response {
    let e = match failure {
        SuFailure::Coded(code, text) => {
            return fail_with(
                StatusCode::BAD_REQUEST,
                vec![SuError { code: code.to_owned(), short_text: text }],
                None,
            );
        }
        SuFailure::Api(e) => e,
    };
    match &e {
        ApiError::Unauthorized | ApiError::Forbidden(_) => fail(&e, vec![], Some("Access denied")),
        ApiError::Validation(errors) => fail(
            &e,
            errors
                .iter()
                .map(|f| SuError { code: f.kind.su_code().to_owned(), short_text: short_text(f) })
                .collect(),
            None,
        ),
        ApiError::Unavailable | ApiError::OutcomeUnknown | ApiError::Timeout(_) | ApiError::Internal(_) => {
            if let ApiError::Internal(msg) = &e {
                tracing::error!(error = %msg, "internal error");
            }
            fail(&e, vec![SuError { code: "500".into(), short_text: e.to_string() }], None)
        }
        ApiError::RateLimited { .. } => {
            fail(&e, vec![SuError { code: "429".into(), short_text: e.to_string() }], None)
        }
        // Malformed JSON, wrong content type, oversized body.
        _ => fail(&e, vec![SuError { code: "400".into(), short_text: e.to_string() }], None),
    }
}

/// SU sends the key bare in `Authorization` (a `Bearer` prefix is accepted too) and needs `app-id`.
async fn su_caller<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, presented_key(headers)).await?;
    caller.require(scope)?;
    Ok(caller)
}

/// The key of an SU request; `None` without one or without a non-blank `app-id`.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let app_id = headers.get("app-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if app_id.trim().is_empty() {
        return None;
    }
    let key = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(|v| {
        let v = v.trim();
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => v,
        }
    });
    key.filter(|k| !k.is_empty())
}

/// Resolves `hotel_id` + `channel_hotel_id` to a property id of the caller's tenant.
async fn resolve_hotel<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    body: &Value,
) -> Result<String, SuFailure> {
    let hotel_id = match body.get("hotel_id") {
        None | Some(Value::Null) => {
            return Err(SuFailure::Coded("321", "hotel_id: required field missing".into()))
        }
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
    };
    if !valid_su_hotel_code(&hotel_id) {
        return Err(SuFailure::Coded(
            "853",
            "HotelCode: Value is not an id (an alpha-numeric) and maximum 15 characters".into(),
        ));
    }
    let channel_hotel_id = match body.get("channel_hotel_id") {
        None | Some(Value::Null) => {
            return Err(SuFailure::Coded("321", "channel_hotel_id: required field missing".into()))
        }
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(SuFailure::Coded("320", "channel_hotel_id: must be a string".into())),
    };
    let property = state
        .store
        .get_property(&caller.tenant_id, &hotel_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| SuFailure::Coded("400", format!("HotelCode: Invalid HotelCode ('{hotel_id}')")))?;
    let mapped = property
        .channel_mappings
        .iter()
        .any(|m| m.channel == BOOKING_CHANNEL && m.channel_property_id == channel_hotel_id);
    if !mapped {
        return Err(SuFailure::Coded("573", "channel-mapping not found for this property!".into()));
    }
    Ok(property.property_id)
}

/// SU's answer for a property that vanished between the hotel check and the use case.
fn unknown_hotel(e: ApiError, hotel_id: &str) -> SuFailure {
    match e {
        ApiError::NotFound(_) => {
            SuFailure::Coded("400", format!("HotelCode: Invalid HotelCode ('{hotel_id}')"))
        }
        e => SuFailure::Api(e),
    }
}

/// The body as one JSON object. Not JSON (or trailing data): `400`; NUL in a string: `320` per
/// string, like any invalid value, before the hotel checks (it must not reach the store's lookup).
fn parse_json_object(bytes: &[u8]) -> Result<Value, SuFailure> {
    match parse_document(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(SuFailure::Coded("400", "request body must be a JSON object".into())),
        Err(DocumentError::Malformed(e)) => Err(SuFailure::Coded("400", format!("malformed JSON: {e}"))),
        Err(DocumentError::Nul(errors)) => Err(SuFailure::Api(ApiError::Validation(errors))),
    }
}

/// The `Message` of a set equal to the stored one: nothing was stored.
pub const UNCHANGED_MESSAGE: &str = "Property Contact-Details Unchanged: identical to the stored set";

/// `POST .../property/contact/set`: replace the property's whole contact set (write scope).
#[tracing::instrument(skip_all)]
pub async fn set_contacts<S: Store>(State(state): State<AppState<S>>, req: Request) -> Response {
    let result = async {
        let caller = su_caller(&state, req.headers(), Scope::Write).await?;
        let dry = crate::api::dry_run::requested(req.uri())?;
        let bytes = json_body(req, &state).await?;
        let body = parse_json_object(&bytes)?;
        let property_id = resolve_hotel(&state, &caller, &body).await?;
        let set = validate(&body, &ParseOptions::SU)?;
        // A property deleted since `resolve_hotel` is, in SU's terms, an unknown hotel.
        let replaced = dry_run::run_if(dry, replace("su", &state, &caller, &property_id, &set, None))
            .await
            .map_err(|e| unknown_hotel(e, &property_id))?;
        Ok::<_, SuFailure>((replaced.changed, dry))
    }
    .await;
    match result {
        Ok((_, true)) => ok(Vec::<()>::new(), DRY_RUN_MESSAGE),
        Ok((true, false)) => ok(Vec::<()>::new(), "Property Contact-Details Created Successfully"),
        Ok((false, false)) => ok(Vec::<()>::new(), UNCHANGED_MESSAGE),
        Err(f) => render_failure(f),
    }
}

/// The `Message` of a dry run (`?dry_run=true`) that passed every check: nothing was stored.
pub const DRY_RUN_MESSAGE: &str = "Property Contact-Details Valid (dry run): nothing stored";

/// `POST .../property/contact/retrieve`: the property's current contact set (read scope). No span,
/// like the Booking GET.
pub async fn retrieve_contacts<S: Store>(State(state): State<AppState<S>>, req: Request) -> Response {
    let result = async {
        let caller = su_caller(&state, req.headers(), Scope::Read).await?;
        let bytes = json_body(req, &state).await?;
        let body = parse_json_object(&bytes)?;
        let property_id = resolve_hotel(&state, &caller, &body).await?;
        read(&state, &caller, &property_id).await.map_err(|e| unknown_hotel(e, &property_id))
    }
    .await;
    match result {
        Ok(stored) => ok(
            RetrieveData { contacts: &stored.set.contacts },
            "Property Contact-Details Retrieved Successfully",
        ),
        Err(f) => render_failure(f),
    }
}
