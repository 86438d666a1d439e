//! CRM contacts under concurrent writes, and the list's use of indexes on a large table.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_body_util::BodyExt;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::domain::crm::ListContactsQuery;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgStore, Scope};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{PgSchema, TestApp};
use crate::crm::{create, path};
use crate::store_tests;

const WRITERS: usize = 24;

async fn concurrent_writes_are_all_kept(app: TestApp) {
    let c = create(&app, json!({"lastName": "Busy"})).await;
    let id = c["id"].as_i64().unwrap();
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let router = app.router.clone();
        let key = app.admin.clone();
        // Half overwrite the contact (keeping its collections), half add an email address.
        let (method, uri, body) = if i % 2 == 0 {
            (
                Method::PUT,
                format!("/api/v3/contacts/{id}"),
                json!({"lastName": "Busy", "jobTitle": format!("job-{i}")}),
            )
        } else {
            (
                Method::POST,
                format!("/api/v3/contacts/{id}/emailAddresses"),
                json!({"emailAddress": format!("w{i}@example.com")}),
            )
        };
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 200 || status == 201, "{status}: {body}");
    }
    let g = app.get(&path(&c["id"])).send().await.body;
    assert_eq!(g["version"], 1 + WRITERS as i64, "every write bumped the version exactly once");
    let emails: Vec<&str> =
        g["emailAddresses"].as_array().unwrap().iter().map(|e| e["emailAddress"].as_str().unwrap()).collect();
    for i in (1..WRITERS).step_by(2) {
        assert!(emails.contains(&format!("w{i}@example.com").as_str()), "w{i} lost");
    }
    assert_eq!(g["emailAddresses"].as_array().unwrap().iter().filter(|e| e["primary"] == true).count(), 1);
    // The history is paged (at most 10 a page): every page in turn.
    let mut revs: Vec<Value> = Vec::new();
    loop {
        let url = format!("{}/revisions?after={}", path(&c["id"]), revs.len());
        let page = app.get(&url).send().await.body;
        let page = page.as_array().unwrap();
        if page.is_empty() {
            break;
        }
        revs.extend(page.iter().cloned());
    }
    assert_eq!(revs.len(), 1 + WRITERS);
    for (n, rev) in revs.iter().enumerate() {
        assert_eq!(rev["version"], n as i64 + 1, "one revision per version");
    }
    for i in (0..WRITERS).step_by(2) {
        let job = format!("job-{i}");
        assert!(
            revs.iter().any(
                |r| r["operation"] == "REPLACE" && r["contact"]["jobTitle"] == Value::String(job.clone())
            ),
            "{job} lost"
        );
    }
}

store_tests!(concurrent_writes_are_all_kept, requests_dropped_while_beginning_leave_no_transaction_behind);

/// A property deleted between the check that `propertyIds` exist and the insert of the links is a
/// 422 `property_unknown`, not a foreign-key failure (500). Postgres only: on SQLite a contact
/// write holds the database write lock from its first statement, so no delete can come between.
/// The delete is held open in another transaction while the write runs into it.
#[tokio::test]
async fn property_deleted_during_a_contact_write_is_unknown_on_postgres() {
    let Some(schema) = PgSchema::create(4).await else { return };
    let pool = schema.pool.clone();
    let store = PgStore::from_pool(pool.clone());
    store.migrate().await.unwrap();
    let key = generate_key("t1", "racer", vec![Scope::Read, Scope::Write, Scope::Admin]);
    store.create_key(key.record).await.unwrap();
    let router = property_contacts::app(AppState::new(store, Limits::default()));
    let send = |method: Method, uri: String, body: Option<Value>| {
        let router = router.clone();
        let secret = key.secret.clone();
        async move {
            let mut req = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {secret}"));
            let body = match body {
                Some(b) => {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                    Body::from(b.to_string())
                }
                None => Body::empty(),
            };
            let resp = router.oneshot(req.body(body).unwrap()).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (status, _) =
        send(Method::PUT, "/api/v1/properties/doomed".into(), Some(json!({"name": "doomed"}))).await;
    assert_eq!(status, 201);
    let (status, contact) =
        send(Method::POST, "/api/v3/contacts".into(), Some(json!({"lastName": "Racer"}))).await;
    assert_eq!(status, 201);
    let id = contact["id"].as_i64().unwrap();

    let mut deleter = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM properties WHERE id = 'doomed' FOR UPDATE")
        .execute(&mut *deleter)
        .await
        .unwrap();
    let write = tokio::spawn(send(
        Method::PUT,
        format!("/api/v3/contacts/{id}"),
        Some(json!({"lastName": "Racer", "propertyIds": ["doomed"]})),
    ));
    // Let the write reach the property row, then delete it under its feet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!write.is_finished(), "the write waits for the property row");
    sqlx::query("DELETE FROM properties WHERE id = 'doomed'").execute(&mut *deleter).await.unwrap();
    deleter.commit().await.unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), write).await.unwrap().unwrap();

    pool.close().await;
    drop(schema);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "property_unknown", "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/propertyIds/0", "{body}");
}

