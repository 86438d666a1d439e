//! `Idempotency-Key` on POST routes: replays, conflicting reuse, concurrency, what is not kept,
//! tenant scoping, and the store's claim rules (expiry, lease, tokens, pruning) on its own clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use base64::Engine;
use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use property_contacts::config::Limits;
use property_contacts::idempotency::{self, fingerprint, Guard, RETENTION};
use property_contacts::state::AppState;
use property_contacts::store::idempotency::{Claim, KeptAnswer, KeyClaim};
use property_contacts::store::prelude::*;
use property_contacts::store::Scope;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{Backend, Call, TestApp, TestResponse, Tuning};
use crate::store_tests;

const CONTACTS: &str = "/api/v3/contacts";

fn keyed<'a>(app: &'a TestApp, path: &str, key: &str, body: &Value) -> Call<'a> {
    app.call(Method::POST, path).auth(&app.admin).header("idempotency-key", key).json(body)
}

/// How many live CRM contacts `key`'s tenant has.
async fn contact_count(app: &TestApp, key: &str) -> i64 {
    let r = app.call(Method::GET, CONTACTS).auth(key).send().await;
    r.assert_status(200);
    r.body["page"]["totalElements"].as_i64().unwrap()
}

/// The headers a replay must repeat, as `(name, value)`.
fn kept_headers(r: &TestResponse) -> Vec<(String, Option<String>)> {
    ["content-type", "location", "etag", "last-modified", "request-tracking-id"]
        .iter()
        .map(|n| (n.to_string(), r.header(n).map(str::to_owned)))
        .collect()
}

fn replays_counted(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with("idempotency_replays_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn replays(app: &TestApp) -> f64 {
    let r = app.call(Method::GET, "/metrics").send().await;
    replays_counted(r.body.as_str().unwrap())
}

async fn a_repeat_gets_the_first_answer_without_the_work(app: TestApp) {
    let before = replays(&app).await;
    let body = json!({"firstName": "Ann", "lastName": "Once"});
    let first = keyed(&app, CONTACTS, "create-ann-1", &body).send().await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None, "the first answer is no replay");
    assert!(first.header("location").is_some() && first.header("etag").is_some());
    for _ in 0..2 {
        let again = keyed(&app, CONTACTS, "create-ann-1", &body).send().await;
        again.assert_status(201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(kept_headers(&again), kept_headers(&first));
        assert_eq!(again.body, first.body);
        // Each request keeps its own id; the body is the first answer's, whole.
        assert_ne!(again.header("x-request-id"), first.header("x-request-id"));
    }
    assert_eq!(contact_count(&app, &app.admin).await, 1, "the repeats did no work");
    assert!(replays(&app).await >= before + 2.0, "idempotency_replays_total counts replays");
    // Without the header, every request does its work, as before.
    for _ in 0..2 {
        crate::crm::post(&app, CONTACTS, body.clone()).send().await.assert_status(201);
    }
    assert_eq!(contact_count(&app, &app.admin).await, 3);
}

async fn the_same_key_for_another_request_is_422(app: TestApp) {
    let body = json!({"lastName": "First"});
    let first = keyed(&app, CONTACTS, "k-422", &body).send().await;
    first.assert_status(201);
    let id = first.body["id"].clone();
    // Another body, another path, another query: each is another request.
    let other_body = keyed(&app, CONTACTS, "k-422", &json!({"lastName": "Second"})).send().await;
    other_body.assert_problem(422);
    assert_eq!(other_body.body["type"], "/problems/idempotency-key-reused");
    keyed(&app, &format!("{CONTACTS}/{id}/notes"), "k-422", &json!({"content": "x"}))
        .send()
        .await
        .assert_problem(422);
    keyed(&app, &format!("{CONTACTS}?x=1"), "k-422", &body).send().await.assert_problem(422);
    assert_eq!(contact_count(&app, &app.admin).await, 1);
    let notes = app.get(&format!("{CONTACTS}/{id}/notes")).send().await;
    assert_eq!(notes.body.as_array().map(Vec::len), Some(0), "{:#}", notes.body);
    // The key still answers its own request.
    let again = keyed(&app, CONTACTS, "k-422", &body).send().await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
}

async fn concurrent_identical_creates_make_one_contact(app: TestApp) {
    let body = json!({"firstName": "Ten", "lastName": "AtOnce"}).to_string();
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (router, key, body, barrier) =
            (app.router.clone(), app.admin.clone(), body.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri(CONTACTS)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", "ten-at-once")
                .body(Body::from(body))
                .unwrap();
            barrier.wait().await;
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, replayed, retry_after, serde_json::from_slice::<Value>(&bytes).unwrap())
        }));
    }
    let mut created = Vec::new();
    let mut originals = 0;
    for t in tasks {
        let (status, replayed, retry_after, body) = t.await.unwrap();
        match status {
            201 => {
                originals += usize::from(!replayed);
                created.push(body["id"].clone());
            }
            409 => {
                assert_eq!(body["type"], "/problems/idempotency-key-in-use");
                assert_eq!(retry_after.as_deref(), Some("1"));
            }
            other => panic!("unexpected {other}: {body:#}"),
        }
    }
    assert_eq!(originals, 1, "exactly one request did the work");
    assert!(created.iter().all(|id| *id == created[0]), "every 201 names the one contact: {created:?}");
    assert_eq!(contact_count(&app, &app.admin).await, 1);
    // Once the first is done, a repeat is a replay.
    let r = keyed(&app, CONTACTS, "ten-at-once", &serde_json::from_str(&body).unwrap()).send().await;
    r.assert_status(201);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
}

