//! `property-contacts privacy export|erase`: the same effect as the API, on either store (issue 16,
//! point 5).

#[path = "support/pg_database.rs"]
mod pg_database;

use std::process::Command;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use pg_database::PgDatabase;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgPoolSizes, PgStore, Scope, SqliteSettings, SqliteStore};
use serde_json::{json, Value};
use tower::ServiceExt;

fn cli(db: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_property-contacts"))
        .env("DATABASE_URL", db)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run property-contacts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let doc = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), doc, String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn call(app: &axum::Router, key: &str, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Two CRM contacts of tenant `acme`, one of them the subject; returns the admin key and both ids.
async fn seed<S: Store>(store: S) -> (axum::Router, String, i64, i64) {
    store.migrate().await.unwrap();
    let key = generate_key("acme", "ops", Scope::ALL.to_vec());
    store.create_key(key.record).await.unwrap();
    let app = property_contacts::app(AppState::new(store, Limits::default()));
    let mut ids = Vec::new();
    for (last, email) in [("Mustermann", "erika@guest.example"), ("Normal", "otto@guest.example")] {
        let body = json!({"firstName": "X", "lastName": last, "emailAddresses": [{"emailAddress": email}]});
        let (status, created) = call(&app, &key.secret, "POST", "/api/v3/contacts", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        ids.push(created["id"].as_i64().unwrap());
    }
    (app, key.secret, ids[0], ids[1])
}

async fn export_and_erase(db: &str, app: &axum::Router, key: &str, erika: i64, otto: i64) {
    let subject = ["--tenant", "acme", "--email", "ERIKA@guest.example"];
    let (ok, doc, err) = cli(db, &[&["privacy", "export"][..], &subject].concat());
    assert!(ok, "{err}");
    assert_eq!(doc["crm_contacts"][0]["id"], erika, "{doc:#}");
    assert_eq!(doc["crm_contacts"][0]["revisions"].as_array().unwrap().len(), 1);

    let (ok, doc, err) = cli(db, &[&["privacy", "erase", "--dry-run"][..], &subject].concat());
    assert!(ok, "{err}");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["erased"]["crm_contacts"], json!([erika]));
    assert_eq!(call(app, key, "GET", &format!("/api/v3/contacts/{erika}"), None).await.0, 200);

    let (ok, doc, err) = cli(db, &[&["privacy", "erase"][..], &subject].concat());
    assert!(ok, "{err}");
    assert_eq!(doc["erased"]["crm_contacts"], json!([erika]));
    assert_eq!(call(app, key, "GET", &format!("/api/v3/contacts/{erika}"), None).await.0, 404);
    assert_eq!(call(app, key, "GET", &format!("/api/v3/contacts/{otto}"), None).await.0, 200);

    // The API sees the same audit trail, the CLI named as the key. On Postgres entries wait behind
    // any transaction open in the cluster (other tests run beside this one), so wait for them.
    let mut audit = Value::Null;
    for _ in 0..500 {
        let (status, body) = call(app, key, "GET", "/api/v1/audit", None).await;
        assert_eq!(status, 200);
        audit = body;
        if audit.to_string().contains("\"privacy.erasure\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ops: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["operation"].as_str().unwrap(), e["key_id"].as_str().unwrap()))
        .collect();
    assert!(ops.contains(&("privacy.export", "cli")), "{ops:?}");
    assert!(ops.contains(&("privacy.erasure.dry_run", "cli")), "{ops:?}");
    assert!(ops.contains(&("privacy.erasure", "cli")), "{ops:?}");
    assert!(!audit.to_string().contains("erika"), "the audit names the person");

    let (ok, _, err) = cli(db, &["privacy", "erase", "--tenant", "acme"]);
    assert!(!ok && err.contains("--email"), "{err}");
    let (ok, _, err) = cli(db, &["privacy", "export", "--tenant", "acme", "--email", "x", "--phone", "+311"]);
    assert!(!ok && err.contains("--phone"), "{err}");
}

#[tokio::test]
async fn privacy_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("privacy.db").display());
    let store = SqliteStore::connect(&db, SqliteSettings::default()).await.unwrap();
    let (app, key, erika, otto) = seed(store).await;
    export_and_erase(&db, &app, &key, erika, otto).await;
}

#[tokio::test]
async fn privacy_commands_on_postgres() {
    let Some(pg) = PgDatabase::create("pc_privacy_cli") else { return };
    let sizes = PgPoolSizes {
        max_connections: 2,
        pipeline_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        query_timeout: Duration::from_secs(5),
    };
    let store = PgStore::connect(&pg.url, sizes).unwrap();
    let (app, key, erika, otto) = seed(store.clone()).await;
    export_and_erase(&pg.url, &app, &key, erika, otto).await;
    store.close().await;
}
