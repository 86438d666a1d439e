//! Webhooks: subscription management, and signed deliveries to a real receiver on 127.0.0.1
//! (order, retries with backoff, abandonment, the retry route, writes unaffected by a slow receiver).

use std::time::{Duration, Instant};

use axum::http::Method;
use property_contacts::config::WebhookSettings;
use property_contacts::store::Scope;
use property_contacts::webhooks::retry::RetryPolicy;
use property_contacts::webhooks::WorkerConfig;
use serde_json::{json, Value};

use crate::common::{TestApp, Tuning};
use crate::store_tests;
use crate::webhook_receiver::{Answer, Receiver};

const HOOKS: &str = "/api/v1/webhooks";
const WAIT: Duration = Duration::from_secs(30);

fn private_targets() -> Tuning {
    Tuning {
        webhooks: WebhookSettings { webhook_allow_private_targets: true, ..WebhookSettings::default() },
        ..Tuning::default()
    }
}

/// A fast-polling worker that may reach the receiver on 127.0.0.1.
fn worker(base: Duration, window: Duration) -> WorkerConfig {
    WorkerConfig {
        retry: RetryPolicy { base, window },
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(20),
        concurrency: 4,
        allow_private: true,
    }
}

async fn subscribe(app: &TestApp, receiver: &Receiver, name: &str, types: Value) -> Value {
    let r = app
        .call(Method::POST, HOOKS)
        .auth(&app.admin)
        .json(&json!({"url": receiver.url(name), "types": types}))
        .send()
        .await;
    r.assert_status(201);
    receiver.expect(name, r.body["secret"].as_str().unwrap());
    r.body
}

async fn write_property(app: &TestApp, id: &str) {
    let r = app.put(&format!("/api/v1/properties/{id}"), json!({"name": id})).send().await;
    assert!(r.status.is_success(), "{:#}", r.body);
}

