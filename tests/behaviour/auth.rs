//! API keys and scopes (API.md section 2).

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::json;

use crate::common::TestApp;
use crate::store_tests;

async fn missing_or_unknown_key_is_401(app: TestApp) {
    let r = app.call(Method::GET, "/api/v1/properties").send().await;
    r.assert_problem(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = app.call(Method::GET, "/api/v1/properties").auth("pck_nope_nope").send().await;
    r.assert_problem(401);
}

async fn revoked_key_is_401(app: TestApp) {
    let key = app.key("t1", &[Scope::Read]).await;
    app.call(Method::GET, "/api/v1/properties").auth(&key).send().await.assert_status(200);
    app.revoke(&key).await;
    app.call(Method::GET, "/api/v1/properties").auth(&key).send().await.assert_problem(401);
}

async fn scopes_are_enforced(app: TestApp) {
    let read_only = app.key("t1", &[Scope::Read]).await;
    let r = app.call(Method::PUT, "/api/v1/properties/p").auth(&read_only).json(&json!({})).send().await;
    r.assert_problem(403);
    assert!(r.body["detail"].as_str().unwrap().contains("admin"));

    let writer = app.key("t1", &[Scope::Write]).await;
    app.call(Method::PUT, "/api/v1/properties/p")
        .auth(&writer)
        .json(&json!({}))
        .send()
        .await
        .assert_problem(403);
    app.call(Method::GET, "/api/v1/properties").auth(&writer).send().await.assert_problem(403);
    // The scope is checked before the body: a bad body does not turn the 403 into a 400 or 422.
    let r = app
        .call(Method::PUT, "/api/v1/properties/p")
        .auth(&read_only)
        .json(&json!({"bogus": 1}))
        .send()
        .await;
    r.assert_problem(403);
    let r = app
        .call(Method::PUT, "/api/v1/properties/p")
        .auth(&read_only)
        .raw("application/json", "{not json")
        .send()
        .await;
    r.assert_problem(403);
    // Nothing was created by the refused writes.
    app.get("/api/v1/properties/p").send().await.assert_problem(404);
}

store_tests!(missing_or_unknown_key_is_401, revoked_key_is_401, scopes_are_enforced);
