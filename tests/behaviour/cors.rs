//! CORS (`CORS_ALLOWED_ORIGINS`): preflights answered before authentication on every route family,
//! the headers on real answers (errors included), and nothing at all for an origin not listed or
//! when CORS is off.

use axum::http::{HeaderValue, Method};
use property_contacts::cors::CorsOrigins;
use serde_json::json;

use crate::common::{TestApp, TestResponse, Tuning};
use crate::store_tests;

const FRONT_END: &str = "http://127.0.0.1:3000";
const STRANGER: &str = "http://127.0.0.1:4000";

fn listed() -> Tuning {
    Tuning { cors: CorsOrigins::List(vec![HeaderValue::from_static(FRONT_END)]), ..Tuning::default() }
}

fn any_origin() -> Tuning {
    Tuning { cors: CorsOrigins::Any, ..Tuning::default() }
}

/// One path per route family.
const FAMILIES: [&str; 7] = [
    "/api/v3/contacts",
    "/api/v3/contacts/1",
    "/api/v1/properties/NT7",
    "/contacts-api/properties/NT7/contacts",
    "/SUAPI/jservice/bdc/property/contact/set",
    "/api/v1/customers/c1/contacts",
    "/openapi.yaml",
];

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> TestResponse {
    app.call(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization, content-type, if-match, idempotency-key")
        .send()
        .await
}

fn lower(r: &TestResponse, name: &str) -> String {
    r.header(name).unwrap_or_default().to_ascii_lowercase()
}

fn assert_no_cors(r: &TestResponse) {
    let cors: Vec<_> = r.headers.keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
    assert!(cors.is_empty(), "unexpected CORS headers {cors:?}");
}

/// Preflights carry no key: answered before authentication (else 401) and rate limits.
async fn preflights_are_answered_for_listed_origins(app: TestApp) {
    for path in FAMILIES {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let r = preflight(&app, path, FRONT_END, method).await;
            assert_eq!(r.status.as_u16(), 204, "{method} {path}");
            assert_eq!(r.header("access-control-allow-origin"), Some(FRONT_END));
            assert!(
                lower(&r, "access-control-allow-methods").contains(&method.to_ascii_lowercase()),
                "{r:?}"
            );
            let allowed = lower(&r, "access-control-allow-headers");
            for h in ["authorization", "content-type", "if-match", "if-none-match", "idempotency-key"] {
                assert!(allowed.contains(h), "{h} missing from {allowed}");
            }
            assert!(r.header("access-control-max-age").is_some());
        }
    }
}

async fn real_answers_carry_cors_headers(app: TestApp) {
    // A create and a read as a browser sends them; errors (401) are readable by the page too.
    let created = app
        .call(Method::POST, "/api/v3/contacts")
        .auth(&app.admin)
        .header("origin", FRONT_END)
        .json(&json!({"firstName": "Ann"}))
        .send()
        .await;
    created.assert_status(201);
    let read = app.get("/api/v3/contacts/1").header("origin", FRONT_END).send().await;
    let unauthorised = app.call(Method::GET, "/api/v3/contacts").header("origin", FRONT_END).send().await;
    unauthorised.assert_status(401);
    let booking = app.get("/contacts-api/properties/NT7/contacts").header("origin", FRONT_END).send().await;
    let ops = app.call(Method::GET, "/livez").header("origin", FRONT_END).send().await;
    for r in [&created, &read, &unauthorised, &booking, &ops] {
        assert_eq!(r.header("access-control-allow-origin"), Some(FRONT_END), "{r:?}");
        let exposed = lower(r, "access-control-expose-headers");
        for h in ["etag", "location", "x-request-id", "retry-after"] {
            assert!(exposed.contains(h), "{h} missing from {exposed}");
        }
    }
}

async fn other_origins_get_no_cors_headers(app: TestApp) {
    // Not listed: no preflight answer (405, as without CORS) and no headers on real answers.
    let r = preflight(&app, "/api/v3/contacts", STRANGER, "POST").await;
    r.assert_status(405);
    assert_no_cors(&r);
    let r = app.get("/api/v3/contacts").header("origin", STRANGER).send().await;
    r.assert_status(200);
    assert_no_cors(&r);
    // A cache must not hand this answer to a listed origin.
    assert!(r.headers.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("origin")));
    // No Origin at all (curl, servers): untouched.
    let r = app.call(Method::OPTIONS, "/api/v3/contacts").send().await;
    r.assert_status(405);
    assert_no_cors(&r);
}

async fn any_origin_when_star(app: TestApp) {
    let r = preflight(&app, "/api/v3/contacts", STRANGER, "PATCH").await;
    r.assert_status(204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = app.get("/api/v3/contacts").header("origin", STRANGER).send().await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

async fn off_by_default(app: TestApp) {
    let r = preflight(&app, "/api/v3/contacts", FRONT_END, "POST").await;
    r.assert_status(405);
    assert_no_cors(&r);
    let r = app.get("/api/v3/contacts").header("origin", FRONT_END).send().await;
    r.assert_status(200);
    assert_no_cors(&r);
}

store_tests!(
    preflights_are_answered_for_listed_origins => listed(),
    real_answers_carry_cors_headers => listed(),
    other_origins_get_no_cors_headers => listed(),
    any_origin_when_star => any_origin(),
    off_by_default,
);
