//! CRM contacts (`/api/v3/contacts`): CRUD, collections, notes, custom fields, revisions,
//! conditional requests, validation and tenant isolation.

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{Call, TestApp};
use crate::store_tests;

pub fn post<'a>(app: &'a TestApp, path: &str, body: Value) -> Call<'a> {
    app.call(Method::POST, path).auth(&app.admin).json(&body)
}

/// A contact with one of every collection, in Amsterdam.
pub fn full_contact() -> Value {
    json!({
        "contactType": "GUEST",
        "title": "Ms",
        "firstName": "Sarah",
        "lastName": "Jansen",
        "accountId": "ACC-1",
        "jobTitle": "Buyer",
        "gender": "female",
        "language": "nl-NL",
        "orderReferences": ["ORD-1"],
        "emailAddresses": [{"emailAddress": "sarah@example.com", "type": "WORK"}],
        "telephones": [{"number": "020 123 4567", "type": "HOME"}],
        "addresses": [{"addressLine1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "countryCode": "nl"}],
        "customFields": [{"name": "vip", "type": "BOOLEAN", "value": true}]
    })
}

/// Creates a contact, returning its body.
pub async fn create(app: &TestApp, body: Value) -> Value {
    let r = post(app, "/api/v3/contacts", body).send().await;
    r.assert_status(201);
    r.body
}

pub fn path(id: &Value) -> String {
    format!("/api/v3/contacts/{id}")
}

/// The stored version of a contact.
pub async fn version(app: &TestApp, id: &Value) -> i64 {
    let r = app.get(&path(id)).send().await;
    r.assert_status(200);
    r.body["version"].as_i64().unwrap()
}

async fn create_read_and_headers(app: TestApp) {
    let r = post(&app, "/api/v3/contacts", full_contact()).send().await;
    r.assert_status(201);
    let c = &r.body;
    let id = &c["id"];
    assert!(id.is_i64());
    assert_eq!(r.header("location"), Some(path(id).as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    assert_eq!(c["contactType"], "GUEST");
    assert_eq!(c["gender"], "FEMALE");
    assert_eq!(c["version"], 1);
    assert_eq!(c["telephones"][0]["e164"], "+31201234567");
    assert_eq!(c["telephones"][0]["number"], "020 123 4567");
    assert_eq!(c["telephones"][0]["primary"], true);
    assert_eq!(c["emailAddresses"][0]["primary"], true);
    assert_eq!(c["addresses"][0]["countryCode"], "NL");
    assert_eq!(c["customFields"], json!([{"name": "vip", "type": "BOOLEAN", "value": true}]));
    assert_eq!(c["orderReferences"], json!(["ORD-1"]));
    assert_eq!(c["propertyIds"], json!([]));

    let g = app.get(&path(id)).send().await;
    g.assert_status(200);
    assert_eq!(&g.body, c, "a read returns what the write returned");
    assert_eq!(g.header("etag"), Some("\"1\""));
    assert_eq!(g.header("last-modified"), r.header("last-modified"));

    // Defaults: contactType CONTACT, empty collections, optionals omitted.
    let minimal = create(&app, json!({"companyName": "Acme"})).await;
    assert_eq!(minimal["contactType"], "CONTACT");
    assert_eq!(minimal["emailAddresses"], json!([]));
    assert!(minimal.get("firstName").is_none());

    let missing = app.get("/api/v3/contacts/999999").send().await;
    missing.assert_problem(404);
    app.get("/api/v3/contacts/abc").send().await.assert_problem(400);
}

/// A create answers the contact it built from the request and the ids its inserts handed out, and
/// records that as the first revision; read back, the stored contact is the same in every field and
/// order (several items a collection, the primary not first, property ids sent out of order).
async fn a_created_contact_reads_back_as_answered(app: TestApp) {
    for id in ["zeta", "alpha", "mid"] {
        crate::fixtures::property(&app, id, &format!("bk-{id}")).await;
    }
    let body = json!({
        "contactType": "COMPANY",
        "companyName": "Jansen & Zn",
        "externalId": "ext-7",
        "gender": "male",
        "orderReferences": ["B-2", "A-1"],
        "propertyIds": ["zeta", "alpha", "mid"],
        "emailAddresses": [
            {"emailAddress": "b@example.com"},
            {"emailAddress": "a@example.com", "type": "HOME", "primary": true},
            {"emailAddress": "c@example.com", "type": "WORK"}
        ],
        "telephones": [
            {"number": "+31 20 123 4567", "type": "HOME", "extension": "12"},
            {"number": "+44 20 7946 0000", "primary": true},
            {"number": "06 1234 5678", "countryCode": "NL"}
        ],
        "addresses": [
            {"addressLine1": "Damrak 1", "city": "Amsterdam", "countryCode": "NL"},
            {"addressLine1": "1 High St", "addressLine2": "Flat \"2\" \\ Øst", "city": "London", "postcode": "SW1A 1AA",
             "stateProvince": "London", "countryCode": "gb", "primary": true}
        ],
        "customFields": [
            {"name": "vip", "type": "BOOLEAN", "value": false},
            {"name": "visits", "type": "NUMBER", "value": 12.5},
            {"name": "since", "type": "DATE", "value": "2024-02-29"},
            {"name": "note", "type": "STRING", "value": "a \"quoted\" \\ Zoë 東京 </tag>"}
        ]
    });
    let answered = create(&app, body).await;
    assert_eq!(answered["propertyIds"], json!(["alpha", "mid", "zeta"]));
    assert_eq!(answered["addresses"][1]["primary"], true);
    let read = app.get(&path(&answered["id"])).send().await;
    read.assert_status(200);
    assert_eq!(read.body, answered, "the stored contact is the one the create answered");
    let r = app.get(&format!("{}/revisions", path(&answered["id"]))).send().await;
    r.assert_status(200);
    assert_eq!(r.body[0]["contact"], answered, "the first revision is the contact as created");
    let minimal = create(&app, json!({"lastName": "Bare"})).await;
    assert_eq!(app.get(&path(&minimal["id"])).send().await.body, minimal);
}

async fn validation_reports_every_error_and_changes_nothing(app: TestApp) {
    let r = post(
        &app,
        "/api/v3/contacts",
        json!({
            "contactType": "VILLAIN",
            "emailAddresses": [{"emailAddress": "nope"}],
            "telephones": [{"number": "12"}],
            "addresses": [{"addressLine1": "x", "city": "y", "countryCode": "NL", "postcode": "abc"}],
            "customFields": [{"name": "n", "type": "DATE", "value": "2023-02-30"}],
            "propertyIds": ["bad id"]
        }),
    )
    .send()
    .await;
    r.assert_problem(422);
    let errors = r.problem_errors();
    for (pointer, code) in [
        ("/contactType", "contact_type_invalid"),
        ("/firstName", "name_required"),
        ("/propertyIds/0", "property_id_invalid"),
        ("/addresses/0/postcode", "postal_code_invalid"),
        ("/emailAddresses/0/emailAddress", "email_invalid"),
        ("/telephones/0/number", "phone_invalid"),
        ("/customFields/0/value", "custom_field_value_invalid"),
    ] {
        assert!(errors.contains(&(pointer.into(), code.into())), "{pointer} {code} missing in {errors:?}");
    }
    // Unknown members and wrong types are 422 with a pointer too.
    let r = post(&app, "/api/v3/contacts", json!({"lastName": "x", "nickname": "y"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors()[0].1, "unknown_member");
    // A national number with no country anywhere cannot be read.
    let r =
        post(&app, "/api/v3/contacts", json!({"lastName": "x", "telephones": [{"number": "020 123 4567"}]}))
            .send()
            .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/telephones/0/number".into(), "phone_country_unknown".into())]);
    // Unknown property of the tenant.
    let r = post(&app, "/api/v3/contacts", json!({"lastName": "x", "propertyIds": ["nowhere"]})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/propertyIds/0".into(), "property_unknown".into())]);
    // Malformed JSON is 400.
    app.call(Method::POST, "/api/v3/contacts")
        .auth(&app.admin)
        .raw("application/json", "{")
        .send()
        .await
        .assert_problem(400);

    let list = app.get("/api/v3/contacts").send().await;
    list.assert_status(200);
    assert_eq!(list.body["page"]["totalElements"], 0, "nothing was stored");
}

async fn overwrite_replaces_scalars_and_sent_collections_only(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let id = &c["id"];
    // Send back what was read with some changes: read-only members are accepted and ignored.
    let mut body = c.clone();
    body["firstName"] = json!("Sara");
    body["version"] = json!(99);
    body.as_object_mut().unwrap().remove("title");
    body.as_object_mut().unwrap().remove("emailAddresses");
    body["telephones"] = json!([{"number": "+44 20 7183 8750", "e164": "ignored", "id": 5}]);
    let r = app.put(&path(id), body).send().await;
    r.assert_status(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let u = &r.body;
    assert_eq!(u["version"], 2);
    assert_eq!(u["firstName"], "Sara");
    assert!(u.get("title").is_none(), "absent scalar is cleared");
    assert_eq!(u["emailAddresses"], c["emailAddresses"], "absent collection is kept");
    assert_eq!(u["telephones"].as_array().unwrap().len(), 1);
    assert_eq!(u["telephones"][0]["e164"], "+442071838750");
    assert_eq!(u["telephones"][0]["primary"], true);
    assert_eq!(u["createdAt"], c["createdAt"]);

    // Absent scalars are reset to their default, collections kept.
    let r = app.put(&path(id), json!({"lastName": "Only"})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["contactType"], "CONTACT");
    assert!(r.body.get("firstName").is_none());
    assert_eq!(r.body["customFields"], c["customFields"]);
    assert_eq!(r.body["orderReferences"], c["orderReferences"]);

    // A national number in a PUT without addresses is read with the stored primary address.
    let r = app
        .put(&path(id), json!({"lastName": "Only", "telephones": [{"number": "06 12345678"}]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["telephones"][0]["e164"], "+31612345678");

    // id in the body must match the path.
    let r = app.put(&path(id), json!({"id": 12345, "lastName": "x"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/id".into(), "id_mismatch".into())]);
    assert_eq!(version(&app, id).await, 4, "the refused PUT changed nothing");

    app.put("/api/v3/contacts/999999", json!({"lastName": "x"})).send().await.assert_problem(404);
}

async fn if_match_guards_writes(app: TestApp) {
    let c = create(&app, json!({"lastName": "Jansen"})).await;
    let id = &c["id"];
    let r = app.put(&path(id), json!({"lastName": "A"})).header("if-match", "\"7\"").send().await;
    r.assert_problem(412);
    let r = post(&app, &format!("{}/emailAddresses", path(id)), json!({"emailAddress": "a@b.example"}))
        .header("if-match", "\"2\"")
        .send()
        .await;
    r.assert_problem(412);
    app.delete(&path(id)).header("if-match", "\"3\"").send().await.assert_problem(412);
    let g = app.get(&path(id)).send().await;
    assert_eq!(g.body["lastName"], "Jansen");
    assert_eq!(g.body["version"], 1);
    assert_eq!(g.body["emailAddresses"], json!([]));
    let r = app.put(&path(id), json!({"lastName": "B"})).header("if-match", "\"1\"").send().await;
    r.assert_status(200);
    assert_eq!(r.body["version"], 2);
    app.put(&path(id), json!({"lastName": "C"})).header("if-match", "*").send().await.assert_status(200);
}

async fn conditional_reads_of_one_contact(app: TestApp) {
    let c = create(&app, json!({"lastName": "Jansen"})).await;
    let id = &c["id"];
    let g = app.get(&path(id)).send().await;
    let etag = g.header("etag").unwrap().to_owned();
    let last_modified = g.header("last-modified").unwrap().to_owned();

    let r = app.get(&path(id)).header("if-none-match", &etag).send().await;
    r.assert_status(304);
    assert_eq!(r.body, Value::Null);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = app.get(&path(id)).header("if-modified-since", &last_modified).send().await;
    r.assert_status(304);
    // If-None-Match wins over If-Modified-Since.
    let r = app
        .get(&path(id))
        .header("if-none-match", "\"0\"")
        .header("if-modified-since", &last_modified)
        .send()
        .await;
    r.assert_status(200);
    let r = app.get(&path(id)).header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT").send().await;
    r.assert_status(200);

    app.put(&path(id), json!({"lastName": "Changed"})).send().await.assert_status(200);
    let r = app.get(&path(id)).header("if-none-match", &etag).send().await;
    r.assert_status(200);
    assert_eq!(r.body["lastName"], "Changed");
    assert_eq!(r.header("etag"), Some("\"2\""));
}

async fn list_filters_paging_and_sorting(app: TestApp) {
    crate::fixtures::property(&app, "hotel-1", "111").await;
    let a = create(
        &app,
        json!({"firstName": "Anna", "lastName": "Berg", "accountId": "A1", "contactType": "BOOKER",
               "propertyIds": ["hotel-1"],
               "emailAddresses": [{"emailAddress": "Anna@Example.com"}],
               "telephones": [{"number": "+31 20 123 4567"}]}),
    )
    .await;
    let b = create(&app, json!({"firstName": "bob", "lastName": "Cole", "accountId": "A2"})).await;
    let c = create(&app, json!({"firstName": "Cleo", "lastName": "berg", "contactType": "BOOKER"})).await;
    let ids = |r: &crate::common::TestResponse| -> Vec<Value> {
        r.body["content"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect()
    };
    let list = |q: &str| app.get(&format!("/api/v3/contacts{q}")).send();

    let r = list("").await;
    r.assert_status(200);
    assert_eq!(ids(&r), vec![a["id"].clone(), b["id"].clone(), c["id"].clone()]);
    assert_eq!(r.body["page"], json!({"size": 20, "number": 0, "totalElements": 3, "totalPages": 1}));
    assert_eq!(r.body["content"][0], a, "list items have the full contact shape");

    for (q, expected) in [
        ("?emailAddress=anna@EXAMPLE.com", vec![&a]),
        ("?firstName=BOB", vec![&b]),
        ("?lastName=Berg", vec![&a, &c]),
        ("?telephone=%2B31201234567", vec![&a]),
        ("?telephone=0031%2020%20123%204567", vec![&a]),
        ("?accountId=A2", vec![&b]),
        ("?contactType=booker", vec![&a, &c]),
        ("?propertyId=hotel-1", vec![&a]),
        ("?lastName=berg&contactType=BOOKER&firstName=cleo", vec![&c]),
        ("?modifiedSince=2000-01-01T00:00:00Z", vec![&a, &b, &c]),
        ("?modifiedSince=2999-01-01", vec![]),
    ] {
        let r = list(q).await;
        r.assert_status(200);
        let want: Vec<Value> = expected.iter().map(|c| c["id"].clone()).collect();
        assert_eq!(ids(&r), want, "{q}");
    }

    let r = list("?size=2&page=1").await;
    assert_eq!(ids(&r), vec![c["id"].clone()]);
    assert_eq!(r.body["page"], json!({"size": 2, "number": 1, "totalElements": 3, "totalPages": 2}));
    let r = list("?size=100000").await;
    assert_eq!(r.body["page"]["size"], 500, "size is clamped");
    let r = list("?page=9").await;
    assert_eq!(ids(&r), Vec::<Value>::new());
    let r = list("?sort=firstName,desc").await;
    assert_eq!(ids(&r), vec![c["id"].clone(), b["id"].clone(), a["id"].clone()]);
    let r = list("?sort=lastName").await;
    assert_eq!(ids(&r), vec![a["id"].clone(), c["id"].clone(), b["id"].clone()]);

    for bad in [
        "?sort=secret,asc",
        "?sort=id,sideways",
        "?contactType=ALIEN",
        "?telephone=0201234567",
        "?modifiedSince=soon",
    ] {
        list(bad).await.assert_problem(400);
    }
}

async fn list_conditional_reads(app: TestApp) {
    let a = create(&app, json!({"lastName": "Berg"})).await;
    create(&app, json!({"lastName": "Cole"})).await;
    let r = app.get("/api/v3/contacts?lastName=Berg").send().await;
    r.assert_status(200);
    let etag = r.header("etag").unwrap().to_owned();
    let last_modified = r.header("last-modified").unwrap().to_owned();
    assert_eq!(last_modified, app.get(&path(&a["id"])).send().await.header("last-modified").unwrap());

    let r = app.get("/api/v3/contacts?lastName=Berg").header("if-none-match", &etag).send().await;
    r.assert_status(304);
    assert_eq!(r.body, Value::Null);
    app.get("/api/v3/contacts?lastName=Berg")
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .assert_status(304);
    // Another page of the same result is another representation.
    app.get("/api/v3/contacts?lastName=Berg&size=1&page=1")
        .header("if-none-match", &etag)
        .send()
        .await
        .assert_status(200);

    // A change to a contact outside the filter does not matter...
    let cole = app.get("/api/v3/contacts?lastName=Cole").send().await.body["content"][0]["id"].clone();
    app.put(&path(&cole), json!({"lastName": "Cole", "title": "Dr"})).send().await.assert_status(200);
    app.get("/api/v3/contacts?lastName=Berg").header("if-none-match", &etag).send().await.assert_status(304);
    // ...one to a matching contact does, and the whole result comes back.
    post(&app, &format!("{}/notes", path(&a["id"])), json!({"content": "called"}))
        .send()
        .await
        .assert_status(201);
    let r = app.get("/api/v3/contacts?lastName=Berg").header("if-none-match", &etag).send().await;
    r.assert_status(200);
    assert_eq!(r.body["content"].as_array().unwrap().len(), 1);
    // So does a new contact entering the result.
    let etag2 = r.header("etag").unwrap().to_owned();
    create(&app, json!({"lastName": "berg"})).await;
    let r = app.get("/api/v3/contacts?lastName=Berg").header("if-none-match", &etag2).send().await;
    r.assert_status(200);
    assert_eq!(r.body["page"]["totalElements"], 2);
}

async fn sub_resources_and_primary_rules(app: TestApp) {
    let c = create(&app, json!({"lastName": "Jansen"})).await;
    let base = path(&c["id"]);
    let emails = format!("{base}/emailAddresses");

    let r = post(&app, &emails, json!({"emailAddress": "one@example.com"})).send().await;
    r.assert_status(201);
    let one = r.body["id"].clone();
    assert_eq!(r.body["primary"], true, "the first item becomes primary");
    assert_eq!(r.header("location"), Some(format!("{emails}/{one}").as_str()));
    assert_eq!(r.header("etag"), Some("\"2\""));
    let two = post(&app, &emails, json!({"emailAddress": "two@example.com"})).send().await.body["id"].clone();
    let r = post(&app, &emails, json!({"emailAddress": "three@example.com", "primary": true})).send().await;
    r.assert_status(201);
    let three = r.body["id"].clone();
    let primaries = |c: &Value| -> Vec<Value> {
        c["emailAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["primary"] == true)
            .map(|e| e["id"].clone())
            .collect()
    };
    assert_eq!(
        primaries(&app.get(&base).send().await.body),
        vec![three.clone()],
        "primary: true flips the old one"
    );

    // Set-primary flips atomically.
    let r = app.put(&format!("{emails}/{two}/primary"), json!(null)).send().await;
    r.assert_status(200);
    assert_eq!(r.body["primary"], true);
    assert_eq!(primaries(&app.get(&base).send().await.body), vec![two.clone()]);

    // Update overwrites the item; primary: false does not demote.
    let r = app
        .put(&format!("{emails}/{two}"), json!({"emailAddress": "TWO@example.com", "type": "HOME"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.body,
        json!({"id": two, "emailAddress": "TWO@example.com", "type": "HOME", "primary": true})
    );
    // Deleting the primary promotes the oldest remaining.
    let r = app.delete(&format!("{emails}/{two}")).send().await;
    r.assert_status(204);
    assert!(r.header("etag").is_some());
    assert_eq!(primaries(&app.get(&base).send().await.body), vec![one.clone()]);
    app.delete(&format!("{emails}/{two}")).send().await.assert_problem(404);
    app.put(&format!("{emails}/424242/primary"), json!(null)).send().await.assert_problem(404);
    post(&app, &emails, json!({"emailAddress": "bad"})).send().await.assert_problem(422);

    // Addresses and telephones: a national number is read with the primary address's country.
    let r = post(&app, &format!("{base}/telephones"), json!({"number": "020 123 4567"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/number".into(), "phone_country_unknown".into())]);
    let r = post(
        &app,
        &format!("{base}/addresses"),
        json!({"addressLine1": "1 High St", "city": "London", "countryCode": "GB"}),
    )
    .send()
    .await;
    r.assert_status(201);
    let london = r.body["id"].clone();
    let r = post(&app, &format!("{base}/telephones"), json!({"number": "020 7183 8750", "extension": "12"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.body["e164"], "+442071838750");
    let phone = r.body["id"].clone();
    let r = post(&app, &format!("{base}/telephones"), json!({"number": "020 123 4567", "countryCode": "NL"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.body["e164"], "+31201234567");
    assert_eq!(r.body["primary"], false);
    let r = app
        .put(&format!("{base}/telephones/{phone}"), json!({"number": "+31612345678", "type": "MOBILE"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["e164"], "+31612345678");
    let r = post(
        &app,
        &format!("{base}/addresses"),
        json!({"addressLine1": "Damrak 1", "city": "Amsterdam", "countryCode": "NL", "primary": true}),
    )
    .send()
    .await;
    r.assert_status(201);
    let amsterdam = r.body["id"].clone();
    app.put(&format!("{base}/addresses/{london}/primary"), json!(null)).send().await.assert_status(200);
    app.delete(&format!("{base}/addresses/{london}")).send().await.assert_status(204);
    let g = app.get(&base).send().await.body;
    assert_eq!(g["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(g["addresses"][0]["id"], amsterdam);
    assert_eq!(g["addresses"][0]["primary"], true);
    // Every write bumped the version once.
    assert_eq!(g["version"], 14);
}

async fn notes_custom_fields_and_revisions(app: TestApp) {
    let c = create(&app, json!({"lastName": "Jansen"})).await;
    let base = path(&c["id"]);
    let r =
        post(&app, &format!("{base}/notes"), json!({"content": "Prefers the top floor", "tags": ["room"]}))
            .send()
            .await;
    r.assert_status(201);
    assert_eq!(r.body["author"], "test-key", "author defaults to the key's name");
    assert_eq!(r.body["tags"], json!(["room"]));
    let note = r.body["id"].clone();
    assert_eq!(r.header("location"), Some(format!("{base}/notes?noteId={note}").as_str()));
    let r = post(&app, &format!("{base}/notes"), json!({"content": "Called back", "author": "Reception"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.body["author"], "Reception");
    post(&app, &format!("{base}/notes"), json!({"content": "  "})).send().await.assert_problem(422);

    let r = app.get(&format!("{base}/notes")).send().await;
    r.assert_status(200);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = app.get(&format!("{base}/notes?noteId={note}")).send().await;
    r.assert_status(200);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["content"], "Prefers the top floor");
    app.get(&format!("{base}/notes?noteId=999999")).send().await.assert_problem(404);

    let fields = json!([
        {"name": "vip", "type": "BOOLEAN", "value": "true"},
        {"name": "nights", "type": "NUMBER", "value": 12},
        {"name": "birthday", "type": "DATE", "value": "1990-05-17"},
        {"name": "notes", "type": "STRING", "value": "quiet room"}
    ]);
    let r = app.put(&format!("{base}/customFields"), fields).send().await;
    r.assert_status(200);
    assert_eq!(r.body[0], json!({"name": "vip", "type": "BOOLEAN", "value": true}));
    assert_eq!(r.body[1]["value"], 12);
    let etag = r.header("etag").unwrap().to_owned();
    let r = app.get(&format!("{base}/customFields")).send().await;
    r.assert_status(200);
    assert_eq!(r.body.as_array().unwrap().len(), 4);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = app
        .put(&format!("{base}/customFields"), json!([{"name": "nights", "type": "NUMBER", "value": "many"}]))
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), vec![("/0/value".into(), "custom_field_value_invalid".into())]);
    let r = app
        .put(&format!("{base}/customFields"), json!([{"name": "only", "type": "STRING", "value": "x"}]))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body.as_array().unwrap().len(), 1, "PUT replaces the list");

    let r = app.get(&format!("{base}/revisions")).send().await;
    r.assert_status(200);
    let revs = r.body.as_array().unwrap();
    let ops: Vec<&str> = revs.iter().map(|r| r["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["CREATE", "ADD_NOTE", "ADD_NOTE", "REPLACE_CUSTOM_FIELDS", "REPLACE_CUSTOM_FIELDS"]);
    for (i, rev) in revs.iter().enumerate() {
        assert_eq!(rev["version"], i as i64 + 1);
        assert_eq!(rev["contact"]["version"], i as i64 + 1);
        assert_eq!(rev["changedBy"], "test-key");
        assert!(rev["changedAt"].is_string());
    }
    assert_eq!(revs[3]["contact"]["customFields"].as_array().unwrap().len(), 4);
    let r = app.get(&format!("{base}?includeRevisions=true")).send().await;
    r.assert_status(200);
    assert_eq!(r.body["revisions"].as_array().unwrap().len(), 5);
    assert!(app.get(&base).send().await.body.get("revisions").is_none());
}

async fn delete_removes_everything(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let base = path(&c["id"]);
    post(&app, &format!("{base}/notes"), json!({"content": "x"})).send().await.assert_status(201);
    app.delete(&base).send().await.assert_status(204);
    app.get(&base).send().await.assert_problem(404);
    app.get(&format!("{base}/notes")).send().await.assert_problem(404);
    app.get(&format!("{base}/revisions")).send().await.assert_problem(404);
    app.delete(&base).send().await.assert_problem(404);
    assert_eq!(app.get("/api/v3/contacts").send().await.body["page"]["totalElements"], 0);
}

async fn tenants_and_scopes_are_isolated(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let base = path(&c["id"]);
    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    let as_other = |m: Method, p: &str| app.call(m, p).auth(&other);
    as_other(Method::GET, &base).send().await.assert_problem(404);
    as_other(Method::PUT, &base).json(&json!({"lastName": "x"})).send().await.assert_problem(404);
    as_other(Method::DELETE, &base).send().await.assert_problem(404);
    as_other(Method::GET, &format!("{base}/notes")).send().await.assert_problem(404);
    as_other(Method::POST, &format!("{base}/notes"))
        .json(&json!({"content": "x"}))
        .send()
        .await
        .assert_problem(404);
    as_other(Method::GET, &format!("{base}/customFields")).send().await.assert_problem(404);
    as_other(Method::PUT, &format!("{base}/customFields")).json(&json!([])).send().await.assert_problem(404);
    as_other(Method::GET, &format!("{base}/revisions")).send().await.assert_problem(404);
    let email = c["emailAddresses"][0]["id"].clone();
    as_other(Method::POST, &format!("{base}/emailAddresses"))
        .json(&json!({"emailAddress": "a@b.example"}))
        .send()
        .await
        .assert_problem(404);
    as_other(Method::PUT, &format!("{base}/emailAddresses/{email}/primary")).send().await.assert_problem(404);
    as_other(Method::DELETE, &format!("{base}/emailAddresses/{email}")).send().await.assert_problem(404);
    let r = as_other(Method::GET, "/api/v3/contacts").send().await;
    assert_eq!(r.body["page"]["totalElements"], 0);
    // Property ids are those of the caller's tenant.
    crate::fixtures::property(&app, "hotel-t1", "555").await;
    let r = as_other(Method::POST, "/api/v3/contacts")
        .json(&json!({"lastName": "x", "propertyIds": ["hotel-t1"]}))
        .send()
        .await;
    r.assert_problem(422);
    // Scopes: read-only keys cannot write; no key is 401.
    let reader = app.key("t1", &[Scope::Read]).await;
    app.call(Method::GET, &base).auth(&reader).send().await.assert_status(200);
    app.call(Method::PUT, &base)
        .auth(&reader)
        .json(&json!({"lastName": "x"}))
        .send()
        .await
        .assert_problem(403);
    app.call(Method::GET, &base).send().await.assert_problem(401);
    assert_eq!(version(&app, &c["id"]).await, 1, "nothing changed");
}

/// A key without the scope gets 403 before its body is looked at, however broken that body is.
async fn scope_is_checked_before_the_body(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let base = path(&c["id"]);
    let reader = app.key("t1", &[Scope::Read]).await;
    let invalid = json!({"firstName": 5, "emailAddresses": "nope", "content": [], "name": {}});
    for (method, uri) in [
        (Method::POST, "/api/v3/contacts".to_owned()),
        (Method::PUT, base.clone()),
        (Method::POST, format!("{base}/emailAddresses")),
        (Method::POST, format!("{base}/notes")),
        (Method::PUT, format!("{base}/customFields")),
    ] {
        app.call(method.clone(), &uri).auth(&reader).json(&invalid).send().await.assert_problem(403);
        app.call(method.clone(), &uri)
            .auth(&reader)
            .raw("application/json", "{not json")
            .send()
            .await
            .assert_problem(403);
        // The same bodies from a writer are refused for what they are.
        let r = app.call(method, &uri).auth(&app.admin).json(&invalid).send().await;
        assert!(r.status == 400 || r.status == 422, "{uri}: {}", r.status);
    }
    assert_eq!(version(&app, &c["id"]).await, 1, "nothing changed");
}

/// Deleting a property unlinks it from the contacts that named it as a write to each: a new
/// version, a new `updatedAt` and an `UNLINK_PROPERTY` revision, so conditional reads see it.
async fn deleting_a_property_is_a_write_to_linked_contacts(app: TestApp) {
    crate::fixtures::property(&app, "hotel-a", "1").await;
    crate::fixtures::property(&app, "hotel-b", "2").await;
    let linked = create(&app, json!({"lastName": "Berg", "propertyIds": ["hotel-a", "hotel-b"]})).await;
    let other = create(&app, json!({"lastName": "Cole", "propertyIds": ["hotel-b"]})).await;
    let merged = create(&app, json!({"lastName": "Dahl", "propertyIds": ["hotel-a"]})).await;
    let r = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": linked["id"], "secondaryContactId": merged["id"]}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true);
    let before = app.get(&path(&linked["id"])).send().await;
    let (etag, version_before) = (before.header("etag").unwrap().to_owned(), before.body["version"].clone());
    let list = app.get("/api/v3/contacts?propertyId=hotel-a").send().await;
    let list_etag = list.header("etag").unwrap().to_owned();

    app.delete("/api/v1/properties/hotel-a").send().await.assert_status(204);

    let r = app.get(&path(&linked["id"])).header("if-none-match", &etag).send().await;
    r.assert_status(200);
    assert_eq!(r.body["propertyIds"], json!(["hotel-b"]));
    let version_after = r.body["version"].as_i64().unwrap();
    assert_eq!(version_after, version_before.as_i64().unwrap() + 1);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body["updatedAt"].as_str().unwrap() > before.body["updatedAt"].as_str().unwrap());
    let revs = app.get(&format!("{}/revisions", path(&linked["id"]))).send().await.body;
    let last = revs.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "UNLINK_PROPERTY");
    assert_eq!(last["version"], version_after);
    assert_eq!(last["changedBy"], "property-deleted");
    assert_eq!(last["contact"], r.body, "the revision is the contact after the unlink");
    // Contacts not linked to the property, and tombstones, are untouched.
    assert_eq!(version(&app, &other["id"]).await, 1);
    assert_eq!(app.get(&path(&merged["id"])).send().await.status, 410);
    app.get("/api/v3/contacts?propertyId=hotel-a")
        .header("if-none-match", &list_etag)
        .send()
        .await
        .assert_status(200);
    // Deleting a property nobody links is unchanged.
    app.delete("/api/v1/properties/hotel-b").send().await.assert_status(204);
    assert_eq!(version(&app, &other["id"]).await, 2);
    assert_eq!(version(&app, &linked["id"]).await, version_after + 1);
    crate::fixtures::property(&app, "hotel-c", "3").await;
    app.delete("/api/v1/properties/hotel-c").send().await.assert_status(204);
    assert_eq!(version(&app, &other["id"]).await, 2);
}

/// `size` and `page` out of range are clamped; only a non-integer is a 400.
async fn list_paging_is_clamped(app: TestApp) {
    for n in 0..3 {
        create(&app, json!({"lastName": format!("P{n}")})).await;
    }
    let list = |q: &'static str| app.get(&format!("/api/v3/contacts{q}")).send();
    let r = list("?size=99999999999").await;
    r.assert_status(200);
    assert_eq!(r.body["page"]["size"], 500);
    assert_eq!(r.body["content"].as_array().unwrap().len(), 3);
    let r = list("?size=999999999999999999999999999&page=99999999999").await;
    r.assert_status(200);
    assert_eq!(r.body["page"]["size"], 500);
    assert_eq!(r.body["content"], json!([]), "a page past the end is empty");
    let r = list("?size=-3&page=-1").await;
    r.assert_status(200);
    assert_eq!(r.body["page"]["size"], 1);
    assert_eq!(r.body["page"]["number"], 0);
    assert_eq!(r.body["content"].as_array().unwrap().len(), 1);
    let r = list("?size=2&page=1").await;
    assert_eq!(r.body["content"].as_array().unwrap().len(), 1);
    for bad in ["?size=abc", "?page=1.5", "?size=", "?page=two"] {
        let r = list(bad).await;
        if bad == "?size=" {
            // An empty value is the default.
            r.assert_status(200);
            assert_eq!(r.body["page"]["size"], 20);
            continue;
        }
        r.assert_problem(400);
    }
}

/// `?includeRevisions=true` is another representation with its own ETag; each form's tag
/// validates that form only, and either is accepted by `If-Match`.
async fn revisions_representation_has_its_own_etag(app: TestApp) {
    let c = create(&app, json!({"lastName": "Jansen"})).await;
    let plain_path = path(&c["id"]);
    let full_path = format!("{plain_path}?includeRevisions=true");
    let plain = app.get(&plain_path).send().await;
    let full = app.get(&full_path).send().await;
    full.assert_status(200);
    assert!(full.body["revisions"].is_array());
    let (plain_tag, full_tag) =
        (plain.header("etag").unwrap().to_owned(), full.header("etag").unwrap().to_owned());
    assert_eq!(plain_tag, "\"1\"");
    assert_eq!(full_tag, "\"1-r\"");

    let r = app.get(&full_path).header("if-none-match", &plain_tag).send().await;
    r.assert_status(200);
    assert!(r.body["revisions"].is_array());
    let r = app.get(&plain_path).header("if-none-match", &full_tag).send().await;
    r.assert_status(200);
    let r = app.get(&full_path).header("if-none-match", &full_tag).send().await;
    r.assert_status(304);
    assert_eq!(r.header("etag"), Some(full_tag.as_str()));
    app.get(&plain_path).header("if-none-match", &plain_tag).send().await.assert_status(304);

    // If-Match takes either form.
    app.put(&plain_path, json!({"lastName": "A"}))
        .header("if-match", &full_tag)
        .send()
        .await
        .assert_status(200);
    let r = app.put(&plain_path, json!({"lastName": "B"})).header("if-match", &full_tag).send().await;
    r.assert_problem(412);
    let r = app.put(&plain_path, json!({"lastName": "B"})).header("if-match", "\"2-r\"").send().await;
    r.assert_status(200);
    let r = app.get(&full_path).header("if-none-match", &full_tag).send().await;
    r.assert_status(200);
    assert_eq!(r.header("etag"), Some("\"3-r\""));
    assert_eq!(r.body["revisions"].as_array().unwrap().len(), 3);
}

store_tests!(
    create_read_and_headers,
    a_created_contact_reads_back_as_answered,
    validation_reports_every_error_and_changes_nothing,
    overwrite_replaces_scalars_and_sent_collections_only,
    if_match_guards_writes,
    conditional_reads_of_one_contact,
    list_filters_paging_and_sorting,
    list_conditional_reads,
    sub_resources_and_primary_rules,
    notes_custom_fields_and_revisions,
    delete_removes_everything,
    tenants_and_scopes_are_isolated,
    scope_is_checked_before_the_body,
    deleting_a_property_is_a_write_to_linked_contacts,
    list_paging_is_clamped,
    revisions_representation_has_its_own_etag,
);
