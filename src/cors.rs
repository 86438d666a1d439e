//! Cross-origin calls from browsers (CORS), for web front ends served from another origin.
//!
//! Off unless `CORS_ALLOWED_ORIGINS` lists origins (or is `*`). A request from a listed origin goes
//! through tower-http's [`CorsLayer`], which answers a preflight itself, before the router, so
//! authentication and rate limits never see one; every other request goes to the router untouched,
//! so an origin not listed gets no `Access-Control-*` header, and `OPTIONS` without a listed origin
//! stays 405.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser may send cross-origin.
const ALLOWED_HEADERS: [HeaderName; 8] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("request-tracking-id"),
    HeaderName::from_static("app-id"),
];

/// Response headers a browser script may read beyond the CORS-safelisted ones.
const EXPOSED_HEADERS: [HeaderName; 6] = [
    header::ETAG,
    header::LOCATION,
    header::RETRY_AFTER,
    header::LINK,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("idempotent-replayed"),
];

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The origins allowed to call the service from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// CORS off (the default).
    #[default]
    None,
    /// `*`: any origin.
    Any,
    /// Exactly these origins (`scheme://host[:port]`, as browsers send `Origin`).
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Reads `CORS_ALLOWED_ORIGINS`: empty, `*`, or comma-separated origins such as
    /// `https://pms.example.com,http://127.0.0.1:3000`.
    pub fn parse(value: &str) -> Result<CorsOrigins, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(CorsOrigins::None);
        }
        if value == "*" {
            return Ok(CorsOrigins::Any);
        }
        let mut origins = Vec::new();
        for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            origins.push(parse_origin(origin)?);
        }
        Ok(if origins.is_empty() { CorsOrigins::None } else { CorsOrigins::List(origins) })
    }

    /// Whether a request with this `Origin` gets CORS headers.
    pub fn allows(&self, origin: Option<&HeaderValue>) -> bool {
        match (self, origin) {
            (CorsOrigins::None, _) | (_, None) => false,
            (CorsOrigins::Any, Some(_)) => true,
            (CorsOrigins::List(list), Some(origin)) => list.iter().any(|o| o == origin),
        }
    }
}

/// One origin, normalised the way browsers serialise it (lower-case scheme and host, no path).
fn parse_origin(origin: &str) -> Result<HeaderValue, String> {
    let bad = || format!("CORS_ALLOWED_ORIGINS: `{origin}` is not an origin such as https://app.example.com");
    let url = url::Url::parse(origin).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(bad());
    }
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|_| bad())
}

/// `app` with CORS for `origins`; unchanged when CORS is off.
pub fn wrap(app: Router, origins: &CorsOrigins) -> Router {
    if *origins == CorsOrigins::None {
        return app;
    }
    // Around the whole router (not per route), so a path or method without a route is covered too.
    let cors = Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .layer(axum::middleware::map_response(no_content))
            .layer(layer(origins))
            .service(app.clone()),
    );
    // An answer without CORS headers must not be reused from a cache for a listed origin.
    let app = Router::new().fallback_service(
        tower::ServiceBuilder::new().layer(axum::middleware::map_response(vary_on_origin)).service(app),
    );
    let origins = origins.clone();
    Router::new().fallback_service(tower::service_fn(move |req: Request| {
        let route =
            if origins.allows(req.headers().get(header::ORIGIN)) { cors.clone() } else { app.clone() };
        route.oneshot(req)
    }))
}

fn layer(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
        _ => AllowOrigin::any(),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

async fn vary_on_origin(mut resp: Response) -> Response {
    resp.headers_mut().append(header::VARY, HeaderValue::from_static("origin"));
    resp
}

/// A preflight answer has no content: 204 rather than tower-http's 200.
async fn no_content(mut resp: Response) -> Response {
    if resp.status() == StatusCode::OK && resp.headers().contains_key(header::ACCESS_CONTROL_ALLOW_METHODS) {
        *resp.status_mut() = StatusCode::NO_CONTENT;
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_origin_lists() {
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        let list = CorsOrigins::parse("https://PMS.example.com, http://127.0.0.1:3000/").unwrap();
        assert_eq!(
            list,
            CorsOrigins::List(vec![
                HeaderValue::from_static("https://pms.example.com"),
                HeaderValue::from_static("http://127.0.0.1:3000"),
            ])
        );
        assert!(list.allows(Some(&HeaderValue::from_static("http://127.0.0.1:3000"))));
        assert!(!list.allows(Some(&HeaderValue::from_static("http://127.0.0.1:3001"))));
        assert!(!list.allows(None));
        for bad in
            ["pms.example.com", "https://pms.example.com/app", "ftp://x.example", "https://u@x.example"]
        {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
