//! Booking-compatible contact sets (API.md section 4, seed 000).

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{TestApp, TestResponse};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

const OTHER_TYPES: [&str; 5] = ["reservations", "invoices", "availability", "site_content", "parity"];

/// PUTs `body`, asserts success, then asserts GET shows exactly `body`'s contacts.
async fn put_then_get(app: &TestApp, id: &str, body: Value) -> TestResponse {
    let r = app.put(&contacts_path(id), body.clone()).send().await;
    r.assert_status(200);
    assert_eq!(r.body["errors"], json!([]));
    assert_eq!(r.body["data"]["contacts"], body["contacts"], "PUT echoes the stored set");
    let g = app.get(&contacts_path(id)).send().await;
    g.assert_status(200);
    assert_eq!(g.body["data"]["contacts"], body["contacts"], "GET shows exactly the set sent");
    assert_eq!(g.header("etag"), r.header("etag"));
    assert_eq!(g.body["meta"]["ruid"], g.header("x-request-id").unwrap());
    g
}

async fn seed_000_scenarios(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let before = app.get(&contacts_path("NT7")).send().await;
    before.assert_status(200);
    assert_eq!(before.body["data"], json!({"contacts": [], "revision": 0}));
    assert_eq!(before.header("etag"), Some("\"0\""));

    // 1: Sarah is general; John covers every other type.
    let john = contact(&OTHER_TYPES, "John Smith", "john@hotel.example", "+31201234568");
    let g = put_then_get(&app, "NT7", set(vec![sarah(), john])).await;
    assert_eq!(g.body["data"]["revision"], 1);
    assert_eq!(g.header("etag"), Some("\"1\""));

    // 2: Jane replaces John everywhere; Sarah is sent again.
    let jane = contact(&OTHER_TYPES, "Jane Doe", "jane@hotel.example", "+31201234569");
    put_then_get(&app, "NT7", set(vec![sarah(), jane])).await;

    // 3: Paul takes over reservations only.
    let jane_rest = contact(&OTHER_TYPES[1..], "Jane Doe", "jane@hotel.example", "+31201234569");
    let paul = contact(&["reservations"], "Paul Visser", "paul@hotel.example", "+31612345678");
    put_then_get(&app, "NT7", set(vec![sarah(), jane_rest.clone(), paul.clone()])).await;

    // 4: Clare becomes the special-requests contact, a type the property did not have.
    let clare = contact(&["requests"], "Clare Bos", "clare@hotel.example", "+31201234570");
    put_then_get(&app, "NT7", set(vec![sarah(), jane_rest.clone(), paul.clone(), clare.clone()])).await;

    // 5: Peter joins Paul as a second reservations contact.
    let peter = contact(&["reservations"], "Peter de Vries", "peter@hotel.example", "+31612345679");
    let g = put_then_get(&app, "NT7", set(vec![sarah(), jane_rest, paul, clare, peter])).await;
    assert_eq!(g.body["data"]["revision"], 5);
    assert_eq!(g.body["data"]["contacts"].as_array().unwrap().len(), 5);
}

async fn input_is_normalised(app: TestApp) {
    property(&app, "P1", "1").await;
    let body = json!({"contacts": [{
        "contact_profiles": [{"type": "GENERAL"}, {"type": "Invoices"}],
        "contact_person": {"name": " Ann ", "gender": "Female", "job_title": "general manager", "language_code": "EN-GB"},
        "phones": [{"phone_number": "+31201234567", "phone_tech_type": "1"}, {"phone_number": "+31612345678", "phone_tech_type": 5}],
        "email": "ann@hotel.example",
        "address": {"address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012LG", "country_code": "nl", "language_code": "NL", "state_prov_code": "NH"}
    }]});
    let r = app.put(&contacts_path("P1"), body).send().await;
    r.assert_status(200);
    let expected = json!([{
        "contact_profiles": [{"type": "general"}, {"type": "invoices"}],
        "contact_person": {"name": "Ann", "gender": "female", "job_title": "General Manager", "language_code": "en-gb"},
        "phones": [{"phone_number": "+31201234567", "phone_tech_type": 1}, {"phone_number": "+31612345678", "phone_tech_type": 5}],
        "email": "ann@hotel.example",
        "address": {"address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012LG", "country_code": "NL", "language_code": "nl", "state_prov_code": "NH"}
    }]);
    assert_eq!(app.get(&contacts_path("P1")).send().await.body["data"]["contacts"], expected);
    // Job title defaults to Unknown; gender omitted means none.
    let mut minimal = sarah();
    minimal["contact_person"] = json!({"name": "Sam", "language_code": "de"});
    minimal.as_object_mut().unwrap().remove("address");
    app.put(&contacts_path("P1"), set(vec![minimal])).send().await.assert_status(200);
    let person = &app.get(&contacts_path("P1")).send().await.body["data"]["contacts"][0]["contact_person"];
    assert_eq!(person, &json!({"name": "Sam", "job_title": "Unknown", "language_code": "de"}));
}

