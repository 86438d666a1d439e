//! Customer billing/service contacts (API.md section 7, seed 002).

use axum::http::Method;
use base64::Engine;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{TestApp, TestResponse};
use crate::store_tests;

/// The seed's sample customer.
const SEED_CUSTOMER: &str = "000010000005008";

fn path(customer_id: &str) -> String {
    format!("/api/v1/customers/{customer_id}/contacts")
}

/// The sample request of seed 002.
fn sample() -> Value {
    json!({
        "contacts": [{
            "type": "billing",
            "work_phone": "9147212006",
            "work_phone_extension": "2006",
            "organization_name": "APPLE BANK FOR SAVINGS",
            "email": "IDZAFEROVIC@APPLE-BANK.COM",
            "name": "John Smith",
            "mobile_phone": "9147212006",
            "fax": "9147212006"
        }, {
            "type": "service",
            "work_phone": "9147212006",
            "work_phone_extension": "2006",
            "organization_name": "APPLE BANK FOR SAVINGS",
            "name": "John Smith",
            "mobile_phone": "9147212006",
            "fax": "9147212006"
        }]
    })
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn post(app: &TestApp, customer_id: &str, body: &Value) -> TestResponse {
    app.call(Method::POST, &path(customer_id)).auth(&app.admin).json(body).send().await
}

async fn get(app: &TestApp, customer_id: &str) -> TestResponse {
    app.call(Method::GET, &path(customer_id)).auth(&app.admin).send().await
}

/// The stored contacts without their timestamps.
async fn stored(app: &TestApp, customer_id: &str) -> Value {
    let r = get(app, customer_id).await;
    r.assert_status(200);
    let mut contacts = r.body["contacts"].clone();
    for c in contacts.as_array_mut().unwrap() {
        assert!(c["updated_at"].is_string(), "{c}");
        c.as_object_mut().unwrap().remove("updated_at");
    }
    contacts
}

/// Asserts seed 002's failure envelope: status, `code`, `message`, the error messages and the
/// echoed tracking id (body and header agree). Returns the tracking id.
#[track_caller]
fn assert_failure(r: &TestResponse, status: u16, message: &str, errors: &[&str]) -> String {
    r.assert_status(status);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["status"], "Failure", "{:#}", r.body);
    assert_eq!(r.body["error"]["code"], status.to_string());
    assert_eq!(r.body["error"]["message"], message);
    let got: Vec<&str> = r.body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    if !errors.is_empty() {
        assert_eq!(got, errors, "{:#}", r.body);
    } else {
        assert_eq!(got.len(), 1, "{:#}", r.body);
    }
    let tid = r.body["request_tracking_id"].as_str().expect("request_tracking_id").to_owned();
    assert_eq!(r.header("request-tracking-id"), Some(tid.as_str()));
    tid
}

fn assert_uuid(s: &str) {
    assert!(uuid::Uuid::parse_str(s).is_ok(), "not a generated UUID: {s}");
}

async fn seed_sample_is_stored_and_read_back(app: TestApp) {
    let r = app
        .call(Method::POST, &path(SEED_CUSTOMER))
        .header("authorization", &basic("ocsuser", &app.admin))
        .header("accept", "application/json")
        .header("request-tracking-id", "67865456")
        .header("profileid", "CAAG_302")
        .json(&sample())
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body, json!({"status": "Success", "request_tracking_id": "67865456"}));
    assert_eq!(r.header("request-tracking-id"), Some("67865456"));

    let r = app
        .call(Method::GET, &path(SEED_CUSTOMER))
        .auth(&app.admin)
        .header("Request-Tracking-Id", "g-1")
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "Success");
    assert_eq!(r.body["request_tracking_id"], "g-1");
    assert_eq!(r.header("request-tracking-id"), Some("g-1"));
    assert_eq!(r.body["customer_id"], SEED_CUSTOMER);
    assert!(r.body["created_at"].is_string() && r.body["updated_at"].is_string());
    assert_eq!(
        stored(&app, SEED_CUSTOMER).await,
        json!([{
            "type": "billing", "name": "John Smith", "work_phone": "9147212006", "work_phone_extension": "2006",
            "mobile_phone": "9147212006", "fax": "9147212006", "email": "IDZAFEROVIC@APPLE-BANK.COM",
            "organization_name": "APPLE BANK FOR SAVINGS"
        }, {
            "type": "service", "name": "John Smith", "work_phone": "9147212006", "work_phone_extension": "2006",
            "mobile_phone": "9147212006", "fax": "9147212006", "email": null,
            "organization_name": "APPLE BANK FOR SAVINGS"
        }])
    );
}

