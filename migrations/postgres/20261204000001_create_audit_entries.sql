-- The audit log: one row per committed write, export and erasure, inserted in the transaction of the
-- use case it describes. It names the key, the operation, the resource and the request, never contact
-- data (an erasure's `detail` counts records by kind; it does not name the person).
--
-- Paged like the change feed, in (tx, id) order over finished transactions (see the events migration).
CREATE TABLE audit_entries (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    tx             BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    occurred_at    TIMESTAMPTZ NOT NULL,
    key_id         TEXT NOT NULL,
    key_name       TEXT NOT NULL,
    operation      TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    detail         JSONB
);
CREATE INDEX audit_entries_feed_idx ON audit_entries (tenant_id, tx, id);
-- For retention: the oldest entries go first.
CREATE INDEX audit_entries_occurred_idx ON audit_entries (occurred_at);
