//! The change feed (`GET /api/v1/changes`) and identical re-sends of a contact set.

use std::collections::HashSet;

use axum::http::Method;
use property_contacts::store::Scope;
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::crm::{create, path, post};
use crate::fixtures::{contact, contacts_path, property, sarah, set};
use crate::store_tests;

const FEED: &str = "/api/v1/changes";

/// Every event of the feed after `after`, following `next` page by page until the feed holds no
/// more. On Postgres the feed holds back events behind any transaction still open in the cluster
/// (other tests run beside this one), so an empty page counts only once the table has no more
/// events after the cursor either.
pub async fn drain(app: &TestApp, after: Option<&str>, limit: u32) -> (Vec<Value>, String) {
    let mut cursor = after.map(str::to_owned);
    let mut events = Vec::new();
    loop {
        let uri = match &cursor {
            Some(c) => format!("{FEED}?after={c}&limit={limit}"),
            None => format!("{FEED}?limit={limit}"),
        };
        let r = app.get(&uri).send().await;
        r.assert_status(200);
        let items = r.body["items"].as_array().unwrap().clone();
        let next = r.body["next"].as_str().unwrap().to_owned();
        if items.is_empty() {
            if let Some(c) = &cursor {
                assert_eq!(&next, c, "an empty page returns the cursor given");
            }
            if stored_after(app, &next).await == 0 {
                return (events, next);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        }
        assert_eq!(next, items.last().unwrap()["id"].as_str().unwrap(), "next is the last item's id");
        events.extend(items);
        cursor = Some(next);
    }
}

/// Events of tenant `t1` stored after `cursor`, committed or not yet served (0 on SQLite, whose
/// feed serves every committed event at once).
async fn stored_after(app: &TestApp, cursor: &str) -> i64 {
    let Some(pool) = app.pg_pool() else { return 0 };
    let (tx, id) = cursor.split_once('-').unwrap();
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE tenant_id = 't1' AND (tx, id) > ($1, $2)")
            .bind(tx.parse::<i64>().unwrap())
            .bind(id.parse::<i64>().unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    n
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn feed_records_every_kind_of_write(app: TestApp) {
    let (events, start) = drain(&app, None, 100).await;
    assert!(events.is_empty());

    property(&app, "p1", "100").await;
    app.put("/api/v1/properties/p1", json!({"name": "Renamed"})).send().await.assert_status(200);
    app.put(&contacts_path("p1"), set(vec![sarah()])).send().await.assert_status(200);
    let a = create(&app, json!({"lastName": "A", "propertyIds": ["p1"]})).await;
    let b = create(&app, json!({"lastName": "B"})).await;
    post(&app, &format!("{}/emailAddresses", path(&a["id"])), json!({"emailAddress": "a@example.com"}))
        .send()
        .await
        .assert_status(201);
    post(&app, &format!("{}/notes", path(&a["id"])), json!({"content": "called"}))
        .send()
        .await
        .assert_status(201);
    app.put(
        &format!("{}/customFields", path(&a["id"])),
        json!([{"name": "vip", "type": "BOOLEAN", "value": true}]),
    )
    .send()
    .await
    .assert_status(200);
    let merged = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": a["id"], "secondaryContactId": b["id"]}),
    )
    .send()
    .await;
    merged.assert_status(200);
    assert_eq!(merged.body["success"], true, "{}", merged.body);
    let primary_version = crate::crm::version(&app, &a["id"]).await;
    let c = create(&app, json!({"lastName": "C"})).await;
    app.delete(&path(&c["id"])).send().await.assert_status(204);
    post(
        &app,
        "/api/v1/customers/000010000005008/contacts",
        json!({"contacts": [{"type": "billing", "name": "Ann"}]}),
    )
    .send()
    .await
    .assert_status(200);
    app.delete("/api/v1/properties/p1").send().await.assert_status(204);

    let (events, next) = drain(&app, Some(&start), 3).await;
    assert_eq!(
        types(&events),
        [
            "property.created",
            "property.updated",
            "contact_set.replaced",
            "contact.created",
            "contact.created",
            "contact.updated",
            "contact.updated",
            "contact.updated",
            "contact.merged",
            "contact.created",
            "contact.deleted",
            "customer_contacts.replaced",
            "property.deleted",
        ]
    );
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "ids are unique");
    for e in &events {
        assert_eq!(e["actor"], "test-key");
        let at = e["occurred_at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }
    assert_eq!(events[0]["data"], json!({"property_id": "p1"}));
    assert_eq!(events[2]["data"], json!({"property_id": "p1", "revision": 1}));
    assert_eq!(events[3]["data"], json!({"contact_id": a["id"], "version": 1}));
    assert_eq!(events[7]["data"]["version"], 4, "three updates after the create");
    assert_eq!(
        events[8]["data"],
        json!({"contact_id": a["id"], "merged_id": b["id"], "version": primary_version})
    );
    assert_eq!(events[10]["data"], json!({"contact_id": c["id"], "version": 1}));
    assert_eq!(events[11]["data"], json!({"customer_id": "000010000005008", "types": ["billing"]}));
    assert_eq!(events[12]["data"], json!({"property_id": "p1"}));

    // Following on from the end sees nothing more; the cursor stays put.
    let (more, again) = drain(&app, Some(&next), 100).await;
    assert!(more.is_empty());
    assert_eq!(again, next);
}

async fn rejected_writes_record_nothing(app: TestApp) {
    property(&app, "p1", "100").await;
    let (_, start) = drain(&app, None, 100).await;
    // Invalid set, stale If-Match, missing property, invalid CRM body, refused merge, bad customer.
    app.put(&contacts_path("p1"), json!({"contacts": [{"email": "nope"}]})).send().await.assert_status(400);
    app.put(&contacts_path("p1"), set(vec![sarah()]))
        .header("if-match", "\"7\"")
        .send()
        .await
        .assert_status(412);
    app.put(&contacts_path("nope"), set(vec![sarah()])).send().await.assert_status(404);
    post(&app, "/api/v3/contacts", json!({"contactType": "ALIEN"})).send().await.assert_status(422);
    let a = create(&app, json!({"lastName": "A"})).await;
    let (_, after_create) = drain(&app, Some(&start), 100).await;
    app.put(&path(&a["id"]), json!({"lastName": "A2"}))
        .header("if-match", "\"99\"")
        .send()
        .await
        .assert_status(412);
    let refused = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": a["id"], "secondaryContactId": 999_999}),
    )
    .send()
    .await;
    assert_eq!(refused.body["success"], false, "{}", refused.body);
    app.delete("/api/v3/contacts/999999").send().await.assert_status(404);
    post(&app, "/api/v1/customers/000010000005008/contacts", json!({"contacts": [{"type": "nonsense"}]}))
        .send()
        .await
        .assert_status(400);
    let (events, _) = drain(&app, Some(&after_create), 100).await;
    assert!(events.is_empty(), "refused writes left events: {events:?}");
    let (events, _) = drain(&app, Some(&start), 100).await;
    assert_eq!(types(&events), ["contact.created"]);
}

async fn identical_resends_store_nothing(app: TestApp) {
    property(&app, "NT7", "12837615").await;
    let body = set(vec![sarah(), contact(&["invoices"], "Finn", "finn@hotel.example", "+31243611111")]);
    let first = app.put(&contacts_path("NT7"), body.clone()).send().await;
    first.assert_status(200);
    assert_eq!(first.body["data"]["changed"], true);
    assert_eq!(first.body["data"]["revision"], 1);
    let (_, cursor) = drain(&app, None, 100).await;

    let again = app.put(&contacts_path("NT7"), body.clone()).send().await;
    again.assert_status(200);
    assert_eq!(again.body["data"]["changed"], false);
    assert_eq!(again.body["data"]["revision"], 1);
    assert_eq!(again.header("etag"), Some("\"1\""));
    assert_eq!(again.body["data"]["contacts"], first.body["data"]["contacts"]);
    // With If-Match of the current revision too; a stale one still fails first.
    let matched = app.put(&contacts_path("NT7"), body.clone()).header("if-match", "\"1\"").send().await;
    assert_eq!(matched.body["data"]["changed"], false);
    app.put(&contacts_path("NT7"), body.clone()).header("if-match", "\"0\"").send().await.assert_status(412);

    // SU's set of the same contacts is the same validated set: nothing stored either.
    let mut su = body.clone();
    su["hotel_id"] = json!("NT7");
    su["channel_hotel_id"] = json!("12837615");
    let r = app
        .call(Method::POST, "/SUAPI/jservice/bdc/property/contact/set")
        .header("authorization", &app.admin)
        .header("app-id", "my-app")
        .json(&su)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.body["Status"], "Success");
    assert_eq!(r.body["Message"], property_contacts::api::su::UNCHANGED_MESSAGE);

    let history = app.get("/api/v1/properties/NT7/contacts/revisions").send().await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1, "{}", history.body);
    let (events, _) = drain(&app, Some(&cursor), 100).await;
    assert!(events.is_empty(), "{events:?}");

    // Another order is another set.
    let swapped = set(vec![contact(&["invoices"], "Finn", "finn@hotel.example", "+31243611111"), sarah()]);
    let changed = app.put(&contacts_path("NT7"), swapped).send().await;
    assert_eq!(changed.body["data"]["changed"], true);
    assert_eq!(changed.body["data"]["revision"], 2);
    let (events, _) = drain(&app, Some(&cursor), 100).await;
    assert_eq!(types(&events), ["contact_set.replaced"]);
    // And going back to the first set is a change again.
    let back = app.put(&contacts_path("NT7"), body).send().await;
    assert_eq!(back.body["data"]["changed"], true);
    assert_eq!(back.body["data"]["revision"], 3);
}

