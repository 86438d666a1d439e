//! The audit log: `GET /api/v1/audit?after=<cursor>&limit=<n>` (admin scope), the caller's tenant's
//! writes, exports and erasures in commit order.

use axum::extract::State;
use serde::Deserialize;

use super::changes::{cursor_and_limit, CursorPage};
use crate::auth::Admin;
use crate::domain::audit::AuditEntry;
use crate::error::ApiResult;
use crate::extract::Query;
use crate::state::AppState;
use crate::store::Store;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// A page of the caller's tenant's audit entries.
#[tracing::instrument(skip_all)]
pub async fn list_audit<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<CursorPage<AuditEntry>>> {
    let (after, limit) = cursor_and_limit(q.after.as_deref(), q.limit, "log")?;
    let items = state.store.list_audit(&caller.tenant_id, after, limit).await?;
    Ok(axum::Json(CursorPage::new(items, after, |e| e.id)))
}