async fn malformed_keys_are_400_and_change_nothing(app: TestApp) {
    let body = json!({"lastName": "Bad"});
    let too_long = "k".repeat(256);
    for bad in ["", "two words", "tab\there", too_long.as_str()] {
        let r = keyed(&app, CONTACTS, bad, &body).send().await;
        r.assert_problem(400);
        assert_eq!(
            r.problem_errors(),
            [("Idempotency-Key".to_owned(), "idempotency_key_invalid".to_owned())],
            "{bad:?}"
        );
    }
    // Not ASCII (a header value the test client's `&str` headers cannot carry).
    let req = Request::builder()
        .method(Method::POST)
        .uri(CONTACTS)
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", HeaderValue::from_bytes("clé".as_bytes()).unwrap())
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(app.router.clone().oneshot(req).await.unwrap().status(), StatusCode::BAD_REQUEST);
    // Two keys name no one request.
    let r = keyed(&app, CONTACTS, "a", &body).header("idempotency-key", "b").send().await;
    r.assert_problem(400);
    assert_eq!(contact_count(&app, &app.admin).await, 0);
    // The longest key is fine.
    keyed(&app, CONTACTS, &"k".repeat(255), &body).send().await.assert_status(201);
}

async fn keys_are_scoped_per_tenant(app: TestApp) {
    let other = app.key("t2", &[Scope::Read, Scope::Write]).await;
    let body = json!({"lastName": "Shared"});
    let mine = keyed(&app, CONTACTS, "shared-key", &body).send().await;
    mine.assert_status(201);
    let theirs = app
        .call(Method::POST, CONTACTS)
        .auth(&other)
        .header("idempotency-key", "shared-key")
        .json(&body)
        .send()
        .await;
    theirs.assert_status(201);
    assert_eq!(theirs.header("idempotent-replayed"), None, "another tenant's key does its own work");
    assert_eq!(contact_count(&app, &app.admin).await, 1);
    assert_eq!(contact_count(&app, &other).await, 1);
    // Another key of the same tenant shares the tenant's keys.
    let colleague = app.key("t1", &[Scope::Read, Scope::Write]).await;
    let r = app
        .call(Method::POST, CONTACTS)
        .auth(&colleague)
        .header("idempotency-key", "shared-key")
        .json(&body)
        .send()
        .await;
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(r.body, mine.body);
}

