//! Privacy requests: subject export, erasure that reaches history, and the audit trail they leave
//! (issue 16, points 1, 2 and 6).

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{Backend, TestApp};
use crate::crm::{create, path, post};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

/// The person asking to be forgotten, as the tenant knows them.
const EMAIL: &str = "erika.mustermann@guest.example";
const OLD_EMAIL: &str = "erika.m@old.example";
const PHONE: &str = "+31207654321";
const FIRST: &str = "Erika";
const LAST: &str = "Mustermann";

/// Someone else, who must be untouched.
const OTHER_EMAIL: &str = "otto.normal@guest.example";
const OTHER_NAME: &str = "Normalverbraucher";

/// What a scan looks for: the subject's e-mails, phone (with and without `+`) and names.
const SUBJECT_NEEDLES: &[&str] = &[EMAIL, OLD_EMAIL, "31207654321", FIRST, LAST];

/// Collects everything the service logs during a test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn subjects(query: &str) -> String {
    format!("/api/v1/privacy/subjects?{query}")
}

fn email_query() -> String {
    format!("email={}", EMAIL.to_uppercase())
}

/// CRM contacts, a merged duplicate, a customer contact and contact sets naming the subject, beside
/// another person's; returns (subject's contact id, duplicate's id, other's id).
async fn seed(app: &TestApp) -> (Value, Value, Value) {
    property(app, "hotel-a", "1001").await;
    property(app, "hotel-b", "1002").await;
    // Kept by the idempotency store: the answer names the subject.
    let r = post(
        app,
        "/api/v3/contacts",
        json!({
            "contactType": "GUEST", "firstName": FIRST, "lastName": LAST,
            "emailAddresses": [{"emailAddress": EMAIL}],
            "telephones": [{"number": PHONE}],
            "addresses": [{"addressLine1": "Keizersgracht 99", "city": "Amsterdam", "countryCode": "NL"}],
            "customFields": [{"name": "room", "type": "STRING", "value": "quiet"}]
        }),
    )
    .header("idempotency-key", "create-erika")
    .send()
    .await;
    r.assert_status(201);
    let erika = r.body["id"].clone();
    let r = post(app, &format!("{}/notes", path(&erika)), json!({"content": "allergic to feathers"}))
        .send()
        .await;
    r.assert_status(201);
    let duplicate = create(
        app,
        json!({"firstName": FIRST, "lastName": LAST, "emailAddresses": [{"emailAddress": OLD_EMAIL}]}),
    )
    .await["id"]
        .clone();
    let r = post(
        app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": erika, "secondaryContactId": duplicate}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true, "{}", r.body);
    let r = post(
        app,
        "/api/v3/contacts",
        json!({"firstName": "Otto", "lastName": OTHER_NAME, "emailAddresses": [{"emailAddress": OTHER_EMAIL}]}),
    )
    .header("idempotency-key", "create-otto")
    .send()
    .await;
    r.assert_status(201);
    let otto = r.body["id"].clone();

    let r = post(
        app,
        "/api/v1/customers/cust-1/contacts",
        json!({"contacts": [
            {"type": "billing", "name": format!("{FIRST} {LAST}"), "email": EMAIL, "work_phone": "+31 20 765 4321"},
            {"type": "service", "name": format!("Otto {OTHER_NAME}"), "email": OTHER_EMAIL}
        ]}),
    )
    .send()
    .await;
    r.assert_status(200);

    let erika_staff = contact(&["reservations"], &format!("{FIRST} {LAST}"), EMAIL, PHONE);
    // hotel-a: the subject only in a past revision; hotel-b: in the current set.
    app.put(&contacts_path("hotel-a"), set(vec![sarah(), erika_staff.clone()]))
        .send()
        .await
        .assert_status(200);
    app.put(&contacts_path("hotel-a"), set(vec![sarah()])).send().await.assert_status(200);
    let mut general = erika_staff;
    general["contact_profiles"] = json!([{"type": "general"}]);
    app.put(&contacts_path("hotel-b"), set(vec![general])).send().await.assert_status(200);
    (erika, duplicate, otto)
}

/// `(table, column)` of every text, JSON or binary column of the store holding `needle` (case
/// ignored).
async fn scan(app: &TestApp, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    match &app.backend {
        Backend::Sqlite(_) => {
            let url = format!("sqlite:{}", app.sqlite_path().unwrap().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for (table,) in tables {
                let columns: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, upper(type) FROM pragma_table_info(?)")
                        .bind(&table)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (column, ty) in columns {
                    if !(ty.contains("TEXT") || ty.contains("BLOB") || ty.is_empty()) {
                        continue;
                    }
                    let (n,): (i64,) = sqlx::query_as(&format!(
                        "SELECT count(*) FROM \"{table}\" WHERE instr(lower(CAST(\"{column}\" AS TEXT)), lower(?)) > 0"
                    ))
                    .bind(needle)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if n > 0 {
                        hits.push(format!("{table}.{column}"));
                    }
                }
            }
            pool.close().await;
        }
        Backend::Postgres(_) => {
            let pool = app.pg_pool().unwrap();
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() \
                   AND data_type IN ('text', 'jsonb', 'json', 'bytea', 'character varying')",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            assert!(columns.len() > 20, "the scan sees the store's tables: {columns:?}");
            for (table, column, ty) in columns {
                let condition = if ty == "bytea" {
                    format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
                } else {
                    format!("strpos(lower(\"{column}\"::text), lower($1)) > 0")
                };
                let (n,): (i64,) =
                    sqlx::query_as(&format!("SELECT count(*) FROM \"{table}\" WHERE {condition}"))
                        .bind(needle)
                        .fetch_one(pool)
                        .await
                        .unwrap();
                if n > 0 {
                    hits.push(format!("{table}.{column}"));
                }
            }
        }
    }
    hits
}

/// Every audit entry of the admin's tenant.
async fn audit(app: &TestApp) -> Vec<Value> {
    crate::audit::drain(app, 7).await
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn export_answers_everything_held_about_the_person(app: TestApp) {
    let (erika, duplicate, otto) = seed(&app).await;
    let r = app.get(&subjects(&email_query())).send().await;
    r.assert_status(200);
    let doc = &r.body;
    assert_eq!(ids(&doc["crm_contacts"]), [erika.as_i64().unwrap()], "{doc:#}");
    let c = &doc["crm_contacts"][0];
    assert_eq!(c["lastName"], LAST);
    assert_eq!(c["customFields"][0]["value"], "quiet");
    assert_eq!(c["notes"][0]["content"], "allergic to feathers");
    // create, note, merge: one revision each.
    assert_eq!(c["revisions"].as_array().unwrap().len(), 3, "{c:#}");
    assert_eq!(ids(&doc["merged_tombstones"]), [duplicate.as_i64().unwrap()]);
    assert_eq!(doc["merged_tombstones"][0]["mergedInto"], erika);
    assert_eq!(doc["customer_contacts"].as_array().unwrap().len(), 1);
    assert_eq!(doc["customer_contacts"][0]["type"], "billing");
    let revisions: Vec<(String, i64, bool)> = doc["contact_set_revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["property_id"].as_str().unwrap().to_owned(),
                r["revision"].as_i64().unwrap(),
                r["current"] == true,
            )
        })
        .collect();
    assert_eq!(revisions, [("hotel-a".to_owned(), 1, false), ("hotel-b".to_owned(), 1, true)]);
    assert_eq!(doc["current_contact_sets"], json!([{"property_id": "hotel-b", "revision": 1}]));
    // Only the subject's own contacts of a set, not the colleagues beside them.
    assert_eq!(doc["contact_set_revisions"][0]["contacts"].as_array().unwrap().len(), 1);
    assert!(!doc.to_string().contains(OTHER_EMAIL), "another person leaked into the export");

    // The phone and the contact id find the same person.
    let by_phone = app.get(&subjects(&format!("phone=%2B{}", &PHONE[1..]))).send().await;
    by_phone.assert_status(200);
    assert_eq!(ids(&by_phone.body["crm_contacts"]), [erika.as_i64().unwrap()]);
    assert_eq!(by_phone.body["contact_set_revisions"].as_array().unwrap().len(), 2);
    let by_id = app.get(&subjects(&format!("contact_id={erika}"))).send().await;
    by_id.assert_status(200);
    assert_eq!(by_id.body["customer_contacts"], doc["customer_contacts"]);
    let other = app.get(&subjects(&format!("contact_id={otto}"))).send().await;
    assert_eq!(ids(&other.body["crm_contacts"]), [otto.as_i64().unwrap()]);
    assert_eq!(other.body["contact_set_revisions"], json!([]));

    // Exactly one identifier, and admin scope.
    let r = app.get(&subjects(&format!("email={EMAIL}&phone=%2B31201234567"))).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [("phone".to_owned(), "too_many_items".to_owned())]);
    let r = app.get(&subjects("")).send().await;
    r.assert_problem(422);
    let r = app.get(&subjects("phone=0201234567")).send().await;
    assert_eq!(r.problem_errors(), [("phone".to_owned(), "phone_pattern".to_owned())]);
    let writer = app.key("t1", &[Scope::Read, Scope::Write]).await;
    app.call(Method::GET, &subjects(&email_query())).auth(&writer).send().await.assert_problem(403);
    // Another tenant holds nothing about the person.
    let stranger = app.key("t2", &[Scope::Read, Scope::Admin]).await;
    let r = app.call(Method::GET, &subjects(&email_query())).auth(&stranger).send().await;
    r.assert_status(200);
    assert_eq!(r.body["crm_contacts"], json!([]));
    assert_eq!(r.body["contact_set_revisions"], json!([]));

    let exports: Vec<Value> =
        audit(&app).await.into_iter().filter(|e| e["operation"] == "privacy.export").collect();
    assert_eq!(exports.len(), 4, "every export is audited: {exports:#?}");
    assert_eq!(exports[0]["resource_id"], "email");
    assert_eq!(exports[0]["detail"]["crm_contacts"], 1);
}

