//! The change feed: every write records one event in its own transaction ([`record`]); readers
//! page through a tenant's events in feed order ([`ChangeStore::list_changes`]), and old events are
//! pruned ([`ChangeStore::prune_changes`]) behind a per-tenant horizon.
//!
//! Feed order is `(tx, id)` and a page holds only events of finished transactions
//! ([`SqlConn::SETTLED_EVENTS`]): every event that becomes visible after a page was read sorts
//! after that page's last event, so a reader following `next` misses none and sees none twice.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::types::Json;

use super::audit;
use super::backend::{Backend, SqlStore};
use super::error::StoreResult;
use super::query::{query, rows_per_statement, Driver, Sql, SqlConn};
use crate::domain::audit::AuditAction;
use crate::domain::change::{Change, ChangeType, Cursor, Event};

/// A page of the feed, or the news that the cursor is older than the oldest kept event.
#[derive(Debug)]
pub enum Feed {
    Page(EventPage),
    /// Events after the cursor were pruned: the client must resync from current state.
    Expired,
}

/// A page of events as the feed answers it: its JSON, built by the database or by the service
/// ([`Driver::EVENT_PAGE_JSON`]).
#[derive(Debug)]
pub struct EventPage {
    /// The events, a JSON array of [`Event`]s in feed order.
    pub items: String,
    /// The last event's position; `None` when the page is empty.
    pub last: Option<Cursor>,
}

impl EventPage {
    fn of(events: &[Event]) -> StoreResult<Self> {
        let items = serde_json::to_string(events)
            .map_err(|e| super::error::StoreError::Other(format!("serialising events: {e}")))?;
        Ok(EventPage { items, last: events.last().map(|e| e.id) })
    }
}

/// Change-feed use cases.
pub trait ChangeStore: Send + Sync {
    /// Up to `limit` events of the tenant after `after` (from the oldest kept one without it), in
    /// feed order, of the given types (all when empty).
    fn list_changes(
        &self,
        tenant: &str,
        after: Option<Cursor>,
        limit: u32,
        types: &[ChangeType],
    ) -> impl Future<Output = StoreResult<Feed>> + Send;

    /// Deletes up to `batch` events that occurred before `before`, moving each tenant's horizon
    /// past them, in one transaction; the number deleted. Safe to run from several processes at
    /// once: each claims rows the others are not deleting.
    fn prune_changes(
        &self,
        before: DateTime<Utc>,
        batch: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Records `change` by `actor`, and its audit entry, in the transaction of the write that made it,
/// in one call: auditing costs the write no round trip.
pub(crate) async fn record<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    actor: &str,
    at: DateTime<Utc>,
    change: &Change,
) -> StoreResult<()> {
    record_after(conn, None, tenant, actor, at, change).await
}

/// [`record`], sent as one statement with `write` when given (the use case's last write, one that
/// returns nothing): recording the change then costs the write no statement of its own.
pub(crate) async fn record_after<C: SqlConn>(
    conn: &mut C,
    write: Option<Sql<'_>>,
    tenant: &str,
    actor: &str,
    at: DateTime<Utc>,
    change: &Change,
) -> StoreResult<()> {
    let mut sql = match write {
        Some(write) if C::WRITABLE_CTE => write.within("WITH write AS ({inner})"),
        Some(write) => write,
        None => query(""),
    };
    push_record(&mut sql, C::WRITABLE_CTE, tenant, actor, at, change);
    if C::WRITABLE_CTE {
        sql.push(" SELECT 1");
    }
    sql.execute(conn).await?;
    Ok(())
}

/// Appends the recording of `change` and its audit entry to `sql`, a write in one statement.
///
/// With writable CTEs (Postgres), `sql` is empty or `WITH a AS (...), ...` and gets two more CTEs
/// (which all run whether or not anything reads them); the caller ends the statement. Without
/// (SQLite), `sql` is empty or a text of statements and gets two more: its driver runs every
/// statement of a text with the same numbered binds, one trip to the connection's thread for all.
pub(crate) fn push_record<'q>(
    sql: &mut Sql<'q>,
    cte: bool,
    tenant: &'q str,
    actor: &'q str,
    at: DateTime<Utc>,
    change: &'q Change,
) {
    let next = match (sql.text().is_empty(), cte) {
        (true, true) => "WITH event AS (",
        (false, true) => ", event AS (",
        (true, false) => "",
        (false, false) => "; ",
    };
    sql.push(next).push("INSERT INTO events (tenant_id, type, occurred_at, actor, data) ");
    sql.push_values([change], |row, change| {
        row.push_bind(tenant)
            .push_bind(change.kind.as_str())
            .push_bind(at)
            .push_bind(actor)
            .push_bind(Json(&change.data));
    });
    sql.push(if cte { "), audit AS (" } else { "; " });
    sql.push(format!("INSERT INTO audit_entries ({}) ", audit::COLUMNS));
    audit::push_entry(sql, tenant, at, audit::Origin::current(actor), &AuditAction::of_change(change));
    if cte {
        sql.push(")");
    }
}

