//! Pruning of the change feed: events older than `CHANGES_RETENTION_DAYS` go, and webhook delivery
//! attempts with them, a bounded batch per transaction, so a prune never holds locks for long. Every process runs it; batches claim their
//! rows (`SKIP LOCKED` on Postgres), so two processes share the work instead of colliding.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::Store;

/// Events deleted per transaction.
pub const PRUNE_BATCH: u32 = 1000;

/// Prunes every event and delivery attempt from before `before`; the number of events deleted.
pub async fn prune_changes<S: Store>(store: &S, before: DateTime<Utc>) -> crate::store::StoreResult<u64> {
    while store.prune_deliveries(before, PRUNE_BATCH).await? == u64::from(PRUNE_BATCH) {}
    let mut total = 0;
    loop {
        let deleted = store.prune_changes(before, PRUNE_BATCH).await?;
        total += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
    }
}

/// Runs [`prune_changes`] now and then every `every`, for the life of the process.
pub fn spawn_pruning<S: Store>(store: S, retention_days: u32, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let before = Utc::now() - chrono::Duration::days(i64::from(retention_days));
            match prune_changes(&store, before).await {
                Ok(0) => {}
                Ok(deleted) => {
                    metrics::counter!("change_events_pruned_total").increment(deleted);
                    tracing::info!(deleted, retention_days, "pruned old change events");
                }
                Err(e) => tracing::warn!(error = %e, "pruning change events failed; will retry"),
            }
        }
    });
}
