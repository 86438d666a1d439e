//! Issue 13: a channel manager coded against Booking.com's Contacts API swaps only the base URL:
//! Booking hotel ids on the Booking route, warnings, allowed values, conditional GETs, versions.

use axum::http::Method;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

/// Every event type in the feed, in order (on Postgres a just-committed event may not be served
/// yet, so callers count the events of one type after writes they waited for).
pub async fn event_types(app: &TestApp) -> Vec<String> {
    let r = app.get("/api/v1/changes?limit=1000").send().await;
    r.assert_status(200);
    r.body["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

fn named(name: &str) -> Value {
    set(vec![contact(&["general"], name, "sarah@hotel.example", "+31201234567")])
}

async fn booking_hotel_id_names_the_same_set(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let r = app.put(&contacts_path("12837615"), named("By Hotel Id")).send().await;
    r.assert_status(200);
    assert_eq!(r.body["data"]["revision"], 1);
    // The same stored set under either id, on the Booking GET and on SU's retrieve.
    for id in ["NT7", "12837615"] {
        let g = app.get(&contacts_path(id)).send().await;
        g.assert_status(200);
        assert_eq!(g.body["data"]["contacts"][0]["contact_person"]["name"], "By Hotel Id", "{id}");
        assert_eq!(g.header("etag"), Some("\"1\""));
    }
    let su = app
        .call(Method::POST, "/SUAPI/jservice/bdc/property/contact/retrieve")
        .header("authorization", &app.admin)
        .header("app-id", "t")
        .json(&json!({"hotel_id": "NT7", "channel_hotel_id": "12837615"}))
        .send()
        .await;
    su.assert_status(200);
    assert_eq!(su.body["Data"]["contacts"][0]["contact_person"]["name"], "By Hotel Id");
    // If-Match works across the two ids: the revision is the set's, whichever id is used.
    let stale = app.put(&contacts_path("12837615"), named("Stale")).header("if-match", "\"0\"").send().await;
    stale.assert_status(412);
    assert_eq!(stale.body["errors"][0]["code"], "447");
    // An id that is neither is still 635.
    let none = app.get(&contacts_path("99999")).send().await;
    none.assert_status(404);
    assert_eq!(none.body["errors"][0]["code"], "635");
}

async fn a_property_id_wins_over_another_propertys_hotel_id(app: TestApp) {
    // "123" is one property's id and another property's Booking hotel id.
    property(&app, "123", "555").await;
    property(&app, "P2", "123").await;
    app.put(&contacts_path("123"), named("Property 123")).send().await.assert_status(200);
    app.put(&contacts_path("P2"), named("Property P2")).send().await.assert_status(200);
    let name =
        |r: &crate::common::TestResponse| r.body["data"]["contacts"][0]["contact_person"]["name"].clone();
    assert_eq!(name(&app.get(&contacts_path("123")).send().await), "Property 123");
    assert_eq!(name(&app.get(&contacts_path("555")).send().await), "Property 123");
    assert_eq!(name(&app.get(&contacts_path("P2")).send().await), "Property P2");
    // A PUT to the ambiguous id writes property 123, never P2.
    app.put(&contacts_path("123"), named("Again 123")).send().await.assert_status(200);
    assert_eq!(name(&app.get(&contacts_path("P2")).send().await), "Property P2");
    assert_eq!(name(&app.get(&contacts_path("555")).send().await), "Again 123");
}

async fn warnings_advise_and_never_change_what_is_stored(app: TestApp) {
    property(&app, "P1", "1").await;
    let body = json!({"contacts": [{
        "contact_profiles": [{"type": "GENERAL"}],
        "contact_person": {"name": "Ann", "gender": "Female", "job_title": "general manager", "language_code": "EN-GB"},
        "phones": [{"phone_number": "+31201234567", "phone_tech_type": "1"}],
        "email": "ann@hotel.example",
        "address": {"address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012LG",
                    "country_code": "nl", "language_code": "nl", "state_prov_code": "NH"}
    }]});
    let r = app.put(&contacts_path("P1"), body).send().await;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!([]));
    let warnings = r.body["warnings"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str)> = warnings
        .iter()
        .map(|w| {
            assert!(w["message"].is_string());
            let d = &w["details"];
            (w["code"].as_str().unwrap(), d["fields"][0].as_str().unwrap(), d["reason"].as_str().unwrap())
        })
        .collect();
    let c = "/contacts/0";
    assert_eq!(
        seen,
        vec![
            ("value_normalised", &*format!("{c}/contact_profiles/0/type"), "profile_type_normalised"),
            ("value_normalised", &*format!("{c}/contact_person/gender"), "gender_normalised"),
            ("value_normalised", &*format!("{c}/contact_person/job_title"), "job_title_normalised"),
            ("value_normalised", &*format!("{c}/contact_person/language_code"), "language_code_normalised"),
            ("value_normalised", &*format!("{c}/phones/0/phone_tech_type"), "phone_tech_type_string"),
            ("value_normalised", &*format!("{c}/address/country_code"), "country_code_normalised"),
            (
                "state_prov_code_not_returned",
                &*format!("{c}/address/state_prov_code"),
                "not_returned_by_booking"
            ),
            ("invoices_contact_missing", "/contacts", "no_invoices_profile"),
        ]
    );
    // Stored as normalised, state_prov_code included: the warnings changed nothing.
    let g = app.get(&contacts_path("P1")).send().await;
    assert_eq!(g.body["data"]["contacts"][0]["address"]["state_prov_code"], "NH");
    assert_eq!(g.body["data"]["contacts"][0]["contact_person"]["job_title"], "General Manager");
    assert_eq!(g.body["warnings"], json!([]));
    // A canonical set with an invoices contact gets none.
    let mut clean = sarah();
    clean["contact_profiles"] = json!([{"type": "general"}, {"type": "invoices"}]);
    let r = app.put(&contacts_path("P1"), set(vec![clean])).send().await;
    r.assert_status(200);
    assert_eq!(r.body["warnings"], json!([]));
}

async fn enumerated_fields_list_allowed_values(app: TestApp) {
    property(&app, "P1", "1").await;
    let mut bad = sarah();
    bad["contact_profiles"] = json!([{"type": "general"}, {"type": "housekeeping"}]);
    bad["contact_person"]["job_title"] = json!("CEO");
    bad["contact_person"]["gender"] = json!("x");
    bad["contact_person"]["language_code"] = json!("xx");
    bad["address"]["language_code"] = json!("br");
    bad["phones"][0]["phone_tech_type"] = json!(2);
    bad["email"] = json!("not-an-email");
    let r = app.put(&contacts_path("P1"), set(vec![bad])).send().await;
    r.assert_status(400);
    let allowed = |reason: &str| -> Option<Value> {
        let e = r.body["errors"].as_array().unwrap().iter().find(|e| e["details"]["reason"] == reason)?;
        assert_eq!(e["code"], "320", "{reason}");
        e["details"].get("allowed").cloned()
    };
    let len = |v: Option<Value>| v.map(|v| v.as_array().unwrap().len());
    assert_eq!(len(allowed("profile_type_invalid")), Some(8));
    assert!(allowed("profile_type_invalid").unwrap().as_array().unwrap().contains(&json!("invoices")));
    assert_eq!(len(allowed("job_title_invalid")), Some(17));
    assert_eq!(allowed("gender_invalid"), Some(json!(["male", "female"])));
    assert_eq!(allowed("phone_tech_type_invalid"), Some(json!([1, 3, 5])));
    let languages: Vec<Value> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["reason"] == "language_code_invalid")
        .map(|e| json!([e["details"]["fields"][0], e["details"]["allowed"].as_array().unwrap().len()]))
        .collect();
    // The person's spoken language has five more codes than an address's.
    assert_eq!(
        languages,
        vec![
            json!(["/contacts/0/contact_person/language_code", 55]),
            json!(["/contacts/0/address/language_code", 50])
        ]
    );
    assert_eq!(allowed("email_invalid"), None, "not an enumerated field");
}

