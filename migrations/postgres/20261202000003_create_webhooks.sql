-- Webhook subscriptions: each one follows its tenant's change feed on its own, from its own feed
-- position, and delivers its events one by one in feed order.
--
-- The subscription row is also the unit of work the delivery workers share: a worker claims a due
-- row by taking its lease (leased_until/leased_by, claimed with FOR UPDATE SKIP LOCKED, so two
-- processes never claim the same row), delivers, and moves cursor_tx/cursor_id past each event the
-- receiver accepted. A process that dies leaves a lease that expires; the next holder resumes from
-- the stored cursor, so the event in flight is sent again (at least once).
--
-- attempts/next_attempt_at/first_failed_at are the retry state of the head event (the one after
-- the cursor): reset when it is delivered or abandoned.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    url              TEXT NOT NULL,
    -- JSON list of event type names; empty means every type.
    types            JSONB NOT NULL,
    -- The signing key, `whsec_` + base64; kept readable because signing needs it.
    secret           TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    cursor_tx        BIGINT NOT NULL,
    cursor_id        BIGINT NOT NULL,
    leased_until     TIMESTAMPTZ,
    leased_by        TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    first_failed_at  TIMESTAMPTZ,
    CONSTRAINT webhooks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, created_at, id);
-- What the workers' claim looks for: the soonest due subscription.
CREATE INDEX webhooks_due_idx ON webhooks (next_attempt_at);

-- Every delivery attempt, automatic or asked for by the retry route.
CREATE TABLE webhook_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    webhook_id    TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    -- The event's feed cursor (`<tx>-<id>`), which is also the `webhook-id` header.
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    latency_ms    BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_outcome_check CHECK (outcome IN ('delivered', 'failed', 'retrying', 'abandoned'))
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
-- For pruning attempts older than the change feed's retention.
CREATE INDEX webhook_deliveries_attempted_idx ON webhook_deliveries (attempted_at);
