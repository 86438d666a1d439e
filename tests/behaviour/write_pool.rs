//! The Postgres write connections (the contact-set replace's own, one replace each, its statements
//! pipelined): bounded in number, never handed back inside a transaction, replaced when the server
//! closes them; and the pipelined replace's `If-Match` guard, checked table by table.

use std::time::Duration;

use property_contacts::auth::generate_key;
use property_contacts::domain::contact_set::ContactSet;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgStore, PropertyChanges, ReplaceOutcome, Scope};
use property_contacts::validation::ParseOptions;
use sqlx::postgres::PgPoolOptions;

use crate::common::PgSchema;
use crate::fixtures::{contact, sarah, set};

/// A store on `schema` whose connections carry `app` as application name, with tenant `t1` (made by
/// its first key) and its property `p1`.
async fn store_named(schema: &PgSchema, app: &str) -> PgStore {
    let options = (*schema.pool.connect_options()).clone().application_name(app);
    let pool = PgPoolOptions::new().max_connections(4).connect_lazy_with(options);
    let store = PgStore::from_pool(pool);
    store.migrate().await.unwrap();
    store.create_key(generate_key("t1", "test", vec![Scope::Write]).record).await.unwrap();
    store.put_property("t1", "p1", PropertyChanges::default()).await.unwrap();
    store
}

fn contact_set() -> ContactSet {
    ContactSet::parse(&set(vec![sarah()]), &ParseOptions::BOOKING).expect("a valid set")
}

async fn replace(store: &PgStore, expected: Option<i64>) -> ReplaceOutcome {
    store.replace_contact_set("t1", "p1", &contact_set(), expected, "test").await.unwrap()
}

/// This test's sessions in `state` (by application name, so other tests' are not counted).
async fn sessions(schema: &PgSchema, app: &str, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = $2")
        .bind(app)
        .bind(state)
        .fetch_one(&schema.pool)
        .await
        .unwrap()
}

fn write_pool(store: &PgStore) -> property_contacts::store::PoolStatus {
    store.pool_status().into_iter().find(|p| p.name == "write").expect("Postgres has write connections")
}

#[tokio::test]
async fn replaces_use_a_bounded_number_of_connections() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let store = store_named(&schema, "write-pool-bound").await;
    let set = contact_set();
    let burst = (0..20).map(|_| store.replace_contact_set("t1", "p1", &set, None, "test"));
    let mut revisions: Vec<i64> = futures_util::future::join_all(burst)
        .await
        .into_iter()
        .map(|r| match r.unwrap() {
            ReplaceOutcome::Replaced { revision } => revision,
            other => panic!("{other:?}"),
        })
        .collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=20).collect::<Vec<_>>());
    let status = write_pool(&store);
    assert_eq!((status.size, status.max, status.idle), (2, 2, 2), "{status:?}");
}

#[tokio::test]
async fn a_replace_dropped_mid_flight_leaves_no_transaction_open() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("write-pool-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    assert_eq!(replace(&store, None).await, ReplaceOutcome::Replaced { revision: 1 });
    for _ in 0..5 {
        // Polled until it has sent its statements (one poll, the connection being open and its
        // statements prepared), then dropped as a timed-out or abandoned request is.
        let set = contact_set();
        let mut pending = Box::pin(store.replace_contact_set("t1", "p1", &set, None, "test"));
        assert!(futures_util::poll!(pending.as_mut()).is_pending());
        drop(pending);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sessions(&schema, &app, "idle in transaction").await, 0);
    assert_eq!(sessions(&schema, &app, "idle in transaction (aborted)").await, 0);
    // The dropped replaces committed (they were sent whole); the next one follows them.
    let stored = store.get_contact_set("t1", "p1").await.unwrap().unwrap();
    assert_eq!(
        replace(&store, Some(stored.revision)).await,
        ReplaceOutcome::Replaced { revision: stored.revision + 1 }
    );
    let history = store.list_contact_set_revisions("t1", "p1", None, 100).await.unwrap().unwrap();
    assert_eq!(history.len() as i64, stored.revision + 1, "every revision recorded once");
}

#[tokio::test]
async fn a_write_connection_closed_by_the_server_is_replaced() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("write-pool-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    let set = contact_set();
    let burst = (0..4).map(|_| store.replace_contact_set("t1", "p1", &set, None, "test"));
    for r in futures_util::future::join_all(burst).await {
        r.unwrap();
    }
    // Every session of this store ends, as in a server restart: the two write connections and
    // the main pool's (which ran the set-up).
    let terminated: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&app)
    .fetch_one(&schema.pool)
    .await
    .unwrap();
    assert!(terminated > 2, "{terminated}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for revision in 5..9 {
        assert_eq!(replace(&store, None).await, ReplaceOutcome::Replaced { revision });
    }
    // Both closed connections were dropped; one new one served the replaces, one at a time.
    assert_eq!(write_pool(&store).size, 1);
}

