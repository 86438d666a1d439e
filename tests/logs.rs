//! Logs: one access line per request with its id, route, status and latency, and no contact data
//! anywhere (API.md section 8).

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{Scope, SqliteSettings, SqliteStore};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Collects everything the subscriber writes.
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

async fn send(app: &axum::Router, method: &str, uri: &str, key: &str, body: Value) -> u16 {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("x-request-id", format!("log-test-{method}-{}", uri.len()))
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

// current_thread: the subscriber set for this thread sees every event of the test.
#[tokio::test(flavor = "current_thread")]
async fn access_lines_carry_the_request_and_never_contact_data() {
    let captured = Captured::default();
    let sink = captured.clone();
    // The service's own format, everything enabled.
    let subscriber = property_contacts::log_format::subscriber(
        move || sink.clone(),
        tracing_subscriber::EnvFilter::new("trace"),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("logs.db").display());
    let store = SqliteStore::connect(&url, SqliteSettings { max_connections: 2, ..Default::default() })
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let key = generate_key("t1", "log-key", vec![Scope::Read, Scope::Write, Scope::Admin]);
    store.create_key(key.record).await.unwrap();
    let app = property_contacts::app(AppState::new(store, Limits::default()));

    let secret_email = "zelda.secret@hotel.example";
    let secret_phone = "+31209876543";
    let secret_name = "Zelda Secretname";
    assert_eq!(send(&app, "PUT", "/api/v1/properties/p1", &key.secret, json!({})).await, 201);
    let set = json!({"contacts": [{
        "contact_profiles": [{"type": "general"}],
        "contact_person": {"name": secret_name, "language_code": "en-gb"},
        "phones": [{"phone_number": secret_phone, "phone_tech_type": 1}],
        "email": secret_email
    }]});
    assert_eq!(
        send(&app, "PUT", "/contacts-api/properties/p1/contacts", &key.secret, set.clone()).await,
        200
    );
    let mut invalid = set.clone();
    invalid["contacts"][0]["email"] = json!("not-an-email-zelda");
    assert_eq!(send(&app, "PUT", "/contacts-api/properties/p1/contacts", &key.secret, invalid).await, 400);
    let crm = json!({"firstName": "Zelda", "lastName": "Secretname", "emailAddresses": [{"emailAddress": secret_email}],
                     "telephones": [{"number": secret_phone}]});
    assert_eq!(send(&app, "POST", "/api/v3/contacts", &key.secret, crm).await, 201);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in [secret_email, secret_phone, secret_name, "Secretname", "not-an-email-zelda", &key.secret] {
        assert!(!text.contains(secret), "`{secret}` leaked into the logs:\n{text}");
    }
    let access: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect();
    assert_eq!(access.len(), 4, "one access line per request:\n{text}");
    let put =
        access.iter().find(|v| v["route"] == "/contacts-api/properties/{property_id}/contacts").unwrap();
    assert_eq!(put["method"], "PUT");
    assert!(put["request_id"].as_str().unwrap().starts_with("log-test-PUT"));
    assert!(put["status"].is_u64() && put["latency_ms"].is_f64());
    // Lines written while serving a request carry its id too, not only the access line.
    let replaced = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "contact set replaced")
        .unwrap_or_else(|| panic!("no replace line:\n{text}"));
    assert!(replaced["request_id"].as_str().unwrap().starts_with("log-test-PUT"), "{replaced}");
    assert_eq!(replaced["property_id"], "p1");
}
