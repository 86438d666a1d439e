//! Privacy requests (admin scope): `GET /api/v1/privacy/subjects?email=|phone=|contact_id=`
//! exports everything the tenant holds about one person; `POST /api/v1/privacy/erasures`
//! (`?dry_run=true` to only list) erases it. Both are audited; neither logs the identifier.

use axum::extract::State;
use serde::Deserialize;

use crate::auth::Admin;
use crate::domain::privacy::Subject;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::privacy::{Erasure, SubjectExport};
use crate::store::Store;

/// Who an export is about: exactly one identifier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    email: Option<String>,
    phone: Option<String>,
    contact_id: Option<String>,
}

/// Who an erasure is about: exactly one identifier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    email: Option<String>,
    phone: Option<String>,
    contact_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureQuery {
    dry_run: Option<bool>,
}

/// Everything the caller's tenant holds about the person, as one document.
#[tracing::instrument(skip_all)]
pub async fn export_subject<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Query(q): Query<SubjectQuery>,
) -> ApiResult<axum::Json<SubjectExport>> {
    let subject =
        Subject::parse(q.email.as_deref(), q.phone.as_deref(), q.contact_id.as_deref(), str::to_owned)
            .map_err(ApiError::Validation)?;
    let export = state.store.export_subject(&caller.tenant_id, &subject, &caller.key_name).await?;
    Ok(axum::Json(export))
}

/// Erases the person from the caller's tenant (or lists what would go), in one transaction.
#[tracing::instrument(skip_all)]
pub async fn erase_subject<S: Store>(
    State(state): State<AppState<S>>,
    Admin(caller): Admin,
    Query(q): Query<ErasureQuery>,
    Json(body): Json<ErasureRequest>,
) -> ApiResult<axum::Json<Erasure>> {
    let contact_id = body.contact_id.map(|id| id.to_string());
    let subject = Subject::parse(body.email.as_deref(), body.phone.as_deref(), contact_id.as_deref(), |m| {
        format!("/{m}")
    })
    .map_err(ApiError::Validation)?;
    let dry_run = q.dry_run.unwrap_or(false);
    let erasure = state.store.erase_subject(&caller.tenant_id, &subject, dry_run, &caller.key_name).await?;
    Ok(axum::Json(erasure))
}