async fn values_are_normalised(app: TestApp) {
    let body = json!({"contacts": [{
        "type": "Service", "name": "  Ann Lee ", "work_phone": "(914) 721-2006", "work_phone_extension": " 12 ",
        "mobile_phone": "+1 914.721.2006", "fax": "[914] 721 2006", "email": " ann@example.com ",
        "organization_name": ""
    }]});
    post(&app, "c-1", &body).await.assert_status(200);
    assert_eq!(
        stored(&app, "c-1").await,
        json!([{
            "type": "service", "name": "Ann Lee", "work_phone": "9147212006", "work_phone_extension": "12",
            "mobile_phone": "+19147212006", "fax": "9147212006", "email": "ann@example.com",
            "organization_name": null
        }])
    );
}

async fn each_contact_replaces_its_type_only(app: TestApp) {
    let billing = json!({"type": "billing", "name": "Bill One", "fax": "1111", "email": "b1@example.com"});
    let service = json!({"type": "service", "name": "Sam Service", "mobile_phone": "2222"});
    post(&app, "c-2", &json!({"contacts": [billing]})).await.assert_status(200);
    assert_eq!(stored(&app, "c-2").await.as_array().unwrap().len(), 1);
    let first = get(&app, "c-2").await.body;

    post(&app, "c-2", &json!({"contacts": [service]})).await.assert_status(200);
    let contacts = stored(&app, "c-2").await;
    assert_eq!(contacts[0]["name"], "Bill One");
    assert_eq!(contacts[1]["name"], "Sam Service");

    // The billing contact is replaced whole: members not sent are cleared.
    post(&app, "c-2", &json!({"contacts": [{"type": "BILLING", "name": "Bill Two", "work_phone": "3333"}]}))
        .await
        .assert_status(200);
    let after = get(&app, "c-2").await.body;
    assert_eq!(
        stored(&app, "c-2").await,
        json!([{
            "type": "billing", "name": "Bill Two", "work_phone": "3333", "work_phone_extension": null,
            "mobile_phone": null, "fax": null, "email": null, "organization_name": null
        }, {
            "type": "service", "name": "Sam Service", "work_phone": null, "work_phone_extension": null,
            "mobile_phone": "2222", "fax": null, "email": null, "organization_name": null
        }])
    );
    assert_eq!(after["created_at"], first["created_at"], "the customer is created once");
    assert_ne!(after["contacts"][0]["updated_at"], first["contacts"][0]["updated_at"]);
}

