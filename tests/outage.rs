//! Store outage: a private Postgres cluster is started, stopped under the service and started again.
//!
//! While it is down every request must answer 503 with `Retry-After` within the pool's acquire
//! timeout (no hang) and `/readyz` must say 503; once it is back the same service instance recovers
//! by itself, and nothing a failed request sent was half-applied.
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl` under /usr/lib/postgresql/*/bin); as root
//! they run as the `postgres` user through `runuser`. Skipped when they are missing, except under
//! `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgPoolSizes, PgStore, Scope};
use serde_json::{json, Value};
use tower::ServiceExt;

fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs a server binary, as `postgres` when we are root (Postgres refuses to run as root).
fn pg(bin: &Path, args: &[&str]) -> bool {
    let status = if is_root() {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin).args(args).status()
    } else {
        Command::new(bin).args(args).status()
    };
    status.map(|s| s.success()).unwrap_or(false)
}

struct Cluster {
    bin: PathBuf,
    data: String,
    options: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(&self) {
        let log = format!("{}/../log", self.data);
        assert!(pg(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data, "-l", &log, "-o", &self.options, "-w", "start"]
        ));
    }

    fn stop(&self) {
        assert!(pg(&self.bin.join("pg_ctl"), &["-D", &self.data, "-m", "immediate", "-w", "stop"]));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg(&self.bin.join("pg_ctl"), &["-D", &self.data, "-m", "immediate", "-w", "stop"]);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req =
        Request::builder().method(method).uri(path).header("authorization", format!("Bearer {key}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, retry, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn contact_set(name: &str) -> Value {
    json!({"contacts": [{
        "contact_profiles": [{"type": "general"}],
        "contact_person": {"name": name, "language_code": "en-gb"},
        "phones": [{"phone_number": "+31201234567", "phone_tech_type": 1}],
        "email": "ann@hotel.example"
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_without_restart() {
    let Some(bin) = pg_bin_dir() else {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "CI=true but no PostgreSQL server binaries"
        );
        eprintln!("no PostgreSQL server binaries: skipping the outage test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    if is_root() {
        assert!(Command::new("chown")
            .args(["postgres", dir.path().to_str().unwrap()])
            .status()
            .unwrap()
            .success());
    }
    let data = format!("{}/data", dir.path().display());
    assert!(pg(&bin.join("initdb"), &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]));
    let port = free_port();
    let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.path().display());
    let cluster = Cluster { bin, data, options, _dir: dir };
    cluster.start();

    let acquire_timeout = Duration::from_secs(1);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let sizes = PgPoolSizes {
        max_connections: 4,
        pipeline_connections: 4,
        acquire_timeout,
        query_timeout: Duration::from_secs(5),
    };
    let store = PgStore::connect(&url, sizes).unwrap();
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