async fn refusals_are_kept_and_access_refusals_are_not(app: TestApp) {
    // A refusal of the request itself is its answer, and is replayed.
    let invalid = json!({"contactType": "GUEST"});
    let first = keyed(&app, CONTACTS, "refused", &invalid).send().await;
    first.assert_problem(422);
    let again = keyed(&app, CONTACTS, "refused", &invalid).send().await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    // No credentials: answered by the handler as ever, and the key stays free.
    let body = json!({"lastName": "Later"});
    let r = app.call(Method::POST, CONTACTS).header("idempotency-key", "access").json(&body).send().await;
    r.assert_problem(401);
    // A key without the write scope: 403, not kept, so a key that may write does the work.
    let reader = app.key("t1", &[Scope::Read]).await;
    let r = app
        .call(Method::POST, CONTACTS)
        .auth(&reader)
        .header("idempotency-key", "access")
        .json(&body)
        .send()
        .await;
    r.assert_problem(403);
    let r = keyed(&app, CONTACTS, "access", &body).send().await;
    r.assert_status(201);
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(contact_count(&app, &app.admin).await, 1);
}

async fn rate_refusals_are_not_kept_and_replays_are_counted(app: TestApp) {
    // One request a second, no burst beyond it.
    let body = json!({"lastName": "Limited"});
    crate::crm::post(&app, CONTACTS, body.clone()).send().await.assert_status(201);
    let r = keyed(&app, CONTACTS, "limited", &body).send().await;
    r.assert_problem(429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first = keyed(&app, CONTACTS, "limited", &body).send().await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None, "the 429 was not kept");
    // A replay takes from the key's allowance like any request.
    keyed(&app, CONTACTS, "limited", &body).send().await.assert_problem(429);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = keyed(&app, CONTACTS, "limited", &body).send().await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(contact_count(&app, &app.admin).await, 2);
}

fn tuning_rate() -> Tuning {
    Tuning { rate_limit: Some((1, 1)), ..Tuning::default() }
}

/// A request timed out (503) is not kept: the claim is released before the answer goes out.
async fn a_timed_out_request_is_not_kept(app: TestApp) {
    let body = json!({"lastName": "Slow"});
    // The zero timeout fires at the timer's next tick: a create that finishes inside it (SQLite,
    // about a millisecond) is answered and rightly kept, so try fresh keys until one times out.
    let mut timed_out = None;
    for attempt in 0..50 {
        let key = format!("timed-out-{attempt}");
        let r = keyed(&app, CONTACTS, &key, &body).send().await;
        if r.status == 503 {
            timed_out = Some((key, r));
            break;
        }
        r.assert_status(201);
    }
    let (key, r) = timed_out.expect("one of 50 creates outlasts a zero request timeout");
    r.assert_problem(503);
    assert_eq!(r.body["type"], "/problems/timeout");
    assert_eq!(r.header("idempotent-replayed"), None);
    // Nothing was kept: the store gives the key to the same request at once, so a repeat does the
    // work rather than replaying the 503.
    let print = fingerprint(&Method::POST, &CONTACTS.parse().unwrap(), body.to_string().as_bytes());
    let request = claim(&print, &key, Utc::now());
    let got = match &app.backend {
        Backend::Sqlite(s) => s.claim_idempotency_key(&request).await.unwrap(),
        Backend::Postgres(s) => s.claim_idempotency_key(&request).await.unwrap(),
    };
    assert!(matches!(got, Claim::Claimed(_)), "{got:?}");
}

/// A body that stalls is bounded by the request timeout before any claim is made.
async fn a_stalled_body_times_out_before_any_claim(app: TestApp) {
    let body = json!({"lastName": "Stalled"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let (head, tail) = (head.to_owned(), tail.to_owned());
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
        futures_util::stream::once(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(tail)
        }),
    );
    let r = app
        .call(Method::POST, CONTACTS)
        .auth(&app.admin)
        .header("idempotency-key", "stalled")
        .body("application/json", Body::from_stream(chunks))
        .send()
        .await;
    r.assert_problem(503);
    assert_eq!(r.body["type"], "/problems/timeout");
    let r = keyed(&app, CONTACTS, "stalled", &serde_json::from_str(&body).unwrap()).send().await;
    r.assert_status(201);
    assert_eq!(r.header("idempotent-replayed"), None);
}

fn tuning_timeout() -> Tuning {
    Tuning { limits: Limits { request_timeout_secs: 1, ..Limits::default() }, ..Tuning::default() }
}

fn tuning_no_time() -> Tuning {
    // Every handler is abandoned at its first wait for the store.
    Tuning { limits: Limits { request_timeout_secs: 0, ..Limits::default() }, ..Tuning::default() }
}

