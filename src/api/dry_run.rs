//! `?dry_run=true` on the writes that validate a body: every check the write makes, the store's
//! included, and the answer it would give, with nothing stored (see [`crate::store::dry_run`]).

use axum::http::Uri;
use serde::Deserialize;

use crate::error::ApiError;

/// The query parameter.
pub const PARAM: &str = "dry_run";

/// The `dry_run` member of a route's query, for routes that take the query through
/// [`crate::extract::Query`] (a value other than `true`/`false` is its 400).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct DryRunQuery {
    #[serde(default)]
    pub dry_run: bool,
}

/// Whether the request asks for a dry run: `dry_run=true` or `dry_run=false` (absent: false);
/// any other value, or the parameter twice, is 400 naming the parameter.
pub fn requested(uri: &Uri) -> Result<bool, ApiError> {
    let query = uri.query().unwrap_or_default();
    let mut values = form_urlencoded::parse(query.as_bytes()).filter(|(name, _)| name == PARAM);
    let value = values.next();
    if values.next().is_some() {
        return Err(invalid("dry_run may be given once"));
    }
    match value.as_ref().map(|(_, v)| v.as_ref()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid("dry_run must be true or false")),
    }
}

/// Whether the request asks for a dry run, reading nothing it cannot: a malformed value is
/// "no" here, and the handler answers it (the idempotency layer uses this).
pub fn requested_lenient(uri: &Uri) -> bool {
    requested(uri).unwrap_or(false)
}

fn invalid(detail: &str) -> ApiError {
    ApiError::bad_request(PARAM, "invalid_query_parameter", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> Result<bool, ApiError> {
        requested(&uri.parse().unwrap())
    }

    #[test]
    fn true_false_or_absent() {
        assert!(!parse("/x").unwrap());
        assert!(!parse("/x?a=1").unwrap());
        assert!(parse("/x?dry_run=true").unwrap());
        assert!(!parse("/x?dry_run=false&a=b").unwrap());
        for bad in ["/x?dry_run=", "/x?dry_run=1", "/x?dry_run=TRUE", "/x?dry_run=true&dry_run=true"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
