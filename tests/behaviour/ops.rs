//! Operator endpoints and the OpenAPI contract.

use std::collections::BTreeSet;

use crate::common::TestApp;
use crate::store_tests;

async fn health_endpoints_answer_without_auth(app: TestApp) {
    app.call(axum::http::Method::GET, "/livez").send().await.assert_status(200);
    let r = app.call(axum::http::Method::GET, "/readyz").send().await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "ready");
    let r = app.call(axum::http::Method::GET, "/openapi.yaml").send().await;
    r.assert_status(200);
    assert_eq!(r.header("content-type"), Some("application/yaml"));
}

store_tests!(health_endpoints_answer_without_auth);

/// Every route is in `openapi.yaml` and every operation there has a route.
#[test]
fn openapi_matches_routes() {
    let spec: serde_yaml::Value = serde_yaml::from_str(property_contacts::api::ops::OPENAPI_YAML).unwrap();
    let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        let path = path.as_str().unwrap();
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if methods.contains(&method) {
                documented.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    let served: BTreeSet<_> = property_contacts::api::route_inventory().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.yaml: {undocumented:?}");
    assert!(unserved.is_empty(), "openapi.yaml operations with no route: {unserved:?}");
}

/// Every POST takes `Idempotency-Key` (the router applies it to every POST route) and declares the
/// 409 and 422 answers it can give.
#[test]
fn every_post_declares_idempotency_key() {
    let spec: serde_yaml::Value = serde_yaml::from_str(property_contacts::api::ops::OPENAPI_YAML).unwrap();
    let key_ref = "#/components/parameters/IdempotencyKey";
    assert_eq!(spec["components"]["parameters"]["IdempotencyKey"]["name"], "Idempotency-Key");
    let mut posts = 0;
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        let Some(post) = item.get("post") else { continue };
        posts += 1;
        let params = post["parameters"].as_sequence().map(Vec::as_slice).unwrap_or_default();
        assert!(
            params.iter().any(|p| p["$ref"].as_str() == Some(key_ref)),
            "POST {path:?} does not declare Idempotency-Key"
        );
        for status in ["400", "409", "422"] {
            assert!(post["responses"].get(status).is_some(), "POST {path:?} does not declare {status}");
        }
    }
    let served = property_contacts::api::route_inventory().into_iter().filter(|(m, _)| m == "POST").count();
    assert_eq!(posts, served);
}

/// The value of the sample whose line starts with `series` (name and labels), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let r = app.call(axum::http::Method::GET, "/metrics").send().await;
    r.assert_status(200);
    r.body.as_str().expect("text body").to_owned()
}

async fn metrics_count_domain_events(app: TestApp) {
    let replaces = r#"contact_set_replaces_total{dialect="booking"}"#;
    let email_failures = r#"validation_failures_total{code="email_invalid"}"#;
    let merges = r#"crm_merges_total{outcome="no_op"}"#;
    let before = scrape(&app).await;
    crate::fixtures::property(&app, "m1", "1").await;
    let mut body = crate::fixtures::set(vec![crate::fixtures::sarah()]);
    app.put(&crate::fixtures::contacts_path("m1"), body.clone()).send().await.assert_status(200);
    body["contacts"][0]["email"] = serde_json::json!("nope");
    app.put(&crate::fixtures::contacts_path("m1"), body).send().await.assert_status(400);
    let r = app
        .call(axum::http::Method::POST, "/api/v3/contacts/merge")
        .auth(&app.admin)
        .json(&serde_json::json!({"primaryContactId": 1, "secondaryContactId": 1}))
        .send()
        .await;
    assert_eq!(r.body["success"], false);
    let after = scrape(&app).await;
    // Other tests share the process-wide recorder, so counters only ever rise by at least ours.
    for series in [replaces, email_failures, merges] {
        assert!(sample(&after, series) >= sample(&before, series) + 1.0, "{series} did not rise:\n{after}");
    }
}

async fn metrics_count_requests_by_route(app: TestApp) {
    app.get("/api/v1/properties/p-metrics").send().await.assert_problem(404);
    let r = app.call(axum::http::Method::GET, "/metrics").send().await;
    r.assert_status(200);
    let text = r.body.as_str().expect("text body");
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/api/v1/properties/{property_id}""#), "matched route label: {text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("db_pool_connections"), "{text}");
    assert!(text.contains("log_lines_dropped_total"), "present before any line is dropped: {text}");
    if matches!(app.backend, crate::common::Backend::Postgres(_)) {
        for pool in ["main", "pipeline"] {
            assert!(text.contains(&format!(r#"pool="{pool}""#)), "{pool} pool: {text}");
        }
    }
}

async fn docs_page_is_served_locally(app: TestApp) {
    let r = app.call(axum::http::Method::GET, "/docs/").send().await;
    assert_eq!(r.status.as_u16(), 308);
    assert_eq!(r.header("location"), Some("/docs"));
    let r = app.call(axum::http::Method::GET, "/docs").send().await;
    r.assert_status(200);
    let html = r.body.as_str().unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Relative asset links resolve under /docs/, behind any host, port or path prefix.
    assert!(html.contains(r#"<base href="docs/">"#) && html.contains("./swagger-ui.css"), "{html}");
    // Every script and stylesheet is ours: nothing is fetched from another host.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "{html}");
    let init = app.call(axum::http::Method::GET, "/docs/swagger-initializer.js").send().await;
    init.assert_status(200);
    assert!(init.body.as_str().unwrap().contains("/openapi.yaml"));
    app.call(axum::http::Method::GET, "/docs/swagger-ui-bundle.js").send().await.assert_status(200);
    app.call(axum::http::Method::GET, "/docs/nope.js").send().await.assert_problem(404);
}

store_tests!(metrics_count_requests_by_route, metrics_count_domain_events, docs_page_is_served_locally);
