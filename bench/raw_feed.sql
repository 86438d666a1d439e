-- pgbench: one change-feed page (GET /api/v1/changes?limit=100) on Postgres, as list_changes in
-- src/store/changes.rs runs it: begin_read; events_after without a cursor (from Cursor::START, 0-0,
-- all types: no horizon query, no type filter), its condition SETTLED_EVENTS of
-- src/store/query.rs (only events of transactions older than the snapshot's xmin); COMMIT. Same text
-- and parameters (the cursor 0-0 and the limit as pgbench variables).
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT tx, id, type, occurred_at, actor, data FROM events WHERE tenant_id = :tenant AND (tx, id) > (:after_tx, :after_id) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY tx, id LIMIT :feed_limit;
COMMIT;