/// Applies `mutate` to a valid two-contact set; the PUT must fail with exactly one error.
struct Case {
    mutate: fn(&mut Value),
    code: &'static str,
    pointer: &'static str,
    reason: &'static str,
}

fn base() -> Value {
    set(vec![sarah(), contact(&["reservations"], "Paul Visser", "paul@hotel.example", "+31612345678")])
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            mutate: |b| b["contacts"][0]["contact_profiles"][0]["type"] = json!("parity"),
            code: "321",
            pointer: "/contacts",
            reason: "general_missing",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_profiles"][0]["type"] = json!("general"),
            code: "320",
            pointer: "/contacts/1/contact_profiles/0/type",
            reason: "general_duplicated",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_profiles"][0]["type"] = json!("photos"),
            code: "320",
            pointer: "/contacts/1/contact_profiles/0/type",
            reason: "profile_type_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_profiles"][0]["type"] = json!("contract"),
            code: "450",
            pointer: "/contacts/1/contact_profiles/0/type",
            reason: "profile_type_contract",
        },
        Case {
            mutate: |b| {
                b["contacts"][1]["contact_profiles"] = json!([{"type": "parity"}, {"type": "Parity"}])
            },
            code: "320",
            pointer: "/contacts/1/contact_profiles/1/type",
            reason: "profile_type_repeated",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_profiles"] = json!([]),
            code: "320",
            pointer: "/contacts/1/contact_profiles",
            reason: "too_few_items",
        },
        Case {
            mutate: |b| {
                b["contacts"][1].as_object_mut().unwrap().remove("contact_person");
            },
            code: "321",
            pointer: "/contacts/1/contact_person",
            reason: "required",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_person"]["name"] = json!(" "),
            code: "320",
            pointer: "/contacts/1/contact_person/name",
            reason: "empty",
        },
        Case {
            mutate: |b| b["contacts"][1]["phones"][0]["phone_number"] = json!("0612345678"),
            code: "320",
            pointer: "/contacts/1/phones/0/phone_number",
            reason: "phone_pattern",
        },
        Case {
            mutate: |b| b["contacts"][1]["phones"][0]["phone_number"] = json!("+14155552671"),
            code: "320",
            pointer: "/contacts/1/phones/0/phone_number",
            reason: "phone_invalid_for_country",
        },
        Case {
            mutate: |b| {
                b["contacts"][1].as_object_mut().unwrap().remove("address");
                b["contacts"][1]["phones"][0]["phone_number"] = json!("+999123");
            },
            code: "320",
            pointer: "/contacts/1/phones/0/phone_number",
            reason: "phone_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["phones"][0]["phone_tech_type"] = json!(2),
            code: "320",
            pointer: "/contacts/1/phones/0/phone_tech_type",
            reason: "phone_tech_type_invalid",
        },
        Case {
            mutate: |b| {
                b["contacts"][1]["phones"] = json!([
            {"phone_number": "+31201234567", "phone_tech_type": 1}, {"phone_number": "+31201234568", "phone_tech_type": 1},
            {"phone_number": "+31201234569", "phone_tech_type": 1}, {"phone_number": "+31201234560", "phone_tech_type": 1}])
            },
            code: "320",
            pointer: "/contacts/1/phones/3/phone_tech_type",
            reason: "phone_tech_type_limit",
        },
        Case {
            mutate: |b| {
                b["contacts"][1]["phones"] = json!([
            {"phone_number": "+31201234567", "phone_tech_type": 3}, {"phone_number": "+31201234568", "phone_tech_type": 3}])
            },
            code: "320",
            pointer: "/contacts/1/phones/1/phone_tech_type",
            reason: "phone_tech_type_limit",
        },
        Case {
            mutate: |b| {
                b["contacts"][1]["phones"] =
                    json!([{"phone_number": "+31612345678", "phone_tech_type": 5, "extension": "1"}])
            },
            code: "320",
            pointer: "/contacts/1/phones/0/extension",
            reason: "extension_not_allowed",
        },
        Case {
            mutate: |b| b["contacts"][1]["phones"][0]["extension"] = json!("12a"),
            code: "320",
            pointer: "/contacts/1/phones/0/extension",
            reason: "extension_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["phones"] = json!([]),
            code: "320",
            pointer: "/contacts/1/phones",
            reason: "too_few_items",
        },
        Case {
            mutate: |b| b["contacts"][1]["email"] = json!("paul-at-hotel"),
            code: "320",
            pointer: "/contacts/1/email",
            reason: "email_invalid",
        },
        Case {
            mutate: |b| {
                b["contacts"][1].as_object_mut().unwrap().remove("email");
            },
            code: "321",
            pointer: "/contacts/1/email",
            reason: "required",
        },
        Case {
            mutate: |b| b["contacts"][1]["address"]["country_code"] = json!("XX"),
            code: "320",
            pointer: "/contacts/1/address/country_code",
            reason: "country_code_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["address"]["postal_code"] = json!("ABC"),
            code: "320",
            pointer: "/contacts/1/address/postal_code",
            reason: "postal_code_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["address"]["address_line"] = json!("x".repeat(256)),
            code: "320",
            pointer: "/contacts/1/address/address_line",
            reason: "string_too_long",
        },
        Case {
            mutate: |b| b["contacts"][1]["address"]["city_name"] = json!("東京"),
            code: "320",
            pointer: "/contacts/1/address/city_name",
            reason: "cjk_not_allowed",
        },
        Case {
            mutate: |b| {
                b["contacts"][1]["address"].as_object_mut().unwrap().remove("city_name");
            },
            code: "321",
            pointer: "/contacts/1/address/city_name",
            reason: "required",
        },
        Case {
            mutate: |b| b["contacts"][1]["address"]["language_code"] = json!("en"),
            code: "320",
            pointer: "/contacts/1/address/language_code",
            reason: "language_code_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_person"]["language_code"] = json!("xx"),
            code: "320",
            pointer: "/contacts/1/contact_person/language_code",
            reason: "language_code_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_person"]["gender"] = json!("other"),
            code: "320",
            pointer: "/contacts/1/contact_person/gender",
            reason: "gender_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_person"]["job_title"] = json!("Chief Executive"),
            code: "320",
            pointer: "/contacts/1/contact_person/job_title",
            reason: "job_title_invalid",
        },
        Case {
            mutate: |b| b["contacts"][1]["fax"] = json!("+31201234567"),
            code: "394",
            pointer: "/contacts/1/fax",
            reason: "unknown_member",
        },
        Case {
            mutate: |b| b["contacts"][1]["contact_person"]["name"] = json!(42),
            code: "320",
            pointer: "/contacts/1/contact_person/name",
            reason: "invalid_type",
        },
        Case {
            mutate: |b| {
                let c = b["contacts"][1].clone();
                b["contacts"] =
                    json!(std::iter::once(sarah()).chain(std::iter::repeat_n(c, 100)).collect::<Vec<_>>());
            },
            code: "320",
            pointer: "/contacts",
            reason: "too_many_items",
        },
        Case {
            mutate: |b| {
                let p = b["contacts"][1]["phones"][0].clone();
                b["contacts"][1]["phones"] = json!(vec![p; 11]);
            },
            code: "320",
            pointer: "/contacts/1/phones",
            reason: "too_many_items",
        },
    ]
}

