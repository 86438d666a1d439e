//! `PATCH /api/v3/contacts/{id}` (JSON Merge Patch, RFC 7396): only the members sent change, `null`
//! clears, a collection sent is replaced; `If-Match`, validation, revision and change event as the
//! `PUT`; a refused patch changes nothing.

use axum::http::Method;
use serde_json::{json, Value};

use crate::common::{TestApp, TestResponse};
use crate::crm::{create, full_contact, path, version};
use crate::store_tests;

const MERGE_PATCH: &str = "application/merge-patch+json";

async fn patch(app: &TestApp, id: &Value, body: Value, if_match: Option<&str>) -> TestResponse {
    let mut call = app.call(Method::PATCH, &path(id)).auth(&app.admin).raw(MERGE_PATCH, body.to_string());
    if let Some(tag) = if_match {
        call = call.header("if-match", tag);
    }
    call.send().await
}

async fn only_members_sent_change(app: TestApp) {
    let before = create(&app, full_contact()).await;
    let id = &before["id"];
    let r = patch(&app, id, json!({"firstName": "Anna"}), None).await;
    r.assert_status(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let after = &r.body;
    assert_eq!(after["firstName"], "Anna");
    assert_eq!(after["version"], 2);
    // Everything else is as stored: scalars and collections.
    for member in [
        "contactType",
        "title",
        "lastName",
        "accountId",
        "jobTitle",
        "gender",
        "language",
        "orderReferences",
        "emailAddresses",
        "telephones",
        "addresses",
        "customFields",
        "propertyIds",
        "createdAt",
    ] {
        assert_eq!(after[member], before[member], "{member}");
    }
    assert_eq!(app.get(&path(id)).send().await.body, *after);

    // null clears a scalar, and empties a collection; a collection sent replaces the stored one.
    let r = patch(
        &app,
        id,
        json!({"title": null, "jobTitle": null, "addresses": null,
               "telephones": [{"number": "+442071838750", "type": "WORK"}]}),
        Some("\"2\""),
    )
    .await;
    r.assert_status(200);
    assert!(r.body.get("title").is_none() && r.body.get("jobTitle").is_none(), "{}", r.body);
    assert_eq!(r.body["addresses"], json!([]));
    let phones = r.body["telephones"].as_array().unwrap();
    assert_eq!(phones.len(), 1);
    assert_eq!(phones[0]["e164"], "+442071838750");
    assert_eq!(phones[0]["primary"], true);
    assert_eq!(r.body["emailAddresses"], before["emailAddresses"]);
    assert_eq!(r.body["lastName"], "Jansen");

    // Each patch is a revision and a `contact.updated` event, as a PUT is.
    let revisions = app.get(&format!("{}/revisions", path(id))).send().await;
    let versions: Vec<(i64, &str)> = revisions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["version"].as_i64().unwrap(), r["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(versions, [(1, "CREATE"), (2, "REPLACE"), (3, "REPLACE")]);
    assert_eq!(revisions.body[2]["contact"], r.body);
    // Drained: on Postgres the feed holds events back behind transactions of tests running beside.
    let (events, _) = crate::changes::drain(&app, None, 1000).await;
    let updates: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "contact.updated" && e["data"]["contact_id"] == *id).collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["data"]["version"], 3);
}

async fn if_match_is_honoured(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let id = &c["id"];
    for stale in ["\"7\"", "W/\"1\""] {
        let r = patch(&app, id, json!({"firstName": "Anna"}), Some(stale)).await;
        r.assert_problem(412);
    }
    patch(&app, id, json!({"firstName": "Anna"}), Some("not a tag")).await.assert_problem(400);
    assert_eq!(version(&app, id).await, 1);
    patch(&app, id, json!({"firstName": "Anna"}), Some("\"1\"")).await.assert_status(200);
    patch(&app, id, json!({"firstName": "Anne"}), Some("*")).await.assert_status(200);
    assert_eq!(version(&app, id).await, 3);
}

async fn the_put_rules_apply_and_a_refused_patch_changes_nothing(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let id = &c["id"];
    let cases = [
        (json!({"firstName": null, "lastName": null}), "/firstName", "name_required"),
        (json!({"gender": "unknown"}), "/gender", "gender_invalid"),
        (json!({"firstName": 42}), "/firstName", "invalid_value"),
        (json!({"frstName": "Anna"}), "/frstName", "unknown_member"),
        (json!({"id": 999}), "/id", "id_mismatch"),
        (
            json!({"emailAddresses": [{"emailAddress": "not an email"}]}),
            "/emailAddresses/0/emailAddress",
            "email_invalid",
        ),
        (json!({"propertyIds": ["NOPE"]}), "/propertyIds/0", "property_unknown"),
        (json!(["firstName"]), "", "invalid_type"),
    ];
    for (body, pointer, code) in cases {
        let r = patch(&app, id, body.clone(), None).await;
        r.assert_problem(422);
        let errors = r.problem_errors();
        assert!(errors.iter().any(|(p, _)| p == pointer), "{body}: {errors:?}");
        assert!(errors.iter().any(|(_, c)| c == code), "{body}: {errors:?}");
    }
    // Wrong media type, malformed JSON, unknown contact.
    let r =
        app.call(Method::PATCH, &path(id)).auth(&app.admin).json(&json!({"firstName": "Anna"})).send().await;
    r.assert_problem(415);
    let r =
        app.call(Method::PATCH, &path(id)).auth(&app.admin).raw(MERGE_PATCH, "{\"firstName\":").send().await;
    r.assert_problem(400);
    patch(&app, &json!(424242), json!({"firstName": "Anna"}), None).await.assert_problem(404);
    assert_eq!(version(&app, id).await, 1);
    assert_eq!(app.get(&path(id)).send().await.body, c);
}

store_tests!(
    only_members_sent_change,
    if_match_is_honoured,
    the_put_rules_apply_and_a_refused_patch_changes_nothing,
);
