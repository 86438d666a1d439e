-- The change feed: one row per committed write, inserted in the write's own transaction.
--
-- Feed order is (tx, id), not id: ids come from a sequence when a statement runs, so a transaction
-- can commit after another that took a higher id. `tx` is the writing transaction's id, and a reader
-- returns only events of transactions older than its snapshot's xmin (all of them finished), so
-- every event that becomes visible later sorts after every event already returned.
CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    tx           BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    type         TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    actor        TEXT NOT NULL,
    data         JSONB NOT NULL
);
CREATE INDEX events_feed_idx ON events (tenant_id, tx, id);
CREATE INDEX events_occurred_idx ON events (occurred_at);

-- Per tenant, the feed position of the newest pruned event: a cursor before it may have missed
-- events and must resync (410).
CREATE TABLE event_horizons (
    tenant_id  TEXT PRIMARY KEY,
    tx         BIGINT NOT NULL,
    id         BIGINT NOT NULL
);

-- SHA-256 (hex) of the stored contact set, so an identical re-send is recognised inside the replace.
ALTER TABLE properties ADD COLUMN contact_set_hash TEXT;
