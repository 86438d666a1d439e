//! Issue 13 point 4: `?dry_run=true` runs every check a write makes, store checks included, and
//! answers what the write would, with nothing stored: no revision, no version bump, no change
//! event, no kept idempotency answer.

use axum::http::Method;
use serde_json::{json, Value};

use crate::booking_compat::count_events;
use crate::common::{TestApp, TestResponse};
use crate::fixtures::{contacts_path, property, sarah, set};
use crate::store_tests;

async fn post(app: &TestApp, path: &str, body: &Value) -> TestResponse {
    app.call(Method::POST, path).auth(&app.admin).json(body).send().await
}

fn su<'a>(app: &'a TestApp, path: &str, body: &Value) -> crate::common::Call<'a> {
    app.call(Method::POST, path).header("authorization", &app.admin).header("app-id", "t").json(body)
}

async fn booking_and_su_dry_runs_store_nothing(app: TestApp) {
    property(&app, "P1", "1").await;
    let dry = format!("{}?dry_run=true", contacts_path("P1"));
    let r = app.put(&dry, set(vec![sarah()])).send().await;
    r.assert_status(200);
    assert_eq!(r.body["data"]["dry_run"], true);
    assert_eq!(r.body["data"]["revision"], 1, "the revision the PUT would store");
    assert_eq!(r.body["data"]["changed"], true);
    assert_eq!(r.body["data"]["contacts"][0]["contact_person"]["name"], "Sarah Jansen");
    assert_eq!(r.header("etag"), None, "no validator for a revision never stored");
    // By hotel id as well, and dry_run=false is a real write.
    app.put(&format!("{}?dry_run=true", contacts_path("1")), set(vec![sarah()]))
        .send()
        .await
        .assert_status(200);
    let g = app.get(&contacts_path("P1")).send().await;
    assert_eq!(g.body["data"], json!({"contacts": [], "revision": 0}));
    let revisions = app.get("/api/v1/properties/P1/contacts/revisions").send().await;
    assert_eq!(revisions.body["items"], json!([]));
    assert_eq!(app.get("/api/v1/properties/P1").send().await.body["contact_set_revision"], 0);

    // The store's checks answer as the write would: 404 (635), 412 (447), and validation (400).
    let missing =
        app.put(&format!("{}?dry_run=true", contacts_path("nowhere")), set(vec![sarah()])).send().await;
    missing.assert_status(404);
    assert_eq!(missing.body["errors"][0]["code"], "635");
    let stale = app.put(&dry, set(vec![sarah()])).header("if-match", "\"5\"").send().await;
    stale.assert_status(412);
    assert_eq!(stale.body["errors"][0]["code"], "447");
    app.put(&dry, set(vec![sarah()])).header("if-match", "\"0\"").send().await.assert_status(200);
    app.put(&dry, json!({"contacts": []})).send().await.assert_status(400);
    app.put(&format!("{}?dry_run=yes", contacts_path("P1")), set(vec![sarah()]))
        .send()
        .await
        .assert_status(400);

    // SU: hotel checks included.
    let body = json!({"hotel_id": "P1", "channel_hotel_id": "1", "contacts": [sarah()]});
    let r = su(&app, "/SUAPI/jservice/bdc/property/contact/set?dry_run=true", &body).send().await;
    r.assert_status(200);
    assert_eq!(r.body["Status"], "Success");
    assert_eq!(r.body["Message"], "Property Contact-Details Valid (dry run): nothing stored");
    let wrong = json!({"hotel_id": "P1", "channel_hotel_id": "2", "contacts": [sarah()]});
    let r = su(&app, "/SUAPI/jservice/bdc/property/contact/set?dry_run=true", &wrong).send().await;
    assert_eq!(r.body["Errors"][0]["Code"], "573");
    assert_eq!(app.get(&contacts_path("P1")).send().await.body["data"]["revision"], 0);
    assert_eq!(count_events(&app, "contact_set.replaced").await, 0, "no event from any dry run");

    // The real PUT after them is revision 1, as the dry run said.
    let real = app.put(&format!("{}?dry_run=false", contacts_path("P1")), set(vec![sarah()])).send().await;
    assert_eq!(real.body["data"]["revision"], 1);
    assert_eq!(real.body["data"].get("dry_run"), None);
}