async fn tracking_id_comes_from_header_body_or_is_generated(app: TestApp) {
    let mut body = sample();
    body["request_tracking_id"] = json!("from-body");
    // Body only.
    let r = post(&app, "c-3", &body).await;
    r.assert_status(200);
    assert_eq!(r.body["request_tracking_id"], "from-body");
    assert_eq!(r.header("request-tracking-id"), Some("from-body"));
    // Header and body: the header wins.
    let r = app
        .call(Method::POST, &path("c-3"))
        .auth(&app.admin)
        .header("Request-Tracking-Id", "from-header")
        .json(&body)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["request_tracking_id"], "from-header");
    assert_eq!(r.header("request-tracking-id"), Some("from-header"));
    // Neither: a fresh UUID per request.
    let a = post(&app, "c-3", &sample()).await;
    let b = post(&app, "c-3", &sample()).await;
    let (a, b) =
        (a.body["request_tracking_id"].as_str().unwrap(), b.body["request_tracking_id"].as_str().unwrap());
    assert_uuid(a);
    assert_uuid(b);
    assert_ne!(a, b);
    // A blank id counts as absent.
    let mut blank = sample();
    blank["request_tracking_id"] = json!(" ");
    let r = app
        .call(Method::POST, &path("c-3"))
        .auth(&app.admin)
        .header("Request-Tracking-Id", "")
        .json(&blank)
        .send()
        .await;
    r.assert_status(200);
    assert_uuid(r.body["request_tracking_id"].as_str().unwrap());

    // Failures echo it too: from the body of an invalid request, from the header on 401, and a
    // generated one when neither is there.
    let r = post(&app, "c-3", &json!({"request_tracking_id": "bad-body", "contacts": []})).await;
    assert_eq!(
        assert_failure(&r, 400, "Validation Error", &["contacts: must have 1 or 2 items"]),
        "bad-body"
    );
    let r = app
        .call(Method::POST, &path("c-3"))
        .header("Request-Tracking-Id", "t-401")
        .json(&sample())
        .send()
        .await;
    assert_eq!(assert_failure(&r, 401, "Unauthorized", &[]), "t-401");
    let r = get(&app, "nobody").await;
    assert_uuid(&assert_failure(&r, 404, "Not Found", &["customer not found"]));
    // An unusable header id is itself a violation; the body's id is echoed instead.
    let r = app
        .call(Method::POST, &path("c-3"))
        .auth(&app.admin)
        .header("Request-Tracking-Id", &"x".repeat(129))
        .json(&body)
        .send()
        .await;
    let tid = assert_failure(
        &r,
        400,
        "Validation Error",
        &["Request-Tracking-Id: must be 1 to 128 printable ASCII characters"],
    );
    assert_eq!(tid, "from-body");
}