async fn every_rule_rejects_with_code_and_pointer(app: TestApp) {
    property(&app, "R1", "1").await;
    let good = put_then_get(&app, "R1", base()).await;
    for (i, case) in cases().into_iter().enumerate() {
        let mut body = base();
        (case.mutate)(&mut body);
        let r = app.put(&contacts_path("R1"), body).send().await;
        assert_eq!(r.status.as_u16(), 400, "case {i} ({}): {:#}", case.reason, r.body);
        let errors = r.body["errors"].as_array().unwrap();
        let found: Vec<_> = errors
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap(),
                    e["details"]["fields"][0].as_str().unwrap(),
                    e["details"]["reason"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(
            found.contains(&(case.code, case.pointer, case.reason)),
            "case {i}: expected ({}, {}, {}) in {found:?}",
            case.code,
            case.pointer,
            case.reason
        );
        assert_eq!(r.body["data"], Value::Null);
        assert_eq!(r.body["meta"]["ruid"], r.header("x-request-id").unwrap());
    }
    // None of the rejected PUTs changed the stored set or its revision.
    let after = app.get(&contacts_path("R1")).send().await;
    assert_eq!(after.body["data"], good.body["data"]);
    assert_eq!(after.header("etag"), Some("\"1\""));
}

async fn every_error_is_reported_at_once(app: TestApp) {
    property(&app, "M1", "1").await;
    let mut body = base();
    body["contacts"][0]["contact_profiles"][0]["type"] = json!("general");
    body["contacts"][0]["email"] = json!("nope");
    body["contacts"][1]["phones"][0]["phone_tech_type"] = json!(9);
    body["contacts"][1]["address"]["country_code"] = json!("ZZ");
    body["contacts"][1]["surprise"] = json!(1);
    let r = app.put(&contacts_path("M1"), body).send().await;
    r.assert_status(400);
    let pointers: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["fields"][0].as_str().unwrap().to_owned())
        .collect();
    for p in [
        "/contacts/0/email",
        "/contacts/1/phones/0/phone_tech_type",
        "/contacts/1/address/country_code",
        "/contacts/1/surprise",
    ] {
        assert!(pointers.contains(&p.to_owned()), "{p} missing from {pointers:?}");
    }
    assert_eq!(app.get(&contacts_path("M1")).send().await.body["data"]["revision"], 0);
}