/// Seeds 100,000 contacts (with one email, telephone, address, property link and custom field
/// each) into a private Postgres schema and checks that the query of every list filter, and the
/// collection queries of a page, use indexes.
#[tokio::test]
async fn list_queries_use_indexes_on_postgres() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let pool = schema.pool.clone();
    let store = PgStore::from_pool(pool.clone());
    store.migrate().await.unwrap();
    for statement in [
        "INSERT INTO tenants (id, created_at) VALUES ('t1', now()), ('t2', now())",
        "INSERT INTO properties (tenant_id, id, contact_set_revision, created_at, updated_at) \
         SELECT 't1', 'p' || g, 0, now(), now() FROM generate_series(1, 1000) g",
        "INSERT INTO crm_contacts (tenant_id, contact_type, first_name, last_name, account_id, order_references, \
         version, created_at, updated_at) \
         SELECT CASE WHEN g % 10 = 0 THEN 't2' ELSE 't1' END, \
                (ARRAY['BOOKER','CONTACT','GUEST','PARTNER','STAFF','CASHIER','PAYMENT','AGENT','EMERGENCY','GUIDE', \
                       'SUPPLIER','VENUE','HOST','COMPANY','DELIVERY','MANAGER','SUPPORT','INSTRUCTOR','OTHER'])[1 + g % 19], \
                'First' || g, 'Last' || (g % 20000), 'acc' || g, '[]'::jsonb, 1, \
                now() - g * interval '1 minute', now() - g * interval '1 minute' \
         FROM generate_series(1, 100000) g",
        "INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, is_primary) \
         SELECT tenant_id, id, 'user' || id || '@example.com', TRUE FROM crm_contacts",
        "INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, is_primary) \
         SELECT tenant_id, id, '+3120' || lpad(id::text, 7, '0'), '+3120' || lpad(id::text, 7, '0'), TRUE FROM crm_contacts",
        "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, city, country_code, is_primary) \
         SELECT tenant_id, id, 'Damrak ' || id, 'Amsterdam', 'NL', TRUE FROM crm_contacts",
        "INSERT INTO crm_contact_properties (tenant_id, contact_id, property_id) \
         SELECT tenant_id, id, 'p' || (1 + id % 1000) FROM crm_contacts WHERE tenant_id = 't1'",
        "INSERT INTO crm_contact_custom_fields (tenant_id, contact_id, name, field_type, value) \
         SELECT tenant_id, id, 'vip', 'BOOLEAN', 'true' FROM crm_contacts",
        // Search terms as the service writes them for these names (ASCII: folding is lowercasing).
        "INSERT INTO crm_contact_terms (tenant_id, contact_id, term) \
         SELECT tenant_id, id, lower(first_name) FROM crm_contacts UNION \
         SELECT tenant_id, id, lower(last_name) FROM crm_contacts",
        "ANALYZE",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    let since = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    let filters: Vec<(&str, ListContactsQuery)> = vec![
        (
            "emailAddress",
            ListContactsQuery { email_address: Some("USER501@example.com".into()), ..Default::default() },
        ),
        ("firstName", ListContactsQuery { first_name: Some("first77".into()), ..Default::default() }),
        ("lastName", ListContactsQuery { last_name: Some("last42".into()), ..Default::default() }),
        ("telephone", ListContactsQuery { telephone: Some("+31200000501".into()), ..Default::default() }),
        ("accountId", ListContactsQuery { account_id: Some("acc123".into()), ..Default::default() }),
        ("contactType", ListContactsQuery { contact_type: Some("GUIDE".into()), ..Default::default() }),
        ("propertyId", ListContactsQuery { property_id: Some("p7".into()), ..Default::default() }),
        ("modifiedSince", ListContactsQuery { modified_since: Some(since), ..Default::default() }),
        ("q", ListContactsQuery { q: Some("last19999 first99999".into()), ..Default::default() }),
        ("externalId", ListContactsQuery { external_id: Some("pms-1".into()), ..Default::default() }),
        (
            "cursor deep into the list",
            ListContactsQuery {
                after: Some(
                    property_contacts::domain::crm_cursor::Cursor { relevance: None, id: 90_000 }.encode(),
                ),
                ..Default::default()
            },
        ),
        (
            "lastName sorted by firstName",
            ListContactsQuery {
                last_name: Some("last42".into()),
                sort: Some("firstName,desc".into()),
                ..Default::default()
            },
        ),
    ];
    let mut plans = Vec::new();
    for (name, q) in filters {
        let query = q.parse().unwrap();
        plans.push((name, store.explain_contact_list("t1", &query).await.unwrap()));
    }
    pool.close().await;
    drop(schema);

    for (name, plans) in plans {
        // Aggregate, page and the page's collections; a cursor page runs no aggregate query.
        assert_eq!(plans.len(), if name.starts_with("cursor") { 2 } else { 3 });
        for plan in plans {
            assert!(!plan.contains("Seq Scan"), "{name}: sequential scan in\n{plan}");
            assert!(plan.contains("Index"), "{name}: no index used in\n{plan}");
        }
    }
}

