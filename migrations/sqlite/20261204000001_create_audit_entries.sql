-- The audit log: one row per committed write, export and erasure, inserted in the transaction of the
-- use case it describes. It names the key, the operation, the resource and the request, never contact
-- data (an erasure's `detail` counts records by kind; it does not name the person).
-- One writer at a time: id order is commit order and `tx` stays 0, as in `events`.
CREATE TABLE audit_entries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    tx             INTEGER NOT NULL DEFAULT 0,
    occurred_at    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    key_name       TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    detail         TEXT
);
CREATE INDEX audit_entries_feed_idx ON audit_entries (tenant_id, tx, id);
CREATE INDEX audit_entries_occurred_idx ON audit_entries (occurred_at);
