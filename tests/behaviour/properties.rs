//! The property registry (API.md section 3).

use axum::http::Method;
use serde_json::json;

use crate::common::TestApp;
use crate::store_tests;

async fn put_creates_then_updates(app: TestApp) {
    let r = app
        .put("/api/v1/properties/NT7", json!({"name": "Hotel Seven", "channel_mappings": [{"channel": "Booking", "channel_property_id": "12837615"}]}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.header("location"), Some("/api/v1/properties/NT7"));
    assert_eq!(r.body["property_id"], "NT7");
    assert_eq!(r.body["name"], "Hotel Seven");
    assert_eq!(
        r.body["channel_mappings"],
        json!([{"channel": "booking", "channel_property_id": "12837615"}])
    );
    assert_eq!(r.body["contact_set_revision"], 0);

    // Absent members are kept; present ones replace.
    let r = app.put("/api/v1/properties/NT7", json!({"name": "Renamed"})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["name"], "Renamed");
    assert_eq!(r.body["channel_mappings"][0]["channel_property_id"], "12837615");

    let r = app.put("/api/v1/properties/NT7", json!({"name": null, "channel_mappings": []})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["name"], json!(null));
    assert_eq!(r.body["channel_mappings"], json!([]));

    let r = app.get("/api/v1/properties/NT7").send().await;
    r.assert_status(200);
    assert_eq!(r.body["property_id"], "NT7");
}

async fn invalid_property_reports_every_error(app: TestApp) {
    let too_long = "x".repeat(65);
    let r = app
        .put(
            &format!("/api/v1/properties/{too_long}"),
            json!({"channel_mappings": [
                {"channel": "booking", "channel_property_id": ""},
                {"channel": "booking", "channel_property_id": "1"},
                {"channel": "no spaces", "channel_property_id": "2"}
            ]}),
        )
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(
        r.problem_errors(),
        vec![
            ("property_id".into(), "property_id_invalid".into()),
            ("/channel_mappings/0/channel_property_id".into(), "channel_property_id_invalid".into()),
            ("/channel_mappings/1/channel".into(), "channel_repeated".into()),
            ("/channel_mappings/2/channel".into(), "channel_invalid".into()),
        ]
    );
    // Nothing was stored.
    app.get(&format!("/api/v1/properties/{too_long}")).send().await.assert_problem(404);
}

async fn channel_listing_belongs_to_one_property(app: TestApp) {
    let mapping = json!({"channel_mappings": [{"channel": "booking", "channel_property_id": "555"}]});
    app.put("/api/v1/properties/A", mapping.clone()).send().await.assert_status(201);
    let r = app.put("/api/v1/properties/B", mapping).send().await;
    r.assert_problem(409);
    // The failed write left nothing behind.
    app.get("/api/v1/properties/B").send().await.assert_problem(404);
}

async fn list_pages_with_cursor(app: TestApp) {
    for id in ["p1", "p2", "p3", "p4", "p5"] {
        app.put(&format!("/api/v1/properties/{id}"), json!({})).send().await.assert_status(201);
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/properties?limit=2".to_owned());
    while let Some(url) = next.take() {
        let r = app.get(&url).send().await;
        r.assert_status(200);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|p| p["property_id"].as_str().unwrap().to_owned()));
        next = r.body["next_cursor"].as_str().map(|c| format!("/api/v1/properties?limit=2&cursor={c}"));
    }
    assert_eq!(seen, ["p1", "p2", "p3", "p4", "p5"]);

    let r = app.get("/api/v1/properties?cursor=%%%").send().await;
    r.assert_problem(400);
    let r = app.get("/api/v1/properties?limit=abc").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors()[0].0, "limit");
}

async fn delete_removes_property(app: TestApp) {
    app.put("/api/v1/properties/gone", json!({})).send().await.assert_status(201);
    app.delete("/api/v1/properties/gone").send().await.assert_status(204);
    app.get("/api/v1/properties/gone").send().await.assert_problem(404);
    app.delete("/api/v1/properties/gone").send().await.assert_problem(404);
}

async fn tenants_do_not_see_each_other(app: TestApp) {
    app.put("/api/v1/properties/shared-id", json!({"name": "mine"})).send().await.assert_status(201);
    let other =
        app.key("t2", &[property_contacts::store::Scope::Read, property_contacts::store::Scope::Admin]).await;
    app.call(Method::GET, "/api/v1/properties/shared-id").auth(&other).send().await.assert_problem(404);
    app.call(Method::DELETE, "/api/v1/properties/shared-id").auth(&other).send().await.assert_problem(404);
    let r = app.call(Method::GET, "/api/v1/properties").auth(&other).send().await;
    assert_eq!(r.body["items"], json!([]));
    // The same id is free in the other tenant and does not touch the first one's.
    app.call(Method::PUT, "/api/v1/properties/shared-id")
        .auth(&other)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .assert_status(201);
    assert_eq!(app.get("/api/v1/properties/shared-id").send().await.body["name"], "mine");
}

store_tests!(
    put_creates_then_updates,
    invalid_property_reports_every_error,
    channel_listing_belongs_to_one_property,
    list_pages_with_cursor,
    delete_removes_property,
    tenants_do_not_see_each_other,
);
