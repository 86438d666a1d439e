//! The delivery loop every process runs: claim a due subscription, send its next events in feed
//! order, record each attempt, give the subscription back.
//!
//! Sharing between processes: a claim takes the subscription's lease in one statement (`FOR
//! UPDATE SKIP LOCKED` on Postgres, so concurrent claims get different subscriptions), and only
//! the lease holder sends or moves the cursor. The lease outlasts a delivery; it is extended with
//! every recorded success, so a process holds a busy subscription only while it keeps delivering.
//! Successes are recorded in runs (every [`RECORD_EVERY`], before a failure is recorded, and at the
//! end of a batch), which keeps the delivery log off the single SQLite writer's hot path. A killed
//! process's lease expires, and the next holder resumes from the stored cursor: the event that was
//! in flight and those delivered since the last recorded run are sent again, in feed order (at
//! least once; `webhook-id` lets receivers dedupe).
//!
//! Nothing here runs on the write path: the loop polls, so a dead or slow receiver delays only its
//! own subscription's deliveries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::retry::RetryPolicy;
use super::sender::Sender;
use crate::config::WebhookSettings;
use crate::domain::change::Event;
use crate::store::webhooks::{AfterFailure, AttemptResult, ClaimedWebhook, Outcome};
use crate::store::{Store, StoreResult, WebhookStore};

/// Events read per claim; the subscription is due again right after, so others get their turn.
const BATCH: u32 = 50;

/// How long successful deliveries may wait to be recorded together: what a killed process leaves
/// to be sent again, at most.
const RECORD_EVERY: Duration = Duration::from_millis(200);

/// How the delivery loop of a process runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub poll: Duration,
    pub concurrency: usize,
    pub allow_private: bool,
}

impl From<&WebhookSettings> for WorkerConfig {
    fn from(s: &WebhookSettings) -> Self {
        WorkerConfig {
            retry: RetryPolicy {
                base: Duration::from_millis(s.webhook_retry_base_ms),
                window: Duration::from_secs(u64::from(s.webhook_retry_hours) * 3600),
            },
            timeout: Duration::from_millis(s.webhook_timeout_ms),
            poll: Duration::from_millis(s.webhook_poll_ms),
            concurrency: s.webhook_concurrency,
            allow_private: s.webhook_allow_private_targets,
        }
    }
}

impl WorkerConfig {
    /// How long a claim holds a subscription without renewal: two delivery timeouts plus room for
    /// the statements around them, so a live worker never loses a lease in the middle of a send.
    pub fn lease(&self) -> TimeDelta {
        TimeDelta::from_std(self.timeout * 2 + Duration::from_secs(5)).unwrap_or(TimeDelta::hours(1))
    }
}

/// A running delivery loop; [`WorkerHandle::stop`] ends it.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, lets the deliveries in flight finish (each within its timeout) and waits for
    /// the loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the delivery loop of this process (none when `concurrency` is 0).
pub fn spawn<S: Store>(store: S, config: WorkerConfig) -> WorkerHandle {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        if config.concurrency > 0 {
            run(store, config, stopped).await
        }
    });
    WorkerHandle { stop, task }
}

/// This process's name in `leased_by`: its pid (handy when reading the table) and a random part.
fn worker_name() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", std::process::id(), &random[..12])
}

async fn run<S: Store>(store: S, config: WorkerConfig, mut stopped: watch::Receiver<bool>) {
    let me: Arc<str> = worker_name().into();
    let sender = Arc::new(Sender::new(config.timeout, config.allow_private));
    let config = Arc::new(config);
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut running = JoinSet::new();
    tracing::info!(worker = %me, "webhook delivery started");
    loop {
        while running.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stopped.changed() => break,
        };
        if *stopped.borrow() {
            break;
        }
        let now = Utc::now();
        match store.claim_due_webhook(now, now + config.lease(), &me).await {
            Ok(Some(webhook)) => {
                let (store, sender, config, me, stopped) =
                    (store.clone(), sender.clone(), config.clone(), me.clone(), stopped.clone());
                running.spawn(async move {
                    let id = webhook.id.clone();
                    if let Err(e) = deliver(&store, &sender, &config, &me, webhook, &stopped).await {
                        // The lease runs out and the subscription is claimed again.
                        tracing::warn!(webhook = %id, error = %e, "webhook delivery interrupted by a store error");
                    }
                    drop(slot);
                });
            }
            Ok(None) | Err(_) => {
                drop(slot);
                tokio::select! {
                    _ = tokio::time::sleep(config.poll) => {}
                    _ = stopped.changed() => break,
                }
            }
        }
    }
    // Deliveries in flight end within their timeout; then each gives its lease back.
    let grace = config.timeout + Duration::from_secs(5);
    if tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await.is_err() {
        running.abort_all();
    }
    tracing::info!(worker = %me, "webhook delivery stopped");
}

