//! `If-Match` on every route that honours it (the Booking PUT, every CRM write): `*` or a list of
//! entity tags, compared strongly (a weak tag never matches); a malformed header is a 400 and
//! changes nothing. Numeric ids in paths are canonical decimals only: `+1`, `01`, ` 1` are 400,
//! never another spelling of resource 1.

use serde_json::{json, Value};

use crate::common::{Call, TestApp, TestResponse};
use crate::crm::{create, full_contact, path, post, version};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

fn named(name: &str) -> Value {
    set(vec![contact(&["general"], name, "a@hotel.example", "+31201234567")])
}

async fn booking_revision(app: &TestApp) -> Value {
    app.get(&contacts_path("M1")).send().await.body["data"]["revision"].clone()
}

async fn booking_put(app: &TestApp, if_match: &[&str]) -> TestResponse {
    let mut call = app.put(&contacts_path("M1"), named(&format!("Name {}", if_match.len())));
    for v in if_match {
        call = call.header("if-match", v);
    }
    call.send().await
}

async fn booking_if_match_is_strong_and_takes_a_list(app: TestApp) {
    property(&app, "M1", "1").await;
    app.put(&contacts_path("M1"), set(vec![sarah()])).send().await.assert_status(200);
    // A weak tag never matches, even the current revision's.
    for weak in [&["W/\"1\""][..], &["W/\"1\", W/\"2\""], &["\"01\"", "\"+1\""]] {
        let r = booking_put(&app, weak).await;
        r.assert_status(412);
        assert_eq!(r.body["errors"][0]["code"], "447");
        assert_eq!(r.header("etag"), Some("\"1\""));
    }
    assert_eq!(booking_revision(&app).await, 1);
    // A list matches when it names the current revision, in one field line or several.
    booking_put(&app, &["\"7\", W/\"9\", \"1\""]).await.assert_status(200);
    booking_put(&app, &["\"7\"", "\"2\""]).await.assert_status(200);
    booking_put(&app, &["*"]).await.assert_status(200);
    assert_eq!(booking_revision(&app).await, 4);
    // A malformed header is refused in the envelope before the body is read, and stores nothing.
    for bad in [&["4"][..], &["\"4"], &["*, \"4\""], &[""], &["\"4\" \"5\""], &["*", "\"4\""]] {
        let r = booking_put(&app, bad).await;
        r.assert_status(400);
        assert_eq!(r.body["errors"][0]["code"], "450");
        assert_eq!(r.body["errors"][0]["details"]["fields"], json!(["If-Match"]));
        assert_eq!(r.body["errors"][0]["details"]["reason"], "if_match_invalid");
    }
    assert_eq!(booking_revision(&app).await, 4);
    // An unknown property is still a 404 whatever If-Match names.
    let r = app.put(&contacts_path("nope"), set(vec![sarah()])).header("if-match", "W/\"1\"").send().await;
    r.assert_status(404);
}

/// One of each kind of CRM write, each with `tags` as its `If-Match` field lines.
fn guarded_writes<'a>(app: &'a TestApp, contact: &Value, tags: &[&str]) -> [Call<'a>; 6] {
    let base = path(&contact["id"]);
    let address = &contact["addresses"][0]["id"];
    [
        app.put(&base, json!({"lastName": "A"})),
        post(app, &format!("{base}/notes"), json!({"content": "x"})),
        app.put(&format!("{base}/customFields"), json!([])),
        post(app, &format!("{base}/emailAddresses"), json!({"emailAddress": "b@example.com"})),
        app.put(&format!("{base}/addresses/{address}/primary"), json!({})),
        app.delete(&base),
    ]
    .map(|mut call| {
        for t in tags {
            call = call.header("if-match", t);
        }
        call
    })
}

