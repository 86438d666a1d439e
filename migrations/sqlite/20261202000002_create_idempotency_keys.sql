-- SQLite copy of the Postgres schema: TIMESTAMPTZ as TEXT (RFC 3339 in UTC, which sorts as time
-- does), BYTEA as BLOB, JSONB as TEXT.
-- Idempotency-Key: the first answer to a POST, kept per tenant and key for 24 hours, so that a
-- repeat of the same request gets it again without the work being done twice. See the Postgres
-- migration for the columns.
CREATE TABLE idempotency_keys (
    tenant_id        TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    fingerprint      BLOB NOT NULL,
    state            TEXT NOT NULL,
    token            TEXT NOT NULL,
    status           INTEGER,
    headers          TEXT,
    body             BLOB,
    created_at       TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idempotency_key),
    CONSTRAINT idempotency_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_state_check CHECK (state IN ('running', 'done')),
    CONSTRAINT idempotency_keys_answer_check CHECK (
        state = 'running' OR (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL))
);
-- Pruning deletes the oldest rows first, in bounded batches.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
