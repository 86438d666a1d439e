//! The Postgres path under faults, tried as an attacker would, each on a private cluster (see
//! `tests/support`): a replace abandoned by the request timeout while it waits for a row lock, a
//! connection handed out while a pipeline is pending on it, a frozen server (SIGSTOP), and pooled
//! connections killed by `pg_terminate_backend`.
//!
//! What must hold:
//! - a 503 means nothing was stored, or the answer is the write's real outcome;
//! - a connection is never handed out with a pipeline pending;
//! - a frozen or unreachable server gives 503 with `Retry-After` within the acquire timeout plus 5 s;
//! - a request whose pooled connection turns out dead before any statement was sent is retried once
//!   on a fresh one, so it succeeds.
//!
//! The service runs in-process; the tests' own queries (locks, `pg_stat_activity`, checks of what
//! was stored) go through an admin pool on the same cluster. The tests run one at a time (their
//! bounds are timings, on a machine that may be busy) and each is bounded, so a hang fails instead
//! of holding CI.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use property_contacts::auth::generate_key;
use property_contacts::config::Limits;
use property_contacts::state::AppState;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgPoolSizes, PgStore, Scope};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};

mod support;

use support::{call, contact_set, sizes, Cluster, ADMIN_APPLICATION};

const ACQUIRE: Duration = Duration::from_secs(1);
const QUERY: Duration = Duration::from_secs(2);
/// How long a frozen or unreachable server may hold a request before its 503.
const FAULT_BOUND: Duration = Duration::from_secs(ACQUIRE.as_secs() + 5);
/// No test runs longer than this.
const TEST_BOUND: Duration = Duration::from_secs(75);

/// One test at a time: their bounds are timings, and each has a cluster of its own.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn contacts_path(property: &str) -> String {
    format!("/contacts-api/properties/{property}/contacts")
}

/// Runs a test body within [`TEST_BOUND`], after the tests before it.
async fn bounded(test: impl Future<Output = ()>) {
    let _serial = SERIAL.lock().await;
    let _took = Took(Instant::now());
    if tokio::time::timeout(TEST_BOUND, test).await.is_err() {
        panic!("the test did not finish within {TEST_BOUND:?}");
    }
}

/// Reports a test's run time when it ends, passed or failed.
struct Took(Instant);

impl Drop for Took {
    fn drop(&mut self) {
        let name = std::thread::current().name().unwrap_or("test").to_owned();
        eprintln!("{name}: ran {:.1} s", self.0.elapsed().as_secs_f64());
    }
}

/// The service on a private cluster: the app, its store, an admin key of tenant `t1`, and the
/// tests' admin pool.
struct Service {
    app: axum::Router,
    store: PgStore,
    key: String,
    admin: PgPool,
    cluster: Cluster,
}

impl Service {
    async fn start(test: &str, limits: Limits, sizes: PgPoolSizes) -> Option<Service> {
        let cluster = Cluster::create(test)?;
        cluster.start();
        let store = PgStore::connect(&cluster.url(), sizes).unwrap();
        store.migrate().await.unwrap();
        let key = generate_key("t1", "faults", vec![Scope::Read, Scope::Write, Scope::Admin]);
        store.create_key(key.record).await.unwrap();
        let app = property_contacts::app(AppState::new(store.clone(), limits));
        let admin = cluster.admin().await;
        Some(Service { app, store, key: key.secret, admin, cluster })
    }

    /// One request, waited for at most `limit`.
    async fn call(
        &self,
        method: &str,
        path: impl AsRef<str>,
        body: Option<Value>,
        limit: Duration,
    ) -> Answer {
        answer(&self.app, &self.key, method, path.as_ref(), body, limit).await
    }

    /// Registers `property` and gives it a first contact set (revision 1).
    async fn property_with_set(&self, property: &str) {
        let limit = Duration::from_secs(10);
        let r = self.call("PUT", &format!("/api/v1/properties/{property}"), Some(json!({})), limit).await;
        assert_eq!(r.status, Some(201), "creating {property}: {r}");
        let r = self.call("PUT", &contacts_path(property), Some(contact_set("Before")), limit).await;
        assert_eq!(r.status, Some(200), "first set of {property}: {r}");
    }