async fn deliveries(app: &TestApp, webhook_id: &str) -> Vec<Value> {
    let r = app.get(&format!("{HOOKS}/{webhook_id}/deliveries?limit=500")).send().await;
    r.assert_status(200);
    let mut items = r.body["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

/// The tenant's feed, oldest first, once it serves `n` events (on Postgres the feed holds back
/// events behind transactions still open anywhere in the cluster, such as other tests').
async fn feed(app: &TestApp, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = app.get("/api/v1/changes?limit=1000").send().await;
        r.assert_status(200);
        let items = r.body["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        assert!(start.elapsed() < WAIT, "the feed has {} events, not {n}", items.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn webhooks_are_managed_by_admins(app: TestApp) {
    let writer = app.key("t1", &[Scope::Read, Scope::Write]).await;
    let body = json!({"url": "https://hooks.example.com/x"});
    app.call(Method::POST, HOOKS).auth(&writer).json(&body).send().await.assert_problem(403);
    app.call(Method::GET, HOOKS).auth(&writer).send().await.assert_problem(403);

    // Targets on internal addresses are refused (this app does not allow them); nothing is stored.
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/",
        "http://10.0.0.7/",
        "http://169.254.169.254/latest",
    ] {
        let r = app.call(Method::POST, HOOKS).auth(&app.admin).json(&json!({"url": url})).send().await;
        r.assert_problem(422);
        assert_eq!(r.problem_errors(), [("/url".to_owned(), "target_not_allowed".to_owned())], "{url}");
    }
    let r = app
        .call(Method::POST, HOOKS)
        .auth(&app.admin)
        .json(&json!({"url": "ftp://hooks.example.com/", "types": ["contact.exploded"]}))
        .send()
        .await;
    r.assert_problem(422);
    assert_eq!(
        r.problem_errors(),
        [
            ("/url".to_owned(), "url_scheme_unsupported".to_owned()),
            ("/types".to_owned(), "unknown_event_type".to_owned())
        ]
    );
    let r = app.call(Method::POST, HOOKS).auth(&app.admin).json(&json!({"url": 7})).send().await;
    r.assert_problem(422);
    let r = app.call(Method::POST, HOOKS).auth(&app.admin).raw("application/json", "{").send().await;
    r.assert_problem(400);
    let r = app.get(HOOKS).send().await;
    r.assert_status(200);
    assert_eq!(r.body["items"], json!([]), "refused subscriptions store nothing");
}

async fn subscriptions_show_their_secret_once(app: TestApp) {
    let receiver = Receiver::start(|_, _, _| Answer::OK).await;
    let created = subscribe(&app, &receiver, "a", json!(["property.created", "property.deleted"])).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"), "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"), "{created}");
    assert_eq!(created["url"], receiver.url("a"));
    assert_eq!(created["types"], json!(["property.created", "property.deleted"]));

    let r = app.get(HOOKS).send().await;
    r.assert_status(200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert!(items[0].get("secret").is_none(), "the secret is never shown again: {}", items[0]);
    assert!(!r.body.to_string().contains("whsec_"));

    // Another tenant sees nothing of it.
    let other = app.key("t2", &Scope::ALL).await;
    let r = app.call(Method::GET, HOOKS).auth(&other).send().await;
    assert_eq!(r.body["items"], json!([]));
    app.call(Method::DELETE, &format!("{HOOKS}/{id}")).auth(&other).send().await.assert_problem(404);
    app.call(Method::GET, &format!("{HOOKS}/{id}/deliveries")).auth(&other).send().await.assert_problem(404);

    let r = app.get(&format!("{HOOKS}/{id}/deliveries")).send().await;
    r.assert_status(200);
    assert_eq!(r.body["items"], json!([]));
    app.get(&format!("{HOOKS}/{id}/deliveries?limit=0")).send().await.assert_problem(400);
    app.delete(&format!("{HOOKS}/{id}")).send().await.assert_status(204);
    app.delete(&format!("{HOOKS}/{id}")).send().await.assert_problem(404);
    app.get(&format!("{HOOKS}/{id}/deliveries")).send().await.assert_problem(404);
    app.call(Method::POST, &format!("{HOOKS}/{id}/deliveries/1/retry"))
        .auth(&app.admin)
        .send()
        .await
        .assert_problem(404);
}

async fn events_are_delivered_signed_and_in_order(app: TestApp) {
    write_property(&app, "before").await;
    // A subscription starts after the newest event the feed serves, so wait until that is this one
    // (on Postgres the feed may hold it back a moment behind other tests' open transactions).
    feed(&app, 1).await;
    let receiver = Receiver::start(|_, _, _| Answer::OK).await;
    let all = subscribe(&app, &receiver, "all", json!([])).await;
    let updates = subscribe(&app, &receiver, "updates", json!(["property.updated"])).await;
    let worker = app.start_webhook_worker(worker(Duration::from_millis(50), Duration::from_secs(60)));
    for i in 0..8 {
        write_property(&app, &format!("p{i}")).await;
        if i % 2 == 0 {
            write_property(&app, &format!("p{i}")).await;
        }
    }
    // The feed after the subscription: what "all" must receive, as the feed serves it.
    let expected: Vec<Value> = feed(&app, 13).await.into_iter().skip(1).collect();
    assert_eq!(expected.len(), 12);
    receiver
        .wait_for(WAIT, "every event", |r| {
            r.iter().filter(|r| r.hook == "all").count() >= 12
                && r.iter().filter(|r| r.hook == "updates").count() >= 4
        })
        .await;
    worker.stop().await;
    let received = receiver.received();
    assert!(received.iter().all(|r| r.verified), "every signature verifies");
    let got: Vec<Value> = received.iter().filter(|r| r.hook == "all").map(|r| r.body.clone()).collect();
    assert_eq!(got, expected, "every event once, in feed order, the body as the feed serves it");
    for r in received.iter().filter(|r| r.hook == "all") {
        assert_eq!(r.event_id, r.body["id"].as_str().unwrap(), "webhook-id is the event id");
    }
    let got_updates: Vec<&str> =
        received.iter().filter(|r| r.hook == "updates").map(|r| r.body["type"].as_str().unwrap()).collect();
    assert_eq!(got_updates, ["property.updated"; 4]);

    let attempts = deliveries(&app, all["id"].as_str().unwrap()).await;
    assert_eq!(attempts.len(), 12);
    for (attempt, event) in attempts.iter().zip(&expected) {
        assert_eq!(attempt["event_id"], event["id"]);
        assert_eq!(attempt["event_type"], event["type"]);
        assert_eq!(attempt["outcome"], "delivered");
        assert_eq!(attempt["status_code"], 200);
        assert_eq!(attempt["error"], Value::Null);
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 0 && attempt["attempted_at"].is_string());
    }
    assert_eq!(deliveries(&app, updates["id"].as_str().unwrap()).await.len(), 4);

    let metrics = app.call(Method::GET, "/metrics").send().await;
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains(r#"webhook_deliveries_total{outcome="delivered"}"#), "{text}");
    assert!(text.contains("webhook_delivery_lag_seconds_bucket"), "{text}");
}

async fn failed_deliveries_back_off_then_succeed(app: TestApp) {
    // Every event fails twice, then gets through.
    let receiver =
        Receiver::start(|_, _, earlier| if earlier < 2 { Answer::status(503) } else { Answer::OK }).await;
    let hook = subscribe(&app, &receiver, "flaky", json!([])).await;
    let worker = app.start_webhook_worker(worker(Duration::from_millis(100), Duration::from_secs(60)));
    write_property(&app, "a").await;
    write_property(&app, "b").await;
    receiver
        .wait_for(WAIT, "both events delivered", |r| r.iter().filter(|r| r.status == 200).count() >= 2)
        .await;
    worker.stop().await;
    let received = receiver.received();
    let ids: Vec<&str> = received.iter().map(|r| r.event_id.as_str()).collect();
    let (first, second) = (ids[0], ids[3]);
    assert_eq!(ids, [first, first, first, second, second, second], "the head event blocks the ones after it");
    // Backoff: about 100 ms, then about 200 ms (±20%).
    let gap = |a: usize, b: usize| received[b].at - received[a].at;
    assert!(gap(0, 1) >= Duration::from_millis(75), "{:?}", gap(0, 1));
    assert!(gap(1, 2) >= Duration::from_millis(155), "{:?}", gap(1, 2));
    let outcomes: Vec<Value> =
        deliveries(&app, hook["id"].as_str().unwrap()).await.iter().map(|a| a["outcome"].clone()).collect();
    assert_eq!(outcomes, ["retrying", "retrying", "delivered", "retrying", "retrying", "delivered"]);
    let attempts = deliveries(&app, hook["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["status_code"], 503);
    assert!(attempts[0]["error"].as_str().unwrap().contains("503"), "{}", attempts[0]);
}

async fn an_event_failing_past_the_retry_window_is_abandoned(app: TestApp) {
    // The first event to arrive is refused for ever; the window is short, so delivery gives up on
    // it and moves on to the next.
    let doomed = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let receiver = Receiver::start({
        let doomed = doomed.clone();
        move |_, id, _| {
            let mut doomed = doomed.lock().unwrap();
            if doomed.get_or_insert_with(|| id.to_owned()) == id {
                Answer::status(500)
            } else {
                Answer::OK
            }
        }
    })
    .await;
    let hook = subscribe(&app, &receiver, "picky", json!([])).await;
    write_property(&app, "first").await;
    write_property(&app, "second").await;
    let events = feed(&app, 2).await;
    let (first, second) = (events[0]["id"].clone(), events[1]["id"].clone());
    let worker = app.start_webhook_worker(worker(Duration::from_millis(50), Duration::from_millis(400)));
    receiver.wait_for(WAIT, "the event after the abandoned one", |r| r.iter().any(|r| r.status == 200)).await;
    worker.stop().await;
    assert_eq!(doomed.lock().unwrap().as_deref(), first.as_str());
    let attempts = deliveries(&app, hook["id"].as_str().unwrap()).await;
    let (last, failed) = attempts.split_last().unwrap();
    assert_eq!(last["event_id"], second);
    assert_eq!(last["outcome"], "delivered");
    let (abandoned, retried) = failed.split_last().unwrap();
    assert_eq!(abandoned["outcome"], "abandoned", "{attempts:#?}");
    assert!(retried.len() >= 2, "retried within the window before giving up: {attempts:#?}");
    assert!(retried.iter().all(|a| a["outcome"] == "retrying" && a["event_id"] == first), "{attempts:#?}");
    let metrics = app.call(Method::GET, "/metrics").send().await;
    assert!(metrics.body.as_str().unwrap().contains(r#"webhook_deliveries_total{outcome="abandoned"}"#));
}

/// The window counts from each event, not from its first attempt: events that waited behind a
/// failing one (or for a receiver that was down) past the window get two attempts each, then are
/// abandoned, rather than a whole window of retries each.
async fn a_backlog_older_than_the_window_is_given_up_quickly(app: TestApp) {
    let receiver = Receiver::start(|_, _, _| Answer::status(503)).await;
    let hook = subscribe(&app, &receiver, "down", json!([])).await;
    for i in 0..4 {
        write_property(&app, &format!("d{i}")).await;
    }
    let events = feed(&app, 4).await;
    let window = Duration::from_millis(300);
    // Every event is older than the window by the time delivery starts.
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    // A base far below the window: counted from the first attempt, each event would be retried
    // several times.
    let worker = app.start_webhook_worker(worker(Duration::from_millis(20), window));
    let hook_id = hook["id"].as_str().unwrap();
    let start = Instant::now();
    let attempts = loop {
        let attempts = deliveries(&app, hook_id).await;
        if attempts.iter().filter(|a| a["outcome"] == "abandoned").count() == events.len() {
            break attempts;
        }
        assert!(start.elapsed() < WAIT, "not every event was abandoned: {attempts:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    worker.stop().await;
    for event in &events {
        let outcomes: Vec<&Value> =
            attempts.iter().filter(|a| a["event_id"] == event["id"]).map(|a| &a["outcome"]).collect();
        assert_eq!(outcomes, [&json!("retrying"), &json!("abandoned")], "{attempts:#?}");
    }
}

/// A subscription whose events were pruned from the feed before it got to them (its receiver was
/// away longer than the retention) says so once in its delivery log, then goes on from the oldest
/// kept event; the skipped entry cannot be re-sent.
async fn events_pruned_before_delivery_are_logged_as_skipped(app: TestApp) {
    let receiver = Receiver::start(|_, _, _| Answer::OK).await;
    let hook = subscribe(&app, &receiver, "away", json!([])).await;
    let hook_id = hook["id"].as_str().unwrap();
    for i in 0..3 {
        write_property(&app, &format!("gone{i}")).await;
    }
    let pruned = feed(&app, 3).await;
    assert_eq!(app.prune_changes(chrono::Utc::now() + chrono::Duration::seconds(1)).await, 3);
    write_property(&app, "kept").await;
    let kept = feed(&app, 1).await;
    let worker = app.start_webhook_worker(worker(Duration::from_millis(20), Duration::from_secs(60)));
    receiver.wait_for(WAIT, "the kept event", |r| !r.is_empty()).await;
    // A few more polls: the skip is logged once, not on every claim.
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    let attempts = deliveries(&app, hook_id).await;
    let outcomes: Vec<&Value> = attempts.iter().map(|a| &a["outcome"]).collect();
    assert_eq!(outcomes, [&json!("skipped"), &json!("delivered")], "{attempts:#?}");
    let skipped = &attempts[0];
    assert_eq!(skipped["event_type"], "feed.pruned");
    assert_eq!(skipped["event_id"], pruned[2]["id"], "the newest pruned event");
    assert_eq!(skipped["status_code"], Value::Null);
    assert!(skipped["error"].as_str().unwrap().contains("pruned"), "{skipped}");
    assert_eq!(attempts[1]["event_id"], kept[0]["id"]);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "only the kept event is sent");
    assert_eq!(received[0].event_id, kept[0]["id"].as_str().unwrap());
    let retry = format!("{HOOKS}/{hook_id}/deliveries/{}/retry", skipped["id"]);
    app.call(Method::POST, &retry).auth(&app.admin).send().await.assert_problem(409);
}

async fn the_retry_route_resends_an_attempt(app: TestApp) {
    let receiver = Receiver::start(|_, _, _| Answer::OK).await;
    let hook = subscribe(&app, &receiver, "again", json!([])).await;
    let hook_id = hook["id"].as_str().unwrap();
    let worker = app.start_webhook_worker(worker(Duration::from_millis(50), Duration::from_secs(60)));
    write_property(&app, "r1").await;
    receiver.wait_for(WAIT, "the first delivery", |r| !r.is_empty()).await;
    worker.stop().await;
    let first = deliveries(&app, hook_id).await[0].clone();
    let retry = format!("{HOOKS}/{hook_id}/deliveries/{}/retry", first["id"]);
    let r = app.call(Method::POST, &retry).auth(&app.admin).header("idempotency-key", "retry-1").send().await;
    r.assert_status(201);
    assert_eq!(r.body["event_id"], first["event_id"]);
    assert_eq!(r.body["outcome"], "delivered");
    assert_ne!(r.body["id"], first["id"], "a new attempt");
    // The same key again: the same answer, and no third request reaches the receiver.
    let again =
        app.call(Method::POST, &retry).auth(&app.admin).header("idempotency-key", "retry-1").send().await;
    again.assert_status(201);
    assert_eq!(again.body, r.body);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].event_id, received[1].event_id, "webhook-id is stable across re-sends");
    assert_eq!(received[0].raw, received[1].raw);
    assert!(received.iter().all(|r| r.verified));
    assert_eq!(deliveries(&app, hook_id).await.len(), 2);
    let unknown = format!("{HOOKS}/{hook_id}/deliveries/999999/retry");
    app.call(Method::POST, &unknown).auth(&app.admin).send().await.assert_problem(404);
    let writer = app.key("t1", &[Scope::Read, Scope::Write]).await;
    app.call(Method::POST, &retry).auth(&writer).send().await.assert_problem(403);
    // Attempts go with the events when they are pruned.
    app.prune_changes(chrono::Utc::now() - chrono::Duration::hours(1)).await;
    assert_eq!(deliveries(&app, hook_id).await.len(), 2, "recent attempts are kept");
    app.prune_changes(chrono::Utc::now() + chrono::Duration::seconds(1)).await;
    assert!(deliveries(&app, hook_id).await.is_empty());
}

async fn a_slow_receiver_does_not_slow_writes(app: TestApp) {
    let receiver = Receiver::start(|_, _, _| Answer::slow(Duration::from_secs(2))).await;
    subscribe(&app, &receiver, "slow", json!([])).await;
    let worker = app.start_webhook_worker(worker(Duration::from_millis(50), Duration::from_secs(60)));
    write_property(&app, "warm").await;
    receiver.wait_for(WAIT, "a delivery in flight", |_| receiver.in_flight("slow") > 0).await;
    let start = Instant::now();
    for i in 0..20 {
        let one = Instant::now();
        write_property(&app, &format!("w{i}")).await;
        assert!(one.elapsed() < Duration::from_millis(1500), "write {i} took {:?}", one.elapsed());
    }
    assert!(start.elapsed() < Duration::from_secs(3), "20 writes took {:?}", start.elapsed());
    assert!(receiver.received().len() <= 2, "the receiver is still behind");
    worker.stop().await;
}

async fn deliveries_refuse_internal_targets_at_send_time(app: TestApp) {
    // Subscribed while private targets were allowed, delivered by a worker that refuses them: the
    // send-time check holds even when the subscribe-time one passed (as after a DNS change).
    let receiver = Receiver::start(|_, _, _| Answer::OK).await;
    let hook = subscribe(&app, &receiver, "inside", json!([])).await;
    let mut config = worker(Duration::from_secs(60), Duration::from_secs(60));
    config.allow_private = false;
    let worker = app.start_webhook_worker(config);
    write_property(&app, "x").await;
    let hook_id = hook["id"].as_str().unwrap();
    let start = Instant::now();
    let attempts = loop {
        let attempts = deliveries(&app, hook_id).await;
        if !attempts.is_empty() {
            break attempts;
        }
        assert!(start.elapsed() < WAIT, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    worker.stop().await;
    assert_eq!(attempts[0]["outcome"], "retrying");
    assert_eq!(attempts[0]["status_code"], Value::Null);
    assert!(attempts[0]["error"].as_str().unwrap().contains("not allowed"), "{}", attempts[0]);
    assert!(receiver.received().is_empty());
}

store_tests!(
    webhooks_are_managed_by_admins,
    subscriptions_show_their_secret_once => private_targets(),
    events_are_delivered_signed_and_in_order => private_targets(),
    failed_deliveries_back_off_then_succeed => private_targets(),
    an_event_failing_past_the_retry_window_is_abandoned => private_targets(),
    a_backlog_older_than_the_window_is_given_up_quickly => private_targets(),
    events_pruned_before_delivery_are_logged_as_skipped => private_targets(),
    the_retry_route_resends_an_attempt => private_targets(),
    a_slow_receiver_does_not_slow_writes => private_targets(),
    deliveries_refuse_internal_targets_at_send_time => private_targets(),
    a_tenant_holds_a_bounded_number_of_subscriptions => private_targets(),
);

/// The list answers every subscription at once, so their number is capped: the 101st is 409 and
/// stores nothing; another tenant is not counted; a deletion makes room again.
async fn a_tenant_holds_a_bounded_number_of_subscriptions(app: TestApp) {
    let mut ids = Vec::new();
    for i in 0..100 {
        let body = json!({"url": format!("http://127.0.0.1:9/hook/{i}")});
        let r = app.call(Method::POST, HOOKS).auth(&app.admin).json(&body).send().await;
        r.assert_status(201);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let body = json!({"url": "http://127.0.0.1:9/one-too-many"});
    app.call(Method::POST, HOOKS).auth(&app.admin).json(&body).send().await.assert_problem(409);
    let list = app.call(Method::GET, HOOKS).auth(&app.admin).send().await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 100);
    let other = app.key("t2", &[Scope::Read, Scope::Write, Scope::Admin]).await;
    app.call(Method::POST, HOOKS).auth(&other).json(&body).send().await.assert_status(201);
    let r = app.call(Method::DELETE, &format!("{HOOKS}/{}", ids[0])).auth(&app.admin).send().await;
    r.assert_status(204);
    app.call(Method::POST, HOOKS).auth(&app.admin).json(&body).send().await.assert_status(201);
}