async fn erasure_reaches_history_and_leaves_others_alone(app: TestApp) {
    let captured = Captured::default();
    let sink = captured.clone();
    // Everything the service logs from here on, in its own format, at every level.
    let subscriber = property_contacts::log_format::subscriber(
        move || sink.clone(),
        tracing_subscriber::EnvFilter::new("trace"),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let (erika, duplicate, otto) = seed(&app).await;
    for needle in [EMAIL, LAST] {
        assert!(!scan(&app, needle).await.is_empty(), "the scan finds what is there: {needle}");
    }

    // A dry run lists what would go and changes nothing.
    let r = post(&app, "/api/v1/privacy/erasures?dry_run=true", json!({"email": EMAIL})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["dry_run"], true);
    let planned = r.body["erased"].clone();
    assert_eq!(planned["crm_contacts"], json!([erika]));
    app.get(&path(&erika)).send().await.assert_status(200);

    let r = post(&app, "/api/v1/privacy/erasures", json!({"email": EMAIL}))
        .header("x-request-id", "erase-request-1")
        .send()
        .await;
    r.assert_status(200);
    let erased = &r.body["erased"];
    assert_eq!(r.body["dry_run"], false);
    assert_eq!(erased, &planned, "the dry run listed exactly what went");
    assert_eq!(erased["crm_contacts"], json!([erika]));
    assert_eq!(erased["merged_tombstones"], json!([duplicate]));
    // Erika's create, note and merge; the duplicate's create and merged-into.
    assert_eq!(erased["crm_revisions"], 5, "{erased:#}");
    assert_eq!(erased["notes"], 1);
    assert_eq!(erased["custom_fields"], 1);
    assert_eq!(erased["customer_contacts"], json!([{"customer_id": "cust-1", "type": "billing"}]));
    assert_eq!(
        erased["contact_set_revisions"],
        json!([{"property_id": "hotel-a", "revision": 1}, {"property_id": "hotel-b", "revision": 1}])
    );
    assert_eq!(erased["idempotency_answers"], 1);
    assert_eq!(r.body["needs_new_put"], json!([{"property_id": "hotel-b", "revision": 1}]));
    for needle in SUBJECT_NEEDLES {
        assert!(!r.body.to_string().contains(needle), "the answer names the person: {needle}");
    }

    app.get(&path(&erika)).send().await.assert_problem(404);
    app.get(&path(&duplicate)).send().await.assert_problem(404);
    let r = app.get(&path(&otto)).send().await;
    r.assert_status(200);
    assert_eq!(r.body["lastName"], OTHER_NAME);
    let r = app.get("/api/v1/customers/cust-1/contacts").send().await;
    r.assert_status(200);
    assert!(!r.body.to_string().contains(EMAIL) && r.body.to_string().contains(OTHER_EMAIL), "{}", r.body);
    // The past revision keeps its colleague and the shape of the redacted contact.
    let r = app.get("/api/v1/properties/hotel-a/contacts/revisions/1").send().await;
    r.assert_status(200);
    let text = r.body.to_string();
    assert!(text.contains("sarah@hotel.example") && !text.contains(EMAIL), "{text}");
    // The current set is the channel manager's to replace: still served as it was.
    let r = app.get(&contacts_path("hotel-b")).send().await;
    assert_eq!(r.body["data"]["contacts"][0]["email"], EMAIL);
    // ... until it sends a set without the person.
    let otto_staff = contact(&["general"], &format!("Otto {OTHER_NAME}"), OTHER_EMAIL, "+31201234567");
    app.put(&contacts_path("hotel-b"), set(vec![otto_staff])).send().await.assert_status(200);
    // The idempotency store answers the other person's request as before, and no longer the subject's.
    let r = post(
        &app,
        "/api/v3/contacts",
        json!({"firstName": "Otto", "lastName": OTHER_NAME, "emailAddresses": [{"emailAddress": OTHER_EMAIL}]}),
    )
    .header("idempotency-key", "create-otto")
    .send()
    .await;
    assert_eq!(r.body["id"], otto, "the kept answer was replayed");

    for needle in SUBJECT_NEEDLES {
        let hits = scan(&app, needle).await;
        assert!(hits.is_empty(), "{needle} is still in {hits:?}");
    }
    for needle in [OTHER_EMAIL, OTHER_NAME, "sarah@hotel.example"] {
        assert!(!scan(&app, needle).await.is_empty(), "another person's data went: {needle}");
    }

    let entries = audit(&app).await;
    let erasure =
        entries.iter().find(|e| e["operation"] == "privacy.erasure").expect("the erasure is audited");
    assert_eq!(erasure["request_id"], "erase-request-1");
    assert_eq!(erasure["resource_type"], "subject");
    assert_eq!(erasure["resource_id"], "email");
    assert_eq!(erasure["detail"]["crm_contacts"], 1);
    assert_eq!(erasure["detail"]["customer_contacts"], 1);
    assert_eq!(erasure["detail"]["needs_new_put"], 1);
    let admin_id = app.admin.split('_').nth(1).unwrap();
    assert_eq!(erasure["key_id"], admin_id);
    assert!(entries.iter().any(|e| e["operation"] == "privacy.erasure.dry_run"));
    // Followers of the feed hear that the contact went.
    let erika_id = erika.to_string();
    assert!(entries
        .iter()
        .any(|e| e["operation"] == "contact.deleted" && e["resource_id"] == erika_id.as_str()));

    let logs = captured.text();
    assert!(logs.contains("erase-request-1"), "the test captured the service's logs");
    for needle in SUBJECT_NEEDLES {
        assert!(!logs.contains(needle), "the logs name the person: {needle}");
    }
}

async fn erasure_by_phone_or_contact_id(app: TestApp) {
    let (erika, duplicate, otto) = seed(&app).await;
    // The contact id finds the person's e-mails and phone, and through them the rest.
    let r = post(&app, "/api/v1/privacy/erasures", json!({"contact_id": erika})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["erased"]["crm_contacts"], json!([erika]));
    assert_eq!(r.body["erased"]["merged_tombstones"], json!([duplicate]));
    assert_eq!(r.body["erased"]["customer_contacts"].as_array().unwrap().len(), 1);
    // Nothing is left to find by phone; the other person is still there.
    let r = post(&app, "/api/v1/privacy/erasures", json!({"phone": PHONE})).send().await;
    r.assert_status(200);
    assert_eq!(r.body["erased"]["crm_contacts"], json!([]));
    assert_eq!(r.body["erased"]["contact_set_revisions"], json!([]));
    assert_eq!(r.body["needs_new_put"], json!([{"property_id": "hotel-b", "revision": 1}]));
    app.get(&path(&otto)).send().await.assert_status(200);

    let r = post(&app, "/api/v1/privacy/erasures", json!({"email": "not-an-address"})).send().await;
    r.assert_problem(422);
    assert_eq!(r.problem_errors(), [("/email".to_owned(), "email_invalid".to_owned())]);
    let r = post(&app, "/api/v1/privacy/erasures", json!({})).send().await;
    assert_eq!(r.problem_errors(), [("/email".to_owned(), "required".to_owned())]);
    let writer = app.key("t1", &[Scope::Read, Scope::Write]).await;
    app.call(Method::POST, "/api/v1/privacy/erasures")
        .auth(&writer)
        .json(&json!({"email": EMAIL}))
        .send()
        .await
        .assert_problem(403);
}

store_tests!(
    export_answers_everything_held_about_the_person,
    erasure_reaches_history_and_leaves_others_alone,
    erasure_by_phone_or_contact_id,
);
