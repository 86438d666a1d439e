//! Contact-set history (API.md section 3).

use serde_json::json;

use crate::common::TestApp;
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

async fn every_accepted_set_is_a_revision(app: TestApp) {
    property(&app, "H1", "1").await;
    let empty = app.get("/api/v1/properties/H1/contacts/revisions").send().await;
    empty.assert_status(200);
    assert_eq!(empty.body["items"], json!([]));

    let first = set(vec![sarah()]);
    let second = set(vec![sarah(), contact(&["parity"], "Pia", "pia@hotel.example", "+31201234571")]);
    app.put(&contacts_path("H1"), first.clone()).send().await.assert_status(200);
    app.put(&contacts_path("H1"), second.clone()).send().await.assert_status(200);
    // A rejected PUT adds no revision.
    app.put(&contacts_path("H1"), set(vec![])).send().await.assert_status(400);

    let r = app.get("/api/v1/properties/H1/contacts/revisions").send().await;
    r.assert_status(200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["revision"], 2);
    assert_eq!(items[0]["contact_count"], 2);
    assert_eq!(items[0]["created_by"], "test-key");
    assert_eq!(items[1]["revision"], 1);
    assert_eq!(items[1]["contact_count"], 1);

    let r = app.get("/api/v1/properties/H1/contacts/revisions/1").send().await;
    r.assert_status(200);
    assert_eq!(r.body["contacts"], first["contacts"]);
    assert_eq!(r.body["revision"], 1);
    let r = app.get("/api/v1/properties/H1/contacts/revisions/2").send().await;
    assert_eq!(r.body["contacts"], second["contacts"]);
    app.get("/api/v1/properties/H1/contacts/revisions/3").send().await.assert_problem(404);
    let r = app.get("/api/v1/properties/H1/contacts/revisions/x").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), vec![("revision".to_owned(), "invalid_path_parameter".to_owned())]);

    // Paging: one at a time, newest first.
    let r = app.get("/api/v1/properties/H1/contacts/revisions?limit=1").send().await;
    assert_eq!(r.body["items"][0]["revision"], 2);
    assert_eq!(r.body["next_before"], 2);
    let r = app.get("/api/v1/properties/H1/contacts/revisions?limit=1&before=2").send().await;
    assert_eq!(r.body["items"][0]["revision"], 1);
    assert!(r.body.get("next_before").is_none());
}

async fn history_is_tenant_scoped_and_deleted_with_the_property(app: TestApp) {
    property(&app, "H2", "1").await;
    app.put(&contacts_path("H2"), set(vec![sarah()])).send().await.assert_status(200);
    let other = app.key("t2", &[property_contacts::store::Scope::Read]).await;
    app.call(axum::http::Method::GET, "/api/v1/properties/H2/contacts/revisions/1")
        .auth(&other)
        .send()
        .await
        .assert_problem(404);
    app.call(axum::http::Method::GET, "/api/v1/properties/H2/contacts/revisions")
        .auth(&other)
        .send()
        .await
        .assert_problem(404);

    app.delete("/api/v1/properties/H2").send().await.assert_status(204);
    app.get("/api/v1/properties/H2/contacts/revisions").send().await.assert_problem(404);
    app.get("/api/v1/properties/H2/contacts/revisions/1").send().await.assert_problem(404);
    // Re-creating the id starts from nothing.
    property(&app, "H2", "1").await;
    let g = app.get(&contacts_path("H2")).send().await;
    assert_eq!(g.body["data"], json!({"contacts": [], "revision": 0}));
}

store_tests!(every_accepted_set_is_a_revision, history_is_tenant_scoped_and_deleted_with_the_property);
