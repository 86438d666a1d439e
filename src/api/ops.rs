//! Health and documentation endpoints for operators; no authentication.

use axum::extract::State;
use axum::http::{header, StatusCode};
use std::sync::{Arc, LazyLock};

use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::Path;
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

/// `GET /docs`: the reference page lives under `/docs/` so its relative asset links resolve.
pub async fn docs_redirect() -> Redirect {
    Redirect::permanent("/docs/")
}

/// `GET /docs/`: Swagger UI's page, rendering `/openapi.yaml`.
pub async fn docs_index() -> Response {
    docs_file("index.html")
}

/// `GET /docs/{file}`: Swagger UI's assets, compiled into the binary (no CDN, works offline).
pub async fn docs_asset(Path(file): Path<String>) -> Response {
    docs_file(&file)
}

fn docs_file(file: &str) -> Response {
    static CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
        LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.yaml")));
    match utoipa_swagger_ui::serve(file, CONFIG.clone()) {
        Ok(Some(f)) => ([(header::CONTENT_TYPE, f.content_type)], f.bytes.into_owned()).into_response(),
        Ok(None) => ApiError::NotFound("documentation file").into_response(),
        Err(e) => ApiError::Internal(format!("swagger ui: {e}")).into_response(),
    }
}
