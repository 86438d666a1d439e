-- Idempotency-Key: the first answer to a POST, kept per tenant and key for 24 hours, so that a
-- repeat of the same request gets it again without the work being done twice.
--
-- A row is `running` from the claim until the answer is stored (`done`) or the claim released
-- (deleted). `token` names the claim, so a process whose claim was taken over (abandoned past its
-- lease, or expired) can neither complete nor release the new one. `fingerprint` is the SHA-256 of
-- the request's method, path and query, and body: the same key with another request is refused.
-- `headers` holds the answer's headers that a client needs again (JSON `[[name, value], ...]`).
CREATE TABLE idempotency_keys (
    tenant_id        TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    fingerprint      BYTEA NOT NULL,
    state            TEXT NOT NULL,
    token            TEXT NOT NULL,
    status           INTEGER,
    headers          JSONB,
    body             BYTEA,
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idempotency_key),
    CONSTRAINT idempotency_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_state_check CHECK (state IN ('running', 'done')),
    CONSTRAINT idempotency_keys_answer_check CHECK (
        state = 'running' OR (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL))
);
-- Pruning deletes the oldest rows first, in bounded batches.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