/// Requests dropped while their transaction opens (a client gone, wrk stopping) must not hand a
/// connection back to the pool inside that transaction: later reads and writes on the same store all
/// succeed (a write landing in a leftover read-only transaction, or SQLite's nested `BEGIN`, fails).
async fn requests_dropped_while_beginning_leave_no_transaction_behind(app: TestApp) {
    let c = create(&app, json!({"lastName": "Dropped"})).await;
    let id = c["id"].as_i64().unwrap();
    async fn drop_many<S: Store>(store: &S, id: i64) {
        for i in 0..40 {
            // Reads open a read-only transaction (a read with revisions does), writes a write
            // one; each is polled until it has sent something, then dropped.
            if i % 2 == 0 {
                let mut read = Box::pin(store.get_contact("t1", id, true));
                let _ = futures_util::poll!(read.as_mut());
            } else {
                let kind = property_contacts::domain::crm::ItemKind::Email;
                let mut write = Box::pin(store.set_primary_contact_item("t1", id, kind, 999_999, None, "t"));
                let _ = futures_util::poll!(write.as_mut());
            }
            tokio::task::yield_now().await;
        }
    }
    match &app.backend {
        crate::common::Backend::Sqlite(s) => drop_many(s, id).await,
        crate::common::Backend::Postgres(s) => drop_many(s, id).await,
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let r = app
            .call(Method::POST, &format!("{}/emailAddresses", path(&c["id"])))
            .auth(&app.admin)
            .json(&json!({"emailAddress": format!("after{i}@example.com")}))
            .send()
            .await;
        r.assert_status(201);
        app.get(&path(&c["id"])).send().await.assert_status(200);
    }
}
