//! The Postgres read connections (the contact-set GET's own, shared by concurrent reads): a fixed
//! number however many reads run at once, counted in `/metrics`, and replaced when the server closes
//! them.

use std::time::Duration;

use property_contacts::store::prelude::*;
use property_contacts::store::PgStore;
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
async fn reads_share_a_fixed_number_of_connections() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let store = store_named(&schema, "read-pool-reuse").await;
    for _ in 0..20 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    // Sixty reads at once still open no more than the two connections `from_pool` gives the reads:
    // they queue on those, pipelined, instead of each taking a connection of its own.
    let burst = (0..60).map(|_| store.get_contact_set("t1", "missing"));
    for read in futures_util::future::join_all(burst).await {
        assert!(read.unwrap().is_none());
    }
    let status =
        store.pool_status().into_iter().find(|p| p.name == "read").expect("Postgres has read connections");
    assert_eq!((status.size, status.max, status.idle), (2, 2, 2), "{status:?}");
}

#[tokio::test]
async fn a_connection_closed_by_the_server_is_replaced() {
    let Some(schema) = PgSchema::create(2).await else { return };
    let app = format!("read-pool-{}", uuid::Uuid::new_v4().simple());
    let store = store_named(&schema, &app).await;
    for _ in 0..4 {
        store.get_contact_set("t1", "missing").await.unwrap();
    }
    assert_eq!(terminate_reads(&schema, &app).await, 2);
    // The server says why it closes before it does, so by the next read the connection is known to
    // be gone and is replaced: no read fails.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..4 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    assert_eq!(read_pool_size(&store), 2);

    // After a second of idleness a connection is pinged before use as well.
    assert_eq!(terminate_reads(&schema, &app).await, 2);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..4 {
        assert!(store.get_contact_set("t1", "missing").await.unwrap().is_none());
    }
    assert_eq!(read_pool_size(&store), 2);
}
