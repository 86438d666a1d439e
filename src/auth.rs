//! API keys: generation, hashing, and the extractor that turns a credential into a [`Caller`].

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{NewApiKey, Scope, Store};

/// Prefix of every key, so a leaked key is recognisable by secret scanners.
const KEY_PREFIX: &str = "pck";

/// A freshly generated key: the secret to show once, and what to store.
pub struct GeneratedKey {
    pub secret: String,
    pub record: NewApiKey,
}

/// Makes a key `pck_<id>_<secret>`: a 64-bit public id (shown by `keys list`) and a 256-bit secret.
pub fn generate_key(tenant_id: &str, name: &str, scopes: Vec<Scope>) -> GeneratedKey {
    let mut rng = rand::thread_rng();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let full = format!("{KEY_PREFIX}_{id}_{secret}");
    GeneratedKey {
        record: NewApiKey {
            id,
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            secret_hash: hash_key(&full),
            scopes,
        },
        secret: full,
    }
}

/// SHA-256 of the whole key. Keys carry 256 random bits, so a fast unsalted hash is enough and keeps
/// the lookup an indexed equality match.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The key in `Authorization: Bearer <key>`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Looks a presented key up (`Unauthorized` when unknown or revoked), then takes one request from
/// its rate allowance (`RateLimited` when spent).
pub async fn authenticate<S: Store>(state: &AppState<S>, key: Option<&str>) -> Result<Caller, ApiError> {
    let caller = identify(state, key).await?;
    charge(state, &caller)?;
    Ok(caller)
}

/// Looks a presented key up (`Unauthorized` when unknown or revoked) without taking from its rate
/// allowance: for a layer that needs the tenant before the handler authenticates the request.
pub async fn identify<S: Store>(state: &AppState<S>, key: Option<&str>) -> Result<Caller, ApiError> {
    let caller = lookup(state, key).await?;
    crate::request_context::set_key(&caller.key_id, &caller.key_name);
    Ok(caller)
}

async fn lookup<S: Store>(state: &AppState<S>, key: Option<&str>) -> Result<Caller, ApiError> {
    let key = key.ok_or(ApiError::Unauthorized)?;
    let hash = hash_key(key);
    match state.key_cache.get(&hash) {
        Some(caller) => Ok(caller),
        None if state.key_cache.is_rejected(&hash) => Err(ApiError::Unauthorized),
        None => match state.store.find_key(&hash).await? {
            Some(key) => {
                let caller = Caller::from(key);
                state.key_cache.insert(hash, caller.clone());
                Ok(caller)
            }
            None => {
                state.key_cache.reject(hash);
                Err(ApiError::Unauthorized)
            }
        },
    }
}

/// Takes one request from the caller's rate allowance (`RateLimited` when spent).
pub fn charge<S>(state: &AppState<S>, caller: &Caller) -> Result<(), ApiError> {
    if let Some(limiter) = &state.rate_limiter {
        limiter
            .check(&caller.key_id)
            .map_err(|refused| ApiError::RateLimited { retry_after_secs: refused.retry_after_secs })?;
    }
    Ok(())
}

impl<S: Store> FromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        authenticate(state, bearer_token(&parts.headers)).await
    }
}

/// A caller proven to hold one scope. As an extractor it runs before the body is read, so a key
/// without the scope gets 403 whatever the body holds.
macro_rules! scoped_caller {
    ($(#[$doc:meta])* $name:ident, $scope:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl<S: Store> FromRequestParts<AppState<S>> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
                let caller = Caller::from_request_parts(parts, state).await?;
                caller.require($scope)?;
                Ok($name(caller))
            }
        }
    };
}

scoped_caller!(
    /// A caller with the `read` scope.
    Reader,
    Scope::Read
);
scoped_caller!(
    /// A caller with the `write` scope.
    Writer,
    Scope::Write
);
scoped_caller!(
    /// A caller with the `admin` scope.
    Admin,
    Scope::Admin
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_hash_matches() {
        let a = generate_key("t", "n", vec![Scope::Read]);
        let b = generate_key("t", "n", vec![Scope::Read]);
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("pck_"));
        assert_eq!(a.record.secret_hash, hash_key(&a.secret));
        assert!(!a.record.secret_hash.contains(&a.secret));
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  xyz ".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
