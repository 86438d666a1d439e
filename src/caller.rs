//! Who is calling: the data of an authenticated key.
//!
//! Apart from [`crate::auth`] (which re-exports it) so that the key cache can hold callers without
//! depending on authentication, which reaches the cache through the app state.

use crate::error::ApiError;
use crate::store::{ApiKey, Scope};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub key_id: String,
    pub key_name: String,
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// 403 unless the key carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }
}

impl From<ApiKey> for Caller {
    fn from(k: ApiKey) -> Self {
        Caller { tenant_id: k.tenant_id, key_id: k.id, key_name: k.name, scopes: k.scopes }
    }
}
