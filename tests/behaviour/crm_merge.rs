//! `POST /api/v3/contacts/merge`.

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::crm::{create, path, post, version};
use crate::store_tests;

async fn merge(app: &TestApp, primary: &Value, secondary: &Value) -> Value {
    let r = post(
        app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": primary, "secondaryContactId": secondary}),
    )
    .send()
    .await;
    r.assert_status(200);
    assert!(r.body["message"].is_string());
    r.body
}

async fn merge_moves_every_related_record(app: TestApp) {
    crate::fixtures::property(&app, "hotel-a", "1").await;
    crate::fixtures::property(&app, "hotel-b", "2").await;
    let p = create(
        &app,
        json!({
            "firstName": "Anna", "lastName": "Berg",
            "propertyIds": ["hotel-a"], "orderReferences": ["ORD-1"],
            "emailAddresses": [{"emailAddress": "anna@example.com", "type": "WORK"}],
            "telephones": [{"number": "+31201234567"}],
            "addresses": [{"addressLine1": "Damrak 1", "city": "Amsterdam", "countryCode": "NL"}],
            "customFields": [{"name": "vip", "type": "BOOLEAN", "value": true}]
        }),
    )
    .await;
    let s = create(
        &app,
        json!({
            "firstName": "Anna", "lastName": "Berg-Smit",
            "propertyIds": ["hotel-a", "hotel-b"], "orderReferences": ["ORD-1", "ORD-2"],
            "emailAddresses": [
                {"emailAddress": "anna@example.com", "type": "WORK"},
                {"emailAddress": "anna@home.example", "type": "HOME"}
            ],
            "telephones": [{"number": "+31 20 123 4567"}, {"number": "+31612345678", "type": "MOBILE"}],
            "addresses": [
                {"addressLine1": "Damrak 1", "city": "Amsterdam", "countryCode": "NL"},
                {"addressLine1": "1 High St", "city": "London", "countryCode": "GB"}
            ],
            "customFields": [{"name": "vip", "type": "BOOLEAN", "value": false}, {"name": "floor", "type": "NUMBER", "value": 3}]
        }),
    )
    .await;
    let (pid, sid) = (&p["id"], &s["id"]);
    post(&app, &format!("{}/notes", path(sid)), json!({"content": "from the secondary"}))
        .send()
        .await
        .assert_status(201);
    let p_version = version(&app, pid).await;

    let body = merge(&app, pid, sid).await;
    assert_eq!(body["success"], true);

    let m = app.get(&path(pid)).send().await.body;
    assert_eq!(m["version"], p_version + 1);
    assert_eq!(m["firstName"], "Anna");
    assert_eq!(m["lastName"], "Berg", "the primary's scalars are kept");
    assert_eq!(m["propertyIds"], json!(["hotel-a", "hotel-b"]));
    assert_eq!(m["orderReferences"], json!(["ORD-1", "ORD-2"]));
    let emails: Vec<(&str, bool)> = m["emailAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["emailAddress"].as_str().unwrap(), e["primary"].as_bool().unwrap()))
        .collect();
    assert_eq!(emails, [("anna@example.com", true), ("anna@home.example", false)], "exact duplicate dropped");
    let phones: Vec<(&str, bool)> = m["telephones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["e164"].as_str().unwrap(), t["primary"].as_bool().unwrap()))
        .collect();
    assert_eq!(phones, [("+31201234567", true), ("+31612345678", false)]);
    let cities: Vec<(&str, bool)> = m["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["city"].as_str().unwrap(), a["primary"].as_bool().unwrap()))
        .collect();
    assert_eq!(cities, [("Amsterdam", true), ("London", false)]);
    assert_eq!(
        m["customFields"],
        json!([{"name": "vip", "type": "BOOLEAN", "value": true}, {"name": "floor", "type": "NUMBER", "value": 3}]),
        "the primary wins on a name clash"
    );
    let notes = app.get(&format!("{}/notes", path(pid))).send().await.body;
    assert_eq!(notes[0]["content"], "from the secondary");

    // The secondary is a tombstone: 410 with mergedInto on reads and writes, hidden from lists.
    let r = app.get(&path(sid)).send().await;
    r.assert_problem(410);
    assert_eq!(&r.body["mergedInto"], pid);
    app.put(&path(sid), json!({"lastName": "x"})).send().await.assert_problem(410);
    app.delete(&path(sid)).send().await.assert_problem(410);
    post(&app, &format!("{}/notes", path(sid)), json!({"content": "x"})).send().await.assert_problem(410);
    post(&app, &format!("{}/emailAddresses", path(sid)), json!({"emailAddress": "a@b.example"}))
        .send()
        .await
        .assert_problem(410);
    app.get(&format!("{}/notes", path(sid))).send().await.assert_problem(410);
    let list = app.get("/api/v3/contacts").send().await.body;
    assert_eq!(list["page"]["totalElements"], 1);
    let list = app.get("/api/v3/contacts?propertyId=hotel-b").send().await.body;
    assert_eq!(&list["content"][0]["id"], pid, "property links moved");

    // A revision on both.
    let revs = app.get(&format!("{}/revisions", path(pid))).send().await.body;
    assert_eq!(revs.as_array().unwrap().last().unwrap()["operation"], "MERGE");
    let fresh = merge(&app, pid, sid).await;
    assert_eq!(fresh["success"], false, "already merged");
}

async fn merge_into_empty_collections_promotes_a_primary(app: TestApp) {
    let p = create(&app, json!({"lastName": "Empty"})).await;
    let s =
        create(&app, json!({"lastName": "Full", "emailAddresses": [{"emailAddress": "a@b.example"}]})).await;
    assert_eq!(merge(&app, &p["id"], &s["id"]).await["success"], true);
    let m = app.get(&path(&p["id"])).send().await.body;
    assert_eq!(m["emailAddresses"][0]["primary"], true, "a non-empty collection always has a primary");
}

async fn merge_no_ops_change_nothing(app: TestApp) {
    let a =
        create(&app, json!({"lastName": "A", "emailAddresses": [{"emailAddress": "a@example.com"}]})).await;
    let b = create(&app, json!({"lastName": "B"})).await;
    let c = create(&app, json!({"lastName": "C"})).await;
    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    let foreign = app
        .call(Method::POST, "/api/v3/contacts")
        .auth(&other)
        .json(&json!({"lastName": "Foreign"}))
        .send()
        .await
        .body;
    // b is merged into c beforehand.
    assert_eq!(merge(&app, &c["id"], &b["id"]).await["success"], true);
    let before = (version(&app, &a["id"]).await, version(&app, &c["id"]).await);

    for (primary, secondary, why) in [
        (&a["id"], &a["id"], "same contact"),
        (&a["id"], &json!(987654), "secondary missing"),
        (&json!(987654), &a["id"], "primary missing"),
        (&a["id"], &b["id"], "secondary already merged"),
        (&b["id"], &a["id"], "primary already merged"),
        (&a["id"], &foreign["id"], "secondary of another tenant"),
        (&foreign["id"], &a["id"], "primary of another tenant"),
    ] {
        let body = merge(&app, primary, secondary).await;
        assert_eq!(body["success"], false, "{why}");
    }
    assert_eq!(before, (version(&app, &a["id"]).await, version(&app, &c["id"]).await));
    let a_now = app.get(&path(&a["id"])).send().await.body;
    assert_eq!(a_now["emailAddresses"], a["emailAddresses"]);
    let f = app.call(Method::GET, &path(&foreign["id"])).auth(&other).send().await;
    f.assert_status(200);
    assert_eq!(f.body["version"], 1);

    // Bad bodies are 422 and read-only keys 403.
    post(&app, "/api/v3/contacts/merge", json!({"primaryContactId": 1})).send().await.assert_problem(422);
    let reader = app.key("t1", &[Scope::Read]).await;
    app.call(Method::POST, "/api/v3/contacts/merge")
        .auth(&reader)
        .json(&json!({"primaryContactId": a["id"], "secondaryContactId": c["id"]}))
        .send()
        .await
        .assert_problem(403);
}

fn emails(prefix: &str, n: usize) -> Value {
    (0..n).map(|i| json!({"emailAddress": format!("{prefix}{i}@example.com")})).collect()
}

/// A merge that would leave the primary with more than 20 items of a collection is refused whole:
/// `success: false`, and neither contact changes. Duplicates do not count, so a merge that fits
/// once they are dropped goes through.
async fn merge_over_a_collection_maximum_is_refused(app: TestApp) {
    let p = create(&app, json!({"lastName": "P", "emailAddresses": emails("p", 15)})).await;
    let s = create(
        &app,
        json!({"lastName": "S", "emailAddresses": emails("s", 6), "telephones": [{"number": "+31201234567"}]}),
    )
    .await;
    post(&app, &format!("{}/notes", path(&s["id"])), json!({"content": "kept on s"}))
        .send()
        .await
        .assert_status(201);
    let before_p = app.get(&path(&p["id"])).send().await.body;
    let before_s = app.get(&path(&s["id"])).send().await.body;

    let body = merge(&app, &p["id"], &s["id"]).await;
    assert_eq!(body["success"], false, "15 + 6 emails is over 20");
    assert!(body["message"].as_str().unwrap().contains("emailAddresses"), "{body}");
    assert_eq!(app.get(&path(&p["id"])).send().await.body, before_p, "primary unchanged");
    assert_eq!(app.get(&path(&s["id"])).send().await.body, before_s, "secondary unchanged, not a tombstone");
    let notes = app.get(&format!("{}/notes", path(&s["id"]))).send().await.body;
    assert_eq!(notes.as_array().unwrap().len(), 1, "notes stayed");
    let revs = app.get(&format!("{}/revisions", path(&p["id"]))).send().await.body;
    assert_eq!(revs.as_array().unwrap().len(), 1, "no revision recorded");

    // With one of the secondary's emails a duplicate of the primary's, 15 + 5 = 20 fits.
    let mut dup = emails("s", 5);
    dup.as_array_mut().unwrap().push(json!({"emailAddress": "p0@example.com"}));
    app.put(&path(&s["id"]), json!({"lastName": "S", "emailAddresses": dup})).send().await.assert_status(200);
    let body = merge(&app, &p["id"], &s["id"]).await;
    assert_eq!(body["success"], true, "{body}");
    let m = app.get(&path(&p["id"])).send().await.body;
    assert_eq!(m["emailAddresses"].as_array().unwrap().len(), 20);
}

store_tests!(
    merge_moves_every_related_record,
    merge_into_empty_collections_promotes_a_primary,
    merge_no_ops_change_nothing,
    merge_over_a_collection_maximum_is_refused
);
