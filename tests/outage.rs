//! Store outage: a private Postgres cluster is started, stopped under the service and started again.
//!
//! While it is down every request must answer 503 with `Retry-After` within the pool's acquire
//! timeout (no hang) and `/readyz` must say 503; once it is back the same service instance recovers
//! by itself, and nothing a failed request sent was half-applied.
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl` under /usr/lib/postgresql/*/bin); as root
//! they run as the `postgres` user through `runuser`. Skipped when they are missing, except under
//! `CI=true`, where that is a failure.

use std::time::{Duration, Instant};

use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgStore, Scope};
use serde_json::json;

mod support;

use support::{call, contact_set, sizes, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_without_restart() {
    let Some(cluster) = Cluster::create("the outage test") else { return };
    cluster.start();

    let acquire_timeout = Duration::from_secs(1);
    let sizes = sizes(4, 4, acquire_timeout, Duration::from_secs(2));
    let store = PgStore::connect(&cluster.url(), sizes).unwrap();
    store.migrate().await.unwrap();
    let key = generate_key("t1", "outage", vec![Scope::Read, Scope::Write, Scope::Admin]);
    store.create_key(key.record).await.unwrap();
    let key = key.secret;
    let app = property_contacts::app(AppState::new(store, Limits::default()));

    assert_eq!(call(&app, "PUT", "/api/v1/properties/p1", &key, Some(json!({}))).await.0, 201);
    let path = "/contacts-api/properties/p1/contacts";
    assert_eq!(call(&app, "PUT", path, &key, Some(contact_set("Before"))).await.0, 200);

    cluster.stop();
    for (method, uri, body) in [
        ("GET", "/readyz", None),
        ("GET", path, None),
        ("PUT", path, Some(contact_set("During"))),
        ("GET", "/api/v1/properties/p1", None),
    ] {
        let started = Instant::now();
        let (status, retry_after, body) = call(&app, method, uri, &key, body).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{method} {uri}: {body}");
        assert!(retry_after.is_some(), "{method} {uri} lacks Retry-After");
        assert!(took < acquire_timeout * 3, "{method} {uri} took {took:?}");
    }
    let (_, _, problem) = call(&app, "GET", "/api/v1/properties/p1", &key, None).await;
    assert_eq!(problem["status"], 503);
    assert!(!problem["detail"].as_str().unwrap().contains("127.0.0.1"), "no internals leak: {problem}");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while call(&app, "GET", "/readyz", &key, None).await.0 != 200 {
        assert!(Instant::now() < deadline, "service did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The PUT sent during the outage left no trace; writes work again.
    let (status, _, body) = call(&app, "GET", path, &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["revision"], 1);
    assert_eq!(body["data"]["contacts"][0]["contact_person"]["name"], "Before");
    let (status, _, body) = call(&app, "PUT", path, &key, Some(contact_set("After"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["revision"], 2);
}
