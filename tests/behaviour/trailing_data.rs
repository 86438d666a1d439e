//! A body is one JSON document: anything but whitespace after it (`{..} garbage`, two concatenated
//! documents) is a 400 in every route family's envelope, and nothing is stored.

use axum::http::Method;
use serde_json::Value;

use crate::common::{TestApp, TestResponse};
use crate::crm::{create, full_contact, path as contact_path};
use crate::fixtures::{contacts_path, property, sarah, set};
use crate::store_tests;

/// `body` as text followed by each kind of trailing data: garbage, a second document, a stray
/// bracket.
fn trailing(body: &Value) -> [String; 3] {
    [format!("{body} garbage"), format!("{body}{body}"), format!("{body}]")]
}

async fn send(app: &TestApp, method: Method, path: &str, text: String) -> TestResponse {
    app.call(method, path).auth(&app.admin).raw("application/json", text).send().await
}

async fn booking_refuses_trailing_data(app: TestApp) {
    property(&app, "T1", "1").await;
    for text in trailing(&set(vec![sarah()])) {
        let r = send(&app, Method::PUT, &contacts_path("T1"), text).await;
        r.assert_status(400);
        assert_eq!(r.body["errors"][0]["code"], "450");
        assert_eq!(r.body["errors"][0]["details"]["reason"], "malformed_json");
    }
    assert_eq!(app.get(&contacts_path("T1")).send().await.body["data"]["revision"], 0);
    // Whitespace after the document is fine.
    let r = send(&app, Method::PUT, &contacts_path("T1"), format!("{} \r\n\t", set(vec![sarah()]))).await;
    r.assert_status(200);
}

async fn su_refuses_trailing_data(app: TestApp) {
    property(&app, "T2", "22").await;
    let mut body = set(vec![sarah()]);
    body["hotel_id"] = "T2".into();
    body["channel_hotel_id"] = "22".into();
    for text in trailing(&body) {
        let r = app
            .call(Method::POST, "/SUAPI/jservice/bdc/property/contact/set")
            .header("authorization", &app.admin)
            .header("app-id", "t")
            .raw("application/json", text)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.body["Status"], "Fail");
        assert_eq!(r.body["Errors"][0]["Code"], "400");
        assert!(
            r.body["Errors"][0]["ShortText"].as_str().unwrap().starts_with("malformed JSON"),
            "{}",
            r.body
        );
    }
    assert_eq!(app.get(&contacts_path("T2")).send().await.body["data"]["revision"], 0);
}

async fn crm_refuses_trailing_data(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let base = contact_path(&c["id"]);
    let cases: [(Method, String, Value); 6] = [
        (Method::POST, "/api/v3/contacts".into(), serde_json::json!({"firstName": "x"})),
        (Method::PUT, base.clone(), serde_json::json!({"firstName": "x"})),
        (
            Method::POST,
            format!("{base}/addresses"),
            serde_json::json!({"addressLine1": "Dam 1", "city": "Amsterdam", "countryCode": "NL"}),
        ),
        (Method::POST, format!("{base}/notes"), serde_json::json!({"content": "x"})),
        (Method::PUT, format!("{base}/customFields"), serde_json::json!([])),
        (
            Method::POST,
            "/api/v3/contacts/merge".into(),
            serde_json::json!({"primaryContactId": 1, "secondaryContactId": 2}),
        ),
    ];
    for (method, path, body) in cases {
        for text in trailing(&body) {
            let r = send(&app, method.clone(), &path, text).await;
            r.assert_problem(400);
            assert_eq!(r.problem_errors(), [(String::new(), "malformed_json".to_owned())], "{method} {path}");
        }
    }
    // Nothing changed: one contact, still at its first version.
    assert_eq!(app.get("/api/v3/contacts").send().await.body["page"]["totalElements"], 1);
    assert_eq!(crate::crm::version(&app, &c["id"]).await, 1);
    let r = send(&app, Method::POST, "/api/v3/contacts", "{\"firstName\": \"x\"}\n ".into()).await;
    r.assert_status(201);
}

async fn customers_refuse_trailing_data(app: TestApp) {
    let body = serde_json::json!({"contacts": [{"type": "billing", "name": "John Smith"}]});
    for text in trailing(&body) {
        let r = send(&app, Method::POST, "/api/v1/customers/C1/contacts", text).await;
        r.assert_status(400);
        assert_eq!(r.body["status"], "Failure");
        let message = r.body["error"]["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("body: malformed JSON"), "{message}");
    }
    app.get("/api/v1/customers/C1/contacts").send().await.assert_status(404);
}

async fn properties_refuse_trailing_data(app: TestApp) {
    for text in trailing(&serde_json::json!({"name": "x"})) {
        let r = send(&app, Method::PUT, "/api/v1/properties/T3", text).await;
        r.assert_problem(400);
        assert_eq!(r.problem_errors(), [(String::new(), "malformed_json".to_owned())]);
    }
    app.get("/api/v1/properties/T3").send().await.assert_problem(404);
}

store_tests!(
    booking_refuses_trailing_data,
    su_refuses_trailing_data,
    crm_refuses_trailing_data,
    customers_refuse_trailing_data,
    properties_refuse_trailing_data,
);