/// A route whose handler fails with 500 on its first call and succeeds after, behind the layer.
fn flaky_router<S: Store>(store: S, calls: Arc<AtomicUsize>) -> Router {
    let state = AppState::new(store, Limits::default());
    let guard = Guard::for_post_routes(state, &[(Method::POST, "/flaky")]);
    let handler = move || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
            } else {
                (StatusCode::CREATED, [(header::LOCATION, format!("/made/{n}"))], format!("made {n}"))
                    .into_response()
            }
        }
    };
    Router::new()
        .route("/flaky", axum::routing::post(handler))
        .layer(axum::middleware::from_fn_with_state(guard, idempotency::guard::<S>))
}

async fn server_errors_are_not_kept(app: TestApp) {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = match &app.backend {
        Backend::Sqlite(s) => flaky_router(s.clone(), calls.clone()),
        Backend::Postgres(s) => flaky_router(s.clone(), calls.clone()),
    };
    let send = || {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/flaky")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
            .header("idempotency-key", "flaky-1")
            .body(Body::from("{}"))
            .unwrap();
        router.clone().oneshot(req)
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED, "the 500 was not kept: the work ran again");
    assert_eq!(second.headers()["location"], "/made/1");
    let third = send().await.unwrap();
    assert_eq!(third.status(), StatusCode::CREATED);
    assert_eq!(third.headers()["location"], "/made/1");
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    assert_eq!(third.into_body().collect().await.unwrap().to_bytes(), "made 1");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the replay did not call the handler");
}

async fn every_post_family_replays(app: TestApp) {
    let c = crate::crm::create(&app, json!({"lastName": "Host"})).await;
    let base = format!("{CONTACTS}/{}", c["id"]);
    // Sub-resource add and note add: one item each, however often repeated.
    for (path, body) in [
        (format!("{base}/emailAddresses"), json!({"emailAddress": "host@example.com"})),
        (format!("{base}/notes"), json!({"content": "once"})),
    ] {
        let first = keyed(&app, &path, &format!("add:{path}"), &body).send().await;
        first.assert_status(201);
        let again = keyed(&app, &path, &format!("add:{path}"), &body).send().await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!((kept_headers(&again), &again.body), (kept_headers(&first), &first.body));
    }
    let g = app.get(&base).send().await.body;
    assert_eq!(g["emailAddresses"].as_array().unwrap().len(), 1);
    assert_eq!(g["version"], 3, "two writes, not four");
    assert_eq!(app.get(&format!("{base}/notes")).send().await.body.as_array().unwrap().len(), 1);
    // Merge: the repeat gets the first `success: true`, not the no-op answer a second merge gives.
    let other = crate::crm::create(&app, json!({"lastName": "Guest"})).await;
    let merge = json!({"primaryContactId": c["id"], "secondaryContactId": other["id"]});
    let first = keyed(&app, &format!("{CONTACTS}/merge"), "merge-1", &merge).send().await;
    assert_eq!(first.body["success"], true, "{:#}", first.body);
    let again = keyed(&app, &format!("{CONTACTS}/merge"), "merge-1", &merge).send().await;
    assert_eq!((again.header("idempotent-replayed"), &again.body), (Some("true"), &first.body));
    // Customers: the tracking id of the first answer comes back, header and body.
    let customer = json!({"contacts": [{"type": "billing", "name": "John Smith"}]});
    let path = "/api/v1/customers/C-1/contacts";
    let first = keyed(&app, path, "cust-1", &customer).send().await;
    first.assert_status(200);
    // HTTP Basic this time: the layer reads credentials as the route does.
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("u:{}", app.admin)));
    let again = app
        .call(Method::POST, path)
        .header("authorization", &basic)
        .header("idempotency-key", "cust-1")
        .header("request-tracking-id", "new-id")
        .json(&customer)
        .send()
        .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(kept_headers(&again), kept_headers(&first));
    assert_eq!(again.body, first.body);
    let reused = keyed(&app, path, "cust-1", &json!({"contacts": []})).send().await;
    reused.assert_status(422);
    assert_eq!(reused.body["status"], "Failure", "in the route's own envelope: {:#}", reused.body);
    // SU set, with SU's credentials.
    crate::fixtures::property(&app, "NT7", "12837615").await;
    let su = json!({"hotel_id": "NT7", "channel_hotel_id": "12837615",
                    "contacts": [crate::fixtures::sarah()]});
    let su_post = |key: &'static str, body: &Value| {
        app.call(Method::POST, "/SUAPI/jservice/bdc/property/contact/set")
            .header("authorization", &app.admin)
            .header("app-id", "test")
            .header("idempotency-key", key)
            .json(body)
    };
    let first = su_post("su-1", &su).send().await;
    first.assert_status(200);
    let again = su_post("su-1", &su).send().await;
    assert_eq!((again.header("idempotent-replayed"), &again.body), (Some("true"), &first.body));
    let revision =
        app.get(&crate::fixtures::contacts_path("NT7")).send().await.body["data"]["revision"].clone();
    assert_eq!(revision, 1, "one replace");
    let reused = su_post("su-1", &json!({"hotel_id": "NT7"})).send().await;
    reused.assert_status(422);
    assert_eq!(reused.body["Status"], "Fail");
}