    /// Takes the row lock of `property` in a transaction of the admin pool, as a concurrent writer
    /// would; a replace of that property then waits until the transaction ends.
    async fn lock(&self, property: &str) -> Transaction<'static, Postgres> {
        let mut tx = self.admin.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM properties WHERE tenant_id = 't1' AND id = $1 FOR UPDATE")
            .bind(property)
            .fetch_one(&mut *tx)
            .await
            .expect("the property exists");
        tx
    }

    /// What is stored for `property`, read past the service.
    async fn stored(&self, property: &str) -> Stored {
        let revision = sqlx::query_scalar(
            "SELECT contact_set_revision FROM properties WHERE tenant_id = 't1' AND id = $1",
        )
        .bind(property)
        .fetch_one(&self.admin)
        .await
        .unwrap();
        let names = sqlx::query_scalar(
            "SELECT person_name FROM property_contacts WHERE tenant_id = 't1' AND property_id = $1 \
             ORDER BY position",
        )
        .bind(property)
        .fetch_all(&self.admin)
        .await
        .unwrap();
        let history = sqlx::query_scalar(
            "SELECT count(*) FROM contact_set_revisions WHERE tenant_id = 't1' AND property_id = $1",
        )
        .bind(property)
        .fetch_one(&self.admin)
        .await
        .unwrap();
        Stored { revision, names, history }
    }

    /// How many revisions of `property` hold a contact named `name`.
    async fn revisions_naming(&self, property: &str, name: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM contact_set_revisions WHERE tenant_id = 't1' AND property_id = $1 \
             AND position($2 in contacts::text) > 0",
        )
        .bind(property)
        .bind(name)
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }

    /// How many CRM contacts have first name `name`.
    async fn crm_contacts_named(&self, name: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM crm_contacts WHERE tenant_id = 't1' AND first_name = $1")
            .bind(name)
            .fetch_one(&self.admin)
            .await
            .unwrap()
    }

    /// The service's sessions (every client session but the admin pool's) in `state LIKE pattern`,
    /// as `pid state: query`.
    async fn sessions_in(&self, pattern: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT pid || ' ' || state || ': ' || left(query, 80) FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
             AND application_name <> $1 AND state LIKE $2",
        )
        .bind(ADMIN_APPLICATION)
        .bind(pattern)
        .fetch_all(&self.admin)
        .await
        .unwrap()
    }

    /// Ends every session of the service on the server, as a failover or an operator would; how many.
    async fn terminate_service_sessions(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' \
             AND datname = current_database() AND application_name <> $1",
        )
        .bind(ADMIN_APPLICATION)
        .fetch_one(&self.admin)
        .await
        .unwrap()
    }

    /// Waits until `/readyz` answers 200 (at most 20 s).
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.call("GET", "/readyz", None, Duration::from_secs(5)).await;
            if r.status == Some(200) {
                return;
            }
            assert!(Instant::now() < deadline, "the service did not recover within 20 s: {r}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// How a request ended: its status (`None`: no answer within the limit), `Retry-After`, body and time.
struct Answer {
    status: Option<u16>,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

impl Answer {
    fn is_503_with_retry_after(&self) -> bool {
        self.status == Some(503) && self.retry_after.is_some()
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let took = self.took.as_secs_f64();
        match self.status {
            None => write!(f, "no answer within {took:.1} s"),
            Some(status) => {
                write!(f, "answered {status} after {took:.1} s")?;
                match &self.retry_after {
                    Some(secs) => write!(f, " (Retry-After: {secs})")?,
                    None if status == 503 => write!(f, " (no Retry-After)")?,
                    None => {}
                }
                if status >= 400 {
                    write!(f, ": {}", reason(&self.body))?;
                }
                Ok(())
            }
        }
    }
}

/// What an error body says went wrong (a timeout, an unavailable store), in any route family's
/// envelope; else the body, cut short.
fn reason(body: &Value) -> String {
    let said = [&body["errors"][0]["message"], &body["detail"], &body["error"]["errors"][0]["message"]]
        .into_iter()
        .find_map(Value::as_str);
    match said {
        Some(said) => said.to_owned(),
        None => body.to_string().chars().take(200).collect(),
    }
}

async fn answer(
    app: &axum::Router,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    limit: Duration,
) -> Answer {
    let started = Instant::now();
    match tokio::time::timeout(limit, call(app, method, path, key, body)).await {
        Ok((status, retry_after, body)) => {
            Answer { status: Some(status), retry_after, body, took: started.elapsed() }
        }
        Err(_) => Answer { status: None, retry_after: None, body: Value::Null, took: started.elapsed() },
    }
}

/// A property's stored contact set, read straight from the tables.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    revision: i64,
    names: Vec<String>,
    /// Rows in `contact_set_revisions`.
    history: i64,
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revision {}, contacts {:?}, {} history rows", self.revision, self.names, self.history)
    }
}

