//! `GET /api/v1/audit`: every write, by key, operation, resource and request, never contact data
//! (issue 16, point 3).

use axum::http::Method;
use property_contacts::config::WebhookSettings;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::{TestApp, Tuning};
use crate::crm::post;
use crate::fixtures::{contacts_path, property, sarah, set};
use crate::store_tests;

fn private_targets() -> Tuning {
    Tuning {
        webhooks: WebhookSettings { webhook_allow_private_targets: true, ..Default::default() },
        ..Default::default()
    }
}

/// Every audit entry of tenant `t1`, following `next` (pages of `limit`). On Postgres entries wait
/// behind any transaction still open in the cluster (other tests run beside this one), as the
/// change feed's do, so an empty page counts only once the table holds no more after the cursor.
pub async fn drain(app: &TestApp, limit: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut next = "0-0".to_owned();
    loop {
        let r = app.get(&format!("/api/v1/audit?limit={limit}&after={next}")).send().await;
        r.assert_status(200);
        let items = r.body["items"].as_array().unwrap().clone();
        next = r.body["next"].as_str().unwrap().to_owned();
        if items.is_empty() {
            if stored_after(app, &next).await == 0 {
                return entries;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        }
        entries.extend(items);
    }
}

async fn stored_after(app: &TestApp, cursor: &str) -> i64 {
    let Some(pool) = app.pg_pool() else { return 0 };
    let (tx, id) = cursor.split_once('-').unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_entries WHERE tenant_id = 't1' AND (tx, id) > ($1, $2)")
            .bind(tx.parse::<i64>().unwrap())
            .bind(id.parse::<i64>().unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    n
}

async fn page(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/audit{query}")).send().await;
    r.assert_status(200);
    r.body
}

async fn every_write_is_audited_by_key_and_request(app: TestApp) {
    property(&app, "hotel-a", "1001").await;
    app.put(&contacts_path("hotel-a"), set(vec![sarah()]))
        .header("x-request-id", "req-set")
        .send()
        .await
        .assert_status(200);
    // An identical set changes nothing and records nothing.
    app.put(&contacts_path("hotel-a"), set(vec![sarah()])).send().await.assert_status(200);
    let r = post(&app, "/api/v3/contacts", json!({"firstName": "Jan", "lastName": "Vermeer"}))
        .header("x-request-id", "req-crm")
        .send()
        .await;
    r.assert_status(201);
    let contact = r.body["id"].clone();
    // A rejected write leaves no entry.
    post(&app, "/api/v3/contacts", json!({"emailAddresses": [{"emailAddress": "x"}]}))
        .send()
        .await
        .assert_problem(422);
    post(
        &app,
        "/api/v1/customers/c-9/contacts",
        json!({"contacts": [{"type": "billing", "name": "Jan Vermeer"}]}),
    )
    .send()
    .await
    .assert_status(200);
    let r = post(&app, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/hook"})).send().await;
    r.assert_status(201);
    let hook = r.body["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/webhooks/{hook}")).send().await.assert_status(204);

    let entries = drain(&app, 100).await;
    let body = json!({ "items": entries });
    let ops: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["resource_type"].as_str().unwrap(),
                e["resource_id"].as_str().unwrap(),
            )
        })
        .collect();
    let contact_id = contact.to_string();
    assert_eq!(
        ops,
        [
            ("property.created", "property", "hotel-a"),
            ("contact_set.replaced", "contact_set", "hotel-a"),
            ("contact.created", "contact", contact_id.as_str()),
            ("customer_contacts.replaced", "customer", "c-9"),
            ("webhook.created", "webhook", hook.as_str()),
            ("webhook.deleted", "webhook", hook.as_str()),
        ]
    );
    let admin_id = app.admin.split('_').nth(1).unwrap();
    for e in &entries {
        assert_eq!(e["key_id"], admin_id, "{e}");
        assert_eq!(e["key_name"], "test-key");
        assert!(e["occurred_at"].is_string() && e["id"].is_string());
    }
    assert_eq!(entries[1]["request_id"], "req-set");
    assert_eq!(entries[1]["detail"], json!({"revision": 1}));
    assert_eq!(entries[2]["request_id"], "req-crm");
    let text = body.to_string();
    for personal in ["Vermeer", "Sarah", "sarah@hotel.example", "31201234567"] {
        assert!(!text.contains(personal), "the audit log holds contact data: {personal}");
    }

    // Paging follows `next`; an empty page keeps the cursor.
    let first = page(&app, "?limit=4").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 4);
    let rest = page(&app, &format!("?after={}", first["next"].as_str().unwrap())).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_eq!(rest["items"][0]["operation"], "webhook.created");
    let end = page(&app, &format!("?after={}", rest["next"].as_str().unwrap())).await;
    assert_eq!(end["items"], json!([]));
    assert_eq!(end["next"], rest["next"]);
}

async fn audit_is_admin_only_and_tenant_scoped(app: TestApp) {
    property(&app, "hotel-a", "1001").await;
    let writer = app.key("t1", &[Scope::Read, Scope::Write]).await;
    app.call(Method::GET, "/api/v1/audit").auth(&writer).send().await.assert_problem(403);
    app.call(Method::GET, "/api/v1/audit").send().await.assert_problem(401);
    let other = app.key("t2", &[Scope::Read, Scope::Write, Scope::Admin]).await;
    let r = app.call(Method::GET, "/api/v1/audit").auth(&other).send().await;
    r.assert_status(200);
    assert_eq!(r.body["items"], json!([]));

    let r = app.get("/api/v1/audit?after=nope").send().await;
    r.assert_problem(400);
    assert_eq!(r.problem_errors(), [("after".to_owned(), "cursor_invalid".to_owned())]);
    let r = app.get("/api/v1/audit?limit=0").send().await;
    assert_eq!(r.problem_errors(), [("limit".to_owned(), "limit_out_of_range".to_owned())]);
}

store_tests!(
    every_write_is_audited_by_key_and_request => private_targets(),
    audit_is_admin_only_and_tenant_scoped,
);