async fn conditional_get_and_last_modified(app: TestApp) {
    property(&app, "P1", "1").await;
    app.put(&contacts_path("P1"), named("A")).send().await.assert_status(200);
    let g = app.get(&contacts_path("P1")).send().await;
    g.assert_status(200);
    let last_modified = g.header("last-modified").expect("Last-Modified").to_owned();
    assert!(httpdate::parse_http_date(&last_modified).is_ok(), "{last_modified}");
    for matching in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let nm = app.get(&contacts_path("P1")).header("if-none-match", matching).send().await;
        nm.assert_status(304);
        assert_eq!(nm.body, Value::Null, "no body");
        assert_eq!(nm.header("etag"), Some("\"1\""));
        assert_eq!(nm.header("last-modified"), Some(last_modified.as_str()));
    }
    // By hotel id too; and a changed set is sent whole.
    app.get(&contacts_path("1")).header("if-none-match", "\"1\"").send().await.assert_status(304);
    app.put(&contacts_path("P1"), named("B")).send().await.assert_status(200);
    let changed = app.get(&contacts_path("P1")).header("if-none-match", "\"1\"").send().await;
    changed.assert_status(200);
    assert_eq!(changed.body["data"]["revision"], 2);
}

async fn accept_version_and_no_language_fallback(app: TestApp) {
    property(&app, "P1", "1").await;
    let put = app.put(&contacts_path("P1"), named("A")).header("accept-version", "1.0").send().await;
    put.assert_status(200);
    for q in ["", "?no_language_fallback=1", "?no_language_fallback=true", "?no_language_fallback=0"] {
        let g = app.get(&format!("{}{q}", contacts_path("P1"))).header("accept-version", "1.0").send().await;
        g.assert_status(200);
    }
    let bad = app.get(&format!("{}?no_language_fallback=maybe", contacts_path("P1"))).send().await;
    bad.assert_status(400);
    assert_eq!(bad.body["errors"][0]["details"]["fields"], json!(["no_language_fallback"]));
    for r in [
        app.get(&contacts_path("P1")).header("accept-version", "2.0").send().await,
        app.put(&contacts_path("P1"), named("B")).header("accept-version", "2.0").send().await,
    ] {
        r.assert_status(400);
        assert_eq!(r.body["data"], Value::Null);
        let e = &r.body["errors"][0];
        assert_eq!(e["code"], "450");
        assert_eq!(e["details"]["reason"], "accept_version_unsupported");
        assert!(e["message"].as_str().unwrap().contains("1.0"));
    }
    // The refused PUT stored nothing.
    assert_eq!(app.get(&contacts_path("P1")).send().await.body["data"]["revision"], 1);
}