/// Whether a replace's answer tells what it did: 200 with the next revision holding `sent`, or 503
/// (with `Retry-After`) and nothing stored. `None` when it does, else what went wrong.
fn untruth(before: &Stored, after: &Stored, sent: &str, answer: &Answer) -> Option<String> {
    let replaced =
        Stored { revision: before.revision + 1, names: vec![sent.to_owned()], history: before.history + 1 };
    match answer.status {
        Some(200) => {
            let answered = answer.body["data"]["revision"].as_i64();
            (after != &replaced || answered != Some(replaced.revision)).then(|| {
                format!("{answer} with revision {answered:?}, but the store holds {after} (before: {before})")
            })
        }
        Some(503) if after == before => {
            answer.retry_after.is_none().then(|| format!("{answer}: a 503 must carry Retry-After"))
        }
        Some(503) if after == &replaced => {
            Some(format!("{answer}, but the set was stored (revision {}): {after}", after.revision))
        }
        _ => Some(format!("{answer}; the store holds {after} (before: {before})")),
    }
}

/// A replace waiting for a row lock is abandoned by the request timeout (1 s) or runs past the
/// store's query timeout (2 s): whatever it answers must be what happened, checked after the lock
/// is released and a late commit would have landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_replace_answers_its_real_outcome() {
    bounded(async {
        let limits = Limits { request_timeout_secs: 1, ..Default::default() };
        let Some(s) = Service::start("the fault tests", limits, sizes(4, 2, ACQUIRE, QUERY)).await else {
            return;
        };
        s.property_with_set("p1").await;
        // The same store behind the default request timeout (30 s): there the query timeout acts first.
        let patient = property_contacts::app(AppState::new(s.store.clone(), Limits::default()));

        let mut cases: Vec<(String, &axum::Router, Duration)> = (1..=5)
            .map(|i| {
                (
                    format!("attempt {i}, lock held 1.5 s, request timeout 1 s"),
                    &s.app,
                    Duration::from_millis(1500),
                )
            })
            .collect();
        cases.push((
            "lock held 7 s, request timeout 1 s, query timeout 2 s".into(),
            &s.app,
            Duration::from_secs(7),
        ));
        cases.push((
            "lock held 7 s, request timeout 30 s, query timeout 2 s".into(),
            &patient,
            Duration::from_secs(7),
        ));

        let mut untrue = Vec::new();
        for (i, (case, app, hold)) in cases.into_iter().enumerate() {
            let before = s.stored("p1").await;
            let lock = s.lock("p1").await;
            let release = tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                lock.rollback().await.unwrap();
            });
            let sent = format!("Attempt {}", i + 1);
            let body = Some(contact_set(&sent));
            let r = answer(app, &s.key, "PUT", &contacts_path("p1"), body, Duration::from_secs(15)).await;
            release.await.unwrap();
            // Long enough for a replace still queued behind the lock to commit.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after = s.stored("p1").await;
            eprintln!("{case}: {r}; stored: {after}");
            if let Some(what) = untruth(&before, &after, &sent, &r) {
                untrue.push(format!("{case}: {what}"));
            }
        }
        assert!(
            untrue.is_empty(),
            "a replace's answer must be its real outcome (a 503 stores nothing):\n{}",
            untrue.join("\n")
        );
    })
    .await
}

