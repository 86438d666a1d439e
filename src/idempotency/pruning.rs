//! Deleting kept answers past their retention. A row past it already counts as absent to a claim;
//! pruning only gives the space back.
//!
//! Every process runs it. That is safe with several processes on one Postgres: a DELETE of expired
//! rows is idempotent (a row another process deleted first is simply not there), and each DELETE is
//! bounded, so none holds many row locks, or SQLite's one writer, for long.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RETENTION;
use crate::store::IdempotencyStore;

/// How often a process prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Rows one DELETE removes at most.
pub const PRUNE_BATCH: u32 = 1000;

/// A pause between batches, so other writers get their turn.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Prunes every `every`, starting now, for as long as the process lives.
pub fn spawn_pruner<S: IdempotencyStore + Clone + 'static>(store: S, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            prune_expired(&store, Utc::now()).await;
        }
    });
}

/// Deletes every row that is past the retention at `now`, batch by batch; how many it deleted. A
/// store error ends the round (logged); the next round starts over.
pub async fn prune_expired<S: IdempotencyStore>(store: &S, now: DateTime<Utc>) -> u64 {
    let created_before = now - RETENTION;
    let mut pruned = 0;
    loop {
        match store.prune_idempotency_keys(created_before, PRUNE_BATCH).await {
            Ok(n) => {
                pruned += n;
                if n < u64::from(PRUNE_BATCH) {
                    break;
                }
                tokio::time::sleep(BATCH_PAUSE).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning expired idempotency keys failed; retrying next round");
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "expired idempotency keys pruned");
    }
    pruned
}
