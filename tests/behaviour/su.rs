//! SU-compatible contact sets (API.md section 5, seed 004).

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{TestApp, TestResponse};
use crate::fixtures::{contact, contacts_path, property, sarah};
use crate::store_tests;

const SET: &str = "/SUAPI/jservice/bdc/property/contact/set";
const RETRIEVE: &str = "/SUAPI/jservice/bdc/property/contact/retrieve";

/// The sample request of seed 004.
fn sample() -> Value {
    json!({
        "hotel_id": "NT7",
        "channel_hotel_id": "12837615",
        "contacts": [
            {
                "contact_profiles": [{"type": "invoices"}],
                "address": {"city_name": "Amsterdam", "country_code": "NL", "postal_code": "1011 DL", "address_line": "New Straat 123", "language_code": "en-gb"},
                "contact_person": {"gender": "female", "name": "Waddington Bloem", "job_title": "Administration Employee", "language_code": "en-gb"},
                "phones": [{"phone_number": "+31243611111", "phone_tech_type": "1", "extension": "1"}],
                "email": "test@booking.com"
            },
            {
                "contact_profiles": [{"type": "general"}],
                "address": {"city_name": "Amsterdam", "country_code": "NL", "postal_code": "1011 DL", "address_line": "New Straat 456", "language_code": "en-gb"},
                "contact_person": {"gender": "Male", "name": "Bensen Clay", "job_title": "Administration Employee", "language_code": "en-gb"},
                "phones": [{"phone_number": "+31243611111", "phone_tech_type": "1", "extension": "1"}],
                "email": "tests@booking.com"
            }
        ]
    })
}

async fn su_call(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    app_id: Option<&str>,
    body: &Value,
) -> TestResponse {
    let mut call = app.call(Method::POST, path).json(body);
    if let Some(k) = key {
        call = call.header("authorization", k);
    }
    if let Some(a) = app_id {
        call = call.header("app-id", a);
    }
    call.send().await
}

