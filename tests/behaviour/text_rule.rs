//! The one character rule at every route family's edge: NUL anywhere (body strings, member names,
//! query values, path ids) is refused before it can reach a store; C0/C1 controls, DEL,
//! noncharacters and bidirectional overrides are refused in names, e-mails, phones, ids and address
//! lines; tabs and line breaks only in note content. Each family answers in its own envelope, and
//! nothing is stored.

use axum::http::Method;
use serde_json::{json, Value};

use crate::common::{TestApp, TestResponse};
use crate::crm::{create, full_contact, path as contact_path, post};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

const SU_SET: &str = "/SUAPI/jservice/bdc/property/contact/set";

/// `(fields[0], code, reason)` of every error of a Booking envelope.
fn booking_errors(r: &TestResponse) -> Vec<(String, String, String)> {
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["details"]["fields"][0].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
                e["details"]["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn triple(pointer: &str, code: &str, reason: &str) -> (String, String, String) {
    (pointer.to_owned(), code.to_owned(), reason.to_owned())
}

fn pair(pointer: &str, code: &str) -> (String, String) {
    (pointer.to_owned(), code.to_owned())
}

/// `contact` with `value` put at the JSON pointer `at`.
fn with(mut body: Value, at: &str, value: Value) -> Value {
    *body.pointer_mut(at).unwrap_or_else(|| panic!("no {at}")) = value;
    body
}

async fn booking_revision(app: &TestApp, id: &str) -> Value {
    let r = app.get(&contacts_path(id)).send().await;
    r.assert_status(200);
    r.body["data"]["revision"].clone()
}

async fn booking_refuses_nul_and_controls(app: TestApp) {
    property(&app, "B1", "1").await;
    // NUL in a string: HTTP 400, Booking code 320, the pointer in details.fields.
    let body = set(vec![with(sarah(), "/contact_person/name", json!("Sarah\u{0}Jansen"))]);
    let r = app.put(&contacts_path("B1"), body).send().await;
    r.assert_status(400);
    assert_eq!(booking_errors(&r), [triple("/contacts/0/contact_person/name", "320", "nul_character")]);
    // ... and in a member name, found before the unknown member is.
    let mut body = set(vec![sarah()]);
    body["x\u{0}"] = json!(1);
    let r = app.put(&contacts_path("B1"), body).send().await;
    r.assert_status(400);
    assert_eq!(booking_errors(&r), [triple("/x\u{0}", "320", "nul_character")]);

    // Every other forbidden character is reported member by member, with the other errors.
    let mut c = sarah();
    c = with(c, "/contact_person/name", json!("Sarah \u{202E}nesnaJ"));
    c = with(c, "/email", json!("sarah\u{7F}@hotel.example"));
    c = with(c, "/phones/0/phone_number", json!("+31201234567\u{7}"));
    c = with(c, "/address/address_line", json!("Damrak\t1"));
    c = with(c, "/address/city_name", json!("Amsterdam\u{FFFF}"));
    c = with(c, "/contact_person/gender", json!("robot"));
    let r = app.put(&contacts_path("B1"), set(vec![c])).send().await;
    r.assert_status(400);
    assert_eq!(
        booking_errors(&r),
        [
            triple("/contacts/0/contact_person/name", "320", "bidi_control"),
            triple("/contacts/0/contact_person/gender", "320", "gender_invalid"),
            triple("/contacts/0/phones/0/phone_number", "320", "control_character"),
            triple("/contacts/0/email", "320", "control_character"),
            triple("/contacts/0/address/address_line", "320", "control_character"),
            triple("/contacts/0/address/city_name", "320", "noncharacter"),
        ]
    );
    // A path id with NUL never reaches the store (Postgres answered 500): the envelope's 400.
    for r in [
        app.get("/contacts-api/properties/B1%00/contacts").send().await,
        app.put("/contacts-api/properties/B1%00/contacts", set(vec![sarah()])).send().await,
    ] {
        r.assert_status(400);
        assert_eq!(booking_errors(&r), [triple("property_id", "450", "nul_character")]);
    }
    assert_eq!(booking_revision(&app, "B1").await, 0);

    // Right-to-left text with its implicit marks is ordinary text.
    let name = "\u{05E9}\u{05E8}\u{05D4} \u{05DB}\u{05D4}\u{05DF}\u{200F}";
    let r = app
        .put(&contacts_path("B1"), set(vec![with(sarah(), "/contact_person/name", json!(name))]))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["data"]["contacts"][0]["contact_person"]["name"], name);
}

