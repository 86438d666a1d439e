//! The Postgres pipeline pool (the contact set's own tokio-postgres connections): one connection
//! shared by every read, pipelined, the others one replace each; bounded in number, never handed
//! back inside a transaction, replaced when the server closes them; and the pipelined replace's
//! `If-Match` guard, checked table by table.

use std::time::Duration;

use property_contacts::auth::generate_key;
use property_contacts::domain::contact_set::ContactSet;
use property_contacts::store::prelude::*;
use property_contacts::store::{PgStore, PoolStatus, PropertyChanges, ReplaceOutcome, Scope};
use property_contacts::validation::ParseOptions;
use sqlx::postgres::PgPoolOptions;

use crate::common::PgSchema;
use crate::fixtures::{contact, sarah, set};

/// A store on `schema` whose connections carry `app` as application name (so this test can find
/// and terminate its own backends without touching other tests'), with tenant `t1` (made by its
/// first key) and its property `p1`. `from_pool` gives it 3 pipeline connections: the read lease
/// and two for replaces.
async fn store_named(schema: &PgSchema, app: &str) -> PgStore {
    let options = (*schema.pool.connect_options()).clone().application_name(app);
    let pool = PgPoolOptions::new().max_connections(4).connect_lazy_with(options);
    let store = PgStore::from_pool(pool);
    store.migrate().await.unwrap();
    store.create_key(generate_key("t1", "test", vec![Scope::Write]).record).await.unwrap();
    store.put_property("t1", "p1", PropertyChanges::default(), None, "test").await.unwrap().unwrap();
    store
}

/// A valid set, another one at every call: an identical re-send would store nothing.
fn contact_set() -> ContactSet {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut contact = sarah();
    contact["contact_person"]["name"] = serde_json::json!(format!("Sarah Jansen {n}"));
    ContactSet::parse(&set(vec![contact]), &ParseOptions::BOOKING).expect("a valid set")
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

fn pipeline_pool(store: &PgStore) -> PoolStatus {
    store.pool_status().into_iter().find(|p| p.name == "pipeline").expect("Postgres has a pipeline pool")
}

/// Terminates this test's sessions that ran the contact-set read, as a Postgres restart or an
/// idle-session timeout would; returns how many.
async fn terminate_reads(schema: &PgSchema, app: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE application_name = $1 AND query LIKE '%property_contact_phones%'",
    )
    .bind(app)
    .fetch_one(&schema.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn reads_share_one_connection() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("pipeline-reads-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    for _ in 0..20 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    // Sixty reads at once still take one connection: they queue on it, pipelined, instead of each
    // taking a connection of its own.
    let burst = (0..60).map(|_| store.get_contact_set("t1", "missing"));
    for read in futures_util::future::join_all(burst).await {
        assert!(read.unwrap().is_none());
    }
    let status = pipeline_pool(&store);
    assert_eq!((status.size, status.max, status.idle), (1, 3, 0), "{status:?}");
}

#[tokio::test]
async fn a_read_connection_closed_by_the_server_is_replaced() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("pipeline-reads-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    for _ in 0..4 {
        store.get_contact_set("t1", "missing").await.unwrap();
    }
    assert_eq!(terminate_reads(&schema, &app).await, 1);
    // Right away: the read that finds its connection gone runs again on a new one, so none fails.
    for _ in 0..4 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    assert_eq!(pipeline_pool(&store).size, 1);

    // After a second of idleness the connection is pinged before use as well.
    assert_eq!(terminate_reads(&schema, &app).await, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..4 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    assert_eq!(pipeline_pool(&store).size, 1);
}

#[tokio::test]
async fn replaces_use_a_bounded_number_of_connections() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let store = store_named(&schema, "pipeline-bound").await;
    let sets: Vec<_> = (0..20).map(|_| contact_set()).collect();
    let burst = sets.iter().map(|set| store.replace_contact_set("t1", "p1", set, None, "test"));
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
    let status = pipeline_pool(&store);
    assert_eq!((status.size, status.max, status.idle), (3, 3, 3), "{status:?}");
}

#[tokio::test]
async fn a_replace_dropped_mid_flight_finishes_before_its_connection_is_reused() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("pipeline-drop-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    assert_eq!(replace(&store, None).await, ReplaceOutcome::Replaced { revision: 1 });
    for _ in 0..5 {
        // Polled until it has handed its statements to its task, then dropped as a timed-out or
        // abandoned request is.
        let set = contact_set();
        let mut pending = Box::pin(store.replace_contact_set("t1", "p1", &set, None, "test"));
        for _ in 0..3 {
            let _ = futures_util::poll!(pending.as_mut());
            tokio::task::yield_now().await;
        }
        drop(pending);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sessions(&schema, &app, "idle in transaction").await, 0);
    assert_eq!(sessions(&schema, &app, "idle in transaction (aborted)").await, 0);
    // Whatever the dropped replaces did, they did whole; the next one follows them.
    let stored = store.get_contact_set("t1", "p1").await.unwrap().unwrap();
    assert_eq!(
        replace(&store, Some(stored.revision)).await,
        ReplaceOutcome::Replaced { revision: stored.revision + 1 }
    );
    let history = store.list_contact_set_revisions("t1", "p1", None, 100).await.unwrap().unwrap();
    assert_eq!(history.len() as i64, stored.revision + 1, "every revision recorded once");
}

#[tokio::test]
async fn replace_connections_closed_by_the_server_are_replaced() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("pipeline-closed-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    let sets: Vec<_> = (0..4).map(|_| contact_set()).collect();
    let burst = sets.iter().map(|set| store.replace_contact_set("t1", "p1", set, None, "test"));
    for r in futures_util::future::join_all(burst).await {
        r.unwrap();
    }
    // Every session of this store ends, as in a server restart: the pipeline connections and the
    // main pool's (which ran the set-up).
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
    // The closed connections were dropped; one new one served the replaces, one at a time.
    assert_eq!(pipeline_pool(&store).size, 1);
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
    let store = store_named(&schema, "pipeline-guard").await;
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
