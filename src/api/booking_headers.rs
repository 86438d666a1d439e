//! What Booking.com's Contacts API clients send besides the body: `Accept-Version`, the GET's
//! `no_language_fallback`, and the conditional GET (`If-None-Match`, answered with `Last-Modified`).

use axum::http::{header, HeaderMap, HeaderValue, Uri};
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::validation::entity_tag::entity_tags;

/// The request header naming the API version.
pub const ACCEPT_VERSION: &str = "accept-version";
/// The one version Booking.com publishes, and the one implemented here.
pub const VERSION: &str = "1.0";

/// Absent or `1.0`; any other version is 400 (code 450 in Booking's envelope).
pub fn check_accept_version(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(ACCEPT_VERSION).iter();
    let (Some(first), None) = (values.next(), values.next()) else {
        return if headers.contains_key(ACCEPT_VERSION) { Err(unsupported()) } else { Ok(()) };
    };
    if first.as_bytes().trim_ascii() == VERSION.as_bytes() {
        Ok(())
    } else {
        Err(unsupported())
    }
}

fn unsupported() -> ApiError {
    ApiError::bad_request(
        "Accept-Version",
        "accept_version_unsupported",
        format!("Accept-Version must be {VERSION}, the only version of the Contacts API"),
    )
}

/// Booking's `no_language_fallback` (`true`/`false`, `1`/`0`): accepted and without effect here, since
/// each contact is stored in one language and there is nothing to fall back to. Another value is 400.
pub fn check_no_language_fallback(uri: &Uri) -> Result<(), ApiError> {
    let query = uri.query().unwrap_or_default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == "no_language_fallback" && !matches!(value.as_ref(), "true" | "false" | "1" | "0") {
            return Err(ApiError::bad_request(
                "no_language_fallback",
                "invalid_query_parameter",
                "no_language_fallback must be true, false, 1 or 0",
            ));
        }
    }
    Ok(())
}

/// Whether `If-None-Match` matches the entity tag whose opaque part is `opaque` (weak comparison,
/// RFC 9110 §13.1.2: `W/"3"` matches `"3"`; `*` matches any). A malformed header is ignored, as
/// an `If-None-Match` that cannot match: the full answer is always a correct one.
pub fn none_match(headers: &HeaderMap, opaque: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|line| {
        let line = line.as_bytes();
        line.trim_ascii() == b"*"
            || entity_tags(line).is_ok_and(|tags| tags.iter().any(|t| t.opaque == opaque))
    })
}

/// `Last-Modified` for `at` (HTTP dates have second precision).
pub fn last_modified(at: DateTime<Utc>) -> Option<HeaderValue> {
    HeaderValue::from_str(&httpdate::fmt_http_date(at.into())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accept_version_is_absent_or_one_point_zero() {
        assert!(check_accept_version(&headers(&[])).is_ok());
        assert!(check_accept_version(&headers(&[(ACCEPT_VERSION, "1.0")])).is_ok());
        assert!(check_accept_version(&headers(&[(ACCEPT_VERSION, " 1.0 ")])).is_ok());
        for bad in ["2.0", "1", "", "1.0, 2.0"] {
            assert!(check_accept_version(&headers(&[(ACCEPT_VERSION, bad)])).is_err(), "{bad:?}");
        }
        assert!(check_accept_version(&headers(&[(ACCEPT_VERSION, "1.0"), (ACCEPT_VERSION, "1.0")])).is_err());
    }

    #[test]
    fn if_none_match_uses_the_weak_comparison() {
        let inm = |v: &str| headers(&[("if-none-match", v)]);
        assert!(none_match(&inm("\"3\""), "3"));
        assert!(none_match(&inm("W/\"3\""), "3"));
        assert!(none_match(&inm("\"1\", \"3\""), "3"));
        assert!(none_match(&inm("*"), "3"));
        assert!(!none_match(&inm("\"4\""), "3"));
        assert!(!none_match(&inm("3"), "3"));
        assert!(!none_match(&headers(&[]), "3"));
    }

    #[test]
    fn no_language_fallback_values() {
        for ok in ["/x", "/x?no_language_fallback=1", "/x?no_language_fallback=false"] {
            assert!(check_no_language_fallback(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        assert!(check_no_language_fallback(&"/x?no_language_fallback=yes".parse().unwrap()).is_err());
    }
}