/// Records many changes by one actor (a batch write): five binds an event, as few statements as
/// [`SqlConn::MAX_BINDS`] allows.
pub(crate) async fn record_many<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    actor: &str,
    changes: &[(DateTime<Utc>, Change)],
) -> StoreResult<()> {
    for chunk in changes.chunks(rows_per_statement::<C>(5)) {
        let mut qb = query("INSERT INTO events (tenant_id, type, occurred_at, actor, data) ");
        qb.push_values(chunk, |row, (at, change)| {
            row.push_bind(tenant)
                .push_bind(change.kind.as_str())
                .push_bind(*at)
                .push_bind(actor)
                .push_bind(Json(&change.data));
        });
        qb.execute(&mut *conn).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    tx: i64,
    id: i64,
    #[sqlx(rename = "type")]
    kind: String,
    occurred_at: DateTime<Utc>,
    actor: String,
    data: Json<Box<RawValue>>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: Cursor { tx: r.tx, id: r.id },
            kind: r.kind,
            occurred_at: r.occurred_at,
            actor: r.actor,
            data: r.data.0,
        }
    }
}

/// Events of `tenant` after `after` in feed order; the query the feed and webhook delivery share.
pub(crate) async fn events_after<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    after: Option<Cursor>,
    limit: u32,
    types: &[ChangeType],
) -> StoreResult<Vec<Event>> {
    let sql = events_query::<C>("", tenant, after.unwrap_or(Cursor::START), limit, types);
    let rows: Vec<EventRow> = sql.fetch_all(conn).await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

fn events_query<'a, C: SqlConn>(
    prefix: &str,
    tenant: &'a str,
    after: Cursor,
    limit: u32,
    types: &'a [ChangeType],
) -> Sql<'a> {
    let mut sql = query(format!(
        "{prefix}SELECT tx, id, type, occurred_at, actor, data FROM events WHERE tenant_id = $1 AND {} AND {}",
        C::AFTER_POSITION,
        C::SETTLED_EVENTS
    ))
    .bind(tenant)
    .bind(after.tx)
    .bind(after.id);
    if !types.is_empty() {
        sql.push(" AND type IN (").push_bind_list(types.iter().map(|t| t.as_str())).push(")");
    }
    sql.push(" ORDER BY tx, id LIMIT ").push_bind(i64::from(limit));
    sql
}

/// [`Driver::EVENT_PAGE_JSON`]'s row: the last event's position, the page, the tenant's horizon.
type PageRow = (Option<i64>, Option<i64>, String, Option<i64>, Option<i64>);

/// A page's query (`{inner}`) beside the tenant's horizon: one row per event, or one row of
/// nulls but the horizon when there is none.
const PAGE_WITH_HORIZON: &str = "SELECT h.tx AS horizon_tx, h.id AS horizon_id, e.tx, e.id, e.type, \
     e.occurred_at, e.actor, e.data FROM (SELECT 1) AS one \
     LEFT JOIN event_horizons h ON h.tenant_id = $1 \
     LEFT JOIN LATERAL ({inner}) AS e ON TRUE ORDER BY e.tx, e.id";

/// A row of [`PAGE_WITH_HORIZON`].
#[derive(sqlx::FromRow)]
struct HorizonEventRow {
    horizon_tx: Option<i64>,
    horizon_id: Option<i64>,
    tx: Option<i64>,
    id: Option<i64>,
    #[sqlx(rename = "type")]
    kind: Option<String>,
    occurred_at: Option<DateTime<Utc>>,
    actor: Option<String>,
    data: Option<Json<Box<RawValue>>>,
}

impl HorizonEventRow {
    /// The event of the row; `None` on the row of an empty page.
    fn event(self) -> Option<Event> {
        Some(Event::from(EventRow {
            tx: self.tx?,
            id: self.id?,
            kind: self.kind?,
            occurred_at: self.occurred_at?,
            actor: self.actor?,
            data: self.data?,
        }))
    }
}

/// Whether a page after `after` would miss pruned events: the cursor is older than the horizon.
fn expired(after: Option<Cursor>, horizon: Option<(i64, i64)>) -> bool {
    pruned_after(after, horizon).is_some()
}

