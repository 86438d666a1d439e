//! Our own extractors, so a malformed body, path or query gets our error format instead of axum's
//! plain-text rejections.
//!
//! They are also where the edge is held for every route at once: a body is one JSON document and
//! nothing after it, and no string of it may hold NUL ([`parse_json`], [`parse_document`]); every path
//! parameter and query value obeys the one-line character rule
//! ([`check_text`](crate::validation::text::check_text)) before a handler sees it. So a route cannot
//! forget them, and NUL (which Postgres refuses to store and SQLite would keep) never reaches a
//! store. The families' parsers apply the same rule member by member on top.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::validation::entity_tag::IfMatch;
use crate::validation::text::{check_text, nul_errors, TextKind};
use crate::validation::{escape_token, ErrorKind, FieldError};

/// JSON body: 415 unless sent as JSON, 413 over the limit, 400 when not JSON (or followed by
/// anything but whitespace), 422 with a pointer when a member is missing, unknown or of the wrong
/// type, or a string holds NUL.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// The raw bytes of a JSON body, after the content-type, content-coding and size checks.
pub async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    require_json_content_type(req.headers())?;
    require_identity_encoding(req.headers())?;
    Bytes::from_request(req, state).await.map_err(body_rejection)
}

/// 415 (with `Accept-Encoding: identity`) when the body is declared compressed: it would otherwise
/// be parsed as if it were not, and a gzip body would be answered "malformed JSON".
pub fn require_identity_encoding(headers: &HeaderMap) -> Result<(), ApiError> {
    let identity = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .all(|v| v.to_str().is_ok_and(|v| v.split(',').all(|c| c.trim().eq_ignore_ascii_case("identity"))));
    if identity {
        Ok(())
    } else {
        Err(ApiError::UnsupportedContentEncoding)
    }
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

/// Deserialises a body, reporting syntax errors (trailing data included) as 400 and shape errors
/// and NUL as 422 with a JSON pointer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = deserialize_typed(&mut de, bytes)?;
    // `T` is read; what follows it must be whitespace only (`{..} garbage`, `{..}{..}` are 400).
    de.end().map_err(malformed)?;
    if may_hold_nul(bytes) {
        let errors = serde_json::from_slice::<Value>(bytes).map(|doc| nul_errors(&doc)).unwrap_or_default();
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
    }
    Ok(value)
}

fn malformed(e: serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        detail: format!("malformed JSON: {e}"),
        errors: vec![FieldError::new("", ErrorKind::Invalid, "malformed_json", e.to_string())],
    }
}

/// JSON text can carry NUL only as the escape `\u0000` (a raw one is a syntax error), so a body
/// without that sequence needs no walk.
fn may_hold_nul(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == br"\u0000")
}

/// Why [`parse_document`] refused a body; each family renders it in its own envelope.
#[derive(Debug)]
pub enum DocumentError {
    /// Not one JSON document (trailing data included): a syntax error.
    Malformed(serde_json::Error),
    /// Well-formed, but these strings hold NUL.
    Nul(Vec<FieldError>),
}

/// A body as one JSON document, for the routes that walk the document themselves (contact sets,
/// SU, customers): the same two guarantees as [`Json`], nothing after the document and no NUL.
pub fn parse_document(bytes: &[u8]) -> Result<Value, DocumentError> {
    // `from_slice` refuses anything but whitespace after the document.
    let doc: Value = serde_json::from_slice(bytes).map_err(DocumentError::Malformed)?;
    if may_hold_nul(bytes) {
        let errors = nul_errors(&doc);
        if !errors.is_empty() {
            return Err(DocumentError::Nul(errors));
        }
    }
    Ok(doc)
}

/// `T` from the deserializer: shape errors as 422 at their pointer, syntax errors as 400.
fn deserialize_typed<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
    bytes: &[u8],
) -> Result<T, ApiError> {
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
            malformed(inner)
        }
    })
}

