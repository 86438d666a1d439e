//! Cleaning up CRM duplicates: suggestions (`/duplicates`), the merge preview (dry run) and
//! merge dropping e-mail addresses that differ only in case.

use serde_json::{json, Value};

use crate::common::TestApp;
use crate::crm::{create, path, post, version};
use crate::store_tests;

store_tests!(
    duplicates_are_scored_with_reasons,
    merge_preview_changes_nothing,
    merge_drops_email_duplicates_ignoring_case,
);

/// Events of tenant `t1` in the change feed (fresh store per test).
pub async fn event_count(app: &TestApp) -> i64 {
    if let Some(pool) = app.pg_pool() {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE tenant_id = 't1'")
            .fetch_one(pool)
            .await
            .unwrap();
        return n;
    }
    let r = app.get("/api/v1/changes?limit=1000").send().await;
    r.assert_status(200);
    r.body["items"].as_array().unwrap().len() as i64
}

fn id(c: &Value) -> i64 {
    c["id"].as_i64().unwrap()
}

async fn duplicates_are_scored_with_reasons(app: TestApp) {
    let ada = create(
        &app,
        json!({"firstName": "Ada", "lastName": "Lovelace", "companyName": "Analytical Engines",
               "emailAddresses": [{"emailAddress": "ada@example.com"}],
               "telephones": [{"number": "+44 20 7946 0018"}],
               "addresses": [{"addressLine1": "1 St James's Sq", "city": "London", "postcode": "SW1Y 4JH", "countryCode": "GB"}]}),
    )
    .await;
    let email_and_phone = create(
        &app,
        json!({"firstName": "Augusta", "lastName": "King",
               "emailAddresses": [{"emailAddress": "ADA@Example.com"}],
               "telephones": [{"number": "020 7946 0018", "countryCode": "GB"}]}),
    )
    .await;
    let phone_only =
        create(&app, json!({"lastName": "Babbage", "telephones": [{"number": "+442079460018"}]})).await;
    let postcode = create(
        &app,
        json!({"firstName": "Ada", "lastName": "Lovelase",
               "addresses": [{"addressLine1": "St James's Square 1", "city": "London", "postcode": "sw1y  4jh", "countryCode": "GB"}]}),
    )
    .await;
    let company = create(
        &app,
        json!({"firstName": "Ada", "lastName": "Lovelace", "companyName": "analytical engines"}),
    )
    .await;
    // A similar name alone is no reason; nor is a postcode with another name.
    create(&app, json!({"firstName": "Ada", "lastName": "Lovelace"})).await;
    create(
        &app,
        json!({"lastName": "Somebody",
               "addresses": [{"addressLine1": "2 St James's Sq", "city": "London", "postcode": "SW1Y 4JH", "countryCode": "GB"}]}),
    )
    .await;
    // A merged-away contact is never suggested.
    let merged =
        create(&app, json!({"lastName": "Gone", "emailAddresses": [{"emailAddress": "ada@example.com"}]}))
            .await;
    let keeper = create(&app, json!({"lastName": "Keeper"})).await;
    let r = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": keeper["id"], "secondaryContactId": merged["id"]}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true);
    // The keeper now holds the address, so it is suggested (by e-mail) instead.
    let r = app.get(&format!("{}/duplicates", path(&ada["id"]))).send().await;
    r.assert_status(200);
    let found: Vec<(i64, i64, Vec<String>)> = r.body["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let reasons =
                d["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect();
            (d["contact"]["id"].as_i64().unwrap(), d["score"].as_i64().unwrap(), reasons)
        })
        .collect();
    let expected = vec![
        (id(&email_and_phone), 100, vec!["SAME_EMAIL".to_owned(), "SAME_TELEPHONE".to_owned()]),
        (id(&keeper), 60, vec!["SAME_EMAIL".to_owned()]),
        (id(&phone_only), 50, vec!["SAME_TELEPHONE".to_owned()]),
        (id(&postcode), 40, vec!["SIMILAR_NAME_SAME_POSTCODE".to_owned()]),
        (id(&company), 30, vec!["SIMILAR_NAME_SAME_COMPANY".to_owned()]),
    ];
    assert_eq!(found, expected, "{:#}", r.body);
    // Unknown and merged contacts answer as a read of them does.
    app.get("/api/v3/contacts/999999/duplicates").send().await.assert_problem(404);
    app.get(&format!("{}/duplicates", path(&merged["id"]))).send().await.assert_problem(410);
}

async fn merge_preview_changes_nothing(app: TestApp) {
    let p =
        create(&app, json!({"firstName": "Ann", "emailAddresses": [{"emailAddress": "ann@example.com"}]}))
            .await;
    let s = create(
        &app,
        json!({"firstName": "Anne",
               "emailAddresses": [{"emailAddress": "ANN@example.com"}, {"emailAddress": "ann@work.example"}]}),
    )
    .await;
    let events = event_count(&app).await;
    let body = json!({"primaryContactId": p["id"], "secondaryContactId": s["id"]});
    let r = post(&app, "/api/v3/contacts/merge/preview", body.clone()).send().await;
    r.assert_status(200);
    assert_eq!(r.body["success"], true, "{:#}", r.body);
    let emails: Vec<&str> = r.body["contact"]["emailAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["emailAddress"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ann@example.com", "ann@work.example"]);
    assert_eq!(r.body["contact"]["version"], 2, "the version the merge would give it");
    // Nothing stored: both as they were, no event.
    assert_eq!(version(&app, &p["id"]).await, 1);
    assert_eq!(version(&app, &s["id"]).await, 1);
    assert_eq!(event_count(&app).await, events);
    let r = app.get(&format!("{}/revisions", path(&p["id"]))).send().await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // A merge that would be a no-op previews as one.
    let r = post(
        &app,
        "/api/v3/contacts/merge/preview",
        json!({"primaryContactId": p["id"], "secondaryContactId": 999999}),
    )
    .send()
    .await;
    r.assert_status(200);
    assert_eq!(r.body["success"], false);
    assert!(r.body.get("contact").is_none());
    // The real merge then answers what the preview showed.
    let r = post(&app, "/api/v3/contacts/merge", body).send().await;
    assert_eq!(r.body["success"], true);
    let merged = app.get(&path(&p["id"])).send().await;
    assert_eq!(merged.body["emailAddresses"].as_array().unwrap().len(), 2);
}

async fn merge_drops_email_duplicates_ignoring_case(app: TestApp) {
    let p = create(&app, json!({"lastName": "Primary", "emailAddresses": [{"emailAddress": "Ada@Example.com", "type": "WORK"}]})).await;
    let s = create(
        &app,
        json!({"lastName": "Secondary",
               "emailAddresses": [{"emailAddress": "ada@example.com", "type": "HOME"},
                                  {"emailAddress": "other@example.com"}]}),
    )
    .await;
    let r = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": p["id"], "secondaryContactId": s["id"]}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true);
    let merged = app.get(&path(&p["id"])).send().await;
    let emails: Vec<(&str, bool)> = merged.body["emailAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["emailAddress"].as_str().unwrap(), e["primary"].as_bool().unwrap()))
        .collect();
    assert_eq!(emails, [("Ada@Example.com", true), ("other@example.com", false)]);
}