fn errors(r: &TestResponse) -> Vec<(String, String)> {
    r.body["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["Code"].as_str().unwrap().to_owned(), e["ShortText"].as_str().unwrap().to_owned()))
        .collect()
}

async fn set_then_retrieve_shares_the_booking_set(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let r = su_call(&app, SET, Some(&app.admin), Some("my-app"), &sample()).await;
    r.assert_status(200);
    assert_eq!(r.body["Status"], "Success");
    assert_eq!(r.body["Data"], json!([]));
    assert_eq!(r.body["Message"], "Property Contact-Details Created Successfully");
    assert_eq!(r.body["Ruid"], r.header("x-request-id").unwrap());

    let r = su_call(
        &app,
        RETRIEVE,
        Some(&app.admin),
        Some("my-app"),
        &json!({"hotel_id": "NT7", "channel_hotel_id": "12837615"}),
    )
    .await;
    r.assert_status(200);
    assert_eq!(r.body["Status"], "Success");
    let contacts = r.body["Data"]["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    // Strings in, canonical values out.
    assert_eq!(contacts[0]["phones"][0]["phone_tech_type"], 1);
    assert_eq!(contacts[1]["contact_person"]["gender"], "male");

    // The Booking route reads the same stored set, and sees the write as revision 1.
    let g = app.get(&contacts_path("NT7")).send().await;
    assert_eq!(g.body["data"]["contacts"], r.body["Data"]["contacts"]);
    assert_eq!(g.body["data"]["revision"], 1);
    // "Bearer" is accepted as well as the bare key.
    let bearer = format!("Bearer {}", app.admin);
    su_call(
        &app,
        RETRIEVE,
        Some(&bearer),
        Some("a"),
        &json!({"hotel_id": "NT7", "channel_hotel_id": "12837615"}),
    )
    .await
    .assert_status(200);
}

async fn access_denied_without_credentials(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    for (key, app_id) in [
        (None, Some("a")),
        (Some(app.admin.as_str()), None),
        (Some(app.admin.as_str()), Some(" ")),
        (Some("pck_bad"), Some("a")),
    ] {
        let r = su_call(&app, SET, key, app_id, &sample()).await;
        r.assert_status(401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.body["Status"], "Fail");
        assert_eq!(r.body["Errors"], json!([]));
        assert_eq!(r.body["Message"], "Access denied");
    }
    let reader = app.key("t1", &[Scope::Read]).await;
    let r = su_call(&app, SET, Some(&reader), Some("a"), &sample()).await;
    r.assert_status(403);
    assert_eq!(r.body["Message"], "Access denied");
    assert_eq!(app.get(&contacts_path("NT7")).send().await.body["data"]["revision"], 0);
}

async fn hotel_codes_and_channel_mapping(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let mut body = sample();
    body["hotel_id"] = json!("NT711");
    let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
    r.assert_status(400);
    assert_eq!(errors(&r), vec![("400".into(), "HotelCode: Invalid HotelCode ('NT711')".into())]);

    for bad in ["NT-7", "ABCDEFGHIJKLMNOP", ""] {
        body["hotel_id"] = json!(bad);
        let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
        assert_eq!(errors(&r)[0].0, "853", "{bad}");
    }

    let mut body = sample();
    body["channel_hotel_id"] = json!("999");
    let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
    r.assert_status(400);
    assert_eq!(errors(&r), vec![("573".into(), "channel-mapping not found for this property!".into())]);

    // Another tenant's property is an unknown HotelCode, never a hint that it exists.
    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    let r = su_call(&app, SET, Some(&other), Some("a"), &sample()).await;
    assert_eq!(errors(&r)[0].0, "400");
    assert_eq!(app.get(&contacts_path("NT7")).send().await.body["data"]["revision"], 0);
}

async fn su_codes_and_phone_limits(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let mut body = sample();
    body["contacts"][0]["contact_profiles"][0]["type"] = json!("photos");
    body["contacts"][1]["email"] = json!("not-an-email");
    let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
    r.assert_status(400);
    let errs = errors(&r);
    assert!(
        errs.contains(&("584".into(), "contact_profiles: type is invalid or not found".into())),
        "{errs:?}"
    );
    assert!(errs.iter().any(|(c, t)| c == "244" && t.starts_with("Email [")), "{errs:?}");

    let mut body = sample();
    body["contacts"][1].as_object_mut().unwrap().remove("email");
    let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
    assert_eq!(errors(&r)[0].0, "321");

    // SU's limits: three faxes are fine, two voice lines are not (Booking's are the other way round).
    let faxes = json!([
        {"phone_number": "+31243611111", "phone_tech_type": "3"},
        {"phone_number": "+31243611112", "phone_tech_type": "3"},
        {"phone_number": "+31243611113", "phone_tech_type": "3"}
    ]);
    let mut body = sample();
    body["contacts"][0]["phones"] = faxes.clone();
    su_call(&app, SET, Some(&app.admin), Some("a"), &body).await.assert_status(200);
    let mut booking =
        json!({"contacts": [sarah(), contact(&["invoices"], "F", "f@hotel.example", "+31243611111")]});
    booking["contacts"][1]["phones"] = faxes;
    app.put(&contacts_path("NT7"), booking).send().await.assert_status(400);

    let mut body = sample();
    body["contacts"][0]["phones"] = json!([
        {"phone_number": "+31243611111", "phone_tech_type": "1"},
        {"phone_number": "+31243611112", "phone_tech_type": "1"}
    ]);
    let r = su_call(&app, SET, Some(&app.admin), Some("a"), &body).await;
    r.assert_status(400);
    assert_eq!(errors(&r)[0].0, "320");
    assert_eq!(app.get(&contacts_path("NT7")).send().await.body["data"]["revision"], 1);
}

store_tests!(
    set_then_retrieve_shares_the_booking_set,
    access_denied_without_credentials,
    hotel_codes_and_channel_mapping,
    su_codes_and_phone_limits,
);