async fn crm_dry_runs_store_nothing(app: TestApp) {
    property(&app, "P1", "1").await;
    let ann = json!({"firstName": "Ann", "lastName": "Jansen", "propertyIds": ["P1"],
                     "emailAddresses": [{"emailAddress": "ann@example.com"}]});
    let a = post(&app, "/api/v3/contacts", &ann).await;
    a.assert_status(201);
    let bob = post(&app, "/api/v3/contacts", &json!({"firstName": "Bob"})).await;
    let (a_id, b_id) = (a.body["id"].as_i64().unwrap(), bob.body["id"].as_i64().unwrap());

    // Create: the answer the create would give, store checks (property ids) included.
    let r =
        post(&app, "/api/v3/contacts?dry_run=true", &json!({"firstName": "Cy", "propertyIds": ["P1"]})).await;
    r.assert_status(201);
    assert_eq!(r.body["firstName"], "Cy");
    assert_eq!(r.body["version"], 1);
    let r =
        post(&app, "/api/v3/contacts?dry_run=true", &json!({"lastName": "x", "propertyIds": ["nowhere"]}))
            .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/propertyIds/0".into(), "property_unknown".into())]);
    let list = app.get("/api/v3/contacts").send().await;
    assert_eq!(list.body["page"]["totalElements"], 2, "the dry-run create stored nothing");

    // Overwrite: If-Match checked, version not bumped.
    let path = format!("/api/v3/contacts/{a_id}?dry_run=true");
    let body = json!({"firstName": "Anna"});
    let r = app.put(&path, body.clone()).header("if-match", "\"7\"").send().await;
    r.assert_problem(412);
    let r = app.put(&path, body.clone()).header("if-match", "\"1\"").send().await;
    r.assert_status(200);
    assert_eq!((r.body["firstName"].clone(), r.body["version"].clone()), (json!("Anna"), json!(2)));
    let stored = app.get(&format!("/api/v3/contacts/{a_id}")).send().await;
    assert_eq!((stored.body["firstName"].clone(), stored.body["version"].clone()), (json!("Ann"), json!(1)));

    // Merge: the answer, refusals included, and both contacts untouched.
    let merge = json!({"primaryContactId": a_id, "secondaryContactId": b_id});
    let r = post(&app, "/api/v3/contacts/merge?dry_run=true", &merge).await;
    r.assert_status(200);
    assert_eq!(r.body["success"], true);
    let same = json!({"primaryContactId": a_id, "secondaryContactId": a_id});
    assert_eq!(post(&app, "/api/v3/contacts/merge?dry_run=true", &same).await.body["success"], false);
    app.get(&format!("/api/v3/contacts/{b_id}")).send().await.assert_status(200);
    assert_eq!(app.get(&format!("/api/v3/contacts/{a_id}")).send().await.body["version"], 1);
    assert_eq!(count_events(&app, "contact.created").await, 2, "the two real creates only");
    for kind in ["contact.updated", "contact.merged"] {
        assert_eq!(count_events(&app, kind).await, 0, "no {kind} from a dry run");
    }

    // Not a boolean: 400 naming the parameter.
    let r = post(&app, "/api/v3/contacts?dry_run=maybe", &json!({"firstName": "Cy"})).await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors()[0].0, "dry_run");
}

async fn customer_dry_run_stores_nothing(app: TestApp) {
    let body = json!({"contacts": [{"type": "billing", "name": "John Smith", "work_phone": "914-721-2006"}]});
    let r = post(&app, "/api/v1/customers/c-1/contacts?dry_run=true", &body).await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "Success");
    let bad = json!({"contacts": [{"type": "billing", "name": "N", "fax": "1"}]});
    post(&app, "/api/v1/customers/c-1/contacts?dry_run=true", &bad).await.assert_status(400);
    app.get("/api/v1/customers/c-1/contacts").send().await.assert_status(404);
    assert_eq!(count_events(&app, "customer_contacts.replaced").await, 0);
    post(&app, "/api/v1/customers/c-1/contacts", &body).await.assert_status(200);
    app.get("/api/v1/customers/c-1/contacts").send().await.assert_status(200);
    assert_eq!(count_events(&app, "customer_contacts.replaced").await, 1, "the count can see one");
}

async fn a_dry_run_keeps_no_idempotency_answer(app: TestApp) {
    let keyed = |path: &str| {
        app.call(Method::POST, path)
            .auth(&app.admin)
            .header("idempotency-key", "k-1")
            .json(&json!({"firstName": "Cy"}))
    };
    keyed("/api/v3/contacts?dry_run=true").send().await.assert_status(201);
    let again = keyed("/api/v3/contacts?dry_run=true").send().await;
    again.assert_status(201);
    assert_eq!(again.header("idempotent-replayed"), None, "a dry run is never replayed");
    // The key is still free for a real request (a kept dry-run answer would make this 422).
    let real = keyed("/api/v3/contacts").send().await;
    real.assert_status(201);
    assert_eq!(real.header("idempotent-replayed"), None);
    assert_eq!(keyed("/api/v3/contacts").send().await.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.get("/api/v3/contacts").send().await.body["page"]["totalElements"], 1);
}

store_tests!(
    booking_and_su_dry_runs_store_nothing,
    crm_dry_runs_store_nothing,
    customer_dry_run_stores_nothing,
    a_dry_run_keeps_no_idempotency_answer,
);