/// While a replace abandoned by the request timeout still waits for its row lock (its statements
/// sent), replaces of another, unlocked property succeed: the abandoned replace's connection is not
/// handed out again with its pipeline pending. Afterwards no session of the service is left idle
/// in a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_is_handed_out_with_a_pipeline_pending() {
    bounded(async {
        let limits = Limits { request_timeout_secs: 1, ..Default::default() };
        let Some(s) = Service::start("the fault tests", limits, sizes(4, 2, ACQUIRE, QUERY)).await else {
            return;
        };
        for property in ["p1", "p2", "p3"] {
            s.property_with_set(property).await;
        }
        // Both pipeline connections open and in the pool.
        let limit = Duration::from_secs(10);
        let warm = ["p2", "p3", "p2", "p3"]
            .map(|p| s.call("PUT", contacts_path(p), Some(contact_set("Warm")), limit));
        for r in join_all(warm).await {
            assert_eq!(r.status, Some(200), "warming up: {r}");
        }

        let lock = s.lock("p1").await;
        let abandoned_set = Some(contact_set("Abandoned"));
        let abandoned = s.call("PUT", contacts_path("p1"), abandoned_set, Duration::from_secs(20));
        let then_unlocked = async {
            // Past the request timeout: the replace of p1 has been answered, its pipeline is pending.
            tokio::time::sleep(Duration::from_millis(1300)).await;
            let failed = replace_while_another_waits(&s, "p2", 4).await;
            lock.rollback().await.unwrap();
            failed
        };
        let (abandoned, mut failed) = tokio::join!(abandoned, then_unlocked);
        eprintln!("the replace of p1 behind the lock: {abandoned}");
        tokio::time::sleep(Duration::from_secs(1)).await;

        let idle_in_transaction = s.sessions_in("idle in transaction%").await;
        if !idle_in_transaction.is_empty() {
            failed.push(format!("sessions left idle in a transaction: {idle_in_transaction:?}"));
        }
        // Every pooled connection is usable once the lock is gone.
        let puts = ["p2", "p3", "p2", "p3"]
            .map(|p| s.call("PUT", contacts_path(p), Some(contact_set("After")), Duration::from_secs(5)));
        for (i, r) in join_all(puts).await.into_iter().enumerate() {
            if r.status != Some(200) {
                failed.push(format!("PUT #{i} after the lock was released: {r}"));
            }
        }
        let failed = failed.join("\n");
        assert!(failed.is_empty(), "a connection was handed out with a pipeline pending:\n{failed}");
    })
    .await
}

/// Replaces the set of `property` (not locked) `times` over, then reads it, while a replace of
/// another property waits for its lock; what went wrong.
async fn replace_while_another_waits(s: &Service, property: &str, times: u32) -> Vec<String> {
    let path = contacts_path(property);
    let limit = Duration::from_secs(5);
    let mut failed = Vec::new();
    let mut expected = s.stored(property).await.revision;
    for k in 1..=times {
        let r = s.call("PUT", &path, Some(contact_set(&format!("Unlocked {k}"))), limit).await;
        let revision = r.body["data"]["revision"].as_i64();
        if r.status != Some(200) {
            failed.push(format!(
                "PUT {property} #{k} (unlocked) {r}, while the abandoned replace still waited for its lock: \
                 it was handed a connection with that replace's pipeline pending"
            ));
        } else if revision != Some(expected + 1) {
            failed.push(format!("PUT {property} #{k}: {r} with revision {revision:?}, not {}", expected + 1));
        }
        expected = revision.unwrap_or(expected);
    }
    let r = s.call("GET", &path, None, limit).await;
    let revision = r.body["data"]["revision"].as_i64();
    if r.status != Some(200) || revision != Some(expected) {
        failed.push(format!("GET {property}: {r} with revision {revision:?}, not {expected}"));
    }
    failed
}

