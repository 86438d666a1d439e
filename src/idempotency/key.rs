//! The `Idempotency-Key` header's value, and the fingerprint that tells one request from another.

use axum::http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The request header (lower case, as `HeaderMap` stores names).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A key as a client sent it: 1 to [`MAX_KEY_LEN`] visible ASCII characters (`!` to `~`), so it
/// is stored and compared byte for byte, with no question of encoding, case or spacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key in `value`, if it is one.
    pub fn parse(value: &[u8]) -> Option<IdempotencyKey> {
        let visible = value.iter().all(|b| (b'!'..=b'~').contains(b));
        let key = std::str::from_utf8(value).ok()?;
        (visible && (1..=MAX_KEY_LEN).contains(&value.len())).then(|| IdempotencyKey(key.to_owned()))
    }

    /// The request's key: `None` without the header; 400 when it is not a key, or sent twice (two
    /// keys name no one request).
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let Some(value) = values.next() else { return Ok(None) };
        match IdempotencyKey::parse(value.as_bytes()) {
            Some(key) if values.next().is_none() => Ok(Some(key)),
            _ => Err(ApiError::bad_request(
                "Idempotency-Key",
                "idempotency_key_invalid",
                format!("Idempotency-Key must be one value of 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of what makes a request that one request: method, path and query, and body. Method and
/// path can hold no line feed, so the line feeds between the parts make the encoding unambiguous.
pub fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> [u8; 32] {
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or_else(|| uri.path());
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(target.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        for good in ["a", "!", "~", "4f1c-9a7e_x.y:z", &"k".repeat(MAX_KEY_LEN)] {
            assert!(IdempotencyKey::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        for bad in ["", " ", "a b", "tab\there", "é", "\u{7f}", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert!(IdempotencyKey::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(b"\xff").is_none());
    }

    #[test]
    fn a_key_sent_twice_is_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&headers).unwrap(), None);
        headers.append(IDEMPOTENCY_KEY_HEADER, "one".parse().unwrap());
        assert_eq!(IdempotencyKey::from_headers(&headers).unwrap().unwrap().as_str(), "one");
        headers.append(IDEMPOTENCY_KEY_HEADER, "one".parse().unwrap());
        let e = IdempotencyKey::from_headers(&headers).unwrap_err();
        assert_eq!(e.field_errors()[0].code, "idempotency_key_invalid");
    }

    #[test]
    fn fingerprint_covers_method_target_and_body() {
        let uri: Uri = "/a?x=1".parse().unwrap();
        let base = fingerprint(&Method::POST, &uri, b"{}");
        assert_eq!(base, fingerprint(&Method::POST, &uri, b"{}"));
        assert_ne!(base, fingerprint(&Method::PUT, &uri, b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, &"/a?x=2".parse().unwrap(), b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, &"/b?x=1".parse().unwrap(), b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, &uri, b"{ }"));
    }
}
