//! Health and documentation endpoints for operators; no authentication.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

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

/// `GET /openapi.yaml`, revalidated by its ETag (304 while unchanged).
pub async fn openapi_yaml(headers: HeaderMap) -> Response {
    static ETAG: LazyLock<String> = LazyLock::new(|| content_etag(OPENAPI_YAML.as_bytes()));
    cached(&headers, &ETAG, REVALIDATE, "application/yaml", Bytes::from_static(OPENAPI_YAML.as_bytes()))
}

/// `GET /docs/`: the page is `/docs`.
pub async fn docs_redirect() -> Redirect {
    Redirect::permanent("/docs")
}

/// `GET /docs`: Swagger UI's page, rendering `/openapi.yaml`. Its asset links are relative
/// (`./swagger-ui.css`), so the page says its base is `docs/` (relative too, so a proxy prefix
/// keeps working); `/docs/index.html` is the same page without it.
pub async fn docs_index(headers: HeaderMap) -> Response {
    docs_file(DOCS_PAGE, &headers)
}

/// The name [`docs_file`] serves the page at `/docs` under.
const DOCS_PAGE: &str = "/docs";

/// `GET /docs/{file}`: Swagger UI's assets, compiled into the binary (no CDN, works offline).
pub async fn docs_asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    docs_file(&file, &headers)
}

/// The page, its initializer and the spec change with a deploy: always revalidated (cheap: 304).
const REVALIDATE: &str = "no-cache";
/// Swagger UI's scripts and styles change only with the crate: a day without asking.
const STATIC_ASSET: &str = "public, max-age=86400";

/// The page's title names the service instead of Swagger UI.
const DOCS_TITLE: &str = "<title>property-contacts API reference</title>";
/// The base of the page at `/docs`, so `./swagger-ui.css` is `/docs/swagger-ui.css`.
const DOCS_BASE: &str = r#"<base href="docs/">"#;

/// One documentation file as served, with its entity tag; built once per file.
struct DocsFile {
    content_type: String,
    bytes: Bytes,
    etag: String,
}

fn docs_file(file: &str, headers: &HeaderMap) -> Response {
    static CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
        LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.yaml")));
    static FILES: LazyLock<Mutex<HashMap<String, Arc<DocsFile>>>> = LazyLock::new(Mutex::default);
    let known = FILES.lock().unwrap_or_else(|p| p.into_inner()).get(file).cloned();
    let docs = match known {
        Some(docs) => docs,
        None => match utoipa_swagger_ui::serve(
            if file == DOCS_PAGE { "index.html" } else { file },
            CONFIG.clone(),
        ) {
            Ok(Some(f)) => {
                let mut bytes = f.bytes.into_owned();
                if file == "index.html" || file == DOCS_PAGE {
                    let base = if file == DOCS_PAGE { DOCS_BASE } else { "" };
                    bytes = String::from_utf8_lossy(&bytes)
                        .replace("<title>Swagger UI</title>", &format!("{DOCS_TITLE}{base}"))
                        .into();
                }
                let docs = Arc::new(DocsFile {
                    content_type: f.content_type,
                    etag: content_etag(&bytes),
                    bytes: Bytes::from(bytes),
                });
                // Only names the crate serves are kept, so the map cannot grow past its file list.
                FILES.lock().unwrap_or_else(|p| p.into_inner()).insert(file.to_owned(), docs.clone());
                docs
            }
            Ok(None) => return ApiError::NotFound("documentation file").into_response(),
            Err(e) => return ApiError::Internal(format!("swagger ui: {e}")).into_response(),
        },
    };
    let policy = if matches!(file, DOCS_PAGE | "index.html" | "swagger-initializer.js") {
        REVALIDATE
    } else {
        STATIC_ASSET
    };
    cached(headers, &docs.etag, policy, &docs.content_type, docs.bytes.clone())
}

/// A strong entity tag of content: the first 16 bytes of its SHA-256, in hex.
fn content_etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

/// `bytes` with `Cache-Control` and `ETag`, or 304 when the client's copy is current.
fn cached(
    headers: &HeaderMap,
    etag: &str,
    cache_control: &'static str,
    content_type: &str,
    bytes: Bytes,
) -> Response {
    let validators = [(header::ETAG, etag.to_owned()), (header::CACHE_CONTROL, cache_control.to_owned())];
    if crate::api::crm::conditional(headers).not_modified(etag, None) {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    (validators, [(header::CONTENT_TYPE, content_type.to_owned())], bytes).into_response()
}
