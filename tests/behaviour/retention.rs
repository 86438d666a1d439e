//! Retention of history and of the audit log (issue 16, point 4).

use chrono::{Duration, Utc};
use property_contacts::store::History;
use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::crm::{create, path, post};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

async fn prune_history(app: &TestApp, before: chrono::DateTime<Utc>) -> Vec<(History, u64)> {
    use property_contacts::retention::prune_history;
    match &app.backend {
        Backend::Sqlite(s) => prune_history(s, before).await.unwrap(),
        Backend::Postgres(s) => prune_history(s, before).await.unwrap(),
    }
}

async fn prune_audit(app: &TestApp, before: chrono::DateTime<Utc>) -> u64 {
    use property_contacts::retention::prune_audit;
    match &app.backend {
        Backend::Sqlite(s) => prune_audit(s, before).await.unwrap(),
        Backend::Postgres(s) => prune_audit(s, before).await.unwrap(),
    }
}

async fn old_history_goes_and_current_versions_stay(app: TestApp) {
    property(&app, "hotel-a", "1001").await;
    app.put(&contacts_path("hotel-a"), set(vec![sarah()])).send().await.assert_status(200);
    let second = contact(&["general"], "Piet Bakker", "piet@hotel.example", "+31201234568");
    app.put(&contacts_path("hotel-a"), set(vec![second])).send().await.assert_status(200);
    let primary = create(&app, json!({"firstName": "Anna", "lastName": "Berg"})).await["id"].clone();
    let secondary = create(&app, json!({"firstName": "Anna", "lastName": "B."})).await["id"].clone();
    let r = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": primary, "secondaryContactId": secondary}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true);
    app.get(&path(&secondary)).send().await.assert_problem(410);

    // Nothing is older than a day: nothing goes.
    let none = prune_history(&app, Utc::now() - Duration::days(1)).await;
    assert!(none.iter().all(|(_, n)| *n == 0), "{none:?}");

    let counts = prune_history(&app, Utc::now() + Duration::seconds(1)).await;
    assert_eq!(
        counts,
        [(History::CrmRevisions, 2), (History::ContactSetRevisions, 1), (History::Tombstones, 1)],
        "both contacts' create revisions, the first set, the tombstone"
    );
    let r = app.get(&format!("{}/revisions", path(&primary))).send().await;
    r.assert_status(200);
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.body);
    app.get(&path(&secondary)).send().await.assert_problem(404);
    let r = app.get("/api/v1/properties/hotel-a/contacts/revisions").send().await;
    let revisions: Vec<i64> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["revision"].as_i64().unwrap()).collect();
    assert_eq!(revisions, [2]);
    app.get("/api/v1/properties/hotel-a/contacts/revisions/1").send().await.assert_problem(404);
    // The current set is served as before.
    let r = app.get(&contacts_path("hotel-a")).send().await;
    assert_eq!(r.body["data"]["revision"], 2);

    // A second run finds nothing more.
    let again = prune_history(&app, Utc::now() + Duration::seconds(1)).await;
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

async fn old_audit_entries_go(app: TestApp) {
    property(&app, "hotel-a", "1001").await;
    property(&app, "hotel-b", "1002").await;
    assert_eq!(prune_audit(&app, Utc::now() - Duration::days(1)).await, 0);
    assert_eq!(prune_audit(&app, Utc::now() + Duration::seconds(1)).await, 2);
    let r = app.get("/api/v1/audit").send().await;
    assert_eq!(r.body["items"], json!([]));
}

store_tests!(old_history_goes_and_current_versions_stay, old_audit_entries_go);
