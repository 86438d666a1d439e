-- A delivery-log entry of outcome `skipped`: events pruned from the change feed (older than
-- CHANGES_RETENTION_DAYS) before a subscription could deliver them. Its event_id is the newest
-- pruned event's position and its event_type `feed.pruned`. SQLite cannot alter a CHECK
-- constraint: the table is rebuilt with the new one, rows and ids kept.
CREATE TABLE webhook_deliveries_new (
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
    CONSTRAINT webhook_deliveries_outcome_check
        CHECK (outcome IN ('delivered', 'failed', 'retrying', 'abandoned', 'skipped'))
);
INSERT INTO webhook_deliveries_new
    (id, webhook_id, tenant_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome)
    SELECT id, webhook_id, tenant_id, event_id, event_type, attempted_at, status_code, error, latency_ms, outcome
    FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
-- For pruning attempts older than the change feed's retention.
CREATE INDEX webhook_deliveries_attempted_idx ON webhook_deliveries (attempted_at);
