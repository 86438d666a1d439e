-- SQLite copy of the Postgres schema (see there for the columns): TIMESTAMPTZ as TEXT, JSONB as TEXT.
-- SQLite's one writer serialises the workers' claims, so the lease needs no row locks here.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    types            TEXT NOT NULL,
    secret           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    cursor_tx        INTEGER NOT NULL,
    cursor_id        INTEGER NOT NULL,
    leased_until     TEXT,
    leased_by        TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    first_failed_at  TEXT,
    CONSTRAINT webhooks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, created_at, id);
CREATE INDEX webhooks_due_idx ON webhooks (next_attempt_at);

CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id    TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    attempted_at  TEXT NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    latency_ms    INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_outcome_check CHECK (outcome IN ('delivered', 'failed', 'retrying', 'abandoned'))
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
-- For pruning attempts older than the change feed's retention.
CREATE INDEX webhook_deliveries_attempted_idx ON webhook_deliveries (attempted_at);