/// `T` from a JSON document already parsed (a merge-patched body): a member missing, unknown or of
/// the wrong type is a field error at its pointer, as [`Json`] reports it.
pub fn from_document<T: DeserializeOwned>(doc: Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let pointer = path_to_pointer(e.path());
        let inner = e.into_inner();
        let (kind, code) = classify_data_error(&inner.to_string());
        vec![FieldError::new(&pointer, kind, code, strip_position(&inner))]
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

/// Path parameters; a value of the wrong shape, or one the one-line character rule refuses, is a
/// 400 naming the parameter.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // Percent-decoded values; one that is not UTF-8 is left for the parse below to report.
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
            for (key, value) in raw.iter() {
                if let Err(bad) = check_text(value, TextKind::Line) {
                    return Err(ApiError::bad_request(key, bad.code(), bad.to_string()));
                }
            }
        }
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
                let detail = path_detail(&param, e.kind());
                Err(ApiError::bad_request(&param, "invalid_path_parameter", detail))
            }
            Err(e) => Err(ApiError::Internal(e.body_text())),
        }
    }
}

/// Query string; a malformed one, or a name or value the one-line character rule refuses, is a 400.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        for (name, value) in form_urlencoded_parse(query) {
            if let Err(bad) = check_text(&name, TextKind::Line).and(check_text(&value, TextKind::Line)) {
                return Err(ApiError::bad_request(&name, bad.code(), bad.to_string()));
            }
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let param = e.path().to_string();
            let param = if param == "." { "query".to_owned() } else { param };
            let value = form_urlencoded_parse(query).find(|(name, _)| *name == param).map(|(_, v)| v);
            let detail = query_detail(&param, value.as_deref(), &e.into_inner().to_string());
            ApiError::bad_request(&param, "invalid_query_parameter", detail)
        })
    }
}

/// What a value looks like when it is not what the parameter takes: quoted, and cut at 64
/// characters, since a detail is for a person to read.
fn shown(value: &str) -> String {
    let mut cut: String = value.chars().take(64).collect();
    if cut.len() < value.len() {
        cut.push('…');
    }
    format!("`{cut}`")
}

/// The type axum names in a parse error (`i64`, `bool`...), as a person would say it.
fn expected_of(rust_type: &str) -> &'static str {
    match rust_type.rsplit("::").next().unwrap_or(rust_type) {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        _ => "a valid value",
    }
}

/// A bad path parameter, named, with what it takes; never a Rust type name.
fn path_detail(param: &str, kind: &axum::extract::path::ErrorKind) -> String {
    use axum::extract::path::ErrorKind as K;
    match kind {
        K::ParseErrorAtKey { value, expected_type, .. }
        | K::ParseErrorAtIndex { value, expected_type, .. } => {
            format!("path parameter `{param}` must be {}, not {}", expected_of(expected_type), shown(value))
        }
        // Our own deserialisers (ids) say what they take: "must be ...".
        K::DeserializeError { value, message, .. } => {
            format!("path parameter `{param}` {message}, not {}", shown(value))
        }
        K::InvalidUtf8InPathParam { .. } => format!("path parameter `{param}` is not valid UTF-8"),
        _ => format!("path parameter `{param}` could not be read"),
    }
}

/// A bad query value, named, with what it takes. serde_urlencoded reports the standard library's
/// parse errors, which name no parameter and, for a number, not even what was expected.
fn query_detail(param: &str, value: Option<&str>, serde_message: &str) -> String {
    let expected = if serde_message.contains("too large") || serde_message.contains("too small") {
        "a whole number within range"
    } else if serde_message.contains("digit") || serde_message.contains("integer") {
        "a whole number, 0 or more"
    } else if serde_message.contains("`true` or `false`") {
        "true or false"
    } else if serde_message.contains("float") {
        "a number"
    } else {
        "a valid value"
    };
    match value {
        Some(v) => format!("query parameter `{param}` must be {expected}, not {}", shown(v)),
        None => format!("query parameter `{param}` must be {expected}"),
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// The request's `If-Match` (every field line of it): `None` when absent, 400 when malformed.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    IfMatch::from_lines(headers.get_all(header::IF_MATCH).iter().map(|v| v.as_bytes()))
        .map_err(|e| ApiError::BadRequest { detail: e.detail.clone(), errors: vec![e] })
}
