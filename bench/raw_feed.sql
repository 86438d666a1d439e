-- pgbench: one change-feed page (GET /api/v1/changes?limit=100) on Postgres, as list_changes in
-- src/store/changes.rs runs it (page_as_rows): one statement on a pooled connection, no transaction:
-- the tenant's prune horizon (PAGE_WITH_HORIZON) beside events_after without a cursor (from
-- Cursor::START, 0-0, all types: no type filter), its condition SETTLED_EVENTS of
-- src/store/query.rs (only events of transactions older than the snapshot's xmin). Same text and
-- parameters (the cursor 0-0 and the limit as pgbench variables).
SELECT h.tx AS horizon_tx, h.id AS horizon_id, e.tx, e.id, e.type, e.occurred_at, e.actor, e.data FROM (SELECT 1) AS one LEFT JOIN event_horizons h ON h.tenant_id = :tenant LEFT JOIN LATERAL (SELECT tx, id, type, occurred_at, actor, data FROM events WHERE tenant_id = :tenant AND (tx, id) > (:after_tx, :after_id) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY tx, id LIMIT :feed_limit) AS e ON TRUE ORDER BY e.tx, e.id;