// ---- the store's rules, on its own clock ----

fn claim<'a>(print: &'a [u8], key: &'a str, now: chrono::DateTime<Utc>) -> KeyClaim<'a> {
    KeyClaim {
        tenant: "t1",
        key,
        fingerprint: print,
        now,
        retention: RETENTION,
        lease: TimeDelta::seconds(90),
    }
}

fn answer(body: &str) -> KeptAnswer {
    KeptAnswer {
        status: 201,
        headers: vec![("location".into(), "/x".into()), ("etag".into(), "\"1\"".into())],
        body: body.as_bytes().to_vec(),
    }
}

async fn claim_rules<S: Store>(store: S) {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let t0 = Utc::now() - TimeDelta::days(3);
    let Claim::Claimed(first) = store.claim_idempotency_key(&claim(&a, "k", t0)).await.unwrap() else {
        panic!("an absent key is claimed");
    };
    // While it runs: the same request is told to wait, another is refused.
    let later = t0 + TimeDelta::seconds(30);
    assert_eq!(store.claim_idempotency_key(&claim(&a, "k", later)).await.unwrap(), Claim::InProgress);
    assert_eq!(store.claim_idempotency_key(&claim(&b, "k", later)).await.unwrap(), Claim::OtherRequest);
    assert!(store.complete_idempotency_key("t1", "k", &first, &answer("one")).await.unwrap());
    let hour = t0 + TimeDelta::hours(1);
    assert_eq!(
        store.claim_idempotency_key(&claim(&a, "k", hour)).await.unwrap(),
        Claim::Answered(answer("one"))
    );
    assert_eq!(store.claim_idempotency_key(&claim(&b, "k", hour)).await.unwrap(), Claim::OtherRequest);
    // Just inside the retention it still answers; past it the row counts as absent, for any request.
    let edge = t0 + RETENTION;
    assert_eq!(
        store.claim_idempotency_key(&claim(&a, "k", edge)).await.unwrap(),
        Claim::Answered(answer("one"))
    );
    let expired = t0 + RETENTION + TimeDelta::seconds(1);
    let Claim::Claimed(second) = store.claim_idempotency_key(&claim(&b, "k", expired)).await.unwrap() else {
        panic!("an expired key is claimed again");
    };
    // The first claim's token no longer touches the key.
    assert!(!store.complete_idempotency_key("t1", "k", &first, &answer("stale")).await.unwrap());
    assert!(!store.release_idempotency_key("t1", "k", &first).await.unwrap());
    // A running claim past its lease is abandoned: the same request takes it over, another may not.
    let past_lease = expired + TimeDelta::seconds(91);
    assert_eq!(store.claim_idempotency_key(&claim(&a, "k", past_lease)).await.unwrap(), Claim::OtherRequest);
    let Claim::Claimed(third) = store.claim_idempotency_key(&claim(&b, "k", past_lease)).await.unwrap()
    else {
        panic!("an abandoned claim is taken over");
    };
    assert!(!store.complete_idempotency_key("t1", "k", &second, &answer("late")).await.unwrap());
    // Released, the key is free at once.
    assert!(store.release_idempotency_key("t1", "k", &third).await.unwrap());
    let Claim::Claimed(fourth) = store.claim_idempotency_key(&claim(&a, "k", past_lease)).await.unwrap()
    else {
        panic!("a released key is claimed");
    };
    assert!(store.complete_idempotency_key("t1", "k", &fourth, &answer("four")).await.unwrap());
    assert!(!store.release_idempotency_key("t1", "k", &fourth).await.unwrap(), "an answer is not released");
    let got = store.claim_idempotency_key(&claim(&a, "k", past_lease)).await.unwrap();
    assert_eq!(got, Claim::Answered(answer("four")));
}

