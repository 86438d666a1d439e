//! Health and documentation endpoints for operators; no authentication.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Store;

/// The contract, compiled in so the binary always serves the spec it was built with.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Process is up; touches nothing else.
pub async fn livez() -> impl IntoResponse {
    (StatusCode::OK, Json(json!({"status": "ok"})))
}

/// Ready for traffic: the store answers and the service is not draining.
pub async fn readyz<S: Store>(State(state): State<AppState<S>>) -> Result<impl IntoResponse, ApiError> {
    if state.is_draining() {
        return Err(ApiError::Unavailable);
    }
    state.store.ping().await?;
    Ok((StatusCode::OK, Json(json!({"status": "ready"}))))
}

pub async fn openapi_yaml() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}
