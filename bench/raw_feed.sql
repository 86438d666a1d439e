-- pgbench: one change-feed page (GET /api/v1/changes?limit=100) on Postgres, as list_changes in
-- src/store/changes.rs runs it: begin_read; events_after without a cursor (from Cursor::START, 0-0,
-- all types: no horizon query, no type filter), its condition SETTLED_EVENTS of
-- src/store/query.rs (only events of transactions older than the snapshot's xmin), inside
-- EVENT_PAGE_JSON (the page as one row of JSON built by the server); COMMIT. Same text and
-- parameters (the cursor 0-0 and the limit as pgbench variables), except the colons of the time
-- format, written chr(58): pgbench would read `:MI` in the string as a variable.
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT (array_agg(tx ORDER BY tx DESC, id DESC))[1], (array_agg(id ORDER BY tx DESC, id DESC))[1], COALESCE(json_agg(json_build_object('id', tx || '-' || id, 'type', type, 'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS') || CASE WHEN extract(microseconds FROM occurred_at)::bigint % 1000000 = 0 THEN '' WHEN extract(microseconds FROM occurred_at)::bigint % 1000 = 0 THEN to_char(occurred_at, '.MS') ELSE to_char(occurred_at, '.US') END || 'Z', 'actor', actor, 'data', data) ORDER BY tx, id), '[]')::text FROM (SELECT tx, id, type, occurred_at, actor, data FROM events WHERE tenant_id = :tenant AND (tx, id) > (:after_tx, :after_id) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY tx, id LIMIT :feed_limit) p;
COMMIT;
