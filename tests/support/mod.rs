//! What the tests on a private Postgres cluster share (`tests/outage.rs`, `tests/faults.rs`): the
//! cluster itself (initdb'd in a temporary directory, on a free port of 127.0.0.1, stopped when
//! dropped), a way to freeze and thaw its processes, an admin pool on it, the service's pool sizes
//! and an in-process HTTP call.
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl` under /usr/lib/postgresql/*/bin); as root
//! they run as the `postgres` user through `runuser`. [`Cluster::create`] gives `None` (the test
//! skips) when they are missing, except under `CI=true`, where that is a failure.

// Each test crate compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use property_contacts::store::PgPoolSizes;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tower::ServiceExt;

/// The application name of the [`Cluster::admin`] pool's sessions, so queries on
/// `pg_stat_activity` can leave them out.
pub const ADMIN_APPLICATION: &str = "faults-admin";

/// The store's pool sizes, built in this one place: `pipeline` connections serve the contact-set
/// hot paths, `query` bounds each statement's wait for the server.
pub fn sizes(max: u32, pipeline: u32, acquire: Duration, query: Duration) -> PgPoolSizes {
    PgPoolSizes {
        max_connections: max,
        pipeline_connections: pipeline,
        acquire_timeout: acquire,
        query_timeout: query,
    }
}

pub fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs a server binary, as `postgres` when we are root (Postgres refuses to run as root).
pub fn pg(bin: &Path, args: &[&str]) -> bool {
    let mut command = if is_root() {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(bin);
        runuser
    } else {
        Command::new(bin)
    };
    // Their progress reports would bury the tests' output; errors still go to stderr.
    let status = command.args(args).stdout(Stdio::null()).status();
    status.map(|s| s.success()).unwrap_or(false)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A private cluster in a temporary directory, listening on 127.0.0.1 only. Dropping it thaws and
/// stops it.
pub struct Cluster {
    bin: PathBuf,
    data: String,
    options: String,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Creates the cluster (not yet started); `None` when the server binaries are missing, which
    /// fails under `CI=true`. `test` names the caller in the skip message.
    pub fn create(test: &str) -> Option<Cluster> {
        let Some(bin) = pg_bin_dir() else {
            assert!(
                std::env::var("CI").map(|v| v != "true").unwrap_or(true),
                "CI=true but no PostgreSQL server binaries"
            );
            eprintln!("no PostgreSQL server binaries: skipping {test}");
            return None;
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
        let options =
            format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.path().display());
        Some(Cluster { bin, data, options, port, _dir: dir })
    }

    /// The URL of its `postgres` database, as the `postgres` superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start(&self) {
        let log = format!("{}/../log", self.data);
        assert!(pg(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data, "-l", &log, "-o", &self.options, "-w", "start"]
        ));
    }

    pub fn stop(&self) {
        assert!(pg(&self.bin.join("pg_ctl"), &["-D", &self.data, "-m", "immediate", "-w", "stop"]));
    }

    /// The postmaster's pid, from `postmaster.pid` (`None` while the cluster is not running).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(format!("{}/postmaster.pid", self.data)).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Every process of the running cluster: the postmaster and its children (backends, checkpointer,
    /// writers, autovacuum), found by their parent pid in /proc.
    pub fn server_pids(&self) -> Vec<u32> {
        let Some(postmaster) = self.postmaster_pid() else { return Vec::new() };
        let mut pids = vec![postmaster];
        pids.extend(children_of(postmaster));
        pids
    }

    /// Stops every process of the cluster with SIGSTOP until the returned guard is dropped, which
    /// sends SIGCONT (also when a test fails while the cluster is frozen).
    pub fn freeze(&self) -> Frozen<'_> {
        let postmaster = self.postmaster_pid().expect("the cluster is running");
        // The postmaster first, so it forks nothing new; then its children, twice, for any forked
        // before it stopped.
        signal("STOP", &[postmaster]);
        for _ in 0..2 {
            signal("STOP", &children_of(postmaster));
        }
        Frozen { cluster: self }
    }

    /// Sends SIGCONT to every process of the cluster.
    pub fn thaw(&self) {
        signal("CONT", &self.server_pids());
    }

    /// A small pool on the cluster for the tests' own queries (locks, `pg_stat_activity`,
    /// `pg_terminate_backend`); its sessions carry [`ADMIN_APPLICATION`].
    pub async fn admin(&self) -> PgPool {
        let options: PgConnectOptions = self.url().parse().unwrap();
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.application_name(ADMIN_APPLICATION))
            .await
            .expect("admin pool on the private cluster")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped postmaster would not act on pg_ctl's signal: thaw first.
        self.thaw();
        let _ = pg(&self.bin.join("pg_ctl"), &["-D", &self.data, "-m", "immediate", "-w", "stop"]);
    }
}

/// A frozen cluster; dropping this thaws it.
pub struct Frozen<'a> {
    cluster: &'a Cluster,
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.cluster.thaw();
    }
}

/// The pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so read after the last ')'.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().is_some_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    // A pid listed may have exited since (a backend whose session ended): not an error.
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// One request through the app in-process: `(status, Retry-After, body)`.
pub async fn call(
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

/// A Booking.com contact set of one general contact named `name`.
pub fn contact_set(name: &str) -> Value {
    json!({"contacts": [{
        "contact_profiles": [{"type": "general"}],
        "contact_person": {"name": name, "language_code": "en-gb"},
        "phones": [{"phone_number": "+31201234567", "phone_tech_type": 1}],
        "email": "ann@hotel.example"
    }]})
}
