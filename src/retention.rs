//! Pruning of the change feed: events older than `CHANGES_RETENTION_DAYS` go, and webhook delivery
//! attempts with them, a bounded batch per transaction, so a prune never holds locks for long. Every process runs it; batches claim their
//! rows (`SKIP LOCKED` on Postgres), so two processes share the work instead of colliding.
//!
//! The same way, when configured ([`RetentionSettings`]): history older than
//! `HISTORY_RETENTION_DAYS` ([`prune_history`]) and audit entries older than `AUDIT_RETENTION_DAYS`
//! ([`prune_audit`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::RetentionSettings;
use crate::store::{History, Store};

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

/// Prunes every kind of history from before `before`; the number of rows deleted per kind.
pub async fn prune_history<S: Store>(
    store: &S,
    before: DateTime<Utc>,
) -> crate::store::StoreResult<Vec<(History, u64)>> {
    let mut counts = Vec::new();
    for kind in History::ALL {
        let mut total = 0;
        loop {
            let deleted = store.prune_history(kind, before, PRUNE_BATCH).await?;
            total += deleted;
            if deleted < u64::from(PRUNE_BATCH) {
                break;
            }
        }
        counts.push((kind, total));
    }
    Ok(counts)
}

/// Prunes every audit entry from before `before`; the number deleted.
pub async fn prune_audit<S: Store>(store: &S, before: DateTime<Utc>) -> crate::store::StoreResult<u64> {
    let mut total = 0;
    loop {
        let deleted = store.prune_audit(before, PRUNE_BATCH).await?;
        total += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
    }
}

/// Runs the configured history and audit pruning now and then every `every`, for the life of the
/// process; nothing when neither is configured.
pub fn spawn_retention<S: Store>(store: S, settings: RetentionSettings, every: Duration) {
    if settings.history_retention_days.is_none() && settings.audit_retention_days.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let days_ago = |days: u32| Utc::now() - chrono::Duration::days(i64::from(days));
        loop {
            tick.tick().await;
            if let Some(days) = settings.history_retention_days {
                match prune_history(&store, days_ago(days)).await {
                    Ok(counts) => {
                        for (kind, deleted) in counts.into_iter().filter(|(_, n)| *n > 0) {
                            metrics::counter!("history_pruned_total", "kind" => kind.as_str())
                                .increment(deleted);
                            tracing::info!(kind = kind.as_str(), deleted, days, "pruned old history");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "pruning history failed; will retry"),
                }
            }
            if let Some(days) = settings.audit_retention_days {
                match prune_audit(&store, days_ago(days)).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        metrics::counter!("audit_entries_pruned_total").increment(deleted);
                        tracing::info!(deleted, days, "pruned old audit entries");
                    }
                    Err(e) => tracing::warn!(error = %e, "pruning audit entries failed; will retry"),
                }
            }
        }
    });
}
