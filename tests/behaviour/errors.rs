//! The error model (API.md section 1): problem+json for every failure, with the right status.

use axum::http::Method;
use serde_json::json;

use crate::common::TestApp;
use crate::fixtures::{contacts_path, property, sarah, set};
use crate::store_tests;

async fn malformed_json_is_400(app: TestApp) {
    let r = app
        .call(Method::PUT, "/api/v1/properties/p")
        .auth(&app.admin)
        .raw("application/json", "{\"name\": ")
        .send()
        .await;
    r.assert_problem(400);
    // A type error followed by garbage is still malformed, not merely invalid.
    let r = app
        .call(Method::PUT, "/api/v1/properties/p")
        .auth(&app.admin)
        .raw("application/json", "{\"name\": 1")
        .send()
        .await;
    r.assert_problem(400);
}

async fn wrong_content_type_is_415(app: TestApp) {
    let r =
        app.call(Method::PUT, "/api/v1/properties/p").auth(&app.admin).raw("text/plain", "{}").send().await;
    r.assert_problem(415);
    let r = app.call(Method::PUT, "/api/v1/properties/p").auth(&app.admin).send().await;
    r.assert_problem(415);
    // A +json media type is JSON.
    let r = app
        .call(Method::PUT, "/api/v1/properties/p")
        .auth(&app.admin)
        .raw("application/merge-patch+json", "{}")
        .send()
        .await;
    r.assert_status(201);
}

/// A body declared compressed is refused, not parsed as if it were plain, on every family.
async fn compressed_body_is_415(app: TestApp) {
    let put = |path: &str, body: &serde_json::Value, coding: &str| {
        app.call(Method::PUT, path)
            .auth(&app.admin)
            .header("content-encoding", coding)
            .raw("application/json", body.to_string())
    };
    let r = put("/api/v1/properties/p", &json!({"name": "Plain"}), "gzip").send().await;
    r.assert_problem(415);
    assert_eq!(r.header("accept-encoding"), Some("identity"));
    app.get("/api/v1/properties/p").send().await.assert_problem(404);

    property(&app, "Z1", "91").await;
    let r = put(&contacts_path("Z1"), &set(vec![sarah()]), "br").send().await;
    r.assert_status(415);
    assert_eq!(r.header("accept-encoding"), Some("identity"));
    assert_eq!(app.get(&contacts_path("Z1")).send().await.body["data"]["revision"], 0);

    let r = app
        .call(Method::PATCH, "/api/v3/contacts/1")
        .auth(&app.admin)
        .header("content-encoding", "deflate")
        .raw("application/merge-patch+json", "{}")
        .send()
        .await;
    r.assert_problem(415);

    let r = app
        .call(Method::POST, "/api/v1/customers/gz-1/contacts")
        .auth(&app.admin)
        .header("content-encoding", "gzip")
        .raw("application/json", "{}")
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(r.header("accept-encoding"), Some("identity"));
    app.get("/api/v1/customers/gz-1/contacts").send().await.assert_status(404);
    // `identity` is no coding at all.
    put("/api/v1/properties/p", &json!({"name": "Plain"}), "identity").send().await.assert_status(201);
}

async fn oversized_body_is_413(app: TestApp) {
    let big = json!({"name": "x".repeat(300 * 1024)});
    let r = app.put("/api/v1/properties/p", big).send().await;
    r.assert_problem(413);
    app.get("/api/v1/properties/p").send().await.assert_problem(404);
}

async fn shape_errors_are_422_with_pointer(app: TestApp) {
    let r = app.put("/api/v1/properties/p", json!({"name": "ok", "surprise": true})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/surprise".to_owned(), "unknown_member".to_owned())]);
    let r =
        app.put("/api/v1/properties/p", json!({"channel_mappings": [{"channel": "booking"}]})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/channel_mappings/0".to_owned(), "required".to_owned())]);
}

async fn unknown_route_is_404_and_wrong_method_405(app: TestApp) {
    let r = app.get("/api/v1/nothing-here").send().await;
    r.assert_problem(404);
    assert_eq!(r.body["instance"], "/api/v1/nothing-here");
    let r = app.call(Method::PATCH, "/api/v1/properties/p").auth(&app.admin).send().await;
    r.assert_problem(405);
    let allow = r.header("allow").unwrap();
    for m in ["GET", "PUT", "DELETE"] {
        assert!(allow.contains(m), "Allow: {allow}");
    }
}

async fn request_id_is_kept_or_made(app: TestApp) {
    let r = app.get("/api/v1/properties/none").header("x-request-id", "abc-123").send().await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    assert_eq!(r.body["request_id"], "abc-123");
    let r = app.get("/livez").send().await;
    assert_eq!(r.header("x-request-id").map(str::len), Some(36));
}

store_tests!(
    malformed_json_is_400,
    wrong_content_type_is_415,
    compressed_body_is_415,
    oversized_body_is_413,
    shape_errors_are_422_with_pointer,
    unknown_route_is_404_and_wrong_method_405,
    request_id_is_kept_or_made,
);