/// Delivers the claimed subscription's next events in order, until one fails or the batch ends.
async fn deliver<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    config: &WorkerConfig,
    me: &str,
    mut webhook: ClaimedWebhook,
    stopped: &watch::Receiver<bool>,
) -> StoreResult<()> {
    let batch = store.webhook_events(&webhook.tenant_id, webhook.cursor, BATCH, &webhook.types).await?;
    if let Some(horizon) = batch.pruned_up_to {
        // The receiver was away longer than the feed keeps events: say so in the delivery log
        // (and the metrics), then go on from the oldest kept event.
        tracing::warn!(webhook = %webhook.id, horizon = %horizon, "webhook events pruned before delivery");
        if !store.record_pruned(&webhook, me, horizon, Utc::now()).await? {
            return Ok(());
        }
        count(Outcome::Skipped);
        webhook.cursor = horizon;
        webhook.attempts = 0;
        webhook.first_failed_at = None;
    }
    let events = batch.events;
    let idle = TimeDelta::from_std(config.poll).unwrap_or_default();
    if events.is_empty() {
        return store.release_webhook(&webhook.id, me, Utc::now() + idle).await;
    }
    // A full batch means more are waiting: due again at once, behind the subscriptions already due.
    // A short one caught up with the feed: waiting a poll lets the next batch fill, so a busy feed
    // costs the store a few claims per poll rather than three writes per handful of events.
    let caught_up = events.len() < BATCH as usize;
    let mut run = Vec::new();
    let mut run_started = Instant::now();
    for event in &events {
        if *stopped.borrow() {
            break;
        }
        let sent = sender.send(&webhook.url, &webhook.secret, event).await;
        if sent.delivered {
            count(Outcome::Delivered);
            let lag = (Utc::now() - event.occurred_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("webhook_delivery_lag_seconds").record(lag);
            run.push((event, sent.result));
            if run_started.elapsed() >= RECORD_EVERY {
                if !record_run(store, config, me, &mut webhook, &mut run).await? {
                    return Ok(());
                }
                run_started = Instant::now();
            }
        } else {
            if !record_run(store, config, me, &mut webhook, &mut run).await? {
                return Ok(());
            }
            let after = config.retry.after_failure(
                sent.result.attempted_at,
                event.occurred_at,
                webhook.attempts,
                webhook.first_failed_at,
            );
            count(match after {
                AfterFailure::RetryAt(_) => Outcome::Retrying,
                AfterFailure::Abandon => Outcome::Abandoned,
            });
            if matches!(after, AfterFailure::Abandon) {
                tracing::warn!(webhook = %webhook.id, event = %event.id, "webhook event abandoned after the retry window");
            }
            return store.record_failed(&webhook, me, event, &sent.result, after).await;
        }
    }
    if !record_run(store, config, me, &mut webhook, &mut run).await? {
        return Ok(());
    }
    let next_due = if caught_up { Utc::now() + idle } else { Utc::now() };
    store.release_webhook(&webhook.id, me, next_due).await
}

/// Records the deliveries since the last run and moves the claimed cursor past them; false when
/// the lease was lost meanwhile (another process holds the subscription: leave it to it).
async fn record_run<S: WebhookStore>(
    store: &S,
    config: &WorkerConfig,
    me: &str,
    webhook: &mut ClaimedWebhook,
    run: &mut Vec<(&Event, AttemptResult)>,
) -> StoreResult<bool> {
    let Some((last, _)) = run.last() else { return Ok(true) };
    let last = last.id;
    if !store.record_delivered(webhook, me, run, Utc::now() + config.lease()).await? {
        return Ok(false);
    }
    run.clear();
    webhook.cursor = last;
    webhook.attempts = 0;
    webhook.first_failed_at = None;
    Ok(true)
}

/// `webhook_deliveries_total{outcome}`.
pub fn count(outcome: Outcome) {
    metrics::counter!("webhook_deliveries_total", "outcome" => outcome.as_str()).increment(1);
}
