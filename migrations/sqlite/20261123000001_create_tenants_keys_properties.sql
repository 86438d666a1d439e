-- Tenants own everything; ids are unique only within a tenant.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

-- API keys: the secret is never stored, only its SHA-256.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

CREATE TABLE properties (
    tenant_id             TEXT NOT NULL REFERENCES tenants (id),
    id                    TEXT NOT NULL,
    name                  TEXT,
    contact_set_revision  BIGINT NOT NULL DEFAULT 0,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE property_channel_mappings (
    tenant_id            TEXT NOT NULL,
    property_id          TEXT NOT NULL,
    channel              TEXT NOT NULL,
    channel_property_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, property_id, channel),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties (tenant_id, id) ON DELETE CASCADE,
    -- One channel listing belongs to one property of the tenant.
    CONSTRAINT channel_mappings_channel_listing_key UNIQUE (tenant_id, channel, channel_property_id)
);
