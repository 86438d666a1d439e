//! Our own extractors, so a malformed body, path or query gets our error format instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::validation::{escape_token, ErrorKind, FieldError};

/// JSON body: 415 unless sent as JSON, 413 over the limit, 400 when not JSON, 422 with a pointer when
/// a member is missing, unknown or of the wrong type.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// The raw bytes of a JSON body, after the content-type and size checks.
pub async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    require_json_content_type(req.headers())?;
    Bytes::from_request(req, state).await.map_err(body_rejection)
}

/// 415 unless the body is declared as `application/json` or a `+json` type.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix().is_some_and(|s| s == mime::JSON))
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

fn body_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest { detail: "could not read the request body".into(), errors: vec![] }
    }
}

/// Deserialises a body, reporting syntax errors as 400 and shape errors as 422 with a JSON pointer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = path_to_pointer(e.path());
        let inner = e.into_inner();
        // serde reports a shape error before noticing that the rest of the text is not JSON at
        // all; only a well-formed body gets the 422 treatment.
        let well_formed = inner.is_data() && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        if well_formed {
            let (kind, code) = classify_data_error(&inner.to_string());
            ApiError::Validation(vec![FieldError::new(&pointer, kind, code, strip_position(&inner))])
        } else {
            ApiError::BadRequest {
                detail: format!("malformed JSON: {inner}"),
                errors: vec![FieldError::new("", ErrorKind::Invalid, "malformed_json", inner.to_string())],
            }
        }
    })
}

fn classify_data_error(msg: &str) -> (ErrorKind, &'static str) {
    if msg.starts_with("unknown field") {
        (ErrorKind::UnknownMember, "unknown_member")
    } else if msg.starts_with("missing field") {
        (ErrorKind::Missing, "required")
    } else {
        (ErrorKind::Invalid, "invalid_value")
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// `contacts[0].phones` (serde_path_to_error) -> `/contacts/0/phones` (RFC 6901).
fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } => out.push_str(&escape_token(key)),
            Segment::Enum { variant } => out.push_str(&escape_token(variant)),
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// Path parameters; a value of the wrong shape is a 400 naming the parameter.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind as K;
                // Name the parameter when axum knows it, as API.md wants a parameter name as pointer.
                let param = match e.kind() {
                    K::ParseErrorAtKey { key, .. }
                    | K::InvalidUtf8InPathParam { key }
                    | K::DeserializeError { key, .. } => key.clone(),
                    // Tuples are matched by position; the route's own parameter list names it.
                    K::ParseErrorAtIndex { index, .. } => {
                        axum::extract::RawPathParams::from_request_parts(parts, state)
                            .await
                            .ok()
                            .and_then(|raw| raw.iter().nth(*index).map(|(key, _)| key.to_owned()))
                            .unwrap_or_else(|| "path".to_owned())
                    }
                    _ => "path".to_owned(),
                };
                Err(ApiError::bad_request(&param, "invalid_path_parameter", e.body_text()))
            }
            Err(e) => Err(ApiError::Internal(e.body_text())),
        }
    }
}

/// Query string; a malformed one is a 400.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let param = e.path().to_string();
            let param = if param == "." { "query".to_owned() } else { param };
            let detail = e.into_inner().to_string();
            ApiError::bad_request(&param, "invalid_query_parameter", detail)
        })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}
