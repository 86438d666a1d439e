//! CRM prefix search (`q`) and cursor paging (`after`) of `GET /api/v3/contacts`.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::common::TestApp;
use crate::crm::{create, path, post};
use crate::store_tests;

store_tests!(
    search_matches_every_word_as_a_prefix,
    contacts_stored_before_search_get_terms_once_at_start,
    search_follows_every_write,
    search_follows_writes_of_a_contact_with_very_many_terms,
    search_ranks_exact_words_first,
    cursor_pages_are_stable_under_inserts_and_deletes,
    cursor_pages_follow_relevance,
    bad_search_and_cursor_parameters_are_400,
);

/// Ids of a list answer, in order.
fn ids(body: &Value) -> Vec<i64> {
    body["content"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn search(app: &TestApp, q: &str) -> Vec<i64> {
    let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let r = app.get(&format!("/api/v3/contacts?q={encoded}")).send().await;
    r.assert_status(200);
    ids(&r.body)
}

fn id(c: &Value) -> i64 {
    c["id"].as_i64().unwrap()
}

/// Contacts stored before search existed (terms missing, below the mark the migration leaves) are
/// indexed when the store starts; the mark is then gone, so a later start indexes nothing.
async fn contacts_stored_before_search_get_terms_once_at_start(app: TestApp) {
    let mut old = Vec::new();
    for i in 0..7 {
        old.push(id(&create(&app, json!({"firstName": format!("Old{i}"), "lastName": "Backfill"})).await));
    }
    let newer = id(&create(&app, json!({"firstName": "Newer", "lastName": "Backfill"})).await);
    let upto = old.last().unwrap();
    app.exec_sql(&format!("DELETE FROM crm_contact_terms WHERE contact_id <= {upto}")).await;
    app.exec_sql(&format!("INSERT INTO crm_search_backfill (upto) VALUES ({upto})")).await;
    assert_eq!(search(&app, "backfill").await, [newer], "the old contacts have no terms");
    app.restart_store().await;
    let mut found = search(&app, "backfill").await;
    found.sort_unstable();
    let mut expected = old.clone();
    expected.push(newer);
    assert_eq!(found, expected, "every old contact indexed, the newer one still found once");
    assert_eq!(search(&app, "old3").await, [old[3]]);
    // Done once: terms removed now stay removed over another start.
    app.exec_sql(&format!("DELETE FROM crm_contact_terms WHERE contact_id = {}", old[0])).await;
    app.restart_store().await;
    assert!(!search(&app, "old0").await.contains(&old[0]), "the finished backfill did not run again");
}

async fn search_matches_every_word_as_a_prefix(app: TestApp) {
    let jansen = create(
        &app,
        json!({"firstName": "Ann", "lastName": "Jansen", "companyName": "Hotel Krasnapolsky",
               "contactType": "GUEST",
               "emailAddresses": [{"emailAddress": "a.jansen@Example.com"}],
               "telephones": [{"number": "+31 20 123 4567"}]}),
    )
    .await;
    let smith = create(&app, json!({"firstName": "Ann", "lastName": "Smith"})).await;
    let jager = create(&app, json!({"firstName": "Jürgen", "lastName": "Jäger"})).await;
    let plain = create(&app, json!({"firstName": "Karl", "lastName": "JAGER"})).await;
    assert_eq!(search(&app, "ann jans").await, [id(&jansen)]);
    assert_eq!(search(&app, "ann").await, [id(&jansen), id(&smith)]);
    // Accents and case fold both ways.
    assert_eq!(search(&app, "jager").await, [id(&jager), id(&plain)]);
    assert_eq!(search(&app, "Jäger").await, [id(&jager), id(&plain)]);
    assert_eq!(search(&app, "JURG").await, [id(&jager)]);
    // Company and e-mail words.
    assert_eq!(search(&app, "krasna").await, [id(&jansen)]);
    assert_eq!(search(&app, "example").await, [id(&jansen)]);
    assert_eq!(search(&app, "a.jansen@exa").await, [id(&jansen)]);
    // Telephone digits: E.164, as typed, national.
    for q in ["+3120", "3120", "020 12", "+31 20 123"] {
        assert_eq!(search(&app, q).await, [id(&jansen)], "q={q}");
    }
    assert!(search(&app, "4567").await.is_empty(), "a prefix, not a substring");
    // Every word must match: a word matching nothing empties the result.
    assert!(search(&app, "ann zzz").await.is_empty());
    // Combinable with the other filters.
    let r = app.get("/api/v3/contacts?q=ann&contactType=GUEST").send().await;
    assert_eq!(ids(&r.body), [id(&jansen)]);
    assert_eq!(r.body["page"]["totalElements"], 1);
}

async fn search_follows_every_write(app: TestApp) {
    let a = create(&app, json!({"firstName": "Ada", "lastName": "Lovelace"})).await;
    let b = create(
        &app,
        json!({"firstName": "Bea", "lastName": "Byron",
                                "emailAddresses": [{"emailAddress": "bea@poets.example"}]}),
    )
    .await;
    // Overwrite: the old name is gone, the new one found.
    let r = app.put(&path(&a["id"]), json!({"firstName": "Ada", "lastName": "King"})).send().await;
    r.assert_status(200);
    assert!(search(&app, "lovelace").await.is_empty());
    assert_eq!(search(&app, "king").await, [id(&a)]);
    // Sub-resources: add, change, delete.
    let r = post(
        &app,
        &format!("{}/emailAddresses", path(&a["id"])),
        json!({"emailAddress": "ada@engine.example"}),
    )
    .send()
    .await;
    r.assert_status(201);
    assert_eq!(search(&app, "engine").await, [id(&a)]);
    let email_id = r.body["id"].clone();
    let item = format!("{}/emailAddresses/{email_id}", path(&a["id"]));
    app.put(&item, json!({"emailAddress": "ada@analytical.example"})).send().await.assert_status(200);
    assert!(search(&app, "engine").await.is_empty());
    assert_eq!(search(&app, "analytical").await, [id(&a)]);
    let r = post(&app, &format!("{}/telephones", path(&a["id"])), json!({"number": "+44 20 7946 0000"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(search(&app, "+44 20 79").await, [id(&a)]);
    let phone_id = r.body["id"].clone();
    app.delete(&format!("{}/telephones/{phone_id}", path(&a["id"]))).send().await.assert_status(204);
    assert!(search(&app, "+44 20 79").await.is_empty());
    // Merge: the secondary is never found again, the primary by what it took over.
    let r = post(
        &app,
        "/api/v3/contacts/merge",
        json!({"primaryContactId": a["id"], "secondaryContactId": b["id"]}),
    )
    .send()
    .await;
    assert_eq!(r.body["success"], true, "{}", r.body);
    assert!(search(&app, "byron").await.is_empty());
    assert_eq!(search(&app, "poets").await, [id(&a)]);
    // Delete.
    app.delete(&path(&a["id"])).send().await.assert_status(204);
    assert!(search(&app, "king").await.is_empty());
}

/// A write keeps the terms a contact still has and rewrites the rest; a contact with more terms
/// than one statement can name (SQLite takes 1,000 binds) has them all rewritten. Search follows
/// its writes either way.
async fn search_follows_writes_of_a_contact_with_very_many_terms(app: TestApp) {
    // 20 addresses of 61 distinct three-letter words each: 1,220 terms and more.
    let mut n = 0;
    let mut word = || {
        n += 1;
        format!("{}{:02}", char::from(b'a' + u8::try_from(n / 100).unwrap()), n % 100)
    };
    let emails: Vec<Value> = (0..20)
        .map(|_| {
            let labels: Vec<String> = (0..61).map(|_| word()).collect();
            json!({"emailAddress": format!("x@{}.example", labels.join("."))})
        })
        .collect();
    let a = create(&app, json!({"lastName": "Many", "emailAddresses": emails})).await;
    let other = create(&app, json!({"lastName": "Few"})).await;
    assert_eq!(search(&app, "b07").await, [id(&a)]);
    let r = post(&app, &format!("{}/telephones", path(&a["id"])), json!({"number": "+44 20 7946 0000"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(search(&app, "+44 20 79").await, [id(&a)]);
    assert_eq!(search(&app, "b07").await, [id(&a)], "a kept term is still found");
    // The address holding b07 goes; its words with it.
    let first_email = a["emailAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["emailAddress"].as_str().unwrap().contains(".b07."));
    let email_id = first_email.expect("an address holds b07")["id"].clone();
    app.delete(&format!("{}/emailAddresses/{email_id}", path(&a["id"]))).send().await.assert_status(204);
    assert!(search(&app, "b07").await.is_empty());
    assert_eq!(search(&app, "many").await, [id(&a)]);
    // A contact of few terms takes the same path as any other.
    let r = app.put(&path(&other["id"]), json!({"lastName": "Fewer", "firstName": "Ann"})).send().await;
    r.assert_status(200);
    assert!(search(&app, "few").await.contains(&id(&other)), "fewer starts with few");
    assert_eq!(search(&app, "ann fewer").await, [id(&other)]);
    let r = app.put(&path(&other["id"]), json!({"lastName": "Gone"})).send().await;
    r.assert_status(200);
    assert!(search(&app, "ann").await.is_empty());
    assert!(search(&app, "fewer").await.is_empty());
    assert_eq!(search(&app, "gone").await, [id(&other)]);
}

async fn search_ranks_exact_words_first(app: TestApp) {
    // Created first, so the stable key alone would put the prefix matches first.
    let jansen = create(&app, json!({"firstName": "Piet", "lastName": "Jansen"})).await;
    let janine = create(&app, json!({"firstName": "Janine", "lastName": "Jan"})).await;
    let bell = create(&app, json!({"firstName": "Janine", "lastName": "Bell"})).await;
    let jan = create(&app, json!({"firstName": "Jan", "lastName": "Berg"})).await;
    assert_eq!(search(&app, "jan").await, [id(&janine), id(&jan), id(&jansen), id(&bell)]);
    assert_eq!(search(&app, "jan be").await, [id(&jan), id(&bell)]);
    assert_eq!(search(&app, "janine bell").await, [id(&bell)]);
}

/// Follows `next` from `first` to the end; the ids of every page, with `between` run after each
/// page (other clients writing while this one pages).
async fn follow<F, Fut>(app: &TestApp, first: &str, mut between: F) -> Vec<i64>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut seen = Vec::new();
    let mut url = first.to_owned();
    for page in 0.. {
        let r = app.get(&url).send().await;
        r.assert_status(200);
        seen.extend(ids(&r.body));
        between(page).await;
        match r.body["next"].as_str() {
            Some(next) => url = format!("{first}&after={next}"),
            None => break,
        }
        assert!(page < 100, "paging does not end");
    }
    seen
}

async fn cursor_pages_are_stable_under_inserts_and_deletes(app: TestApp) {
    let mut before = Vec::new();
    for i in 0..30 {
        before.push(id(&create(&app, json!({"lastName": format!("Guest {i}")})).await));
    }
    // Deleted while paging: one already seen, one not yet.
    let (seen_early, unseen) = (before[2], before[25]);
    let app_ref = &app;
    let seen = follow(&app, "/api/v3/contacts?size=7", |page| async move {
        // Another client inserts and deletes between the pages.
        create(app_ref, json!({"lastName": format!("Walk-in {page}")})).await;
        if page == 1 {
            for gone in [seen_early, unseen] {
                app_ref.delete(&format!("/api/v3/contacts/{gone}")).send().await.assert_status(204);
            }
        }
    })
    .await;
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no contact is repeated: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending id order: {seen:?}");
    for id in &before {
        if *id != unseen {
            assert!(unique.contains(id), "contact {id} present throughout was skipped");
        }
    }
    assert!(!unique.contains(&unseen), "a contact deleted before its page is not answered");
    // Contacts inserted meanwhile come after the ones present, so they are answered too.
    assert!(seen.len() > before.len() - 1);
    // Inserts running at the same time as the paging (joined on one task, so they interleave at
    // every round trip to the store): every contact present before is answered exactly once.
    let r = app.get("/api/v3/contacts?size=500").send().await;
    let present = ids(&r.body);
    let inserting = async {
        for i in 0..20 {
            create(&app, json!({"lastName": format!("Concurrent {i}")})).await;
        }
    };
    let (_, seen) = tokio::join!(inserting, follow(&app, "/api/v3/contacts?size=5", |_| async {}));
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no contact is repeated: {seen:?}");
    assert!(present.iter().all(|id| unique.contains(id)), "a contact present throughout was skipped");
    // Descending id order pages too.
    let desc = follow(&app, "/api/v3/contacts?size=8&sort=id,desc", |_| async {}).await;
    assert!(desc.windows(2).all(|w| w[0] > w[1]));
    let r = app.get("/api/v3/contacts?size=500").send().await;
    assert_eq!(desc.len() as i64, r.body["page"]["totalElements"].as_i64().unwrap());
}

async fn cursor_pages_follow_relevance(app: TestApp) {
    let mut prefix = Vec::new();
    let mut exact = Vec::new();
    for i in 0..5 {
        prefix.push(id(&create(&app, json!({"firstName": "Jansen", "lastName": format!("P{i}")})).await));
        exact.push(id(&create(&app, json!({"firstName": "Jan", "lastName": format!("E{i}")})).await));
    }
    let seen = follow(&app, "/api/v3/contacts?q=jan&size=3", |_| async {}).await;
    let expected: Vec<i64> = exact.iter().chain(prefix.iter()).copied().collect();
    assert_eq!(seen, expected, "exact matches first, each group in id order, nothing repeated");
    // A cursor page skips the count over everything matched, so it costs the same at any depth.
    let r = app.get("/api/v3/contacts?size=2").send().await;
    assert_eq!(r.body["page"]["totalElements"], 10);
    let next = r.body["next"].as_str().unwrap();
    let r = app.get(&format!("/api/v3/contacts?size=2&after={next}")).send().await;
    r.assert_status(200);
    assert!(r.body["page"].get("totalElements").is_none(), "{:#}", r.body);
    assert!(r.header("etag").is_none());
    assert_eq!(ids(&r.body), [prefix[1], exact[1]], "id order without q");
}

async fn bad_search_and_cursor_parameters_are_400(app: TestApp) {
    create(&app, json!({"lastName": "Anyone"})).await;
    for query in ["q=--", "after=nonsense", "after=YzE6OjE&sort=lastName"] {
        let r = app.get(&format!("/api/v3/contacts?{query}")).send().await;
        r.assert_problem(400);
        let pointer = query.split('=').next().unwrap();
        assert!(r.problem_errors().iter().any(|(p, _)| p == pointer), "{query}: {:#}", r.body);
    }
}

/// Two processes starting together on one Postgres after an upgrade both run the backfill: both
/// starts succeed and every old contact gets its terms once (they take the batches in turn).
#[tokio::test]
async fn two_processes_backfill_search_terms_together_on_postgres() {
    use property_contacts::store::prelude::*;
    let Some(schema) = crate::common::PgSchema::create(8).await else { return };
    let first = property_contacts::store::PgStore::from_pool(schema.pool.clone());
    let second = property_contacts::store::PgStore::from_pool(schema.pool.clone());
    first.migrate().await.unwrap();
    for statement in [
        "INSERT INTO tenants (id, created_at) VALUES ('t1', now())",
        "INSERT INTO crm_contacts (tenant_id, contact_type, first_name, last_name, order_references, \
         version, created_at, updated_at) \
         SELECT 't1', 'GUEST', 'First' || g, 'Last' || g, '[]'::jsonb, 1, now(), now() \
         FROM generate_series(1, 3000) g",
        "INSERT INTO crm_search_backfill (upto) SELECT max(id) FROM crm_contacts",
    ] {
        sqlx::query(statement).execute(&schema.pool).await.unwrap();
    }
    let (a, b) = tokio::join!(first.migrate(), second.migrate());
    a.unwrap();
    b.unwrap();
    let (terms, contacts, wrong): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT t.contact_id), \
         count(*) FILTER (WHERE t.term NOT IN (lower(c.first_name), lower(c.last_name))) \
         FROM crm_contact_terms t JOIN crm_contacts c ON c.id = t.contact_id",
    )
    .fetch_one(&schema.pool)
    .await
    .unwrap();
    assert_eq!((terms, contacts, wrong), (6000, 3000, 0), "each contact's two names, once");
    let (marks,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM crm_search_backfill").fetch_one(&schema.pool).await.unwrap();
    assert_eq!(marks, 0, "the finished backfill removed its mark");
}