async fn crm_if_match_is_strong_and_takes_a_list(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let id = &c["id"];
    // Weak tags, and other spellings of the version, never match: every write answers 412.
    for tags in [&["W/\"1\""][..], &["\"01\", W/\"1\", \"+1\""], &["W/\"1-r\""]] {
        for call in guarded_writes(&app, &c, tags) {
            call.send().await.assert_problem(412);
        }
    }
    // Malformed: 400 naming the header.
    for tags in [&["1"][..], &["*, \"1\""], &["\"1\"", "*"], &[""], &["\"1"]] {
        for call in guarded_writes(&app, &c, tags) {
            let r = call.send().await;
            r.assert_problem(400);
            assert_eq!(
                r.problem_errors(),
                [("If-Match".to_owned(), "if_match_invalid".to_owned())],
                "{tags:?}"
            );
        }
    }
    assert_eq!(version(&app, id).await, 1);
    // A list naming the current version (either representation's tag) matches, one line or several.
    let r =
        app.put(&path(id), json!({"lastName": "B"})).header("if-match", "\"9\", W/\"1\", \"1\"").send().await;
    r.assert_status(200);
    let r = app
        .put(&path(id), json!({"lastName": "C"}))
        .header("if-match", "\"9\"")
        .header("if-match", "\"2-r\"")
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(version(&app, id).await, 3);
}

/// Non-canonical spellings of the number `n` in a path segment.
fn spellings(n: i64) -> [String; 6] {
    [
        format!("+{n}"),
        format!("0{n}"),
        format!("%20{n}"),
        format!("{n}%20"),
        format!("{n}.0"),
        format!("-{n}"),
    ]
}

async fn crm_ids_in_paths_are_canonical_decimals(app: TestApp) {
    let c = create(&app, full_contact()).await;
    let id = c["id"].as_i64().unwrap();
    let address = c["addresses"][0]["id"].as_i64().unwrap();
    for spelling in spellings(id) {
        let r = app.delete(&format!("/api/v3/contacts/{spelling}")).send().await;
        r.assert_problem(400);
        assert_eq!(
            r.problem_errors(),
            [("id".to_owned(), "invalid_path_parameter".to_owned())],
            "{spelling}"
        );
        let r = app.get(&format!("/api/v3/contacts/{spelling}/revisions")).send().await;
        r.assert_problem(400);
    }
    for spelling in spellings(address) {
        let r = app.delete(&format!("/api/v3/contacts/{id}/addresses/{spelling}")).send().await;
        r.assert_problem(400);
        assert_eq!(
            r.problem_errors(),
            [("addressId".to_owned(), "invalid_path_parameter".to_owned())],
            "{spelling}"
        );
    }
    // Nothing was deleted.
    let r = app.get(&format!("/api/v3/contacts/{id}")).send().await;
    r.assert_status(200);
    assert_eq!(r.body["addresses"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["version"], 1);
    // An id past i64 is not a contact either, and `0` is canonical (and simply not found).
    app.get("/api/v3/contacts/9223372036854775808").send().await.assert_problem(400);
    app.get("/api/v3/contacts/0").send().await.assert_problem(404);
}

async fn revision_numbers_in_paths_are_canonical_decimals(app: TestApp) {
    property(&app, "R1", "1").await;
    app.put(&contacts_path("R1"), set(vec![sarah()])).send().await.assert_status(200);
    app.get("/api/v1/properties/R1/contacts/revisions/1").send().await.assert_status(200);
    for spelling in ["01", "+1", "%201", "1%20"] {
        let r = app.get(&format!("/api/v1/properties/R1/contacts/revisions/{spelling}")).send().await;
        r.assert_problem(400);
        assert_eq!(r.problem_errors(), [("revision".to_owned(), "invalid_path_parameter".to_owned())]);
    }
}

store_tests!(
    booking_if_match_is_strong_and_takes_a_list,
    crm_if_match_is_strong_and_takes_a_list,
    crm_ids_in_paths_are_canonical_decimals,
    revision_numbers_in_paths_are_canonical_decimals,
);
