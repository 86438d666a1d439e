-- The change feed: one row per committed write, inserted in the write's own transaction.
-- SQLite has one writer at a time, so id order is commit order; `tx` stays 0 and only keeps the
-- feed's (tx, id) order the same as on Postgres.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    tx           INTEGER NOT NULL DEFAULT 0,
    type         TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    actor        TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX events_feed_idx ON events (tenant_id, tx, id);
CREATE INDEX events_occurred_idx ON events (occurred_at);

-- Per tenant, the feed position of the newest pruned event: a cursor before it must resync (410).
CREATE TABLE event_horizons (
    tenant_id  TEXT PRIMARY KEY,
    tx         INTEGER NOT NULL,
    id         INTEGER NOT NULL
);

-- SHA-256 (hex) of the stored contact set, so an identical re-send is recognised inside the replace.
ALTER TABLE properties ADD COLUMN contact_set_hash TEXT;
