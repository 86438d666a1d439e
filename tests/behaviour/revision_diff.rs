//! Issue 13 point 6: contact-set revision diff and restore.

use axum::http::Method;
use serde_json::{json, Value};

use crate::booking_compat::count_events;
use crate::common::TestApp;
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

fn revisions(id: &str) -> String {
    format!("/api/v1/properties/{id}/contacts/revisions")
}

async fn diff_matches_contacts_by_content(app: TestApp) {
    property(&app, "P1", "1").await;
    let john = contact(&["invoices"], "John Smith", "john@hotel.example", "+31201234568");
    app.put(&contacts_path("P1"), set(vec![sarah(), john.clone()])).send().await.assert_status(200);
    // John moves to the front with a new job title; Sarah stays; Jane is new.
    let mut john2 = john.clone();
    john2["contact_person"]["job_title"] = json!("Finance Manager");
    let jane = contact(&["requests"], "Jane Doe", "jane@hotel.example", "+31201234569");
    app.put(&contacts_path("P1"), set(vec![john2, sarah(), jane])).send().await.assert_status(200);

    let d = app.get(&format!("{}/1/diff/2", revisions("P1"))).send().await;
    d.assert_status(200);
    assert_eq!((d.body["from"].clone(), d.body["to"].clone()), (json!(1), json!(2)));
    let changes = d.body["contacts"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{:#}", d.body);
    assert_eq!(changes[0], json!({"change": "changed", "from_index": 0, "to_index": 1, "fields": []}));
    assert_eq!(
        changes[1],
        json!({"change": "changed", "from_index": 1, "to_index": 0, "fields": [
            {"field": "/contact_person/job_title", "from": "Reservations Manager", "to": "Finance Manager"}
        ]})
    );
    assert_eq!(changes[2]["change"], "added");
    assert_eq!(changes[2]["to_index"], 2);
    assert_eq!(changes[2]["contact"]["contact_person"]["name"], "Jane Doe");
    // The other way round, Jane is removed.
    let back = app.get(&format!("{}/2/diff/1", revisions("P1"))).send().await;
    let kinds: Vec<&str> =
        back.body["contacts"].as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["changed", "changed", "removed"]);
    assert_eq!(app.get(&format!("{}/2/diff/2", revisions("P1"))).send().await.body["contacts"], json!([]));
    app.get(&format!("{}/1/diff/9", revisions("P1"))).send().await.assert_problem(404);
    app.get(&format!("{}/1/diff/2", revisions("nowhere"))).send().await.assert_problem(404);
}

async fn restore_stores_a_new_equal_revision(app: TestApp) {
    property(&app, "P1", "1").await;
    let first = set(vec![sarah()]);
    app.put(&contacts_path("P1"), first.clone()).send().await.assert_status(200);
    let bad_push = set(vec![contact(&["general"], "Wrong", "wrong@hotel.example", "+31201234568")]);
    app.put(&contacts_path("P1"), bad_push).send().await.assert_status(200);
    let restore =
        |n: i64| app.call(Method::POST, &format!("{}/{n}/restore", revisions("P1"))).auth(&app.admin);

    // If-Match is the current revision's ETag.
    restore(1).header("if-match", "\"1\"").send().await.assert_problem(412);
    // A dry run answers and stores nothing.
    let dry = app
        .call(Method::POST, &format!("{}/1/restore?dry_run=true", revisions("P1")))
        .auth(&app.admin)
        .send()
        .await;
    dry.assert_status(200);
    assert_eq!(dry.body, json!({"revision": 3, "changed": true, "restored_from": 1, "dry_run": true}));
    assert_eq!(app.get(&contacts_path("P1")).send().await.body["data"]["revision"], 2);

    let r = restore(1).header("if-match", "\"2\"").send().await;
    r.assert_status(200);
    assert_eq!(r.body, json!({"revision": 3, "changed": true, "restored_from": 1}));
    assert_eq!(r.header("etag"), Some("\"3\""));
    let g = app.get(&contacts_path("P1")).send().await;
    assert_eq!(g.body["data"]["contacts"], first["contacts"]);
    assert_eq!(g.body["data"]["revision"], 3);
    // The same event as a PUT (read from the table on Postgres, see `count_events`).
    let data: Value = match app.pg_pool() {
        Some(pool) => {
            let (data,): (sqlx::types::Json<Value>,) = sqlx::query_as(
                "SELECT data FROM events WHERE type = 'contact_set.replaced' ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            data.0
        }
        None => {
            let feed = app.get("/api/v1/changes?limit=1000").send().await;
            let last = feed.body["items"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["type"], "contact_set.replaced");
            last["data"].clone()
        }
    };
    assert_eq!(data, json!({"property_id": "P1", "revision": 3}));
    assert_eq!(count_events(&app, "contact_set.replaced").await, 3, "two PUTs and the restore, no dry run");
    // Restoring what is already current stores nothing.
    let again = restore(3).send().await;
    again.assert_status(200);
    assert_eq!(again.body["changed"], false);
    assert_eq!(again.body["revision"], 3);
    // Unknown revision or property: 404; a read-only key: 403.
    restore(9).send().await.assert_problem(404);
    let reader = app.key("t1", &[property_contacts::store::Scope::Read]).await;
    app.call(Method::POST, &format!("{}/1/restore", revisions("P1")))
        .auth(&reader)
        .send()
        .await
        .assert_problem(403);
}

store_tests!(diff_matches_contacts_by_content, restore_stores_a_new_equal_revision);
