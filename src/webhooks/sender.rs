//! One delivery: the event's JSON, signed, POSTed to the target, and what came of it.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::signing;
use super::target::{literal_ip_allowed, GuardedResolver};
use crate::domain::change::Event;
use crate::store::webhooks::AttemptResult;

/// The HTTP client every delivery of a process goes through.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

/// What one delivery found.
#[derive(Debug, Clone)]
pub struct Sent {
    pub result: AttemptResult,
    /// A 2xx answer.
    pub delivered: bool,
}

impl Sender {
    /// A client with `timeout` per delivery, no redirects (a redirect could lead anywhere, past the
    /// target check), no proxy from the environment (a proxy would resolve names itself, past the
    /// resolver's check), and the guarded resolver.
    pub fn new(timeout: Duration, allow_private: bool) -> Sender {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("property-contacts-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook HTTP client builds");
        Sender { client, allow_private }
    }

    /// Sends `event` to `url`, signed with `secret`. Never fails: a refusal, a network error or a
    /// non-2xx answer is reported in the result.
    pub async fn send(&self, url: &str, secret: &str, event: &Event) -> Sent {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let (status, error) = match self.post(url, secret, event).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("the receiver answered HTTP {status}"))),
            Err(error) => (None, Some(error)),
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Sent {
            delivered: error.is_none(),
            result: AttemptResult { attempted_at, status_code: status, error, latency_ms },
        }
    }

    async fn post(&self, url: &str, secret: &str, event: &Event) -> Result<u16, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("bad target URL: {e}"))?;
        if !literal_ip_allowed(&parsed, self.allow_private) {
            return Err("the target address is not allowed (loopback, private or internal)".into());
        }
        // The body is the event exactly as the feed serves it.
        let body = serde_json::to_vec(event).map_err(|e| format!("cannot serialise the event: {e}"))?;
        let id = event.id.to_string();
        let signed = signing::sign(secret, &id, Utc::now().timestamp(), &body)?;
        let response = self
            .client
            .post(parsed)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        Ok(response.status().as_u16())
    }
}

/// A short cause for the attempt list: what kind of failure, and the innermost reason.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{kind}: {cause}")
}
