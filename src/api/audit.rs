//! The audit log: `GET /api/v1/audit?after=<cursor>&limit=<n>` (admin scope), the caller's tenant's
//! writes, exports and erasures in commit order.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::Admin;
use crate::domain::audit::AuditEntry;
use crate::domain::change::Cursor;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::state::AppState;
use crate::store::Store;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    items: Vec<AuditEntry>,
    /// Where the next page starts: the last item's id, or the cursor given when the page is empty.
    next: String,
}

/// A page of the caller's tenant's audit entries.
#[tracing::instrument(skip_all)]
pub async fn list_audit<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditPage>> {
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<Cursor>().map_err(|()| {
                ApiError::bad_request("after", "cursor_invalid", "`after` is not a cursor this log issued")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            "limit_out_of_range",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let items = state.store.list_audit(&caller.tenant_id, after, limit).await?;
    let next = items.last().map(|e| e.id).or(after).unwrap_or(Cursor::START).to_string();
    Ok(axum::Json(AuditPage { items, next }))
}