async fn store_claim_rules(app: TestApp) {
    match &app.backend {
        Backend::Sqlite(s) => claim_rules(s.clone()).await,
        Backend::Postgres(s) => claim_rules(s.clone()).await,
    }
}

async fn racing_claims<S: Store>(store: S) {
    let now = Utc::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_idempotency_key(&claim(&[7u8; 32], "race", now)).await.unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Claim::Claimed(_) => claimed += 1,
            Claim::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(claimed, 1, "one of racing claims gets the key");
    // Racing takeovers of one expired row: one again.
    let later = now + RETENTION + TimeDelta::seconds(1);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.claim_idempotency_key(&claim(&[8u8; 32], "race", later)).await.unwrap()
        }));
    }
    let mut claimed = 0;
    for t in tasks {
        claimed += usize::from(matches!(t.await.unwrap(), Claim::Claimed(_)));
    }
    assert_eq!(claimed, 1, "one of racing takeovers gets the key");
}

async fn store_claims_race_safely(app: TestApp) {
    match &app.backend {
        Backend::Sqlite(s) => racing_claims(s.clone()).await,
        Backend::Postgres(s) => racing_claims(s.clone()).await,
    }
}

async fn pruning<S: Store>(store: S) {
    let now = Utc::now();
    let old = now - RETENTION - TimeDelta::minutes(1);
    for i in 0..5 {
        let key = format!("old-{i}");
        store.claim_idempotency_key(&claim(&[1u8; 32], &key, old)).await.unwrap();
    }
    let Claim::Claimed(fresh) = store.claim_idempotency_key(&claim(&[1u8; 32], "fresh", now)).await.unwrap()
    else {
        panic!()
    };
    store.complete_idempotency_key("t1", "fresh", &fresh, &answer("fresh")).await.unwrap();
    // Each DELETE is bounded.
    let cutoff = now - RETENTION;
    assert_eq!(store.prune_idempotency_keys(cutoff, 2).await.unwrap(), 2);
    // The whole round: the rest, in batches; then nothing (a second process would find nothing).
    assert_eq!(idempotency::prune_expired(&store, now).await, 3);
    assert_eq!(idempotency::prune_expired(&store, now).await, 0);
    let got = store.claim_idempotency_key(&claim(&[1u8; 32], "fresh", now)).await.unwrap();
    assert_eq!(got, Claim::Answered(answer("fresh")), "a row inside the retention is kept");
    // A pruned key is simply free.
    let got = store.claim_idempotency_key(&claim(&[2u8; 32], "old-0", now)).await.unwrap();
    assert!(matches!(got, Claim::Claimed(_)));
}

async fn store_prunes_expired_keys(app: TestApp) {
    match &app.backend {
        Backend::Sqlite(s) => pruning(s.clone()).await,
        Backend::Postgres(s) => pruning(s.clone()).await,
    }
}

store_tests!(
    a_repeat_gets_the_first_answer_without_the_work,
    the_same_key_for_another_request_is_422,
    concurrent_identical_creates_make_one_contact,
    malformed_keys_are_400_and_change_nothing,
    keys_are_scoped_per_tenant,
    refusals_are_kept_and_access_refusals_are_not,
    rate_refusals_are_not_kept_and_replays_are_counted => tuning_rate(),
    a_timed_out_request_is_not_kept => tuning_no_time(),
    a_stalled_body_times_out_before_any_claim => tuning_timeout(),
    server_errors_are_not_kept,
    every_post_family_replays,
    store_claim_rules,
    store_claims_race_safely,
    store_prunes_expired_keys,
);
