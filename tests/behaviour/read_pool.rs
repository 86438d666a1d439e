//! The Postgres read pool (the contact-set GET's own connections, without sqlx's ping on release):
//! connections are reused, counted in `/metrics`, and one the server closed is never reused for long.

use std::time::Duration;

use property_contacts::store::{PgStore, Store, StoreError};
use sqlx::postgres::PgPoolOptions;

use crate::common::PgSchema;

/// A store on `schema` whose connections carry `app` as application name, so this test can find and
/// terminate its own backends without touching other tests'.
async fn store_named(schema: &PgSchema, app: &str) -> PgStore {
    let options = (*schema.pool.connect_options()).clone().application_name(app);
    let pool = PgPoolOptions::new().max_connections(4).connect_lazy_with(options);
    let store = PgStore::from_pool(pool);
    store.migrate().await.unwrap();
    store
}

/// Terminates this test's idle read connections from the server side, as a Postgres restart or an
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

fn read_pool_size(store: &PgStore) -> u32 {
    store.pool_status().into_iter().find(|p| p.name == "read").expect("Postgres has a read pool").size
}

#[tokio::test]
async fn sequential_reads_share_one_connection() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let store = store_named(&schema, "read-pool-reuse").await;
    for _ in 0..20 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    assert_eq!(read_pool_size(&store), 1, "each read opened its own connection");
}

#[tokio::test]
async fn a_connection_closed_by_the_server_is_replaced() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("read-pool-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    store.get_contact_set("t1", "missing").await.unwrap();
    assert_eq!(terminate_reads(&schema, &app).await, 1);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Used again at once, the dead connection is not pinged first: that one read may fail, as
    // unavailable (503), and the connection is dropped rather than handed out again.
    let first = store.get_contact_set("t1", "missing").await;
    if let Err(e) = &first {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    }
    assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());

    // After a second of idleness the connection is pinged before use, so a dead one costs no error.
    assert_eq!(terminate_reads(&schema, &app).await, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    assert_eq!(read_pool_size(&store), 1);
}