async fn su_refuses_nul_and_controls(app: TestApp) {
    property(&app, "S1", "777").await;
    let su = |body: Value| {
        app.call(Method::POST, SU_SET)
            .header("authorization", &app.admin)
            .header("app-id", "t")
            .json(&body)
            .send()
    };
    let body = |contacts: Vec<Value>| {
        let mut b = set(contacts);
        b["hotel_id"] = json!("S1");
        b["channel_hotel_id"] = json!("777");
        b
    };
    let su_errors = |r: &TestResponse| -> Vec<(String, String)> {
        r.body["Errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["Code"].as_str().unwrap().to_owned(), e["ShortText"].as_str().unwrap().to_owned()))
            .collect()
    };
    let r = su(body(vec![with(sarah(), "/email", json!("sarah@hotel.example\u{0}"))])).await;
    r.assert_status(400);
    assert_eq!(r.body["Status"], "Fail");
    assert_eq!(su_errors(&r), [pair("320", "/contacts/0/email: must not contain NUL (U+0000)")]);
    // NUL in the hotel id is caught before the hotel lookup.
    let r = su(with(body(vec![sarah()]), "/hotel_id", json!("S1\u{0}"))).await;
    r.assert_status(400);
    assert_eq!(su_errors(&r), [pair("320", "/hotel_id: must not contain NUL (U+0000)")]);
    let r = su(body(vec![with(sarah(), "/contact_person/name", json!("Sarah\u{1B}[31m"))])).await;
    r.assert_status(400);
    assert_eq!(
        su_errors(&r),
        [pair("320", "/contacts/0/contact_person/name: must not contain the control character U+001B")]
    );
    assert_eq!(booking_revision(&app, "S1").await, 0);
    su(body(vec![sarah()])).await.assert_status(200);
}

async fn crm_contacts_refuse_nul_and_controls(app: TestApp) {
    let r = post(&app, "/api/v3/contacts", json!({"firstName": "Ann\u{0}"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/firstName", "nul_character")]);

    let mut c = full_contact();
    c["lastName"] = json!("Jansen\u{202E}");
    c["companyName"] = json!("Acme\u{7F}");
    c["orderReferences"] = json!(["ORD\u{1}"]);
    c["emailAddresses"][0]["emailAddress"] = json!("sarah\u{FDD0}@example.com");
    c["telephones"][0]["number"] = json!("020 123\u{7} 4567");
    c["addresses"][0]["addressLine1"] = json!("Damrak\n1");
    c["customFields"] = json!([{"name": "x", "type": "STRING", "value": "a\u{2066}b"}]);
    let r = post(&app, "/api/v3/contacts", c).send().await;
    r.assert_problem(422);
    assert_eq!(
        r.problem_errors(),
        [
            pair("/lastName", "bidi_control"),
            pair("/companyName", "control_character"),
            pair("/orderReferences/0", "control_character"),
            pair("/addresses/0/addressLine1", "control_character"),
            pair("/emailAddresses/0/emailAddress", "noncharacter"),
            pair("/telephones/0/number", "control_character"),
            pair("/customFields/0/value", "bidi_control"),
        ]
    );
    // Filter values and path ids: 400 naming the parameter.
    for (query, param, code) in [
        ("lastName=%00", "lastName", "nul_character"),
        ("emailAddress=a%09b%40example.com", "emailAddress", "control_character"),
        ("firstName=%E2%80%AEnnA", "firstName", "bidi_control"),
        ("accountId=A%7F", "accountId", "control_character"),
        ("propertyId=P%00", "propertyId", "nul_character"),
    ] {
        let r = app.get(&format!("/api/v3/contacts?{query}")).send().await;
        r.assert_problem(400);
        assert_eq!(r.problem_errors(), [pair(param, code)], "{query}");
    }
    let r = app.get("/api/v3/contacts/%00").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [pair("id", "nul_character")]);
    // Nothing was stored.
    assert_eq!(app.get("/api/v3/contacts").send().await.body["page"]["totalElements"], 0);
}

async fn crm_sub_resources_notes_and_custom_fields_refuse_nul_and_controls(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let base = contact_path(&c["id"]);
    let address = c["addresses"][0]["id"].clone();
    let r = post(
        &app,
        &format!("{base}/addresses"),
        json!({"addressLine1": "Dam 1", "city": "Ams\u{85}terdam", "countryCode": "NL"}),
    )
    .send()
    .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/city", "control_character")]);
    let r = app
        .put(
            &format!("{base}/addresses/{address}"),
            json!({"addressLine1": "Dam\u{0} 1", "city": "Amsterdam", "countryCode": "NL"}),
        )
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/addressLine1", "nul_character")]);
    let r = post(
        &app,
        &format!("{base}/emailAddresses"),
        json!({"emailAddress": "a@b.example", "type": "WO\u{0}RK"}),
    )
    .send()
    .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/type", "nul_character")]);
    let r = post(
        &app,
        &format!("{base}/telephones"),
        json!({"number": "+31 20 123 4567", "extension": "1\u{202D}2"}),
    )
    .send()
    .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/extension", "extension_invalid")]);
    let r = post(&app, &format!("{base}/telephones"), json!({"number": "+31\u{2067}201234567"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/number", "bidi_control")]);
    let r = app
        .put(&format!("{base}/customFields"), json!([{"name": "a\u{0}", "type": "STRING", "value": "x"}]))
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/0/name", "nul_character")]);
    let r = app
        .put(
            &format!("{base}/customFields"),
            json!([{"name": "note", "type": "STRING", "value": "two\nlines"}]),
        )
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/0/value", "control_character")]);

    // Notes: content may span lines and hold tabs; nothing else may, and NUL never.
    let r =
        post(&app, &format!("{base}/notes"), json!({"content": "Called back\nPrefers:\tthe top floor\r\n"}))
            .send()
            .await;
    r.assert_status(201);
    assert_eq!(r.body["content"], "Called back\nPrefers:\tthe top floor");
    for (body, pointer, code) in [
        (json!({"content": "two\u{0}"}), "/content", "nul_character"),
        (json!({"content": "bell\u{7}"}), "/content", "control_character"),
        (json!({"content": "x", "author": "Re\nception"}), "/author", "control_character"),
        (json!({"content": "x", "tags": ["ok", "a\tb"]}), "/tags/1", "control_character"),
    ] {
        let r = post(&app, &format!("{base}/notes"), body).send().await;
        r.assert_problem(422);
        assert_eq!(r.problem_errors(), [pair(pointer, code)]);
    }
    // Only the one note and the creation are stored.
    let r = app.get(&format!("{base}/notes")).send().await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(crate::crm::version(&app, &c["id"]).await, 2);
    let r = app.get(&format!("{base}/notes?noteId=%00")).send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [pair("noteId", "nul_character")]);
}

async fn customers_refuse_nul_and_controls(app: TestApp) {
    let path = |id: &str| format!("/api/v1/customers/{id}/contacts");
    let messages = |r: &TestResponse| -> Vec<String> {
        r.assert_status(400);
        assert_eq!(r.body["status"], "Failure");
        r.body["error"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let contact = |name: &str, phone: &str| json!({"contacts": [{"type": "billing", "name": name, "work_phone": phone}]});
    let r = app
        .call(Method::POST, &path("C1"))
        .auth(&app.admin)
        .json(&contact("John\u{0}", "914-721-2006"))
        .send()
        .await;
    assert_eq!(messages(&r), ["contacts[0].name: must not contain NUL (U+0000)"]);
    let r = app
        .call(Method::POST, &path("C1"))
        .auth(&app.admin)
        .json(&contact("John \u{202E}htimS", "914\u{7}721"))
        .send()
        .await;
    assert_eq!(
        messages(&r),
        [
            "contacts[0].name: must not contain the bidirectional control U+202E",
            "contacts[0].work_phone: must not contain the control character U+0007",
        ]
    );
    let mut body = contact("John", "914-721-2006");
    body["contacts"][0]["email"] = json!("john@example.com\u{FFFE}");
    body["contacts"][0]["organization_name"] = json!("Apple\tBank");
    let r = app.call(Method::POST, &path("C1")).auth(&app.admin).json(&body).send().await;
    assert_eq!(
        messages(&r),
        [
            "contacts[0].email: must not contain the noncharacter U+FFFE",
            "contacts[0].organization_name: must not contain U+0009: tabs and line breaks are allowed in note content only",
        ]
    );
    for r in [
        app.call(Method::POST, &path("C%001"))
            .auth(&app.admin)
            .json(&contact("John", "914-721-2006"))
            .send()
            .await,
        app.call(Method::GET, &path("C%001")).auth(&app.admin).send().await,
    ] {
        assert_eq!(messages(&r), ["customer_id: must not contain NUL (U+0000)"]);
    }
    app.call(Method::GET, &path("C1")).auth(&app.admin).send().await.assert_status(404);
}

async fn properties_refuse_nul_and_controls(app: TestApp) {
    let r = app.put("/api/v1/properties/P1", json!({"name": "Hotel\u{0}Seven"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [pair("/name", "nul_character")]);
    let r = app
        .put(
            "/api/v1/properties/P1",
            json!({"name": "Hotel \u{202E}neveS", "channel_mappings": [{"channel": "booking", "channel_property_id": "12\u{7}"}]}),
        )
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(
        r.problem_errors(),
        [pair("/name", "bidi_control"), pair("/channel_mappings/0/channel_property_id", "control_character")]
    );
    // Path ids and query values: 400 naming the parameter, on every route of the family.
    for r in [
        app.get("/api/v1/properties/P%001").send().await,
        app.put("/api/v1/properties/P%001", json!({})).send().await,
        app.delete("/api/v1/properties/P%001").send().await,
        app.get("/api/v1/properties/P%001/contacts/revisions").send().await,
        app.get("/api/v1/properties/P%001/contacts/revisions/1").send().await,
    ] {
        r.assert_problem(400);
        assert_eq!(r.problem_errors(), [pair("property_id", "nul_character")]);
    }
    let r = app.get("/api/v1/properties/P%01").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [pair("property_id", "control_character")]);
    let r = app.get("/api/v1/properties?cursor=%00").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [pair("cursor", "nul_character")]);
    app.get("/api/v1/properties/P1").send().await.assert_problem(404);
    // The same rule holds on the operations routes.
    let r = app.get("/docs/a%00.css").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [pair("file", "nul_character")]);
    // A Booking listing with an ordinary contact still works end to end.
    property(&app, "P2", "2").await;
    app.put(
        &contacts_path("P2"),
        set(vec![contact(&["general"], "Ann", "ann@hotel.example", "+31201234567")]),
    )
    .send()
    .await
    .assert_status(200);
}

store_tests!(
    booking_refuses_nul_and_controls,
    su_refuses_nul_and_controls,
    crm_contacts_refuse_nul_and_controls,
    crm_sub_resources_notes_and_custom_fields_refuse_nul_and_controls,
    customers_refuse_nul_and_controls,
    properties_refuse_nul_and_controls,
);