async fn stale_if_match_is_412_and_changes_nothing(app: TestApp) {
    property(&app, "E1", "1").await;
    app.put(&contacts_path("E1"), base()).send().await.assert_status(200);
    let r = app.put(&contacts_path("E1"), set(vec![sarah()])).header("if-match", "\"1\"").send().await;
    r.assert_status(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    let r = app.put(&contacts_path("E1"), base()).header("if-match", "\"1\"").send().await;
    r.assert_status(412);
    assert_eq!(r.body["errors"][0]["code"], "447");
    assert_eq!(r.header("etag"), Some("\"2\""));
    let g = app.get(&contacts_path("E1")).send().await;
    assert_eq!(g.body["data"]["revision"], 2);
    assert_eq!(g.body["data"]["contacts"], json!([sarah()]));
    // `*` matches any existing set.
    app.put(&contacts_path("E1"), base()).header("if-match", "*").send().await.assert_status(200);
}

async fn envelope_errors_for_auth_body_and_property(app: TestApp) {
    property(&app, "A1", "1").await;
    let r = app.call(Method::PUT, &contacts_path("A1")).json(&base()).send().await;
    r.assert_status(401);
    assert_eq!(r.body["errors"][0]["code"], "497");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));

    let reader = app.key("t1", &[Scope::Read]).await;
    let r = app.call(Method::PUT, &contacts_path("A1")).auth(&reader).json(&base()).send().await;
    r.assert_status(403);
    assert_eq!(r.body["errors"][0]["code"], "497");

    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    let r = app.call(Method::PUT, &contacts_path("A1")).auth(&other).json(&base()).send().await;
    r.assert_status(404);
    assert_eq!(r.body["errors"][0]["code"], "635");
    let r = app.call(Method::GET, &contacts_path("A1")).auth(&other).send().await;
    r.assert_status(404);
    assert_eq!(r.body["errors"][0]["code"], "635");
    app.get(&contacts_path("nope")).send().await.assert_status(404);

    let r = app
        .call(Method::PUT, &contacts_path("A1"))
        .auth(&app.admin)
        .raw("application/json", "{\"contacts\": [")
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.body["errors"][0]["code"], "450");
    assert_eq!(r.body["errors"][0]["details"]["reason"], "malformed_json");
    let r = app
        .call(Method::PUT, &contacts_path("A1"))
        .auth(&app.admin)
        .raw("text/plain", base().to_string())
        .send()
        .await;
    r.assert_status(415);
    assert_eq!(r.body["errors"][0]["code"], "450");
    // A path that does not decode still answers in the envelope.
    let r = app.get("/contacts-api/properties/%FF/contacts").send().await;
    r.assert_status(400);
    assert_eq!(r.body["errors"][0]["code"], "450");
    assert_eq!(r.body["errors"][0]["details"]["fields"][0], "property_id");
    // Nothing above stored anything.
    assert_eq!(app.get(&contacts_path("A1")).send().await.body["data"]["revision"], 0);
}

