//! A webhook receiver on 127.0.0.1 for tests: it checks every request's signature with the
//! Standard Webhooks crate, records what arrived, and answers as a plan says (fail, or answer
//! slowly, on purpose). Each subscription posts to its own path, `/hooks/<name>`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

/// How to answer one request: the receiver's path name, the event id and how many times this id
/// arrived on this path before.
pub type Plan = dyn Fn(&str, &str, usize) -> Answer + Send + Sync;

#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub delay: Duration,
}

impl Answer {
    pub const OK: Answer = Answer { status: 200, delay: Duration::ZERO };

    pub fn status(status: u16) -> Answer {
        Answer { status, delay: Duration::ZERO }
    }

    pub fn slow(delay: Duration) -> Answer {
        Answer { status: 200, delay }
    }
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub hook: String,
    pub event_id: String,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    /// The signature verified with the subscription's secret.
    pub verified: bool,
    /// What the receiver answered (it answers 401 to a bad signature).
    pub status: u16,
    pub at: Instant,
}

struct Inner {
    secrets: HashMap<String, String>,
    received: Vec<Received>,
    in_flight: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    plan: Arc<Plan>,
}

impl Receiver {
    /// Starts a receiver that answers as `plan` says.
    pub async fn start(plan: impl Fn(&str, &str, usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Receiver {
            addr,
            inner: Arc::new(Mutex::new(Inner {
                secrets: HashMap::new(),
                received: Vec::new(),
                in_flight: HashMap::new(),
            })),
            plan: Arc::new(plan),
        };
        let app = axum::Router::new()
            .route("/hooks/{name}", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    /// The URL of subscription `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    /// Tells the receiver the secret of subscription `name`.
    pub fn expect(&self, name: &str, secret: &str) {
        self.inner.lock().unwrap().secrets.insert(name.to_owned(), secret.to_owned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests of `name` whose answer is still being prepared.
    pub fn in_flight(&self, name: &str) -> usize {
        self.inner.lock().unwrap().in_flight.get(name).copied().unwrap_or(0)
    }

    /// Event ids of `name` that got a 2xx, in arrival order.
    pub fn delivered(&self, name: &str) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|r| r.hook == name && (200..300).contains(&r.status))
            .map(|r| r.event_id)
            .collect()
    }

    /// Waits until `done` holds for what arrived, failing after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Received]) -> bool) {
        let start = Instant::now();
        loop {
            if done(&self.received()) {
                return;
            }
            assert!(start.elapsed() < limit, "timed out waiting for {what}; received: {:#?}", self.summary());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn summary(&self) -> Vec<(String, String, u16)> {
        self.received().into_iter().map(|r| (r.hook, r.event_id, r.status)).collect()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let event_id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (secret, earlier) = {
        let mut inner = receiver.inner.lock().unwrap();
        *inner.in_flight.entry(name.clone()).or_default() += 1;
        let earlier = inner.received.iter().filter(|r| r.hook == name && r.event_id == event_id).count();
        (inner.secrets.get(&name).cloned(), earlier)
    };
    let verified = secret
        .is_some_and(|s| standardwebhooks::Webhook::new(&s).is_ok_and(|w| w.verify(&body, &headers).is_ok()));
    let answer = if verified { (receiver.plan)(&name, &event_id, earlier) } else { Answer::status(401) };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut inner = receiver.inner.lock().unwrap();
    *inner.in_flight.get_mut(&name).unwrap() -= 1;
    inner.received.push(Received {
        hook: name,
        event_id,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
        verified,
        status: answer.status,
        at: Instant::now(),
    });
    StatusCode::from_u16(answer.status).unwrap()
}