async fn registry_etag_and_if_match(app: TestApp) {
    property(&app, "P1", "1").await;
    let g = app.get("/api/v1/properties/P1").send().await;
    g.assert_status(200);
    let tag = g.header("etag").expect("ETag").to_owned();
    let path = "/api/v1/properties/P1";
    // Stale: 412, nothing changed.
    let stale = app.put(path, json!({"name": "New"})).header("if-match", "\"nope\"").send().await;
    stale.assert_problem(412);
    assert_eq!(app.get(path).send().await.body["name"], "P1");
    app.delete(path).header("if-match", "\"nope\"").send().await.assert_problem(412);
    // Current: the write goes through and the tag moves.
    let ok = app.put(path, json!({"name": "New"})).header("if-match", &tag).send().await;
    ok.assert_status(200);
    let new_tag = ok.header("etag").unwrap().to_owned();
    assert_ne!(new_tag, tag);
    assert_eq!(app.get(path).send().await.header("etag"), Some(new_tag.as_str()));
    // A contact-set PUT changes the property's representation (its revision), so its tag too.
    app.put(&contacts_path("P1"), named("A")).send().await.assert_status(200);
    let after_set = app.get(path).send().await.header("etag").unwrap().to_owned();
    assert_ne!(after_set, new_tag);
    app.delete(path).header("if-match", &new_tag).send().await.assert_problem(412);
    app.delete(path).header("if-match", &after_set).send().await.assert_status(204);
    // If-Match on a property that does not exist: PUT 412 (nothing created), DELETE 404.
    app.put("/api/v1/properties/P9", json!({})).header("if-match", "*").send().await.assert_problem(412);
    app.get("/api/v1/properties/P9").send().await.assert_problem(404);
    app.delete("/api/v1/properties/P9").header("if-match", "*").send().await.assert_problem(404);
}

async fn basic_credentials_work_on_the_booking_route(app: TestApp) {
    use base64::Engine;
    property(&app, "P1", "1").await;
    let basic = |key: &str| {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("cm:{key}")))
    };
    let r = app
        .call(Method::PUT, &contacts_path("1"))
        .header("authorization", &basic(&app.admin))
        .json(&named("Basic"))
        .send()
        .await;
    r.assert_status(200);
    let g =
        app.call(Method::GET, &contacts_path("P1")).header("authorization", &basic(&app.admin)).send().await;
    g.assert_status(200);
    assert_eq!(g.body["data"]["contacts"][0]["contact_person"]["name"], "Basic");
    let bad =
        app.call(Method::GET, &contacts_path("P1")).header("authorization", &basic("pck_wrong")).send().await;
    bad.assert_status(401);
    assert_eq!(bad.body["errors"][0]["code"], "497");
}

store_tests!(
    basic_credentials_work_on_the_booking_route,
    booking_hotel_id_names_the_same_set,
    a_property_id_wins_over_another_propertys_hotel_id,
    warnings_advise_and_never_change_what_is_stored,
    enumerated_fields_list_allowed_values,
    conditional_get_and_last_modified,
    accept_version_and_no_language_fallback,
    registry_etag_and_if_match,
);

/// How many events of `event_type` tenant `t1` has stored. On Postgres the table is counted, since
/// the feed holds back events behind any transaction open in the cluster (other tests run beside
/// this one); SQLite's feed serves every committed event at once.
pub async fn count_events(app: &TestApp, event_type: &str) -> usize {
    if let Some(pool) = app.pg_pool() {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE tenant_id = 't1' AND type = $1")
            .bind(event_type)
            .fetch_one(pool)
            .await
            .unwrap();
        return usize::try_from(n).unwrap();
    }
    event_types(app).await.iter().filter(|t| *t == event_type).count()
}