async fn feed_pages_filters_and_isolates_tenants(app: TestApp) {
    for i in 0..5 {
        create(&app, json!({"lastName": format!("L{i}")})).await;
    }
    property(&app, "p1", "100").await;
    let (all, _) = drain(&app, None, 2).await;
    assert_eq!(all.len(), 6);

    let r = app.get(&format!("{FEED}?types=property.created,contact.merged")).send().await;
    r.assert_status(200);
    assert_eq!(types(r.body["items"].as_array().unwrap()), ["property.created"]);
    let r = app.get(&format!("{FEED}?limit=2")).send().await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["next"], all[1]["id"]);

    for (query, pointer) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=abc", "after"),
        ("after=1", "after"),
        ("types=contact.exploded", "types"),
    ] {
        let r = app.get(&format!("{FEED}?{query}")).send().await;
        r.assert_status(400);
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{query}");
        assert_eq!(r.body["errors"][0]["pointer"], pointer, "{query}: {}", r.body);
    }
    assert_eq!(app.get(&format!("{FEED}?limit=1000")).send().await.status, 200);

    // Another tenant sees none of it; a key without read scope is refused.
    let other = app.key("t2", &[Scope::Read]).await;
    let r = app.call(Method::GET, FEED).auth(&other).send().await;
    r.assert_status(200);
    assert_eq!(r.body["items"], json!([]));
    let writer = app.key("t1", &[Scope::Write]).await;
    app.call(Method::GET, FEED).auth(&writer).send().await.assert_status(403);
}