async fn every_rule_is_enforced_and_nothing_changes(app: TestApp) {
    post(&app, SEED_CUSTOMER, &sample()).await.assert_status(200);
    let before = get(&app, SEED_CUSTOMER).await.body;
    let ok = |extra: Value| {
        let mut c = json!({"type": "billing", "name": "N"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        json!({"contacts": [c]})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["contacts: is required"]),
        (json!({"contacts": []}), vec!["contacts: must have 1 or 2 items"]),
        (json!({"contacts": "x"}), vec!["contacts: must be an array"]),
        (json!([1]), vec!["body: must be a JSON object"]),
        (json!({"contacts": [1]}), vec!["contacts[0]: must be an object"]),
        (
            json!({"contacts": [{"type": "billing", "name": "A"}, {"type": "service", "name": "B"}, {"type": "billing", "name": "C"}]}),
            vec![
                "contacts: must have 1 or 2 items",
                "contacts[2].type: billing is already given by contacts[0]; one contact per type",
            ],
        ),
        (
            json!({"contacts": [{"type": "service", "name": "A"}, {"type": "Service", "name": "B"}]}),
            vec!["contacts[1].type: service is already given by contacts[0]; one contact per type"],
        ),
        (json!({"contacts": [{"name": "A"}]}), vec!["contacts[0].type: is required"]),
        (
            json!({"contacts": [{"type": "shipping", "name": "A"}]}),
            vec!["contacts[0].type: must be \"billing\" or \"service\""],
        ),
        (json!({"contacts": [{"type": 1, "name": "A"}]}), vec!["contacts[0].type: must be a string"]),
        (json!({"contacts": [{"type": "billing"}]}), vec!["contacts[0].name: is required"]),
        (ok(json!({"name": "  "})), vec!["contacts[0].name: must not be blank"]),
        (ok(json!({"name": "n".repeat(201)})), vec!["contacts[0].name: must be at most 200 characters"]),
        (
            ok(json!({"organization_name": "o".repeat(201)})),
            vec!["contacts[0].organization_name: must be at most 200 characters"],
        ),
        (ok(json!({"work_phone": "123"})), vec!["contacts[0].work_phone: must have 4 to 20 digits"]),
        (
            ok(json!({"mobile_phone": "1".repeat(21)})),
            vec!["contacts[0].mobile_phone: must have 4 to 20 digits"],
        ),
        (
            ok(json!({"fax": "914-721-2006 x12"})),
            vec!["contacts[0].fax: may only hold digits, spaces, dashes, dots, brackets and a leading +"],
        ),
        (ok(json!({"fax": 9147212006u64})), vec!["contacts[0].fax: must be a string"]),
        (
            ok(json!({"work_phone": "1234", "work_phone_extension": "12345678901"})),
            vec!["contacts[0].work_phone_extension: must be 1 to 10 digits"],
        ),
        (
            ok(json!({"work_phone": "1234", "work_phone_extension": "12-3"})),
            vec!["contacts[0].work_phone_extension: must be 1 to 10 digits"],
        ),
        (
            ok(json!({"work_phone_extension": "12"})),
            vec!["contacts[0].work_phone_extension: needs a work_phone"],
        ),
        (ok(json!({"email": "not-an-email"})), vec!["contacts[0].email: must be a valid email address"]),
        (ok(json!({"colour": "red"})), vec!["contacts[0].colour: unknown member"]),
        (json!({"contacts": [{"type": "billing", "name": "N"}], "extra": 1}), vec!["extra: unknown member"]),
        (
            json!({"contacts": [{"type": "billing", "name": "N"}], "request_tracking_id": "caf\u{e9}"}),
            vec!["request_tracking_id: must be 1 to 128 printable ASCII characters"],
        ),
        // All violations at once.
        (
            json!({"contacts": [{"type": "billing", "name": "", "work_phone": "1", "email": "x@"}, {"type": "nope", "name": "B", "fax": "12"}]}),
            vec![
                "contacts[0].name: must not be blank",
                "contacts[0].work_phone: must have 4 to 20 digits",
                "contacts[0].email: must be a valid email address",
                "contacts[1].type: must be \"billing\" or \"service\"",
                "contacts[1].fax: must have 4 to 20 digits",
            ],
        ),
    ];
    for (body, expected) in cases {
        let r = post(&app, SEED_CUSTOMER, &body).await;
        assert_failure(&r, 400, "Validation Error", &expected);
        assert_eq!(get(&app, SEED_CUSTOMER).await.body["contacts"], before["contacts"], "changed by {body}");
    }
    // A bad customer id, reported with the body's violations.
    let r = post(&app, "bad%20id", &json!({"contacts": []})).await;
    assert_failure(
        &r,
        400,
        "Validation Error",
        &["customer_id: must be 1 to 64 letters, digits, '_' or '-'", "contacts: must have 1 or 2 items"],
    );
    let r = get(&app, &"x".repeat(65)).await;
    assert_failure(
        &r,
        400,
        "Validation Error",
        &["customer_id: must be 1 to 64 letters, digits, '_' or '-'"],
    );
    // An invalid first write creates no customer.
    let r = post(&app, "fresh", &json!({"contacts": [{"type": "billing", "name": "N", "fax": "1"}]})).await;
    r.assert_status(400);
    get(&app, "fresh").await.assert_status(404);
}

async fn credentials_and_scopes(app: TestApp) {
    let reader = app.key("t1", &[Scope::Read]).await;
    let writer = app.key("t1", &[Scope::Write]).await;
    // Basic with any user name, and Bearer.
    let r = app
        .call(Method::POST, &path("c-4"))
        .header("authorization", &basic("", &writer))
        .json(&sample())
        .send()
        .await;
    r.assert_status(200);
    let r =
        app.call(Method::GET, &path("c-4")).header("authorization", &basic("anyone", &reader)).send().await;
    r.assert_status(200);
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 2);

    for auth in [
        None,
        Some(basic("ocsuser", "ocsuser")),
        Some(basic("ocsuser", "")),
        Some(format!("Bearer {reader}x")),
        Some("Basic !!!not-base64".to_owned()),
        Some(reader.clone()),
    ] {
        let mut call = app.call(Method::POST, &path("c-4")).json(&sample());
        if let Some(a) = &auth {
            call = call.header("authorization", a);
        }
        let r = call.send().await;
        assert_failure(
            &r,
            401,
            "Unauthorized",
            &["missing or invalid credentials: send Authorization: Bearer <key>, or Basic with the key as password"],
        );
        let challenges: Vec<_> =
            r.headers.get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(
            challenges.contains(&"Bearer") && challenges.iter().any(|c| c.starts_with("Basic")),
            "{challenges:?}"
        );
    }

    // A valid key without the scope: 403, nothing written.
    let r = app
        .call(Method::POST, &path("c-5"))
        .header("authorization", &basic("u", &reader))
        .json(&sample())
        .send()
        .await;
    assert_failure(&r, 403, "Forbidden", &["this API key lacks the `write` scope"]);
    let r = app.call(Method::GET, &path("c-4")).auth(&writer).send().await;
    assert_failure(&r, 403, "Forbidden", &["this API key lacks the `read` scope"]);
    get(&app, "c-5").await.assert_status(404);

    // A revoked key is refused.
    app.revoke(&writer).await;
    let r = app.call(Method::POST, &path("c-4")).auth(&writer).json(&sample()).send().await;
    r.assert_status(401);
}