/// Every row the replace could touch, as text: each property's revision and `updated_at`, each
/// history row, contact and phone.
async fn tables(schema: &PgSchema) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT 'property ' || tenant_id || '/' || id || ' revision ' || contact_set_revision \
                || ' updated ' || updated_at FROM properties \
         UNION ALL SELECT 'history ' || row_to_json(h)::text FROM contact_set_revisions h \
         UNION ALL SELECT 'contact ' || row_to_json(c)::text FROM property_contacts c \
         UNION ALL SELECT 'phone ' || row_to_json(p)::text FROM property_contact_phones p \
         ORDER BY 1",
    )
    .fetch_all(&schema.pool)
    .await
    .unwrap()
}

/// The pipelined replace sends all its statements before the bump answers (see
/// `store/postgres/replace.rs`), so a bump that matches nothing (a stale `If-Match`, no such
/// property) must stop the transaction by itself. Pinned table by table: such a replace reports
/// why and adds no history row, moves no revision, touches no contact or phone; of replaces racing
/// with the same expected revision, exactly one is applied. (`contact_sets.rs` checks the same
/// through HTTP, by what a GET shows.)
#[tokio::test]
async fn a_replace_whose_bump_matches_nothing_changes_no_table() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let store = store_named(&schema, "write-pool-guard").await;
    let named = |name: &str| {
        let body = set(vec![contact(&["general"], name, "guard@hotel.example", "+31201234567")]);
        ContactSet::parse(&body, &ParseOptions::BOOKING).expect("a valid set")
    };
    let first = store.replace_contact_set("t1", "p1", &named("First"), None, "test").await.unwrap();
    assert_eq!(first, ReplaceOutcome::Replaced { revision: 1 });
    let before = tables(&schema).await;
    assert_eq!(before.iter().filter(|row| row.starts_with("history ")).count(), 1, "{before:#?}");

    for expected in [Some(0), Some(2), Some(7)] {
        let outcome = store.replace_contact_set("t1", "p1", &named("Stale"), expected, "test").await.unwrap();
        assert_eq!(outcome, ReplaceOutcome::RevisionMismatch { current: 1 }, "If-Match {expected:?}");
        assert_eq!(
            tables(&schema).await,
            before,
            "a replace expecting revision {expected:?} changed a table"
        );
    }
    for expected in [None, Some(0), Some(1)] {
        let outcome =
            store.replace_contact_set("t1", "nope", &named("Nowhere"), expected, "test").await.unwrap();
        assert_eq!(outcome, ReplaceOutcome::PropertyNotFound, "missing property, If-Match {expected:?}");
        assert_eq!(tables(&schema).await, before, "a replace of a missing property changed a table");
    }

    // Racers quoting revision 1 queue on the property's row lock, held here until all have been
    // sent, so they meet at the bump rather than one after the other.
    let racers: Vec<ContactSet> = (0..12).map(|i| named(&format!("Racer {i}"))).collect();
    let mut lock = schema.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM properties WHERE tenant_id = 't1' AND id = 'p1' FOR UPDATE")
        .fetch_one(&mut *lock)
        .await
        .unwrap();
    let race = futures_util::future::join_all(
        racers.iter().map(|racer| store.replace_contact_set("t1", "p1", racer, Some(1), "test")),
    );
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.rollback().await.unwrap();
    };
    let (outcomes, ()) = tokio::join!(race, release);
    let outcomes: Vec<ReplaceOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
    let winners: Vec<usize> =
        (0..outcomes.len()).filter(|&i| outcomes[i] == ReplaceOutcome::Replaced { revision: 2 }).collect();
    assert_eq!(winners.len(), 1, "exactly one racer wins: {outcomes:?}");
    for (i, outcome) in outcomes.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
        assert_eq!(*outcome, ReplaceOutcome::RevisionMismatch { current: 2 }, "racer {i}");
    }
    let after = tables(&schema).await;
    let count = |kind: &str| after.iter().filter(|row| row.starts_with(kind)).count();
    assert_eq!((count("history "), count("contact "), count("phone ")), (2, 1, 1), "{after:#?}");
    assert!(after.iter().any(|row| row.starts_with("property t1/p1 revision 2 ")), "{after:#?}");
    let stored = store.get_contact_set("t1", "p1").await.unwrap().unwrap();
    assert_eq!((stored.revision, &stored.set), (2, &racers[winners[0]]), "the winner's set is stored");
}
