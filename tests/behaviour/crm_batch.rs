//! `POST /api/v3/contacts/batch` and `externalId`.

use serde_json::{json, Value};

use crate::common::TestApp;
use crate::crm::{create, path, post};
use crate::crm_cleanup::event_count;
use crate::store_tests;

store_tests!(
    atomic_batch_stores_all_or_nothing,
    per_item_batch_stores_each_valid_item,
    external_id_upserts_and_is_unique,
    batch_is_bounded_and_idempotent,
    batch_creates_store_what_single_creates_do,
    a_full_batch_spans_many_statements,
);

const BATCH: &str = "/api/v3/contacts/batch";

async fn total(app: &TestApp) -> i64 {
    let r = app.get("/api/v3/contacts").send().await;
    r.assert_status(200);
    r.body["page"]["totalElements"].as_i64().unwrap()
}

fn statuses(body: &Value) -> Vec<(u64, &str)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["status"].as_u64().unwrap(), i["outcome"].as_str().unwrap()))
        .collect()
}

async fn atomic_batch_stores_all_or_nothing(app: TestApp) {
    let items = json!([
        {"firstName": "Ann"},
        {"title": "Dr", "gender": "unknown"},
        {"lastName": "Berg"}
    ]);
    let events = event_count(&app).await;
    let r = post(&app, BATCH, json!({"atomic": true, "items": items})).send().await;
    r.assert_status(422);
    assert_eq!(statuses(&r.body), [(424, "NOT_STORED"), (422, "FAILED"), (424, "NOT_STORED")]);
    let pointers: Vec<&str> = r.body["items"][1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/items/1/firstName"), "{pointers:?}");
    assert!(pointers.contains(&"/items/1/gender"), "{pointers:?}");
    assert_eq!(total(&app).await, 0);
    assert_eq!(event_count(&app).await, events);
    // A failure only the store sees (an unknown contact to update) also rolls back the rest.
    let r = post(&app, BATCH, json!({"items": [{"firstName": "Ann"}, {"id": 999999, "firstName": "Bo"}]}))
        .send()
        .await;
    r.assert_status(422);
    assert_eq!(statuses(&r.body), [(424, "NOT_STORED"), (404, "FAILED")]);
    assert_eq!(total(&app).await, 0);
    assert_eq!(event_count(&app).await, events);
    // All valid: all stored, 201 each, one event each.
    let r = post(&app, BATCH, json!({"items": [{"firstName": "Ann"}, {"lastName": "Berg"}]})).send().await;
    r.assert_status(201);
    assert_eq!(statuses(&r.body), [(201, "CREATED"), (201, "CREATED")]);
    assert_eq!(total(&app).await, 2);
    assert_eq!(event_count(&app).await, events + 2);
    let id = r.body["items"][0]["id"].clone();
    let read = app.get(&path(&id)).send().await;
    assert_eq!(read.body["firstName"], "Ann");
    assert_eq!(read.body["version"], r.body["items"][0]["version"]);
}

async fn per_item_batch_stores_each_valid_item(app: TestApp) {
    let existing = create(&app, json!({"firstName": "Old"})).await;
    let events = event_count(&app).await;
    let r = post(
        &app,
        BATCH,
        json!({"atomic": false, "items": [
            {"firstName": "New"},
            {"id": existing["id"], "firstName": "Renamed"},
            {"title": "nameless"},
            {"id": 999999, "firstName": "Nobody"}
        ]}),
    )
    .send()
    .await;
    r.assert_status(207);
    assert_eq!(statuses(&r.body), [(201, "CREATED"), (200, "UPDATED"), (422, "FAILED"), (404, "FAILED")]);
    assert_eq!(r.body["items"][2]["errors"][0]["pointer"], "/items/2/firstName");
    assert_eq!(r.body["items"][3]["errors"][0]["pointer"], "/items/3/id");
    assert_eq!(total(&app).await, 2);
    assert_eq!(event_count(&app).await, events + 2);
    let read = app.get(&path(&existing["id"])).send().await;
    assert_eq!(read.body["firstName"], "Renamed");
    assert_eq!(read.body["version"], 2);
    // Per item: a created item is found by search like any other contact.
    let r = app.get("/api/v3/contacts?q=new").send().await;
    assert_eq!(r.body["page"]["totalElements"], 1);
}

async fn external_id_upserts_and_is_unique(app: TestApp) {
    let r = post(
        &app,
        BATCH,
        json!({"items": [
            {"externalId": "PMS-1", "firstName": "Ann"},
            {"externalId": "PMS-2", "firstName": "Bo"}
        ]}),
    )
    .send()
    .await;
    r.assert_status(201);
    let first = r.body["items"][0]["id"].clone();
    // The same external ids again: updates of the same contacts, and a new one created.
    let r = post(
        &app,
        BATCH,
        json!({"atomic": false, "items": [
            {"externalId": "PMS-1", "firstName": "Ann", "lastName": "Jansen"},
            {"externalId": "PMS-3", "firstName": "Cy"}
        ]}),
    )
    .send()
    .await;
    r.assert_status(207);
    assert_eq!(statuses(&r.body), [(200, "UPDATED"), (201, "CREATED")]);
    assert_eq!(r.body["items"][0]["id"], first);
    let cy = r.body["items"][1]["id"].clone();
    let read = app.get(&path(&first)).send().await;
    assert_eq!(read.body["lastName"], "Jansen");
    assert_eq!(read.body["externalId"], "PMS-1");
    // Filterable.
    let r = app.get("/api/v3/contacts?externalId=PMS-1").send().await;
    assert_eq!(r.body["content"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["content"][0]["id"], first);
    // Unique per tenant: a create or an overwrite taking another's external id is 409.
    post(&app, "/api/v3/contacts", json!({"firstName": "Dup", "externalId": "PMS-2"}))
        .send()
        .await
        .assert_problem(409);
    app.put(&path(&cy), json!({"firstName": "Ann", "externalId": "PMS-2"})).send().await.assert_problem(409);
    let r = post(
        &app,
        BATCH,
        json!({"atomic": false, "items": [{"id": first, "firstName": "Ann", "externalId": "PMS-2"}]}),
    )
    .send()
    .await;
    r.assert_status(409);
    assert_eq!(r.body["items"][0]["errors"][0]["pointer"], "/items/0/externalId");
    // Another tenant may use the same external id.
    let other =
        app.key("t2", &[property_contacts::store::Scope::Read, property_contacts::store::Scope::Write]).await;
    app.call(axum::http::Method::POST, "/api/v3/contacts")
        .auth(&other)
        .json(&json!({"firstName": "Elsewhere", "externalId": "PMS-1"}))
        .send()
        .await
        .assert_status(201);
}

async fn batch_is_bounded_and_idempotent(app: TestApp) {
    let items: Vec<Value> = (0..1001).map(|i| json!({"lastName": format!("L{i}")})).collect();
    let r = post(&app, BATCH, json!({"items": items})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [("/items".to_owned(), "too_many_items".to_owned())]);
    let body = json!({"items": [{"firstName": "Once"}]});
    let first = post(&app, BATCH, body.clone()).header("idempotency-key", "batch-1").send().await;
    first.assert_status(201);
    let again = post(&app, BATCH, body).header("idempotency-key", "batch-1").send().await;
    again.assert_status(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(total(&app).await, 1);
}

/// 1,000 creates with an e-mail and a telephone each take several multi-row statements per table
/// (cut under the bind limit); every row lands with its own contact, the last as the first.
async fn a_full_batch_spans_many_statements(app: TestApp) {
    let items: Vec<Value> = (0..1000)
        .map(|i| {
            // One to three addresses each, so item ids split unevenly between contacts.
            let extra: Vec<Value> =
                (1..=i % 3).map(|k| json!({"emailAddress": format!("bulk{i}.{k}@example.com")})).collect();
            let mut emails = vec![json!({"emailAddress": format!("bulk{i}@example.com"), "primary": true})];
            emails.extend(extra);
            json!({"lastName": format!("Bulk{i}"),
                   "emailAddresses": emails,
                   "telephones": [{"number": format!("+3120{i:07}"), "primary": true}]})
        })
        .collect();
    let r = post(&app, BATCH, json!({"atomic": true, "items": items})).send().await;
    r.assert_status(201);
    assert_eq!(total(&app).await, 1000);
    let (changes, _) = crate::changes::drain(&app, None, 1000).await;
    assert_eq!(changes.len(), 1000, "one event per created contact");
    for i in [0, 199, 200, 333, 999] {
        let r = app.get(&format!("/api/v3/contacts?emailAddress=bulk{i}@example.com")).send().await;
        let content = r.body["content"].as_array().unwrap();
        assert_eq!(content.len(), 1, "bulk{i}: {}", r.body);
        assert_eq!(content[0]["lastName"], format!("Bulk{i}"));
        assert_eq!(content[0]["telephones"][0]["number"], format!("+3120{i:07}"));
        assert_eq!(content[0]["emailAddresses"].as_array().unwrap().len(), 1 + i % 3);
        let r = app.get(&format!("/api/v3/contacts?q=bulk{i}")).send().await;
        assert_eq!(r.body["content"][0]["lastName"], format!("Bulk{i}"), "search bulk{i}");
        // The batch built each contact from its draft and the ids handed out: its revision is
        // the contact as stored, item ids included.
        let revisions = app.get(&format!("{}/revisions", path(&content[0]["id"]))).send().await;
        assert_eq!(revisions.body[0]["contact"], content[0], "bulk{i}");
    }
}

/// A contact as read, without what differs between two stores of the same body.
fn comparable(mut c: Value) -> Value {
    for key in ["id", "createdAt", "updatedAt"] {
        c.as_object_mut().unwrap().remove(key);
    }
    for list in ["emailAddresses", "telephones", "addresses"] {
        for item in c[list].as_array_mut().unwrap() {
            item.as_object_mut().unwrap().remove("id");
        }
    }
    c
}

async fn batch_creates_store_what_single_creates_do(app: TestApp) {
    crate::fixtures::property(&app, "hotel-a", "1").await;
    let mut body = crate::crm::full_contact();
    body["propertyIds"] = json!(["hotel-a"]);
    let single = create(&app, body.clone()).await;
    let r = post(
        &app,
        BATCH,
        json!({"atomic": false, "items": [
            body.clone(),
            {"lastName": "Nowhere", "propertyIds": ["hotel-a", "no-such-hotel"]},
            {"lastName": "National", "telephones": [{"number": "020 123 4567"}]}
        ]}),
    )
    .send()
    .await;
    r.assert_status(207);
    assert_eq!(statuses(&r.body), [(201, "CREATED"), (422, "FAILED"), (422, "FAILED")]);
    assert_eq!(r.body["items"][1]["errors"][0]["pointer"], "/items/1/propertyIds/1");
    assert_eq!(r.body["items"][2]["errors"][0]["pointer"], "/items/2/telephones/0/number");
    let id = r.body["items"][0]["id"].clone();
    let batched = app.get(&path(&id)).send().await;
    let read_single = app.get(&path(&single["id"])).send().await;
    assert_eq!(comparable(batched.body.clone()), comparable(read_single.body));
    // Its revision and its search terms, as a single create leaves them.
    let revisions = app.get(&format!("{}/revisions", path(&id))).send().await;
    assert_eq!(revisions.body.as_array().unwrap().len(), 1);
    assert_eq!(revisions.body[0]["operation"], "CREATE");
    // The batch builds each contact from its draft: what it recorded is what was stored.
    assert_eq!(revisions.body[0]["contact"], batched.body, "the revision is the contact as stored");
    let found = app.get("/api/v3/contacts?q=sarah%20jans").send().await;
    assert_eq!(found.body["page"]["totalElements"], 2);
}