async fn customers_are_per_tenant(app: TestApp) {
    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    post(&app, "shared-id", &sample()).await.assert_status(200);
    // Another tenant never sees it...
    let r = app.call(Method::GET, &path("shared-id")).auth(&other).send().await;
    assert_failure(&r, 404, "Not Found", &["customer not found"]);
    // ...and the same id there is a separate customer.
    let r = app
        .call(Method::POST, &path("shared-id"))
        .auth(&other)
        .json(&json!({"contacts": [{"type": "service", "name": "Other Tenant"}]}))
        .send()
        .await;
    r.assert_status(200);
    let r = app.call(Method::GET, &path("shared-id")).auth(&other).send().await;
    r.assert_status(200);
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["contacts"][0]["name"], "Other Tenant");
    let mine = stored(&app, "shared-id").await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(mine[1]["name"], "John Smith");
    // Unknown everywhere.
    assert_failure(&get(&app, "never-written").await, 404, "Not Found", &["customer not found"]);
}

async fn body_errors_use_the_failure_envelope(app: TestApp) {
    let r = app
        .call(Method::POST, &path("c-6"))
        .auth(&app.admin)
        .header("Request-Tracking-Id", "t-json")
        .raw("application/json", "{\"contacts\": [")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.body["error"]["message"], "Validation Error");
    let msg = r.body["error"]["errors"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with("body: malformed JSON"), "{msg}");
    assert_eq!(r.body["request_tracking_id"], "t-json");

    let r = app
        .call(Method::POST, &path("c-6"))
        .auth(&app.admin)
        .raw("text/plain", sample().to_string())
        .send()
        .await;
    assert_failure(&r, 415, "Unsupported Media Type", &["expected Content-Type: application/json"]);
    let r = app
        .call(Method::POST, &path("c-6"))
        .auth(&app.admin)
        .raw("application/json", "x".repeat(300 * 1024))
        .send()
        .await;
    assert_failure(&r, 413, "Payload Too Large", &["request body is larger than the limit"]);
    get(&app, "c-6").await.assert_status(404);
}

/// Concurrent first writes of one new customer both land: the customer upsert serialises them.
async fn concurrent_first_writes_both_land(app: TestApp) {
    let billing = json!({"contacts": [{"type": "billing", "name": "B"}]});
    let service = json!({"contacts": [{"type": "service", "name": "S"}]});
    let (a, b) = tokio::join!(post(&app, "c-7", &billing), post(&app, "c-7", &service));
    a.assert_status(200);
    b.assert_status(200);
    let contacts = stored(&app, "c-7").await;
    assert_eq!((contacts[0]["name"].as_str(), contacts[1]["name"].as_str()), (Some("B"), Some("S")));
}

store_tests!(
    seed_sample_is_stored_and_read_back,
    concurrent_first_writes_both_land,
    values_are_normalised,
    each_contact_replaces_its_type_only,
    tracking_id_comes_from_header_body_or_is_generated,
    every_rule_is_enforced_and_nothing_changes,
    credentials_and_scopes,
    customers_are_per_tenant,
    body_errors_use_the_failure_envelope,
);