async fn pruned_cursors_are_gone(app: TestApp) {
    create(&app, json!({"lastName": "Old"})).await;
    create(&app, json!({"lastName": "Older"})).await;
    let (old, last) = drain(&app, None, 100).await;
    let first = old[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.prune_changes(chrono::Utc::now() + chrono::Duration::seconds(1)).await, 2);

    // Before the newest pruned event: events were missed.
    let r = app.get(&format!("{FEED}?after={first}")).send().await;
    r.assert_status(410);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.body["type"], "/problems/cursor-expired");
    assert!(r.body["detail"].as_str().unwrap().contains("resync"), "{}", r.body);
    // A cursor past every pruned event missed nothing; without a cursor the feed starts afresh.
    let (events, _) = drain(&app, Some(&last), 100).await;
    assert!(events.is_empty());
    let fresh = create(&app, json!({"lastName": "New"})).await;
    // Events after the old cursor do not make up for those pruned before them.
    app.get(&format!("{FEED}?after={first}")).send().await.assert_status(410);
    let (events, _) = drain(&app, None, 100).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["contact_id"], fresh["id"]);
    let (events, _) = drain(&app, Some(&last), 100).await;
    assert_eq!(events.len(), 1);
    // Nothing left to prune is a no-op.
    assert_eq!(app.prune_changes(chrono::Utc::now() - chrono::Duration::days(1)).await, 0);
    // A cut between two events prunes the one before it only.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let newest = create(&app, json!({"lastName": "Newest"})).await;
    assert_eq!(app.prune_changes(cut).await, 1);
    let (events, _) = drain(&app, None, 100).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["contact_id"], newest["id"]);
}