/// The tenant's horizon (its newest pruned event's position) when events after `after` were
/// pruned; `None` when nothing after it was.
pub(crate) fn pruned_after(after: Option<Cursor>, horizon: Option<(i64, i64)>) -> Option<Cursor> {
    let horizon = horizon.map(|(tx, id)| Cursor { tx, id })?;
    (after? < horizon).then_some(horizon)
}

/// The tenant's prune horizon as stored.
pub(crate) async fn horizon<C: SqlConn>(conn: &mut C, tenant: &str) -> StoreResult<Option<(i64, i64)>> {
    Ok(query("SELECT tx, id FROM event_horizons WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(conn)
        .await?)
}

impl<B: Backend> SqlStore<B> {
    /// The plan of a feed page after `after`, as one text. For the index test.
    #[doc(hidden)]
    pub async fn explain_changes(&self, tenant: &str, after: Cursor) -> StoreResult<String> {
        let mut conn = self.backend.acquire().await?;
        let sql =
            events_query::<super::session::Conn<B::Db>>(<B::Db as Driver>::EXPLAIN, tenant, after, 100, &[]);
        Ok(sql.fetch_plan(&mut conn).await?.join("\n"))
    }
}

impl<B: Backend> ChangeStore for SqlStore<B> {
    #[tracing::instrument(skip_all)]
    async fn list_changes(
        &self,
        tenant: &str,
        after: Option<Cursor>,
        limit: u32,
        types: &[ChangeType],
    ) -> StoreResult<Feed> {
        // One statement, which sees one snapshot by itself: no transaction to open and end.
        let mut conn = self.backend.acquire().await?;
        let page = events_query::<super::session::Conn<B::Db>>(
            "",
            tenant,
            after.unwrap_or(Cursor::START),
            limit,
            types,
        );
        let Some(outer) = <B::Db as Driver>::EVENT_PAGE_JSON else {
            // Rows, the tenant's horizon beside every event (on a row of its own when the page is
            // empty), serialised here.
            let rows: Vec<HorizonEventRow> = page.within(PAGE_WITH_HORIZON).fetch_all(&mut conn).await?;
            let horizon = rows.first().and_then(|r| r.horizon_tx.zip(r.horizon_id));
            if expired(after, horizon) {
                return Ok(Feed::Expired);
            }
            let events: Vec<Event> = rows.into_iter().filter_map(HorizonEventRow::event).collect();
            return Ok(Feed::Page(EventPage::of(&events)?));
        };
        let row: Option<PageRow> = page.within(outer).fetch_optional(&mut conn).await?;
        let Some((last_tx, last_id, items, horizon_tx, horizon_id)) = row else {
            return Err(super::error::StoreError::Other("an aggregate query returned no row".into()));
        };
        if expired(after, horizon_tx.zip(horizon_id)) {
            return Ok(Feed::Expired);
        }
        let last = last_tx.zip(last_id).map(|(tx, id)| Cursor { tx, id });
        Ok(Feed::Page(EventPage { items, last }))
    }

    #[tracing::instrument(skip_all)]
    async fn prune_changes(&self, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let mut tx = self.backend.begin_write().await?;
        let result = prune(&mut tx, before, batch).await;
        Self::settle(tx, result, |_| true).await
    }
}

async fn prune<C: SqlConn>(conn: &mut C, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
    let rows: Vec<(String, i64, i64)> = query(format!(
        "SELECT tenant_id, tx, id FROM events WHERE {} ORDER BY id LIMIT $2{}",
        super::pruning::older_than("events"),
        C::CLAIM_ROWS
    ))
    .bind(before)
    .bind(i64::from(batch))
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut newest: HashMap<&str, Cursor> = HashMap::new();
    for (tenant, tx, id) in &rows {
        let at = Cursor { tx: *tx, id: *id };
        let slot = newest.entry(tenant.as_str()).or_insert(at);
        *slot = (*slot).max(at);
    }
    let mut delete = query("DELETE FROM events WHERE id IN (");
    delete.push_bind_list(rows.iter().map(|r| r.2)).push(")");
    let deleted = delete.execute(&mut *conn).await?;
    let mut horizons = query("INSERT INTO event_horizons (tenant_id, tx, id) ");
    horizons.push_values(newest, |row, (tenant, at)| {
        row.push_bind(tenant).push_bind(at.tx).push_bind(at.id);
    });
    // A horizon only moves forward, whichever of two pruning processes commits last.
    horizons.push(
        " ON CONFLICT (tenant_id) DO UPDATE SET tx = excluded.tx, id = excluded.id \
         WHERE (event_horizons.tx, event_horizons.id) < (excluded.tx, excluded.id)",
    );
    horizons.execute(&mut *conn).await?;
    Ok(deleted)
}
