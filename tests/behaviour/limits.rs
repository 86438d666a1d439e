//! Rate limits and request timeouts (API.md section 1: 429 with Retry-After, 503).

use std::time::Duration;

use axum::body::Body;
use axum::http::Method;
use futures_util::StreamExt;
use property_contacts::config::Limits;

use crate::common::{TestApp, Tuning};
use crate::fixtures::{contacts_path, property, sarah, set};
use crate::store_tests;

async fn rate_limit_answers_429_per_key(app: TestApp) {
    // Burst of 3, then one request a second.
    for _ in 0..3 {
        app.get("/api/v1/properties").send().await.assert_status(200);
    }
    let r = app.get("/api/v1/properties").send().await;
    r.assert_problem(429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // The Booking dialect answers in its envelope, with the same header.
    let r = app.get(&contacts_path("any")).send().await;
    assert_eq!(r.status.as_u16(), 429);
    assert_eq!(r.body["errors"][0]["details"]["reason"], "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Another key of the same tenant has its own allowance.
    let other = app.key("t1", &[property_contacts::store::Scope::Read]).await;
    app.call(Method::GET, "/api/v1/properties").auth(&other).send().await.assert_status(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.get("/api/v1/properties").send().await.assert_status(200);
}

async fn slow_request_times_out_and_changes_nothing(app: TestApp) {
    property(&app, "slow", "1").await;
    // A client that sends half its body, then stalls past the 1 s timeout.
    let body = set(vec![sarah()]).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let (head, tail) = (head.to_owned(), tail.to_owned());
    let stream = async_stream(head, tail);
    let r = app
        .call(Method::PUT, &contacts_path("slow"))
        .auth(&app.admin)
        .body("application/json", stream)
        .send()
        .await;
    // The Booking route answers in its own envelope, even for an error raised outside its handler.
    r.assert_status(503);
    assert_eq!(r.body["errors"][0]["code"], "448");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.get(&contacts_path("slow")).send().await.body["data"]["revision"], 0);
}

fn async_stream(head: String, tail: String) -> Body {
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
        futures_util::stream::once(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(tail)
        }),
    );
    Body::from_stream(chunks)
}

fn tuning_rate() -> Tuning {
    Tuning { rate_limit: Some((1, 3)), ..Tuning::default() }
}

fn tuning_timeout() -> Tuning {
    Tuning { limits: Limits { request_timeout_secs: 1, ..Limits::default() }, ..Tuning::default() }
}

store_tests!(
    rate_limit_answers_429_per_key => tuning_rate(),
    slow_request_times_out_and_changes_nothing => tuning_timeout(),
);