/// Writers of every kind run concurrently while a poller follows `next`; it must see every
/// committed write exactly once.
async fn a_poller_sees_each_committed_write_once(app: TestApp) {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 12;
    property(&app, "p1", "100").await;
    // Per writer: a contact to update, and per round the contacts it deletes or merges.
    let mut targets = Vec::new();
    for w in 0..WRITERS {
        let updated = create(&app, json!({"lastName": format!("u{w}")})).await["id"].clone();
        let mut own = Vec::new();
        for i in 0..ROUNDS {
            own.push((
                create(&app, json!({"lastName": format!("a{w}-{i}")})).await["id"].clone(),
                create(&app, json!({"lastName": format!("b{w}-{i}")})).await["id"].clone(),
            ));
        }
        targets.push((updated, own));
    }
    let (_, start) = drain(&app, None, 100).await;
    let app = std::sync::Arc::new(app);
    let writers: Vec<_> = targets
        .into_iter()
        .enumerate()
        .map(|(w, (updated, own))| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut committed = Vec::new();
                for (i, (a, b)) in own.iter().enumerate() {
                    let name = format!("w{w}-{i}");
                    let kind = i % 7;
                    let r = match kind {
                        0 => {
                            let c = contact(&["general"], &name, "a@b.example", "+31201234567");
                            app.put(&contacts_path("p1"), set(vec![c])).send().await
                        }
                        1 => post(&app, "/api/v3/contacts", json!({"lastName": name})).send().await,
                        2 => {
                            let body = json!({"contacts": [{"type": "billing", "name": name}]});
                            post(&app, "/api/v1/customers/000010000005009/contacts", body).send().await
                        }
                        3 => app.put(&format!("/api/v1/properties/q{w}"), json!({"name": name})).send().await,
                        4 => {
                            let body = json!({"emailAddress": format!("{name}@example.com")});
                            post(&app, &format!("{}/emailAddresses", path(&updated)), body).send().await
                        }
                        5 => app.delete(&path(a)).send().await,
                        _ => {
                            let body = json!({"primaryContactId": a, "secondaryContactId": b});
                            post(&app, "/api/v3/contacts/merge", body).send().await
                        }
                    };
                    assert!(r.status.is_success(), "{}: {}", r.status, r.body);
                    committed.push(kind);
                    // A refused write between them: it must leave no event.
                    let stale =
                        app.put(&path(&updated), json!({"lastName": "x"})).header("if-match", "\"0\"");
                    stale.send().await.assert_status(412);
                }
                committed
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = start;
    let mut marker_sent = false;
    loop {
        // Once every writer is done, one more write: its event sorts after all of theirs, so the
        // poller has seen everything when it sees the marker.
        if !marker_sent && writers.iter().all(|w| w.is_finished()) {
            app.put("/api/v1/properties/marker", json!({})).send().await.assert_status(201);
            marker_sent = true;
        }
        let r = app.get(&format!("{FEED}?after={cursor}&limit=7")).send().await;
        r.assert_status(200);
        let items = r.body["items"].as_array().unwrap().clone();
        cursor = r.body["next"].as_str().unwrap().to_owned();
        let marker = items.iter().any(|e| e["data"]["property_id"] == "marker");
        seen.extend(items.into_iter().filter(|e| e["data"]["property_id"] != "marker"));
        if marker {
            break;
        }
    }
    let mut expected = [0usize; 7];
    for w in writers {
        for kind in w.await.unwrap() {
            expected[kind] += 1;
        }
    }
    let ids: HashSet<&str> = seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), seen.len(), "an event was seen twice");
    let count = |t: &str| seen.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("contact_set.replaced"), expected[0]);
    assert_eq!(count("contact.created"), expected[1]);
    assert_eq!(count("customer_contacts.replaced"), expected[2]);
    assert_eq!(count("property.created") + count("property.updated"), expected[3]);
    assert_eq!(count("contact.updated"), expected[4]);
    assert_eq!(count("contact.deleted"), expected[5]);
    assert_eq!(count("contact.merged"), expected[6]);
    assert_eq!(seen.len(), expected.iter().sum::<usize>());
    // The feed read afresh holds exactly what the poller saw, in the same order.
    let (again, _) = drain(&app, None, 1000).await;
    // Without the set-up's events and the marker's.
    let setup = 1 + WRITERS * (1 + 2 * ROUNDS);
    let again: Vec<&Value> = again.iter().skip(setup).take(seen.len()).collect();
    assert_eq!(again.len(), seen.len());
    assert!(again.iter().zip(&seen).all(|(a, b)| a["id"] == b["id"]));
}