/// Every process of the cluster is stopped (SIGSTOP) for 12 s. Requests of every kind, fired
/// right after the freeze on warm connections and again 5 s into it, answer 503 with `Retry-After`
/// within the acquire timeout plus 5 s; the service recovers once the cluster runs again, and of
/// the writes, exactly those that answered success were stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_answers_503_within_bound() {
    bounded(async {
        let Some(s) = Service::start("the fault tests", Limits::default(), sizes(8, 2, ACQUIRE, QUERY)).await
        else {
            return;
        };
        s.property_with_set("p1").await;
        let path = contacts_path("p1");
        let requests = |wave: &str| {
            let name = format!("Frozen {wave}");
            let crm = json!({"contactType": "GUEST", "firstName": name});
            [
                ("GET contact set", "GET", path.clone(), None),
                ("PUT contact set", "PUT", path.clone(), Some(contact_set(&name))),
                ("POST CRM contact", "POST", "/api/v3/contacts".to_owned(), Some(crm)),
                ("GET property", "GET", "/api/v1/properties/p1".to_owned(), None),
                ("GET /readyz", "GET", "/readyz".to_owned(), None),
            ]
        };
        // Every pool warm, with more connections than a wave needs, all just used: the first wave
        // finds its connections open and fresh (not pinged), its statements reach the frozen server.
        let warm = (0..3).flat_map(|i| requests(&format!("warm {i}"))).map(|(what, method, uri, body)| {
            let s = &s;
            async move { (what, s.call(method, &uri, body, Duration::from_secs(10)).await) }
        });
        for (what, r) in join_all(warm).await {
            assert!(matches!(r.status, Some(200 | 201)), "warming up, {what}: {r}");
        }

        let fire = |wave: &'static str| {
            let requests = requests(wave);
            let s = &s;
            async move {
                let calls = requests.into_iter().map(|(what, method, uri, body)| async move {
                    (format!("{what} ({wave})"), s.call(method, &uri, body, Duration::from_secs(20)).await)
                });
                join_all(calls).await
            }
        };
        let frozen = s.cluster.freeze();
        let frozen_at = Instant::now();
        let first = fire("wave 1");
        let second = async {
            tokio::time::sleep_until((frozen_at + Duration::from_secs(5)).into()).await;
            fire("wave 2").await
        };
        let thaw = async move {
            tokio::time::sleep_until((frozen_at + Duration::from_secs(12)).into()).await;
            drop(frozen);
        };
        let (first, second, ()) = tokio::join!(first, second, thaw);

        let mut failed = Vec::new();
        for (what, r) in first.iter().chain(&second) {
            eprintln!("{what}: {r}");
            if !r.is_503_with_retry_after() || r.took > FAULT_BOUND {
                failed.push(format!(
                    "{what}: {r}; a frozen server must give 503 with Retry-After within {FAULT_BOUND:?}"
                ));
            }
        }

        s.wait_ready().await;
        // A write still queued in the server when it froze would land now: let it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for (wave, answers) in [("wave 1", &first), ("wave 2", &second)] {
            let name = format!("Frozen {wave}");
            let put = &answers[1].1;
            let stored = s.revisions_naming("p1", &name).await;
            if (put.status == Some(200)) != (stored == 1) {
                failed.push(format!("PUT contact set ({wave}) {put}, and {stored} revisions hold its set"));
            }
            let create = &answers[2].1;
            let stored = s.crm_contacts_named(&name).await;
            if (create.status == Some(201)) != (stored == 1) {
                failed.push(format!(
                    "POST CRM contact ({wave}) {create}, and {stored} such contacts are stored"
                ));
            }
        }
        let r = s.call("PUT", &path, Some(contact_set("After")), Duration::from_secs(10)).await;
        if r.status != Some(200) {
            failed.push(format!("PUT after recovery: {r}"));
        }
        assert!(failed.is_empty(), "under a frozen server:\n{}", failed.join("\n"));
    })
    .await
}