/// Reads racing replaces never see half of one revision and half of the next.
async fn reads_are_consistent_while_sets_are_replaced(app: TestApp) {
    property(&app, "T1", "1").await;
    let set_named =
        |name: &str, phone: &str| set(vec![contact(&["general"], name, "a@hotel.example", phone)]);
    let sets = [set_named("Alpha", "+31201234567"), set_named("Bravo", "+31201234568")];
    app.put(&contacts_path("T1"), sets[0].clone()).send().await.assert_status(200);
    let app = std::sync::Arc::new(app);
    let writer = {
        let (app, sets) = (app.clone(), sets.clone());
        tokio::spawn(async move {
            for i in 0..100 {
                app.put(&contacts_path("T1"), sets[i % 2].clone()).send().await.assert_status(200);
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 40 {
        let r = app.get(&contacts_path("T1")).send().await;
        r.assert_status(200);
        let c = &r.body["data"]["contacts"][0];
        let expected_phone =
            if c["contact_person"]["name"] == "Alpha" { "+31201234567" } else { "+31201234568" };
        assert_eq!(c["phones"][0]["phone_number"], expected_phone, "torn read: {c}");
        assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", r.body["data"]["revision"]));
        reads += 1;
    }
    writer.await.unwrap();
}

/// Replaces racing on one property each get their own revision, in the order they commit: the
/// stored set is the one given the last revision, the history holds every one, and of several
/// writers quoting the same `If-Match` exactly one wins.
async fn concurrent_replaces_of_one_property_serialise(app: TestApp) {
    property(&app, "R1", "1").await;
    let named = |i: usize| {
        let phone = format!("+312012345{i:02}");
        set(vec![contact(&["general"], &format!("Writer {i}"), "w@hotel.example", &phone)])
    };
    let puts = (0..12).map(|i| app.put(&contacts_path("R1"), named(i)).send());
    let answers = futures_util::future::join_all(puts).await;
    let mut by_revision = std::collections::BTreeMap::new();
    for (i, r) in answers.iter().enumerate() {
        r.assert_status(200);
        by_revision.insert(r.body["data"]["revision"].as_i64().unwrap(), i);
    }
    assert_eq!(by_revision.keys().copied().collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
    let g = app.get(&contacts_path("R1")).send().await;
    assert_eq!(g.body["data"]["revision"], 12);
    assert_eq!(g.body["data"]["contacts"], named(by_revision[&12])["contacts"]);
    let history = app.get("/api/v1/properties/R1/contacts/revisions?limit=100").send().await;
    let revisions: Vec<_> =
        history.body["items"].as_array().unwrap().iter().map(|r| r["revision"].clone()).collect();
    assert_eq!(revisions, (1..=12).rev().map(|n| json!(n)).collect::<Vec<_>>());
    for (revision, i) in [(1, by_revision[&1]), (7, by_revision[&7])] {
        let r = app.get(&format!("/api/v1/properties/R1/contacts/revisions/{revision}")).send().await;
        assert_eq!(r.body["contacts"], named(i)["contacts"], "revision {revision}");
    }

    let puts = (20..26).map(|i| app.put(&contacts_path("R1"), named(i)).header("if-match", "\"12\"").send());
    let answers = futures_util::future::join_all(puts).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 5, "{statuses:?}");
    for r in answers.iter().filter(|r| r.status.as_u16() == 412) {
        assert_eq!(r.header("etag"), Some("\"13\""));
    }
    assert_eq!(app.get(&contacts_path("R1")).send().await.body["data"]["revision"], 13);
    // If-Match on a property that does not exist is a 404, not a 412.
    let r = app.put(&contacts_path("nope"), named(0)).header("if-match", "\"1\"").send().await;
    r.assert_status(404);
}

store_tests!(
    concurrent_replaces_of_one_property_serialise,
    reads_are_consistent_while_sets_are_replaced,
    seed_000_scenarios,
    input_is_normalised,
    every_rule_rejects_with_code_and_pointer,
    every_error_is_reported_at_once,
    stale_if_match_is_412_and_changes_nothing,
    envelope_errors_for_auth_body_and_property,
);