store_tests!(
    feed_records_every_kind_of_write,
    rejected_writes_record_nothing,
    identical_resends_store_nothing,
    feed_pages_filters_and_isolates_tenants,
    pruned_cursors_are_gone,
    a_poller_sees_each_committed_write_once,
    the_feed_writes_times_as_webhooks_do,
);

/// The feed's page is JSON built by the database, a webhook's body is the event serialised by the
/// service: both write `occurred_at` the same way, whatever its fraction of a second, and the
/// actor as JSON escapes it.
async fn the_feed_writes_times_as_webhooks_do(app: TestApp) {
    let (_, start) = drain(&app, None, 100).await;
    let times = ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.120Z", "2026-01-02T03:04:05.123456Z"];
    let sqlite = app.pg_pool().is_none();
    for (i, at) in times.iter().enumerate() {
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&chrono::Utc);
        // As each store's driver writes a time: sqlx's RFC 3339 text on SQLite.
        let stored = if sqlite { at.to_rfc3339() } else { at.to_string() };
        app.exec_sql(&format!(
            "INSERT INTO events (tenant_id, type, occurred_at, actor, data) \
             VALUES ('t1', 'property.updated', '{stored}', '{ACTOR}', '{{\"property_id\": \"p{i}\"}}')"
        ))
        .await;
    }
    let (events, _) = drain(&app, Some(&start), 2).await;
    let got: Vec<&Value> = events.iter().map(|e| &e["occurred_at"]).collect();
    let serialised: Vec<Value> = times
        .iter()
        .map(|t| json!(chrono::DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&chrono::Utc)))
        .collect();
    assert_eq!(got, serialised.iter().collect::<Vec<_>>());
    assert_eq!(
        serialised,
        json!(["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.120Z", "2026-01-02T03:04:05.123456Z"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(events[2]["data"], json!({"property_id": "p2"}));
    // A key name is the caller's text: quoted as serde would.
    assert_eq!(events[0]["actor"], ACTOR);
}

/// A key name with what JSON must escape, and more than ASCII.
const ACTOR: &str = r#"the "night" desk \ Zoë	(tab)"#;

/// On Postgres ids come from a sequence when the insert runs, so a transaction can commit after
/// another that took a higher id. The feed must hold the later event back until the earlier
/// transaction is over, then deliver both.
#[tokio::test]
async fn a_late_committer_is_not_skipped() {
    let Some(app) = TestApp::postgres_tuned(Default::default()).await else { return };
    let pool = app.pg_pool().unwrap().clone();
    let (_, start) = drain(&app, None, 100).await;
    // A transaction takes the lower id and stays open.
    let mut slow = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (tenant_id, type, occurred_at, actor, data) \
         VALUES ('t1', 'property.updated', now(), 'slow', '{\"property_id\": \"slow\"}')",
    )
    .execute(&mut *slow)
    .await
    .unwrap();
    // A later write commits first, with a higher id.
    let fast = create(&app, json!({"lastName": "Fast"})).await;
    for _ in 0..3 {
        let r = app.get(&format!("{FEED}?after={start}")).send().await;
        r.assert_status(200);
        assert_eq!(r.body["items"], json!([]), "an event past an open transaction was served");
        assert_eq!(r.body["next"], start.as_str());
    }
    let cursor = start;
    slow.commit().await.unwrap();
    let (events, _) = drain(&app, Some(&cursor), 100).await;
    assert_eq!(types(&events), ["property.updated", "contact.created"]);
    assert_eq!(events[1]["data"]["contact_id"], fast["id"]);
}

/// A page deep into the feed is an index seek to the cursor on SQLite too, not a walk over every
/// earlier event (SQLite seeks a row-value comparison on its first column only).
#[tokio::test]
async fn a_feed_page_seeks_to_its_cursor_on_sqlite() {
    let app = TestApp::sqlite_tuned(Default::default()).await;
    let crate::common::Backend::Sqlite(store) = &app.backend else { unreachable!() };
    let after = property_contacts::domain::change::Cursor { tx: 0, id: 4900 };
    let plan = store.explain_changes("t1", after).await.unwrap();
    assert!(plan.contains("USING INDEX events_feed_idx (tenant_id=? AND tx=? AND id>?)"), "{plan}");
}