/// One request of every kind, with the status it succeeds with.
fn every_kind(crm_id: &str) -> Vec<(&'static str, String, Option<Value>, u16)> {
    let billing = json!({"type": "billing", "name": "Bill One", "fax": "1111", "email": "b1@example.com"});
    let customer = json!({ "contacts": [billing] });
    vec![
        ("POST", "/api/v3/contacts".into(), Some(json!({"contactType": "GUEST", "firstName": "Ann"})), 201),
        ("GET", format!("/api/v3/contacts/{crm_id}"), None, 200),
        ("GET", "/api/v3/contacts".into(), None, 200),
        ("GET", "/api/v1/properties/p1".into(), None, 200),
        ("POST", "/api/v1/customers/c-1/contacts".into(), Some(customer), 200),
        ("GET", "/api/v1/customers/c-1/contacts".into(), None, 200),
        // The contact-set hot paths last, so their connections too are fresh when killed.
        ("GET", contacts_path("p1"), None, 200),
        ("PUT", contacts_path("p2"), Some(contact_set("Again")), 200),
    ]
}

/// The server ends every session of the service (`pg_terminate_backend`) right after they were
/// used; the requests that follow, one at a time and concurrently, all succeed: a pooled connection
/// found dead before any statement reached the server is replaced, the request retried once on a
/// fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_pooled_connections_are_replaced_without_failing_requests() {
    bounded(async {
        let Some(s) = Service::start("the fault tests", Limits::default(), sizes(8, 4, ACQUIRE, QUERY)).await
        else {
            return;
        };
        s.property_with_set("p1").await;
        s.property_with_set("p2").await;
        let limit = Duration::from_secs(10);
        let created = s
            .call(
                "POST",
                "/api/v3/contacts",
                Some(json!({"contactType": "GUEST", "firstName": "Ann"})),
                limit,
            )
            .await;
        assert_eq!(created.status, Some(201), "creating a CRM contact: {created}");
        let crm_id = created.body["id"].to_string();
        let kinds = every_kind(crm_id.trim_matches('"'));
        let send = |(method, uri, body, expected): (&'static str, String, Option<Value>, u16)| {
            let s = &s;
            async move { (format!("{method} {uri}"), expected, s.call(method, &uri, body, limit).await) }
        };

        let mut failed = Vec::new();
        let mut sent = 0;
        for concurrently in [false, true] {
            // Several connections in every pool, all just used.
            for kind in &kinds {
                let warm = join_all((0..20).map(|_| send(kind.clone()))).await;
                let ok = warm.iter().filter(|(_, expected, r)| r.status == Some(*expected)).count();
                if ok < warm.len() {
                    eprintln!("warming up {}: {ok} of {} succeeded", warm[0].0, warm.len());
                }
            }
            let terminated = s.terminate_service_sessions().await;
            assert!(terminated >= 3, "only {terminated} sessions of the service to terminate");
            tokio::time::sleep(Duration::from_millis(100)).await;

            let answers = if concurrently {
                join_all((0..5).flat_map(|_| kinds.iter().cloned()).map(send)).await
            } else {
                let mut answers = Vec::new();
                for kind in (0..3).flat_map(|_| kinds.iter().cloned()) {
                    answers.push(send(kind).await);
                }
                answers
            };
            let how = if concurrently { "concurrently" } else { "one at a time" };
            eprintln!("{terminated} sessions terminated, then {} requests {how}", answers.len());
            sent += answers.len();
            for (what, expected, r) in answers {
                if r.status != Some(expected) {
                    failed.push(format!("{what} ({how}, after {terminated} sessions were terminated): {r}"));
                }
            }
        }
        assert!(
            failed.is_empty(),
            "{} of {sent} requests failed on connections the server had closed before they were used:\n{}",
            failed.len(),
            failed.join("\n")
        );
    })
    .await
}
